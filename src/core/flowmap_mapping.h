/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: mapping frames and weighing them (doc/method.md section 2).

   One implementation for inference (fix flowmap), validation during training and the
   identity / isotropic-scaling baseline, so every RESS the package reports next to its
   baseline is computed the same way.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_MAPPING_H
#define FLOWMAP_MAPPING_H

#include "flowmap_energy_model.h"

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace flowmap {

class FlowModel;

// The two thermodynamic states a flow connects: A (source) and B (target).
struct StatePair {
  std::int64_t num_particles = 0;
  std::int64_t dimension = 0;
  std::vector<double> source_box, target_box;
  double beta_source = 1.0, beta_target = 1.0;
};

enum class Direction { forward, inverse };    // A -> B, B -> A

struct WeighedFrames {
  torch::Tensor positions;            // [B, N, d] float64, mapped frames in the other box
  std::vector<double> log_det;        // log|det J| of the map, float64
  std::vector<double> energy_to;      // true energy of the mapped frames in the other state
  std::vector<double> log_weight;     // doc/method.md section 2
};

// Maps frames [B, N, d] (float64) of the state the direction starts from, whose energies in
// their own Hamiltonian are energy_from, with the flow (model != nullptr, reference particle
// FlowModel::mapping_reference(): atom ID 1 for a single species; no augmentation) or with the identity / isotropic scaling between the boxes (model ==
// nullptr), evaluates the true energies of the mapped frames with energy_to, and returns
// their log-weights. Frames are processed in chunks of chunk_size to bound memory.
WeighedFrames map_and_weigh(FlowModel *model, Direction direction, const StatePair &states,
                            const torch::Tensor &frames, const std::vector<double> &energy_from,
                            EnergyModel &energy_to, std::int64_t chunk_size = 1024);

// Isotropic scaling between densities, the one place it is computed (fix flowmap's boxes,
// compute ress's direct map and scan). num_particles in box (d lengths) has number density
// N / V; the same particles at density rho live in the box scaled by
//   s = (rho_box / rho)^(1/d)   along every axis (the shape is kept).
double number_density(std::int64_t num_particles, const std::vector<double> &box);
double density_scale(std::int64_t num_particles, const std::vector<double> &box, double density);
std::vector<double> box_at_density(std::int64_t num_particles, const std::vector<double> &box,
                                   double density);

// The identity / isotropic-scaling baseline map: every coordinate scaled by L_to / L_from
// about the origin (its log-det is scaling_log_det()).
torch::Tensor scale_between_boxes(const torch::Tensor &frames, const std::vector<double> &from,
                                  const std::vector<double> &to);

}    // namespace flowmap

#endif
