/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: one split coupling, by component or by particle (doc/method.md section 9).

   C(c | rest): the component c of every particle goes through its own circular spline whose
   parameters the conditioner computes from the other components of all particles. The
   conditioning components pass unchanged, so the inverse reuses the same parameters and
   log|det J| is the sum of the spline log-derivatives.

   With a set of transformed particles S (the particle split), only component c of the
   particles in S moves, and the conditioner sees every coordinate except those: the
   component c of the particles outside S too, so each spline knows where the untransformed
   neighbours of its particle are along c. The Jacobian stays diagonal.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_COUPLING_H
#define FLOWMAP_COUPLING_H

#include "flowmap_conditioner.h"
#include "flowmap_flow_options.h"

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace flowmap {

struct FlowResult {
  torch::Tensor u;          // [B, P, d] in [-1, 1)
  torch::Tensor log_det;    // [B] log |det J| of the map applied, network dtype
};

class CouplingImpl : public torch::nn::Module {
 public:
  // transformed: indices of the particles in S, ascending; empty transforms every particle
  // and hides component c from the conditioner (the component split).
  CouplingImpl(std::int64_t component, const FlowOptions &options,
               const std::vector<std::int64_t> &transformed = {});

  FlowResult forward(const torch::Tensor &u);
  FlowResult inverse(const torch::Tensor &u);

  std::int64_t component() const { return component_; }
  // Indices of the transformed particles (particle split); undefined: all of them.
  const torch::Tensor &transformed() const { return transformed_; }
  Conditioner conditioner() const { return conditioner_; }

 private:
  std::int64_t component_, bins_;
  double min_bin_size_, min_derivative_;
  Conditioner conditioner_{nullptr};
  // Particle split only: the indices of S [|S|], the feature mask [P, 2 F d] that hides
  // component c of the particles in S, and their flag [P, 1].
  torch::Tensor transformed_, hidden_, flag_;

  FlowResult apply(const torch::Tensor &u, bool inverse);
};
TORCH_MODULE(Coupling);

}    // namespace flowmap

#endif
