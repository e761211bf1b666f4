/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: what the flow core needs to know about a Hamiltonian.

   The core never sees LAMMPS: it asks an EnergyModel for energies and forces of whole
   configurations. The LAMMPS energy bridge (flowmap_lammps_bridge.h) is the production
   implementation; tests use small analytic ones.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_ENERGY_MODEL_H
#define FLOWMAP_ENERGY_MODEL_H

#include <cstdint>

namespace flowmap {

class EnergyModel {
 public:
  virtual ~EnergyModel() = default;

  virtual std::int64_t num_particles() const = 0;
  virtual std::int64_t dimension() const = 0;

  // Potential energies of nconf configurations of num_particles() particles.
  //   positions    nconf * N * d Cartesian coordinates, particle-major, any periodic image
  //   box_lengths  d lengths of the orthogonal periodic box the positions live in
  //   energies     nconf values (written)
  //   forces       nconf * N * d values, -dU/dx (written when not null)
  //   regularised  true: the bounded training energy (linear core, see the implementation's
  //                documentation); false: the true energy, used for every reported weight
  // Evaluates on the calling process only and never calls MPI.
  virtual void evaluate(const double *positions, std::int64_t nconf, const double *box_lengths,
                        double *energies, double *forces, bool regularised) = 0;
};

}    // namespace flowmap

#endif
