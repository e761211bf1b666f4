/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: learnable circular shift of each Cartesian component (doc/method.md section 9).

   u -> wrap(u + s_c) for all particles; it moves the spline's fixed point at the box edge
   so no particle stays pinned there. Unit Jacobian; starts at zero (identity).
------------------------------------------------------------------------- */

#ifndef FLOWMAP_SHIFT_H
#define FLOWMAP_SHIFT_H

#include <torch/torch.h>

#include <cstdint>

namespace flowmap {

class ShiftImpl : public torch::nn::Module {
 public:
  explicit ShiftImpl(std::int64_t dimension);

  // u [B, P, d] -> [B, P, d] in [-1, 1)
  torch::Tensor forward(const torch::Tensor &u);
  torch::Tensor inverse(const torch::Tensor &u);

  torch::Tensor shift;    // [d]
};
TORCH_MODULE(Shift);

}    // namespace flowmap

#endif
