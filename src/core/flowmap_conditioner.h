/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: the permutation-equivariant conditioner of one coupling (doc/method.md section 9).

   Per particle: circular features cos(k pi u), sin(k pi u), k = 1..F, of the conditioning
   components (with the particle split: of all components, those being transformed zeroed),
   followed by fixed per-particle labels (the particle split's flag that marks the
   transformed particles; in a mixture the one-hot species of the particle) -> linear
   embedding -> transformer encoder layers (self-attention over the particles of a
   configuration, no positional encoding; with pair_frequencies, a learned bias of the
   attention scores by the periodic distance of two particles along each visible component)
   -> linear head giving the 3K raw spline parameters
   of that particle's transformed component. The head starts at zero, so a fresh coupling is
   the identity. The embedding of a one-hot species column is a learned per-species vector,
   so the conditioner is equivariant under permutations of particles with equal labels.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_CONDITIONER_H
#define FLOWMAP_CONDITIONER_H

#include "flowmap_encoder.h"
#include "flowmap_flow_options.h"

#include <torch/torch.h>

#include <cstdint>

namespace flowmap {

class FlowKernel;

class ConditionerImpl : public torch::nn::Module {
 public:
  // inputs: components per particle (d - 1, or d with the particle split); labels: fixed
  // per-particle embedding inputs after the features (0 for a type-blind component split).
  ConditionerImpl(std::int64_t inputs, const FlowOptions &options, std::int64_t labels = 0);

  // u [B, P, inputs] -> raw spline parameters [B, P, 3K]. hidden [P, 2 F inputs], if given,
  // multiplies the features (0 hides one from the network); labels [P, labels] is appended to
  // them. With outputs (indices into P) only those particles' parameters are computed:
  // [B, outputs, 3K].
  torch::Tensor forward(const torch::Tensor &u, const torch::Tensor &hidden = {},
                        const torch::Tensor &labels = {}, const torch::Tensor &outputs = {});

  // Circular features [B, P, 2 F inputs], the embedding input (exposed for the benchmark).
  torch::Tensor features(const torch::Tensor &u) const;

  torch::nn::Linear embed() const { return embed_; }
  const std::vector<EncoderLayer> &layers() const { return layers_; }
  torch::nn::Linear head() const { return head_; }

 private:
  friend class FlowKernel;
  std::int64_t frequencies_, inputs_, pair_frequencies_;
  torch::Tensor pair_weights_;    // [heads, inputs * pair_frequencies]; undefined without
  torch::nn::Linear embed_{nullptr}, head_{nullptr};
  std::vector<EncoderLayer> layers_;
};
TORCH_MODULE(Conditioner);

}    // namespace flowmap

#endif
