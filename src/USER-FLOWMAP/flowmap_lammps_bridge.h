/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: the energy bridge.

   Evaluates potential energies and forces of whole configurations through real LAMMPS pair
   styles, so any pair style (including hybrid/overlay) can be a source or target Hamiltonian.
   Each rank owns a private single-process LAMMPS instance (MPI_COMM_SELF) holding the N
   particles in a periodic orthogonal box; a configuration is evaluated by copying positions
   in, rebuilding ghosts and neighbor lists, and calling the pair style's compute() directly,
   without the setup cost of `run 0` or `rerun`.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_LAMMPS_BRIDGE_H
#define FLOWMAP_LAMMPS_BRIDGE_H

#include "flowmap_energy_model.h"

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace LAMMPS_NS {

class LAMMPS;

// What the helper instance is built from.
struct FlowMapBridgeSetup {
  std::string units = "lj";
  int dimension = 3;                        // 2 or 3
  std::vector<int> types;                   // per particle, ordered by atom ID, 1..ntypes
  int ntypes = 1;
  std::vector<double> box_lengths;          // d lengths of the periodic orthogonal box
  std::vector<std::string> pair_commands;   // pair_style / pair_coeff / pair_modify lines
  // Regularisation for training: below this pair distance every pair energy is continued
  // linearly from its value and slope at core_radius (0: off). Requires pair styles that
  // implement single().
  double core_radius = 0.0;
};

// Any failure to build or use the helper (invalid pair commands, missing single(), ...):
// the message names the command and repeats LAMMPS's own error.
class FlowMapBridgeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class FlowMapBridge : public flowmap::EnergyModel {
 public:
  explicit FlowMapBridge(const FlowMapBridgeSetup &setup);
  ~FlowMapBridge() override;
  FlowMapBridge(const FlowMapBridge &) = delete;
  FlowMapBridge &operator=(const FlowMapBridge &) = delete;

  std::int64_t num_particles() const override;
  std::int64_t dimension() const override;

  // flowmap::EnergyModel: evaluates on this rank only (no MPI). A box different from the
  // current one resizes the helper's box first. Energies include pair_modify shift offsets
  // and, with pair_modify tail yes, LAMMPS's tail correction (its 3D formula), so they equal
  // LAMMPS's own `pe` of the same configuration.
  void evaluate(const double *positions, std::int64_t nconf, const double *box_lengths,
                double *energies, double *forces, bool regularised) override;

  // The same, with the nconf configurations split in contiguous blocks across the ranks of
  // comm and the results gathered on every rank. Collective over comm.
  void evaluate_distributed(MPI_Comm comm, const double *positions, std::int64_t nconf,
                            const double *box_lengths, double *energies, double *forces,
                            bool regularised);

  const FlowMapBridgeSetup &setup() const { return setup_; }

 private:
  class Helper;
  FlowMapBridgeSetup setup_;
  std::unique_ptr<Helper> helper_;
};

}    // namespace LAMMPS_NS

#endif
