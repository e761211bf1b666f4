/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: circular rational-quadratic spline on [-1, 1) (doc/method.md section 9;
   Durkan et al. 2019, Rezende et al. 2020).

   K bins with knots at -1 and 1 fixed and K knot slopes, the slope at -1 reused at 1, so the
   map is a diffeomorphism of the circle. Raw parameters (from the conditioner) map to
   widths and heights by a softmax with a floor, and to slopes by a softplus-like function
   with a floor that gives slope exactly 1 at raw value 0: all-zero raw parameters are the
   identity, bit for bit.
   Inputs anywhere on the real line are wrapped onto the circle first; outputs are in
   [-1, 1). Nothing here asserts: every intermediate is clamped so that finite inputs give
   finite outputs and gradients.

   Two evaluations of the same function: on the CPU a fused kernel with a hand-written
   gradient (flowmap_spline_kernel.h), elsewhere LibTorch tensor operations differentiated by
   autograd (the formulation below, which also serves the tests as the reference).
------------------------------------------------------------------------- */

#ifndef FLOWMAP_SPLINE_H
#define FLOWMAP_SPLINE_H

#include "flowmap_spline_kernel.h"

#include <torch/torch.h>

#include <cstdint>

namespace flowmap {

struct SplineResult {
  torch::Tensor y;                 // same shape as the input, in [-1, 1)
  torch::Tensor log_derivative;    // log |dy/dx| per element, same shape
};

enum class SplineKernel {
  automatic,    // fused on the CPU, tensor operations on other devices
  fused,
  tensor
};

class CircularSpline {
 public:
  // raw [..., 3K]: K unnormalised widths, K unnormalised heights, K unnormalised slopes.
  CircularSpline(const torch::Tensor &raw, std::int64_t bins, double min_bin_size,
                 double min_derivative, SplineKernel kernel = SplineKernel::automatic);

  // x [...] matching raw's leading dimensions.
  SplineResult forward(const torch::Tensor &x) const;
  // log_derivative is log |dx/dy| of the inverse, i.e. minus the forward one at x.
  SplineResult inverse(const torch::Tensor &y) const;

 private:
  SplineResult fused(const torch::Tensor &v, bool inverse) const;

  SplineShape shape_;
  bool fused_ = false;
  torch::Tensor raw_;    // [M, 3K], for the fused kernel
  // Tensor formulation: [M, K, 6], per bin x_k, width, y_k, height, slope_k, slope_k+1, so
  // that one gather fetches everything a bin needs.
  torch::Tensor bin_table_;
  torch::Tensor knots_x_;    // [M, K - 1] interior knots, for the bin search
  torch::Tensor knots_y_;
  std::int64_t count_ = 0;

  torch::Tensor gather_bin(const torch::Tensor &knots, const torch::Tensor &v) const;
};

}    // namespace flowmap

#endif
