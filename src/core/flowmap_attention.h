/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: the attention core softmax(s q k^T) v as one autograd node.

   LibTorch 1.13's CPU bmm multiplies a batch of small matrices one at a time through the
   generic addmm path, with a select, an as_strided and a conjugation check per matrix: for
   the 128 matrices of 31 x 16 per call in the default conditioner that bookkeeping costs as
   much as the products (bench_flow). Here the six batched products of the forward and
   backward passes call the BLAS library's gemm directly, reading the heads out of the fused
   QKV projection and writing them into the output in place (no permuting copies), and the
   scale and the softmax live in the same node. Without a BLAS gemm in the process (a
   LibTorch linked statically against MKL, say) the products fall back to LibTorch's matmul
   inside the same node.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_ATTENTION_H
#define FLOWMAP_ATTENTION_H

#include <torch/torch.h>

namespace flowmap {

enum class AttentionProducts {
  automatic,    // BLAS gemm on the CPU when the process has one, LibTorch's otherwise
  blas,         // BLAS gemm (std::runtime_error if the process has none)
  libtorch      // LibTorch's matmul, also inside the one autograd node
};

// qkv [B, P, 3E]: queries, keys and values of P tokens, each E wide and split into `heads`
// heads of E / heads. Returns [B, P, E], head h's columns softmax(scale q_h k_h^T) v_h.
// float32 or float64, any device (off the CPU the products are LibTorch's).
// bias [B, heads, P, P], if given, is added to the scores before the softmax.
torch::Tensor attention(const torch::Tensor &qkv, std::int64_t heads, double scale,
                        AttentionProducts products = AttentionProducts::automatic,
                        const torch::Tensor &bias = {});

// Whether the process has a BLAS gemm for the automatic choice.
bool attention_uses_blas();

}    // namespace flowmap

#endif
