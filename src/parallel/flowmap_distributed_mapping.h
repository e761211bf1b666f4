/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: mapping and weighing frames over the ranks of a communicator.

   fix flowmap in map mode buffers frames (every rank holds every frame) and maps them a
   batch at a time. Each rank maps and weighs its contiguous share with the flow and with the
   identity / isotropic-scaling baseline (map_and_weigh, the core's one implementation), and
   the weights are gathered, so mapping scales with the ranks like training does.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_DISTRIBUTED_MAPPING_H
#define FLOWMAP_DISTRIBUTED_MAPPING_H

#include "flowmap_mapping.h"

#include <mpi.h>

#include <cstdint>
#include <vector>

namespace flowmap {

class FlowModel;

// One frame, weighed by the flow and by the baseline.
struct WeighedFrame {
  double energy_from;            // the frame's energy in the Hamiltonian of its own state
  double energy_to;              // true energy of the flow-mapped frame in the other state
  double log_weight;             // flow
  double energy_to_identity;     // the same for the identity / isotropic-scaling baseline
  double log_weight_identity;
};

struct DistributedMapping {
  std::vector<WeighedFrame> frames;    // in input order, on every rank
  std::vector<double> last_image;      // the flow's image of the last frame (N d), every rank
};

// Maps count frames (count * N * d values, particle-major, the same on every rank) of the
// state the direction starts from. Collective over comm; if anything fails on any rank,
// every rank throws CollectiveError with the lowest failing rank's message.
DistributedMapping map_distributed(FlowModel &model, Direction direction,
                                   const StatePair &states, const double *frames,
                                   std::int64_t count, EnergyModel &energy_from,
                                   EnergyModel &energy_to, MPI_Comm comm);

}    // namespace flowmap

#endif
