/* ----------------------------------------------------------------------
   USER-FLOWMAP: the flow for a few configurations in one pass (see flowmap_flow_kernel.h).
   Each function mirrors one module's forward: ConditionerImpl::features and forward,
   EncoderLayerImpl (attention_block, feedforward_block), CouplingImpl::apply, ShiftImpl and
   FlowImpl::forward / inverse. All matrices are row-major.
------------------------------------------------------------------------- */

#include "flowmap_flow_kernel.h"

#include "flowmap_blas_gemm.h"
#include "flowmap_spline_kernel.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace flowmap {

namespace {

thread_local bool kernel_enabled = true;

// c [m, n] = alpha a [m, k] op(b) + beta c, where op(b) is b^T for b [n, k] (transpose_b)
// and b for b [k, n].
template <typename T>
void product(bool transpose_b, int m, int n, int k, T alpha, const T *a, int lda, const T *b,
             int ldb, T beta, T *c, int ldc)
{
  if (const auto gemm = blas_gemm<T>()) {
    // Row-major c is column-major c^T = op(b)^T a^T.
    gemm(transpose_b ? "T" : "N", "N", &n, &m, &k, &alpha, b, &ldb, a, &lda, &beta, c, &ldc);
    return;
  }
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      T sum = 0;
      for (int l = 0; l < k; ++l)
        sum += a[i * lda + l] * (transpose_b ? b[j * ldb + l] : b[l * ldb + j]);
      c[i * ldc + j] = alpha * sum + (beta == T(0) ? T(0) : beta * c[i * ldc + j]);
    }
}

template <typename T> struct Dense {
  const T *weight = nullptr;    // [out, in]
  const T *bias = nullptr;      // [out]
  int in = 0, out = 0;
};

template <typename T> Dense<T> dense(const torch::nn::Linear &layer)
{
  return {layer->weight.data_ptr<T>(), layer->bias.defined() ? layer->bias.data_ptr<T>() : nullptr,
          static_cast<int>(layer->weight.size(1)), static_cast<int>(layer->weight.size(0))};
}

// y [rows, out] = x [rows, in] W^T + b
template <typename T> void apply_dense(const Dense<T> &l, int rows, const T *x, int ldx, T *y)
{
  if (l.bias)
    for (int r = 0; r < rows; ++r) std::copy_n(l.bias, l.out, y + r * l.out);
  product<T>(true, rows, l.out, l.in, 1, x, ldx, l.weight, l.in, l.bias ? 1 : 0, y, l.out);
}

// x [rows, width] <- LayerNorm(x) in place (biased variance, as LibTorch).
template <typename T> void layer_norm(const torch::nn::LayerNorm &norm, int rows, int width, T *x)
{
  const T *w = norm->weight.defined() ? norm->weight.data_ptr<T>() : nullptr;
  const T *b = norm->bias.defined() ? norm->bias.data_ptr<T>() : nullptr;
  const double eps = norm->options.eps();
  for (int r = 0; r < rows; ++r) {
    T *row = x + r * width;
    double mean = 0.0, square = 0.0;
    for (int i = 0; i < width; ++i) mean += row[i];
    mean /= width;
    for (int i = 0; i < width; ++i) square += (row[i] - mean) * (row[i] - mean);
    const double inverse_std = 1.0 / std::sqrt(square / width + eps);
    for (int i = 0; i < width; ++i) {
      double v = (row[i] - mean) * inverse_std;
      if (w) v *= w[i];
      if (b) v += b[i];
      row[i] = static_cast<T>(v);
    }
  }
}

// Softmax of each of `rows` rows of `width` values, stride ld, in place.
template <typename T> void softmax_rows(int rows, int width, T *x, int ld)
{
  for (int r = 0; r < rows; ++r) {
    T *row = x + r * ld;
    const T top = *std::max_element(row, row + width);
    double sum = 0.0;
    for (int i = 0; i < width; ++i) {
      row[i] = std::exp(row[i] - top);
      sum += row[i];
    }
    const double scale = 1.0 / sum;
    for (int i = 0; i < width; ++i) row[i] = static_cast<T>(row[i] * scale);
  }
}

// wrap_unit (flowmap_coordinates.h) for one value, in the same arithmetic.
template <typename T> T wrap_unit_value(T u)
{
  if (u >= T(-1) && u < T(1)) return u;
  const T w = u - T(2) * std::floor((u + T(1)) * T(0.5));
  return w >= T(1) ? w - T(2) : w;
}

// Buffers of one configuration, reused across couplings.
template <typename T> struct Workspace {
  std::vector<T> input, features, bias, projection, selected, residual, h, scores, mixed,
      attended, hidden_units, raw, probabilities, moved, mapped, log_derivative;
  std::vector<T> pair_features, weighted_features, gathered;
};

}    // namespace

/* ---------------------------------------------------------------------- */

template <typename T> struct FlowKernel::Pass {
  Workspace<T> ws;

  // ConditionerImpl::forward for one configuration: u [P, inputs] -> raw [outputs, 3K]
  // (every particle when outputs is empty).
  void conditioner(ConditionerImpl &c, const T *u, int particles, const T *hidden,
                   const T *labels, int label_count, const std::vector<std::int64_t> &outputs)
  {
    const int inputs = static_cast<int>(c.inputs_), f = static_cast<int>(c.frequencies_);
    const int width = 2 * f * inputs + label_count;
    auto &feat = ws.features;
    feat.assign(static_cast<std::size_t>(particles) * width, T(0));
    // cos(k pi u) and sin(k pi u) by angle addition from k = 1, in double.
    for (int p = 0; p < particles; ++p) {
      T *row = feat.data() + p * width;
      for (int a = 0; a < inputs; ++a) {
        const double theta = static_cast<double>(u[p * inputs + a]) * M_PI;
        const double c1 = std::cos(theta), s1 = std::sin(theta);
        double ck = c1, sk = s1;
        for (int k = 0; k < f; ++k) {
          row[a * f + k] = static_cast<T>(ck);
          row[(inputs + a) * f + k] = static_cast<T>(sk);
          const double next = ck * c1 - sk * s1;
          sk = sk * c1 + ck * s1;
          ck = next;
        }
      }
      if (hidden)
        for (int i = 0; i < 2 * f * inputs; ++i) row[i] *= hidden[p * 2 * f * inputs + i];
      for (int i = 0; i < label_count; ++i) row[2 * f * inputs + i] = labels[p * label_count + i];
    }

    const bool all_rows = outputs.empty();
    const int selected_count = all_rows ? particles : static_cast<int>(outputs.size());
    const int layers = static_cast<int>(c.layers_.size());
    const int heads = layers > 0 ? static_cast<int>(c.layers_.front()->heads_) : 0;

    // Attention bias by periodic distance, [heads, P, P]: sum over c of y_ic w_hc y_jc.
    const bool pair_bias = c.pair_weights_.defined();
    if (pair_bias) {
      const int kp = static_cast<int>(c.pair_frequencies_);
      const int columns = 2 * inputs * kp;
      const T *w = c.pair_weights_.template data_ptr<T>();    // [heads, inputs * kp]
      auto &y = ws.pair_features;
      y.resize(static_cast<std::size_t>(particles) * columns);
      for (int p = 0; p < particles; ++p)
        for (int r = 0; r < 2 * inputs; ++r)
          for (int k = 0; k < kp; ++k) y[p * columns + r * kp + k] = feat[p * width + r * f + k];
      ws.weighted_features.resize(y.size());
      ws.bias.resize(static_cast<std::size_t>(heads) * particles * particles);
      for (int h = 0; h < heads; ++h) {
        for (int p = 0; p < particles; ++p)
          for (int col = 0; col < columns; ++col)
            ws.weighted_features[p * columns + col] =
                y[p * columns + col] * w[h * inputs * kp + col % (inputs * kp)];
        product<T>(true, particles, particles, columns, 1, ws.weighted_features.data(), columns,
                   y.data(), columns, 0, ws.bias.data() + h * particles * particles, particles);
      }
    }

    const auto embed = dense<T>(c.embed_);
    const int e = embed.out;
    ws.h.resize(static_cast<std::size_t>(particles) * e);
    apply_dense(embed, particles, feat.data(), width, ws.h.data());
    int rows = particles;    // rows of ws.h: every particle, then the selected ones

    for (int l = 0; l < layers; ++l) {
      auto &layer = *c.layers_[l];
      const bool last = l + 1 == layers;
      // The last layer's outputs feed only the selected particles' heads.
      const int queries = last ? selected_count : particles;
      const auto qkv = dense<T>(layer.qkv_);
      ws.projection.resize(static_cast<std::size_t>(particles) * 3 * e);
      apply_dense(qkv, particles, ws.h.data(), e, ws.projection.data());
      // The query rows and the residual input of the rows this layer outputs (ws.h is
      // overwritten only after the residual is added).
      const T *query = ws.projection.data();
      const T *residual = ws.h.data();
      if (last && !all_rows) {
        ws.selected.resize(static_cast<std::size_t>(queries) * 3 * e);
        ws.residual.resize(static_cast<std::size_t>(queries) * e);
        for (int q = 0; q < queries; ++q) {
          std::copy_n(ws.projection.data() + outputs[q] * 3 * e, 3 * e,
                      ws.selected.data() + q * 3 * e);
          std::copy_n(ws.h.data() + outputs[q] * e, e, ws.residual.data() + q * e);
        }
        query = ws.selected.data();
        residual = ws.residual.data();
      }
      const int dh = e / heads;
      const T scale = static_cast<T>(layer.scale_);
      ws.scores.resize(static_cast<std::size_t>(queries) * particles);
      ws.mixed.resize(static_cast<std::size_t>(queries) * e);
      for (int h = 0; h < heads; ++h) {
        product<T>(true, queries, particles, dh, scale, query + h * dh, 3 * e,
                   ws.projection.data() + e + h * dh, 3 * e, 0, ws.scores.data(), particles);
        if (pair_bias) {
          const T *bias = ws.bias.data() + h * particles * particles;
          for (int q = 0; q < queries; ++q) {
            const int row = (last && !all_rows) ? static_cast<int>(outputs[q]) : q;
            for (int j = 0; j < particles; ++j)
              ws.scores[q * particles + j] += bias[row * particles + j];
          }
        }
        softmax_rows<T>(queries, particles, ws.scores.data(), particles);
        product<T>(false, queries, dh, particles, 1, ws.scores.data(), particles,
                   ws.projection.data() + 2 * e + h * dh, 3 * e, 0, ws.mixed.data() + h * dh, e);
      }
      // x1 = norm1(x + out(mixed))
      ws.attended.resize(static_cast<std::size_t>(queries) * e);
      apply_dense(dense<T>(layer.out_), queries, ws.mixed.data(), e, ws.attended.data());
      for (std::size_t i = 0; i < ws.attended.size(); ++i) ws.attended[i] += residual[i];
      layer_norm<T>(layer.norm1_, queries, e, ws.attended.data());
      // x2 = norm2(x1 + ff2(relu(ff1(x1))))
      const auto ff1 = dense<T>(layer.ff1_), ff2 = dense<T>(layer.ff2_);
      ws.hidden_units.resize(static_cast<std::size_t>(queries) * ff1.out);
      apply_dense(ff1, queries, ws.attended.data(), e, ws.hidden_units.data());
      for (auto &v : ws.hidden_units) v = v > T(0) ? v : T(0);
      ws.h.resize(static_cast<std::size_t>(queries) * e);
      apply_dense(ff2, queries, ws.hidden_units.data(), ff1.out, ws.h.data());
      for (std::size_t i = 0; i < ws.h.size(); ++i) ws.h[i] += ws.attended[i];
      layer_norm<T>(layer.norm2_, queries, e, ws.h.data());
      rows = queries;
    }

    // Without encoder layers the head reads the selected rows of the embedding.
    const T *head_input = ws.h.data();
    if (rows != selected_count) {
      ws.gathered.resize(static_cast<std::size_t>(selected_count) * e);
      for (int q = 0; q < selected_count; ++q)
        std::copy_n(ws.h.data() + outputs[q] * e, e, ws.gathered.data() + q * e);
      head_input = ws.gathered.data();
    }
    const auto head = dense<T>(c.head_);
    ws.raw.resize(static_cast<std::size_t>(selected_count) * head.out);
    apply_dense(head, selected_count, head_input, e, ws.raw.data());
  }

  // CouplingImpl::apply for one configuration, in place on u [P, d]; returns the log-det.
  double coupling(CouplingImpl &c, T *u, int particles, int d, bool inverse,
                  const std::vector<std::int64_t> &transformed)
  {
    const int component = static_cast<int>(c.component_);
    const int label_count = c.labels_.defined() ? static_cast<int>(c.labels_.size(1)) : 0;
    const T *labels = c.labels_.defined() ? c.labels_.template data_ptr<T>() : nullptr;
    const bool particle_split = c.transformed_.defined();
    if (particle_split) {
      conditioner(*c.conditioner_, u, particles, c.hidden_.template data_ptr<T>(), labels,
                  label_count, transformed);
    } else {
      // The conditioner sees the other components only.
      ws.input.resize(static_cast<std::size_t>(particles) * (d - 1));
      for (int p = 0; p < particles; ++p)
        for (int a = 0, k = 0; a < d; ++a)
          if (a != component) ws.input[p * (d - 1) + k++] = u[p * d + a];
      conditioner(*c.conditioner_, ws.input.data(), particles, nullptr, labels, label_count, {});
    }
    const int count = particle_split ? static_cast<int>(transformed.size()) : particles;
    const int bins = static_cast<int>(c.bins_);
    // Each row's softmax of its widths and of its heights, as the spline's autograd path.
    ws.probabilities.resize(static_cast<std::size_t>(count) * 2 * bins);
    for (int m = 0; m < count; ++m)
      std::copy_n(ws.raw.data() + m * 3 * bins, 2 * bins, ws.probabilities.data() + m * 2 * bins);
    softmax_rows<T>(2 * count, bins, ws.probabilities.data(), bins);
    ws.moved.resize(count);
    ws.mapped.resize(count);
    ws.log_derivative.resize(count);
    for (int m = 0; m < count; ++m)
      ws.moved[m] = u[(particle_split ? transformed[m] : m) * d + component];
    circular_spline_values<T>(ws.raw.data(), ws.probabilities.data(), ws.moved.data(),
                              ws.mapped.data(), ws.log_derivative.data(), count,
                              SplineShape{c.bins_, c.min_bin_size_, c.min_derivative_}, inverse);
    T log_det = 0;
    for (int m = 0; m < count; ++m) {
      u[(particle_split ? transformed[m] : m) * d + component] = ws.mapped[m];
      log_det += ws.log_derivative[m];
    }
    return log_det;
  }
};

/* ---------------------------------------------------------------------- */

bool FlowKernel::applies(const FlowImpl &flow, const torch::Tensor &u)
{
  const auto dtype = flow.options_.dtype;
  return kernel_enabled && !torch::GradMode::is_enabled() && flow.options_.device.is_cpu() &&
      (dtype == torch::kFloat32 || dtype == torch::kFloat64) && u.defined() && u.dim() == 3 &&
      u.size(0) >= 1 && u.size(0) <= kMaxBatch;
}

bool FlowKernel::enable(bool on)
{
  const bool previous = kernel_enabled;
  kernel_enabled = on;
  return previous;
}

FlowResult FlowKernel::run(FlowImpl &flow, const torch::Tensor &u_in, bool inverse)
{
  torch::NoGradGuard no_grad;
  auto u = flow.prepare(u_in).clone();
  const int batch = static_cast<int>(u.size(0)), particles = static_cast<int>(u.size(1)),
            d = static_cast<int>(u.size(2));
  auto log_det = torch::zeros({batch}, u.options());
  // Indices of each coupling's transformed particles, read once per call.
  std::vector<std::vector<std::int64_t>> transformed(flow.steps_.size());
  for (std::size_t s = 0; s < flow.steps_.size(); ++s) {
    const auto &coupling = flow.steps_[s].coupling;
    if (coupling && coupling->transformed_.defined()) {
      const auto index = coupling->transformed_.to(torch::kCPU).contiguous();
      transformed[s].assign(index.data_ptr<std::int64_t>(),
                            index.data_ptr<std::int64_t>() + index.numel());
    }
  }
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "flowmap_flow_kernel", [&] {
    Pass<scalar_t> pass;
    for (int b = 0; b < batch; ++b) {
      scalar_t *x = u.data_ptr<scalar_t>() + static_cast<std::int64_t>(b) * particles * d;
      scalar_t total = 0;
      const auto n = static_cast<std::int64_t>(flow.steps_.size());
      for (std::int64_t i = 0; i < n; ++i) {
        const auto s = static_cast<std::size_t>(inverse ? n - 1 - i : i);
        auto &step = flow.steps_[s];
        if (step.shift) {
          const scalar_t *shift = step.shift->shift.template data_ptr<scalar_t>();
          for (int p = 0; p < particles; ++p)
            for (int a = 0; a < d; ++a) {
              scalar_t &v = x[p * d + a];
              v = wrap_unit_value<scalar_t>(inverse ? v - shift[a] : v + shift[a]);
            }
        } else {
          total += static_cast<scalar_t>(
              pass.coupling(*step.coupling, x, particles, d, inverse, transformed[s]));
        }
      }
      log_det.data_ptr<scalar_t>()[b] = total;
    }
  });
  return {u, log_det};
}

}    // namespace flowmap
