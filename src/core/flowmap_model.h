/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: the flow between two periodic systems in Cartesian coordinates.

   Source box A -> target box B: the reference particle goes to origin * L_B / L_A, every
   other particle to that plus the flow's output scaled to box B. The returned log|det J| is
   the exact Jacobian of this map on all N particles: the flow's log-determinant plus
   N sum_k log(L_B,k / L_A,k) (reference translation and box scaling), so -log mean w is the
   free-energy difference. Positions and log-determinants are float64 whatever the network
   dtype: the network's output enters as a displacement F(u) - u added to the float64
   input, so a float32 network does not round positions it leaves in place. Autograd runs
   from positions and log-determinants back to the parameters.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_MODEL_H
#define FLOWMAP_MODEL_H

#include "flowmap_flow.h"
#include "flowmap_flow_options.h"

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace flowmap {

struct ModelMetadata {
  std::string units = "lj";
  std::vector<double> source_box, target_box;    // d box lengths each
  double source_temperature = 1.0, target_temperature = 1.0;
  std::int64_t training_steps = 0;
  std::string description;
};

struct MappedConfigurations {
  torch::Tensor positions;    // [B, N, d] float64, not wrapped into the box
  torch::Tensor log_det;      // [B] float64, full Cartesian log |det J|
};

class FlowModel {
 public:
  // std::invalid_argument for bad options or boxes that are not d positive lengths.
  FlowModel(const FlowOptions &options, const ModelMetadata &metadata);

  // x [B, N, d] positions in the source box (any periodic image); reference [B] int64;
  // symmetry optional [B, d, d] signed permutations (see to_internal).
  MappedConfigurations forward(const torch::Tensor &x_source, const torch::Tensor &reference,
                               const torch::Tensor &symmetry = {});
  // Target box -> source box, F^-1 with the same parameters.
  MappedConfigurations inverse(const torch::Tensor &x_target, const torch::Tensor &reference,
                               const torch::Tensor &symmetry = {});

  // The same underlying module for every copy of a FlowModel (LibTorch holder semantics).
  Flow &flow() { return flow_; }
  const Flow &flow() const { return flow_; }
  const FlowOptions &options() const { return options_; }
  const ModelMetadata &metadata() const { return metadata_; }
  ModelMetadata &metadata() { return metadata_; }

 private:
  FlowOptions options_;
  ModelMetadata metadata_;
  Flow flow_{nullptr};

  MappedConfigurations map(const torch::Tensor &x, const torch::Tensor &reference,
                           const torch::Tensor &symmetry, bool inverse);
};

}    // namespace flowmap

#endif
