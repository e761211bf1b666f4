/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: does the simulation run the Hamiltonian the style was given?

   fix flowmap and fix flowmap/exchange evaluate energies with their own quoted pair commands
   through the energy bridge, not with the simulation's pair style. Weights (and the exchange's
   acceptance rule) are only right if the state the simulation samples has exactly that
   Hamiltonian: a typo in the pair commands would give wrong numbers without a word. On a step
   whose energies LAMMPS tallied, the pair energy of the simulation is compared with the
   bridge's energy of the same atoms.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_LAMMPS_ENERGY_CHECK_H
#define FLOWMAP_LAMMPS_ENERGY_CHECK_H

#include "pointers.h"

namespace LAMMPS_NS {

// The pair energy (van der Waals and Coulomb) the simulation tallied on the current step,
// summed over world, with the tail term a bridge includes; false when none was tallied on
// this step (no pair style, or no energy requested). Collective.
bool simulated_pair_energy(LAMMPS *lmp, double &energy);

// Whether a bridge's energy equals the simulation's (relative 1e-8, at least 1e-8 absolute).
bool same_pair_energy(double simulated, double bridge);

}    // namespace LAMMPS_NS

#endif
