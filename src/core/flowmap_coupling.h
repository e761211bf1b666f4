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

   In a mixture every particle's one-hot species is appended to its features (after the
   particle split's flag), so the spline of a particle depends on which species it and its
   neighbours are.
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

class FlowKernel;

class CouplingImpl : public torch::nn::Module {
 public:
  // transformed: indices of the particles in S, ascending; empty transforms every particle
  // and hides component c from the conditioner (the component split). species: one-hot
  // species of each particle [P, S] (float64), undefined for a single species.
  CouplingImpl(std::int64_t component, const FlowOptions &options,
               const std::vector<std::int64_t> &transformed = {},
               const torch::Tensor &species = {});

  FlowResult forward(const torch::Tensor &u);
  FlowResult inverse(const torch::Tensor &u);

  std::int64_t component() const { return component_; }
  // Indices of the transformed particles (particle split); undefined: all of them.
  const torch::Tensor &transformed() const { return transformed_; }
  Conditioner conditioner() const { return conditioner_; }

 private:
  friend class FlowKernel;

  std::int64_t component_, bins_;
  double min_bin_size_, min_derivative_;
  Conditioner conditioner_{nullptr};
  // Particle split only: the indices of S [|S|] and the feature mask [P, 2 F d] that hides
  // component c of the particles in S. labels_: the fixed inputs after the features, the
  // flag of S [P, 1] (particle split) then the one-hot species [P, S] (mixtures); undefined
  // when there are none.
  torch::Tensor transformed_, hidden_, labels_;

  FlowResult apply(const torch::Tensor &u, bool inverse);
};
TORCH_MODULE(Coupling);

}    // namespace flowmap

#endif
