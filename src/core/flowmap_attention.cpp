/* ----------------------------------------------------------------------
   USER-FLOWMAP: multi-head attention core with directly called batched products.
------------------------------------------------------------------------- */

#include "flowmap_attention.h"

#include "flowmap_blas_gemm.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <stdexcept>

namespace flowmap {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// One matrix per (configuration, head), row-major with leading dimension ld, inside a
// contiguous tensor: the matrix of configuration b and head h starts at
// offset + b * batch_stride + h * head_stride. Lets the heads be read from and written to
// the [B, P, 3E] projection and the [B, P, E] output in place.
struct Matrices {
  torch::Tensor tensor;
  std::int64_t offset, batch_stride, head_stride, rows, cols, ld;

  torch::Tensor view(std::int64_t configurations, std::int64_t heads) const
  {
    return tensor.as_strided({configurations, heads, rows, cols},
                             {batch_stride, head_stride, ld, 1}, offset);
  }
};

// c = alpha op(a) op(b) for every (configuration, head); op(a) is m x k, op(b) k x n.
void batched_product(const Matrices &a, bool transpose_a, const Matrices &b, bool transpose_b,
                     double alpha, const Matrices &c, std::int64_t configurations,
                     std::int64_t heads, bool use_blas)
{
  const auto m = transpose_a ? a.cols : a.rows, k = transpose_a ? a.rows : a.cols;
  const auto n = transpose_b ? b.rows : b.cols;
  AT_DISPATCH_FLOATING_TYPES(c.tensor.scalar_type(), "flowmap_attention_product", [&] {
    const auto gemm = use_blas ? blas_gemm<scalar_t>() : nullptr;
    if (!gemm) {
      auto op = [&](const Matrices &x, bool transpose) {
        const auto v = x.view(configurations, heads);
        return transpose ? v.transpose(2, 3) : v;
      };
      c.view(configurations, heads)
          .copy_(torch::matmul(op(a, transpose_a), op(b, transpose_b)) * alpha);
      return;
    }
    // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T.
    const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
    const int lda = static_cast<int>(a.ld), ldb = static_cast<int>(b.ld);
    const int ldc = static_cast<int>(c.ld);
    const scalar_t factor = static_cast<scalar_t>(alpha), zero = 0;
    const char *ta = transpose_a ? "T" : "N", *tb = transpose_b ? "T" : "N";
    const auto *pa = a.tensor.data_ptr<scalar_t>(), *pb = b.tensor.data_ptr<scalar_t>();
    auto *pc = c.tensor.data_ptr<scalar_t>();
    auto at = [heads](const Matrices &x, std::int64_t g) {
      return x.offset + (g / heads) * x.batch_stride + (g % heads) * x.head_stride;
    };
    at::parallel_for(0, configurations * heads, 16, [&](std::int64_t begin, std::int64_t end) {
      for (auto g = begin; g < end; ++g)
        gemm(tb, ta, &ni, &mi, &ki, &factor, pb + at(b, g), &ldb, pa + at(a, g), &lda, &zero,
             pc + at(c, g), &ldc);
    });
  });
}

// Softmax over the last dimension of contiguous [..., P, P] scores, in place. LibTorch 1.13's
// CPU softmax takes 3.5x as long on rows of 31 as on rows of 32 (its vectorised loop handles
// the tail element by element), and attention rows have N - 1 elements. Here only the
// exponential is LibTorch's, on the whole buffer at once; the row maxima and sums are plain
// loops. (The flow kernel's softmax_rows, for a few configurations, calls std::exp per element
// on rows it owns; this one wants LibTorch's vectorised exp over the batch.)
torch::Tensor softmax_rows_(torch::Tensor scores)
{
  if (!scores.device().is_cpu()) return torch::softmax(scores, -1);
  const auto n = scores.size(-1), rows = scores.numel() / n;
  AT_DISPATCH_FLOATING_TYPES(scores.scalar_type(), "flowmap_softmax_max", [&] {
    auto *x = scores.data_ptr<scalar_t>();
    at::parallel_for(0, rows, 64, [&](std::int64_t begin, std::int64_t end) {
      for (auto r = begin; r < end; ++r) {
        scalar_t *row = x + r * n;
        scalar_t largest = row[0];
        for (std::int64_t j = 1; j < n; ++j) largest = std::max(largest, row[j]);
        for (std::int64_t j = 0; j < n; ++j) row[j] -= largest;
      }
    });
  });
  scores.exp_();
  AT_DISPATCH_FLOATING_TYPES(scores.scalar_type(), "flowmap_softmax_sum", [&] {
    auto *x = scores.data_ptr<scalar_t>();
    at::parallel_for(0, rows, 64, [&](std::int64_t begin, std::int64_t end) {
      for (auto r = begin; r < end; ++r) {
        scalar_t *row = x + r * n;
        scalar_t sum = 0;
        for (std::int64_t j = 0; j < n; ++j) sum += row[j];
        const scalar_t inverse = scalar_t(1) / sum;
        for (std::int64_t j = 0; j < n; ++j) row[j] *= inverse;
      }
    });
  });
  return scores;
}

// The softmax's backward, in place of the upstream gradient: g_ij <- w_ij (g_ij - sum_k g_ik w_ik).
torch::Tensor softmax_backward_rows_(torch::Tensor grad, const torch::Tensor &weights)
{
  if (!grad.device().is_cpu())
    return torch::_softmax_backward_data(grad, weights, -1, weights.scalar_type());
  const auto n = grad.size(-1), rows = grad.numel() / n;
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "flowmap_softmax_backward", [&] {
    auto *g = grad.data_ptr<scalar_t>();
    const auto *w = weights.data_ptr<scalar_t>();
    at::parallel_for(0, rows, 64, [&](std::int64_t begin, std::int64_t end) {
      for (auto r = begin; r < end; ++r) {
        scalar_t *g_row = g + r * n;
        const scalar_t *w_row = w + r * n;
        scalar_t dot = 0;
        for (std::int64_t j = 0; j < n; ++j) dot += g_row[j] * w_row[j];
        for (std::int64_t j = 0; j < n; ++j) g_row[j] = w_row[j] * (g_row[j] - dot);
      }
    });
  });
  return grad;
}

class AttentionFunction : public torch::autograd::Function<AttentionFunction> {
 public:
  static torch::Tensor forward(AutogradContext *ctx, const torch::Tensor &qkv,
                               const torch::Tensor &bias, std::int64_t heads, double scale,
                               bool use_blas)
  {
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["use_blas"] = use_blas;
    const auto b = qkv.size(0), p = qkv.size(1), e = qkv.size(2) / 3;
    auto scores = torch::empty({b * heads, p, p}, qkv.options());
    batched_product(part(qkv, 0, heads), false, part(qkv, 1, heads), true, scale,
                    square(scores, heads), b, heads, use_blas);
    // No bias is an empty tensor: LibTorch 1.13's Function cannot take an undefined input.
    ctx->saved_data["bias"] = bias.numel() > 0;
    if (bias.numel() > 0) scores.add_(bias.reshape({b * heads, p, p}));
    const auto weights = softmax_rows_(scores);
    auto out = torch::empty({b, p, e}, qkv.options());
    batched_product(square(weights, heads), false, part(qkv, 2, heads), false, 1.0,
                    head_of(out, heads), b, heads, use_blas);
    ctx->save_for_backward({qkv, weights});
    return out;
  }

  static variable_list backward(AutogradContext *ctx, variable_list grads)
  {
    const auto saved = ctx->get_saved_variables();
    const auto &qkv = saved[0], &weights = saved[1];
    const auto heads = ctx->saved_data["heads"].toInt();
    const double scale = ctx->saved_data["scale"].toDouble();
    const bool use_blas = ctx->saved_data["use_blas"].toBool();
    const auto b = qkv.size(0);
    const auto grad_out = grads[0].contiguous();
    const auto grad_o = head_of(grad_out, heads);
    auto grad_weights = torch::empty_like(weights);
    batched_product(grad_o, false, part(qkv, 2, heads), true, 1.0, square(grad_weights, heads),
                    b, heads, use_blas);
    const auto grad_scores = softmax_backward_rows_(grad_weights, weights);
    auto grad_qkv = torch::empty_like(qkv);
    batched_product(square(weights, heads), true, grad_o, false, 1.0, part(grad_qkv, 2, heads),
                    b, heads, use_blas);
    batched_product(square(grad_scores, heads), false, part(qkv, 1, heads), false, scale,
                    part(grad_qkv, 0, heads), b, heads, use_blas);
    batched_product(square(grad_scores, heads), true, part(qkv, 0, heads), false, scale,
                    part(grad_qkv, 1, heads), b, heads, use_blas);
    const auto grad_bias = ctx->saved_data["bias"].toBool()
                               ? grad_scores.view({b, heads, qkv.size(1), qkv.size(1)})
                               : torch::Tensor();
    return {grad_qkv, grad_bias, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }

 private:
  // Query (0), key (1) or value (2) of each head inside the [B, P, 3E] projection.
  static Matrices part(const torch::Tensor &qkv, std::int64_t which, std::int64_t heads)
  {
    const auto p = qkv.size(1), e3 = qkv.size(2), dh = e3 / 3 / heads;
    return {qkv, which * (e3 / 3), p * e3, dh, p, dh, e3};
  }

  // Each head's slice of a [B, P, E] tensor.
  static Matrices head_of(const torch::Tensor &x, std::int64_t heads)
  {
    const auto p = x.size(1), e = x.size(2), dh = e / heads;
    return {x, 0, p * e, dh, p, dh, e};
  }

  // [B H, P, P] scores or weights.
  static Matrices square(const torch::Tensor &s, std::int64_t heads)
  {
    const auto p = s.size(1);
    return {s, 0, heads * p * p, p * p, p, p, p};
  }
};

}    // namespace

torch::Tensor attention(const torch::Tensor &qkv, std::int64_t heads, double scale,
                        AttentionProducts products, const torch::Tensor &bias)
{
  if (qkv.dim() != 3 || heads < 1 || qkv.size(2) % (3 * heads) != 0)
    throw std::invalid_argument("attention: expected [B, P, 3E] with E a multiple of heads");
  if (products == AttentionProducts::blas && !qkv.device().is_cpu())
    throw std::invalid_argument("attention: BLAS products need CPU tensors");
  if (products == AttentionProducts::blas && !attention_uses_blas())
    throw std::runtime_error("attention: no BLAS sgemm_/dgemm_ in this process");
  // Off the CPU the node takes LibTorch's products, the path the tests cover on the CPU.
  const bool use_blas = qkv.device().is_cpu() && products != AttentionProducts::libtorch;
  if (bias.defined() && (bias.dim() != 4 || bias.size(0) != qkv.size(0) ||
                         bias.size(1) != heads || bias.size(2) != qkv.size(1) ||
                         bias.size(3) != qkv.size(1)))
    throw std::invalid_argument("attention: bias must be [B, heads, P, P]");
  return AttentionFunction::apply(qkv.contiguous(),
                                  bias.defined() ? bias.contiguous() : torch::empty({0}, qkv.options()),
                                  heads, scale, use_blas);
}

bool attention_uses_blas()
{
  return blas_gemm<float>() != nullptr && blas_gemm<double>() != nullptr;
}

}    // namespace flowmap
