/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: the circular spline as one fused CPU kernel with a hand-written gradient.

   The same function as CircularSpline's tensor formulation (flowmap_spline.cpp), evaluated
   element by element in one loop instead of some forty LibTorch operations and twice as many
   autograd nodes. For the couplings of a 32-particle system (about a thousand elements per
   call) those operations cost far more in dispatch and small allocations than in arithmetic:
   bench_flow measured the spline at 29 % of a training step. The backward pass differentiates
   the spline analytically (the inverse through the implicit function y = F(x)), so it needs
   only the raw parameters and the input, recomputes the rest and writes each element's
   gradient row in place. Not twice differentiable: nothing in the package differentiates a
   gradient.

   test_spline checks values against the tensor formulation and gradients against it and
   against finite differences.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_SPLINE_KERNEL_H
#define FLOWMAP_SPLINE_KERNEL_H

#include <torch/torch.h>

#include <cstdint>

namespace flowmap {

struct SplineShape {
  std::int64_t bins = 0;
  double min_bin_size = 0.0;
  double min_derivative = 0.0;
};

// raw [M, 3K] and x [M] on the CPU, float32 or float64, with autograd through both.
// Returns {y [M], log|dy/dx| [M]} for the forward map, {x [M], log|dx/dy| [M]} for the
// inverse (then the argument is y).
std::vector<torch::Tensor> fused_circular_spline(const torch::Tensor &raw, const torch::Tensor &x,
                                                 const SplineShape &shape, bool inverse);

// The same values on plain arrays, without autograd: raw [M, 3K], probabilities [M, 2K] (each
// row's softmax of its widths and of its heights, separately), in/out/log_derivative [M].
// float and double.
template <typename T>
void circular_spline_values(const T *raw, const T *probabilities, const T *in, T *out,
                            T *log_derivative, std::int64_t count, const SplineShape &shape,
                            bool inverse);

}    // namespace flowmap

#endif
