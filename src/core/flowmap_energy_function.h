/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: potential energies inside the autograd graph.

   The loss needs U(x) of mapped configurations and its gradient with respect to x. An
   EnergyModel (a LAMMPS pair style behind the bridge) returns both in one call, so the
   gradient is not taped: the forces computed in the forward pass are the backward pass.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_ENERGY_FUNCTION_H
#define FLOWMAP_ENERGY_FUNCTION_H

#include "flowmap_energy_model.h"

#include <torch/torch.h>

#include <vector>

namespace flowmap {

// U(x) for a batch x [B, N, d] (float64, any device), in a periodic box with the given
// lengths. Returns [B] float64; differentiable in x with dU/dx = -F.
torch::Tensor potential_energy(EnergyModel &model, const torch::Tensor &positions,
                               const std::vector<double> &box_lengths, bool regularised);

}    // namespace flowmap

#endif
