/* ----------------------------------------------------------------------
   USER-FLOWMAP: fused CPU kernel of the circular rational-quadratic spline.

   Arithmetic is in double whatever the tensors' type (float32 inputs convert exactly, and
   the cost is in memory traffic, not in the arithmetic), with the rearrangements of
   flowmap_spline.cpp that keep all-zero raw parameters the identity bit for bit.
------------------------------------------------------------------------- */

#include "flowmap_spline_kernel.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace flowmap {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// wrap_unit (flowmap_coordinates.h) for one value: values on [-1, 1) pass unchanged.
double wrap(double u)
{
  if (u >= -1.0 && u < 1.0) return u;
  double w = u - 2.0 * std::floor((u + 1.0) * 0.5);
  return w >= 1.0 ? w - 2.0 : w;
}

// The knots, slopes and softmax probabilities of one element's spline.
class Knots {
 public:
  explicit Knots(const SplineShape &shape) :
      bins_(shape.bins), min_bin_(shape.min_bin_size), min_slope_(shape.min_derivative),
      px_(bins_), py_(bins_), x_(bins_ + 1), y_(bins_ + 1), slope_(bins_), slope_raw_(bins_)
  {
  }

  // probabilities: the softmax of the row's widths and heights [2K], computed for all rows
  // at once by LibTorch's vectorised kernel (the exponentials are most of the arithmetic).
  template <typename T> void build(const T *raw, const T *probabilities)
  {
    const auto k = bins_;
    knots(probabilities, px_, x_);
    knots(probabilities + k, py_, y_);
    for (std::int64_t i = 0; i < k; ++i) {
      // 1 + (1 - min) (f(r) - 1), f(r) = (r + sqrt(r^2 + 4)) / 2, f(0) = 1 exactly; f' = f / q.
      const double r_in = static_cast<double>(raw[2 * k + i]);
      const double r = std::min(std::max(r_in, -1e6), 1e6);
      const double q = std::sqrt(r * r + 4.0);
      const double f = r >= 0.0 ? 0.5 * (r + q) : 2.0 / (q - r);
      slope_[i] = 1.0 + (1.0 - min_slope_) * (f - 1.0);
      slope_raw_[i] = (r_in >= -1e6 && r_in <= 1e6) ? (1.0 - min_slope_) * f / q : 0.0;
    }
  }

  // Bin of v among the knots (x_ or y_): the number of interior knots at or below v.
  static std::int64_t bin_of(const std::vector<double> &knots, double v)
  {
    std::int64_t b = 0;
    const auto last = static_cast<std::int64_t>(knots.size()) - 2;
    while (b < last && v >= knots[b + 1]) ++b;
    return b;
  }

  std::int64_t bins_;
  double min_bin_, min_slope_;
  std::vector<double> px_, py_;    // softmax probabilities of widths and heights
  std::vector<double> x_, y_;      // K + 1 knots, -1 and 1 set exactly
  std::vector<double> slope_;      // K knot slopes
  std::vector<double> slope_raw_;  // d slope / d raw

 private:
  template <typename T>
  void knots(const T *probabilities, std::vector<double> &p, std::vector<double> &at) const
  {
    const auto k = bins_;
    const double scale = 2.0 - static_cast<double>(k) * min_bin_;
    at[0] = -1.0;
    double cumulative = 0.0;
    for (std::int64_t i = 0; i < k; ++i) {
      p[i] = static_cast<double>(probabilities[i]);
      if (i + 1 < k) {
        cumulative += min_bin_ + scale * p[i];
        at[i + 1] = cumulative - 1.0;
      }
    }
    at[k] = 1.0;
  }
};

struct Bin {
  std::int64_t index;
  double xk, w, yk, h, d0, d1, s;
};

Bin bin_at(const Knots &kn, std::int64_t b)
{
  const auto next = (b + 1) % kn.bins_;
  const double w = kn.x_[b + 1] - kn.x_[b], h = kn.y_[b + 1] - kn.y_[b];
  return {b, kn.x_[b], w, kn.y_[b], h, kn.slope_[b], kn.slope_[next], h / w};
}

// g(xi) = (s xi^2 + d0 t) / den, the position within the bin's height, the log-derivative
// L = log(dy/dx) and their partial derivatives, at the bin's relative position xi.
struct Local {
  double g, g_xi, g_s, g_d0, g_d1;
  double log_derivative, l_xi, l_s, l_d0, l_d1;
};

Local local(const Bin &b, double xi)
{
  const double s = b.s, d0 = b.d0, d1 = b.d1;
  const double t = xi * (1.0 - xi), dt = 1.0 - 2.0 * xi, delta = d0 + d1 - 2.0 * s;
  const double den = s + delta * t;
  const double g = (s * xi + (d0 - s) * t) / den;
  const double den_xi = delta * dt, den_s = 1.0 - 2.0 * t;
  const double mix = s + (d1 - s) * xi * xi + (d0 - s) * (1.0 - xi) * (1.0 - xi);
  const double mix_xi = 2.0 * (d1 - s) * xi - 2.0 * (d0 - s) * (1.0 - xi);
  Local l;
  l.g = g;
  l.g_xi = (s + (d0 - s) * dt - g * den_xi) / den;
  l.g_s = (xi - t - g * den_s) / den;
  l.g_d0 = (t - g * t) / den;
  l.g_d1 = -g * t / den;
  l.log_derivative = 2.0 * std::log(s) + std::log(mix) - 2.0 * std::log(den);
  l.l_xi = mix_xi / mix - 2.0 * den_xi / den;
  l.l_s = 2.0 / s + 2.0 * t / mix - 2.0 * den_s / den;
  l.l_d0 = (1.0 - xi) * (1.0 - xi) / mix - 2.0 * t / den;
  l.l_d1 = xi * xi / mix - 2.0 * t / den;
  return l;
}

double forward_xi(const Bin &b, double x)
{
  return std::min(std::max((x - b.xk) / b.w, 0.0), 1.0);
}

// Durkan et al. (2019), appendix A, with the cancellation-free root; guarded so that
// neither branch can divide by zero or take the root of a negative number.
double inverse_xi(const Bin &b, double y)
{
  const double dy = y - b.yk, delta = b.d0 + b.d1 - 2.0 * b.s;
  const double a = b.h * (b.s - b.d0) + dy * delta;
  const double bq = b.h * b.d0 - dy * delta;
  const double c = -b.s * dy;
  const double disc = bq * bq - 4.0 * a * c;
  const double root = disc > 0.0 ? std::sqrt(disc) : 0.0;
  double xi;
  if (bq >= 0.0) {
    const double den = -bq - root;
    xi = 2.0 * c / (den < 0.0 ? den : -1.0);
  } else {
    const double den = 2.0 * a;
    xi = (root - bq) / (den > 0.0 ? den : 1.0);
  }
  return std::min(std::max(xi, 0.0), 1.0);
}

// Gradients with respect to the bin's quantities, chained to the raw parameters of the row.
struct BinGradient {
  double xk = 0.0, w = 0.0, yk = 0.0, h = 0.0, d0 = 0.0, d1 = 0.0;
};

template <typename T> void raw_gradient(const Knots &kn, const Bin &b, const BinGradient &g, T *out)
{
  const auto k = kn.bins_;
  const double scale = 2.0 - static_cast<double>(k) * kn.min_bin_;
  // size_i = min + scale p_i; the bin's left knot is -1 + sum of the sizes before it, its
  // width its own size (for the last bin 2 - the others: the same gradient through the
  // softmax, whose probabilities sum to 1).
  auto softmax_backward = [&](const std::vector<double> &p, double g_knot, double g_size,
                              T *row) {
    double dot = 0.0;
    for (std::int64_t i = 0; i < b.index; ++i) dot += p[i] * g_knot;
    dot += p[b.index] * g_size;
    for (std::int64_t i = 0; i < k; ++i) {
      const double upstream = i < b.index ? g_knot : (i == b.index ? g_size : 0.0);
      row[i] = static_cast<T>(scale * p[i] * (upstream - dot));
    }
  };
  softmax_backward(kn.px_, g.xk, g.w, out);
  softmax_backward(kn.py_, g.yk, g.h, out + k);
  for (std::int64_t i = 0; i < k; ++i) out[2 * k + i] = T(0);
  const auto next = (b.index + 1) % k;
  out[2 * k + b.index] = static_cast<T>(g.d0 * kn.slope_raw_[b.index]);
  out[2 * k + next] += static_cast<T>(g.d1 * kn.slope_raw_[next]);
}

// The bin of v (an x for the forward map, a y for the inverse), the relative position xi
// within it and the local quantities there.
struct Located {
  Bin b;
  double xi;
  Local l;
};

Located locate(const Knots &kn, double v, bool inverse)
{
  const Bin b = bin_at(kn, Knots::bin_of(inverse ? kn.y_ : kn.x_, v));
  const double xi = inverse ? inverse_xi(b, v) : forward_xi(b, v);
  return {b, xi, local(b, xi)};
}

// body(m, knots of row m, input m wrapped onto the circle), rows split over LibTorch's threads.
template <typename T, typename Body>
void for_each_element(const T *raw, const T *probabilities, const T *in, std::int64_t count,
                      const SplineShape &shape, const Body &body)
{
  const auto width = 3 * shape.bins;
  at::parallel_for(0, count, 256, [&](std::int64_t begin, std::int64_t end) {
    Knots kn(shape);
    for (std::int64_t m = begin; m < end; ++m) {
      kn.build(raw + m * width, probabilities + m * 2 * shape.bins);
      body(m, kn, wrap(static_cast<double>(in[m])));
    }
  });
}

template <typename T>
void evaluate(const T *raw, const T *probabilities, const T *in, T *out, T *log_derivative,
              std::int64_t count, const SplineShape &shape, bool inverse)
{
  for_each_element(raw, probabilities, in, count, shape, [&](std::int64_t m, const Knots &kn,
                                                               double v) {
    const auto [b, xi, l] = locate(kn, v, inverse);
    double mapped;
    if (!inverse) {
      // y = yk + h g, written as x plus terms that vanish for the identity parameters.
      mapped = v + (b.yk - b.xk) + b.h * (l.g - xi) + (b.h - b.w) * xi;
    } else {
      // x = xk + w xi, written as y plus terms that vanish for the identity parameters.
      const double eta = (v - b.yk) / b.h;
      mapped = v + (b.xk - b.yk) + b.w * (xi - eta) + (b.w - b.h) * eta;
    }
    out[m] = static_cast<T>(wrap(mapped));
    log_derivative[m] = static_cast<T>(inverse ? -l.log_derivative : l.log_derivative);
  });
}

// grad_out / grad_log: upstream gradients (either may be null: zero).
template <typename T>
void differentiate(const T *raw, const T *probabilities, const T *in, const T *grad_out,
                   const T *grad_log, T *grad_raw, T *grad_in, std::int64_t count,
                   const SplineShape &shape, bool inverse)
{
  const auto width = 3 * shape.bins;
  for_each_element(raw, probabilities, in, count, shape, [&](std::int64_t m, const Knots &kn,
                                                               double v) {
    const double go = grad_out ? static_cast<double>(grad_out[m]) : 0.0;
    const double gl = grad_log ? static_cast<double>(grad_log[m]) : 0.0;
    const auto [b, xi, l] = locate(kn, v, inverse);
    BinGradient g;
    double g_in, g_s, g_d0, g_d1;
    if (!inverse) {
      // y = yk + h g(xi, s, d0, d1) with xi = (x - xk) / w, s = h / w
      const double g_xi = go * b.h * l.g_xi + gl * l.l_xi;
      g_s = go * b.h * l.g_s + gl * l.l_s;
      g_d0 = go * b.h * l.g_d0 + gl * l.l_d0;
      g_d1 = go * b.h * l.g_d1 + gl * l.l_d1;
      g_in = g_xi / b.w;
      g.xk = -g_xi / b.w;
      g.w = -g_xi * xi / b.w;
      g.yk = go;
      g.h = go * l.g;
    } else {
      // x = xk + w xi and log|dx/dy| = -L(xi, s, d0, d1), where xi solves
      // yk + h g(xi, s, d0, d1) = y (implicit function theorem; h g_xi > 0).
      const double g_xi = go * b.w - gl * l.l_xi;
      const double q = g_xi / (b.h * l.g_xi);
      g_in = q;
      g.xk = go;
      g.w = go * xi;
      g.yk = -q;
      g.h = -q * l.g;
      g_s = -gl * l.l_s - q * b.h * l.g_s;
      g_d0 = -gl * l.l_d0 - q * b.h * l.g_d0;
      g_d1 = -gl * l.l_d1 - q * b.h * l.g_d1;
    }
    // s = h / w
    g.h += g_s / b.w;
    g.w -= g_s * b.s / b.w;
    g.d0 = g_d0;
    g.d1 = g_d1;
    raw_gradient(kn, b, g, grad_raw + m * width);
    grad_in[m] = static_cast<T>(g_in);
  });
}

class SplineFunction : public torch::autograd::Function<SplineFunction> {
 public:
  static variable_list forward(AutogradContext *ctx, const torch::Tensor &raw,
                               const torch::Tensor &x, std::int64_t bins, double min_bin_size,
                               double min_derivative, bool inverse)
  {
    const auto probabilities = torch::softmax(raw.narrow(1, 0, 2 * bins).reshape({-1, 2, bins}), 2)
                                   .reshape({-1, 2 * bins});
    ctx->save_for_backward({raw, probabilities, x});
    ctx->saved_data["bins"] = bins;
    ctx->saved_data["min_bin_size"] = min_bin_size;
    ctx->saved_data["min_derivative"] = min_derivative;
    ctx->saved_data["inverse"] = inverse;
    const SplineShape shape{bins, min_bin_size, min_derivative};
    auto out = torch::empty_like(x);
    auto log_derivative = torch::empty_like(x);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "fused_circular_spline", [&] {
      evaluate<scalar_t>(raw.data_ptr<scalar_t>(), probabilities.data_ptr<scalar_t>(),
                         x.data_ptr<scalar_t>(),
                         out.data_ptr<scalar_t>(), log_derivative.data_ptr<scalar_t>(),
                         x.numel(), shape, inverse);
    });
    return {out, log_derivative};
  }

  static variable_list backward(AutogradContext *ctx, variable_list grads)
  {
    const auto saved = ctx->get_saved_variables();
    const auto &raw = saved[0], &probabilities = saved[1], &x = saved[2];
    const SplineShape shape{ctx->saved_data["bins"].toInt(),
                            ctx->saved_data["min_bin_size"].toDouble(),
                            ctx->saved_data["min_derivative"].toDouble()};
    const bool inverse = ctx->saved_data["inverse"].toBool();
    auto grad_raw = torch::empty_like(raw);
    auto grad_x = torch::empty_like(x);
    const auto go = grads[0].defined() ? grads[0].contiguous() : grads[0];
    const auto gl = grads[1].defined() ? grads[1].contiguous() : grads[1];
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "fused_circular_spline_backward", [&] {
      differentiate<scalar_t>(raw.data_ptr<scalar_t>(), probabilities.data_ptr<scalar_t>(),
                              x.data_ptr<scalar_t>(),
                              go.defined() ? go.data_ptr<scalar_t>() : nullptr,
                              gl.defined() ? gl.data_ptr<scalar_t>() : nullptr,
                              grad_raw.data_ptr<scalar_t>(), grad_x.data_ptr<scalar_t>(),
                              x.numel(), shape, inverse);
    });
    return {grad_raw, grad_x, torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor()};
  }
};

}    // namespace

template <typename T>
void circular_spline_values(const T *raw, const T *probabilities, const T *in, T *out,
                            T *log_derivative, std::int64_t count, const SplineShape &shape,
                            bool inverse)
{
  evaluate<T>(raw, probabilities, in, out, log_derivative, count, shape, inverse);
}

template void circular_spline_values<float>(const float *, const float *, const float *,
                                            float *, float *, std::int64_t, const SplineShape &,
                                            bool);
template void circular_spline_values<double>(const double *, const double *, const double *,
                                             double *, double *, std::int64_t,
                                             const SplineShape &, bool);

std::vector<torch::Tensor> fused_circular_spline(const torch::Tensor &raw, const torch::Tensor &x,
                                                 const SplineShape &shape, bool inverse)
{
  if (!raw.device().is_cpu() || !x.device().is_cpu())
    throw std::invalid_argument("fused_circular_spline: CPU tensors only");
  if (raw.scalar_type() != x.scalar_type() ||
      (x.scalar_type() != torch::kFloat32 && x.scalar_type() != torch::kFloat64))
    throw std::invalid_argument("fused_circular_spline: parameters and points must both be "
                                "float32 or both float64");
  if (raw.dim() != 2 || raw.size(1) != 3 * shape.bins || x.dim() != 1 || x.size(0) != raw.size(0))
    throw std::invalid_argument("fused_circular_spline: expected raw [M, 3K] and points [M]");
  return SplineFunction::apply(raw.contiguous(), x.contiguous(), shape.bins, shape.min_bin_size,
                               shape.min_derivative, inverse);
}

}    // namespace flowmap
