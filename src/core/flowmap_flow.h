/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: the flow on the torus [-1, 1)^(d (N-1)) (doc/method.md section 9).

   A stack of blocks. 2D block: [shift, C(x|y), C(y|x), shift, C(y|x), C(x|y)], the
   published layout. 3D block, the same pattern: [shift, C(x|yz), C(y|zx), C(z|xy), shift,
   C(z|xy), C(y|zx), C(x|yz)], so every component is transformed twice per block, once
   early and once late, conditioned each time on the two others. With the particle split
   (FlowOptions::split) each coupling is two, over the halves of a fixed partition of the
   particles. The inverse runs the steps backwards with the same parameters. Starts as the
   exact identity.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_FLOW_H
#define FLOWMAP_FLOW_H

#include "flowmap_coupling.h"
#include "flowmap_flow_options.h"
#include "flowmap_shift.h"
#include "flowmap_species.h"

#include <torch/torch.h>

#include <vector>

namespace flowmap {

class FlowKernel;

class FlowImpl : public torch::nn::Module {
 public:
  // species: the species of the N - 1 rows (std::invalid_argument if of another length).
  explicit FlowImpl(const FlowOptions &options, const InternalSpecies &species = {});

  // u [B, N-1, d] in any floating dtype; computed in the network dtype on its device.
  FlowResult forward(const torch::Tensor &u);
  FlowResult inverse(const torch::Tensor &u);

  const FlowOptions &options() const { return options_; }
  // Moves the parameters and buffers to device; inputs follow them there.
  void to_device(torch::Device device);
  const std::vector<Coupling> &couplings() const { return couplings_; }
  const InternalSpecies &species() const { return species_; }

 private:
  friend class FlowKernel;    // reads the steps and their weights in place

  struct Step {
    Shift shift{nullptr};          // exactly one of the two is set
    Coupling coupling{nullptr};
  };
  FlowOptions options_;
  InternalSpecies species_;
  std::vector<Step> steps_;
  std::vector<Coupling> couplings_;

  torch::Tensor prepare(const torch::Tensor &u) const;
};
TORCH_MODULE(Flow);

}    // namespace flowmap

#endif
