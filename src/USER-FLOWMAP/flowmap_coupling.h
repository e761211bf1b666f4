/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: split coupling by Cartesian component (METHOD.md section 5).

   C(c | rest): the component c of every particle goes through its own circular spline whose
   parameters the conditioner computes from the other components of all particles. The
   conditioning components pass unchanged, so the inverse reuses the same parameters and
   log|det J| is the sum of the spline log-derivatives.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_COUPLING_H
#define FLOWMAP_COUPLING_H

#include "flowmap_conditioner.h"
#include "flowmap_flow_options.h"

#include <torch/torch.h>

#include <cstdint>

namespace flowmap {

struct FlowResult {
  torch::Tensor u;          // [B, P, d] in [-1, 1)
  torch::Tensor log_det;    // [B] log |det J| of the map applied, network dtype
};

class CouplingImpl : public torch::nn::Module {
 public:
  CouplingImpl(std::int64_t component, const FlowOptions &options);

  FlowResult forward(const torch::Tensor &u);
  FlowResult inverse(const torch::Tensor &u);

  std::int64_t component() const { return component_; }
  Conditioner conditioner() const { return conditioner_; }

 private:
  std::int64_t component_, bins_;
  double min_bin_size_, min_derivative_;
  Conditioner conditioner_{nullptr};

  FlowResult apply(const torch::Tensor &u, bool inverse);
};
TORCH_MODULE(Coupling);

}    // namespace flowmap

#endif
