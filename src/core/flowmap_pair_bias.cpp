/* ----------------------------------------------------------------------
   USER-FLOWMAP: the conditioner's pair bias as one autograd node.
------------------------------------------------------------------------- */

#include "flowmap_pair_bias.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace flowmap {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// y of one configuration as [K, P], so that the inner loops run over particles, contiguous.
template <typename T>
void transpose_features(const T *y, T *yt, std::int64_t particles, std::int64_t features)
{
  for (std::int64_t j = 0; j < particles; ++j)
    for (std::int64_t k = 0; k < features; ++k) yt[k * particles + j] = y[j * features + k];
}

template <typename T>
void bias_forward(const T *y, const T *w, T *out, std::int64_t configurations,
                  std::int64_t heads, std::int64_t particles, std::int64_t features)
{
  at::parallel_for(0, configurations, 1, [&](std::int64_t begin, std::int64_t end) {
    std::vector<T> yt(features * particles);
    for (auto b = begin; b < end; ++b) {
      const T *yb = y + b * particles * features;
      transpose_features(yb, yt.data(), particles, features);
      for (std::int64_t h = 0; h < heads; ++h) {
        const T *wh = w + h * features;
        T *o = out + (b * heads + h) * particles * particles;
        for (std::int64_t i = 0; i < particles; ++i) {
          T *row = o + i * particles;
          for (std::int64_t j = 0; j < particles; ++j) row[j] = 0;
          for (std::int64_t k = 0; k < features; ++k) {
            const T factor = wh[k] * yb[i * features + k];
            const T *column = yt.data() + k * particles;
            for (std::int64_t j = 0; j < particles; ++j) row[j] += factor * column[j];
          }
        }
      }
    }
  });
}

// With G the upstream gradient and S = G + G^T per head (symmetric):
// grad_y[b, i, k] = sum_h w_hk sum_j S_bhji y_bjk
// grad_w[h, k]    = sum_b sum_i y_bik sum_j G^T_bhji y_bjk, per configuration into partial[b]
// Both inner sums are accumulated over j as rows of S and G^T, so the innermost loops run
// over i, contiguous, and vectorise without reassociating a reduction.
template <typename T>
void bias_backward(const T *y, const T *w, const T *grad, T *grad_y, double *partial,
                   std::int64_t configurations, std::int64_t heads, std::int64_t particles,
                   std::int64_t features)
{
  at::parallel_for(0, configurations, 1, [&](std::int64_t begin, std::int64_t end) {
    const auto square = particles * particles;
    std::vector<T> yt(features * particles), symmetric(square), transposed(square);
    std::vector<T> both(features * particles), rows(features * particles);
    for (auto b = begin; b < end; ++b) {
      const T *yb = y + b * particles * features;
      transpose_features(yb, yt.data(), particles, features);
      T *gy = grad_y + b * particles * features;
      double *gw = partial + b * heads * features;
      for (std::int64_t n = 0; n < particles * features; ++n) gy[n] = 0;
      for (std::int64_t h = 0; h < heads; ++h) {
        const T *wh = w + h * features;
        const T *g = grad + (b * heads + h) * square;
        for (std::int64_t i = 0; i < particles; ++i)
          for (std::int64_t j = 0; j < particles; ++j)
            transposed[j * particles + i] = g[i * particles + j];
        for (std::int64_t n = 0; n < square; ++n) symmetric[n] = g[n] + transposed[n];
        std::fill(both.begin(), both.end(), T(0));
        std::fill(rows.begin(), rows.end(), T(0));
        for (std::int64_t k = 0; k < features; ++k) {
          T *both_k = both.data() + k * particles, *rows_k = rows.data() + k * particles;
          for (std::int64_t j = 0; j < particles; ++j) {
            const T c = yt[k * particles + j];
            const T *s_row = symmetric.data() + j * particles;
            const T *t_row = transposed.data() + j * particles;
            for (std::int64_t i = 0; i < particles; ++i) {
              both_k[i] += s_row[i] * c;
              rows_k[i] += t_row[i] * c;
            }
          }
        }
        for (std::int64_t k = 0; k < features; ++k) {
          double sum = 0;
          for (std::int64_t i = 0; i < particles; ++i) {
            gy[i * features + k] += wh[k] * both[k * particles + i];
            sum += static_cast<double>(yt[k * particles + i]) * rows[k * particles + i];
          }
          gw[h * features + k] = sum;
        }
      }
    }
  });
}

class PairBiasFunction : public torch::autograd::Function<PairBiasFunction> {
 public:
  static torch::Tensor forward(AutogradContext *ctx, const torch::Tensor &y,
                               const torch::Tensor &w)
  {
    const auto b = y.size(0), p = y.size(1), k = y.size(2), heads = w.size(0);
    auto out = torch::empty({b, heads, p, p}, y.options());
    AT_DISPATCH_FLOATING_TYPES(y.scalar_type(), "flowmap_pair_bias", [&] {
      bias_forward<scalar_t>(y.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(),
                             out.data_ptr<scalar_t>(), b, heads, p, k);
    });
    ctx->save_for_backward({y, w});
    return out;
  }

  static variable_list backward(AutogradContext *ctx, variable_list grads)
  {
    const auto saved = ctx->get_saved_variables();
    const auto &y = saved[0], &w = saved[1];
    const auto b = y.size(0), p = y.size(1), k = y.size(2), heads = w.size(0);
    const auto grad = grads[0].contiguous();
    auto grad_y = torch::empty_like(y);
    auto partial = torch::empty({b, heads, k}, y.options().dtype(torch::kFloat64));
    AT_DISPATCH_FLOATING_TYPES(y.scalar_type(), "flowmap_pair_bias_backward", [&] {
      bias_backward<scalar_t>(y.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(),
                              grad.data_ptr<scalar_t>(), grad_y.data_ptr<scalar_t>(),
                              partial.data_ptr<double>(), b, heads, p, k);
    });
    return {grad_y, partial.sum(0).to(w.scalar_type())};
  }
};

}    // namespace

torch::Tensor pair_bias_reference(const torch::Tensor &y, const torch::Tensor &w)
{
  const auto weighted = y.unsqueeze(1) * w.unsqueeze(0).unsqueeze(2);    // [B, H, P, K]
  return torch::matmul(weighted, y.unsqueeze(1).transpose(-1, -2));      // [B, H, P, P]
}

torch::Tensor pair_bias(const torch::Tensor &y, const torch::Tensor &w)
{
  if (!y.defined() || !w.defined() || y.dim() != 3 || w.dim() != 2 || w.size(1) != y.size(2))
    throw std::invalid_argument("pair_bias: expected y [B, P, K] and w [H, K]");
  if (y.scalar_type() != w.scalar_type() || !y.is_floating_point())
    throw std::invalid_argument("pair_bias: y and w must have the same floating-point type");
  if (!y.device().is_cpu() || !w.device().is_cpu()) return pair_bias_reference(y, w);
  return PairBiasFunction::apply(y.contiguous(), w.contiguous());
}

}    // namespace flowmap
