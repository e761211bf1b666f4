/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: the conditioner's pair bias sum_k w_hk y_ik y_jk as one autograd node.

   Written with LibTorch's operations, the bias is a broadcast product and a batched product
   of [P, K] by [K, P] matrices with K = 4 in 2D, which LibTorch 1.13's CPU bmm multiplies one
   at a time; with the broadcast's backward the bias took about 15 % of a training step of
   the default network. Here the forward and backward passes are loops whose innermost index
   runs over particles, so that they vectorise (with the feature index innermost, the same
   loops were no faster than LibTorch). Off the CPU the node is LibTorch's formulation, so that
   the device path stays LibTorch's.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_PAIR_BIAS_H
#define FLOWMAP_PAIR_BIAS_H

#include <torch/torch.h>

namespace flowmap {

// y [B, P, K] (per-particle features), w [H, K] (one weight per head and feature).
// Returns [B, H, P, P] with element (b, h, i, j) = sum_k w_hk y_bik y_bjk, differentiable in
// both inputs; float32 or float64.
torch::Tensor pair_bias(const torch::Tensor &y, const torch::Tensor &w);

// The same as LibTorch's operations (a broadcast product and a batched matmul): the reference
// the tests compare with, and the path off the CPU.
torch::Tensor pair_bias_reference(const torch::Tensor &y, const torch::Tensor &w);

}    // namespace flowmap

#endif
