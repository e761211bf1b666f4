/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: the flow for a few configurations in one pass over plain arrays.
   Mapping one configuration through LibTorch's operations (a replica-exchange attempt, a
   frame at a time) runs about a thousand tensor operations on matrices of a few dozen rows,
   and their dispatch, allocation and bookkeeping cost several times their arithmetic. Where
   nothing needs a gradient and the batch is small, FlowImpl::forward and inverse take this
   path instead: the same shifts, conditioners and splines, reading the weights where they
   are, calling BLAS directly for the products and the fused spline kernel for the splines,
   and computing each coupling's last encoder layer only for the particles it transforms
   (the only rows its head reads). Same function to rounding: test_flow_kernel compares it
   with the tensor operations, float64 to 1e-10.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_FLOW_KERNEL_H
#define FLOWMAP_FLOW_KERNEL_H

#include "flowmap_flow.h"

#include <torch/torch.h>

#include <cstdint>

namespace flowmap {

class FlowKernel {
 public:
  // Beyond this many configurations LibTorch's batched operations cost less per
  // configuration than this path's per-configuration products (bench_flow --batch).
  static constexpr std::int64_t kMaxBatch = 4;

  // Whether FlowImpl::forward / inverse take this path for u: gradients off (no-grad or
  // inference mode), the network on the CPU in float32 or float64, 1 to kMaxBatch
  // configurations, and the path enabled on this thread.
  static bool applies(const FlowImpl &flow, const torch::Tensor &u);

  // The flow (or its inverse) of u [B, N-1, d], whatever applies() says.
  static FlowResult run(FlowImpl &flow, const torch::Tensor &u, bool inverse);

  // On by default, per thread; returns the previous setting. Off: every call takes LibTorch's
  // operations (the benchmark's baseline).
  static bool enable(bool on);

 private:
  template <typename T> struct Pass;    // the typed body, a member so that it reads the modules
};

}    // namespace flowmap

#endif
