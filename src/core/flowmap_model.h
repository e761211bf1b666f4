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

   A mixture's model knows the species of every atom (flowmap_species.h): it maps
   configurations in the species-grouped order, so every row of the flow's input has a fixed
   species, and refuses a reference particle of another species than the reference species.
   Positions come in and go out in atom-ID order either way.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_MODEL_H
#define FLOWMAP_MODEL_H

#include "flowmap_flow.h"
#include "flowmap_flow_options.h"
#include "flowmap_species.h"

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
  // std::invalid_argument for bad options, boxes that are not d positive lengths, or species
  // recorded for another number of atoms. Without species the flow is type-blind.
  FlowModel(const FlowOptions &options, const ModelMetadata &metadata,
            const Species &species = {});

  // x [B, N, d] positions in the source box (any periodic image), atoms in ID order;
  // reference [B] int64 atom indices, each one of reference_atoms() (std::invalid_argument
  // otherwise); symmetry optional [B, d, d] signed permutations (see to_internal).
  MappedConfigurations forward(const torch::Tensor &x_source, const torch::Tensor &reference,
                               const torch::Tensor &symmetry = {});
  // Target box -> source box, F^-1 with the same parameters.
  MappedConfigurations inverse(const torch::Tensor &x_target, const torch::Tensor &reference,
                               const torch::Tensor &symmetry = {});

  // Runs the network on device from now on (every copy: they share the module). Positions,
  // log-determinants and the coordinate transform stay in float64 on the device of the input,
  // so callers hand in and get back CPU tensors whatever the network's device.
  void to_device(torch::Device device);

  // The same underlying module for every copy of a FlowModel (LibTorch holder semantics).
  Flow &flow() { return flow_; }
  const Flow &flow() const { return flow_; }
  const FlowOptions &options() const { return options_; }
  const ModelMetadata &metadata() const { return metadata_; }
  ModelMetadata &metadata() { return metadata_; }
  const Species &species() const { return species_; }
  // The atoms that may be the reference particle [M] int64, ascending (all N for a single
  // species); training draws from them, mapping uses the first.
  const torch::Tensor &reference_atoms() const { return reference_atoms_; }
  std::int64_t mapping_reference() const { return reference_atoms_[0].item<std::int64_t>(); }

 private:
  FlowOptions options_;
  ModelMetadata metadata_;
  Species species_;
  Flow flow_{nullptr};
  // Mixtures only (undefined for a single species): grouped row -> atom index, atom index ->
  // grouped row, and whether each atom is of the reference species.
  torch::Tensor grouped_, row_of_atom_, is_reference_;
  torch::Tensor reference_atoms_;

  MappedConfigurations map(const torch::Tensor &x, const torch::Tensor &reference,
                           const torch::Tensor &symmetry, bool inverse);
};

}    // namespace flowmap

#endif
