/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: energies of many configurations over the ranks of a communicator.

   An EnergyModel evaluates on one process; this splits nconf configurations into the ranks'
   contiguous shares (work_share), evaluates each share where it lies and gathers energies
   (and forces) on every rank. The frames files of fix flowmap and compute ress's scan use it.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_DISTRIBUTED_ENERGY_H
#define FLOWMAP_DISTRIBUTED_ENERGY_H

#include "flowmap_energy_model.h"

#include <mpi.h>

#include <cstdint>

namespace flowmap {

// As EnergyModel::evaluate, over comm: configuration c lives in the box of the d lengths at
// box_lengths + c * box_stride (box_stride 0: one box for all). The results are identical on
// every rank. Collective; if the evaluation fails on any rank, every rank throws
// CollectiveError with the lowest failing rank's message.
void evaluate_distributed(EnergyModel &model, MPI_Comm comm, const double *positions,
                          std::int64_t nconf, const double *box_lengths, std::int64_t box_stride,
                          double *energies, double *forces, bool regularised);

}    // namespace flowmap

#endif
