/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: the energy bridge.

   Evaluates potential energies and forces of whole configurations through real LAMMPS pair
   styles, so any pair style (including hybrid/overlay) can be a source or target Hamiltonian.
   Each rank owns a private single-process LAMMPS instance (MPI_COMM_SELF) holding the N
   particles in a periodic orthogonal box. A configuration is evaluated in one of two ways,
   neither with the setup cost of `run 0` or `rerun`:
   - direct pair sum: for pairwise styles with Pair::single() (hybrid/overlay: all sub-styles)
     whose largest cutoff is below half the shortest box length, the minimum image is the
     only image within the cutoff, so summing single() over all N(N-1)/2 minimum-image pairs
     is exact. For the small systems of this package that is cheaper than LAMMPS's own
     per-configuration minimum (ghost atoms and a new neighbor list), which dominates the
     other way; it is used up to kDirectSumMaxAtoms particles.
   - neighbor lists: positions copied in, ghosts and neighbor lists rebuilt, the pair style's
     compute() called, as in Verlet::setup_minimal().

   Regularisation (training only, a core radius r_c > 0 per pair of types). An untrained flow
   can put particles on top of each other, where the true energy and its gradient blow up or
   are not even finite. With evaluate(..., regularised = true) every pair term u_ij(r) with
   r < r_c of its types is replaced by its linear continuation from r_c,
       u_ij(r) -> u_ij(r_c) + u_ij'(r_c) (r - r_c),
   so value and slope are continuous at r_c, the energy is finite and each pair's force is
   bounded by |u_ij'(r_c)| down to r = 0 (at exactly r = 0 its direction is undefined and the
   pair force is taken as zero). Pairs at r >= r_c keep their true terms. The regularised total
   is assembled pair by pair from Pair::single() (over all pairs, or a neighbor list) rather than by correcting
   compute()'s total: subtracting a near-overlap term of order 1e30 from the total would leave
   only rounding noise of the other terms. It therefore needs pair styles with single()
   (all of hybrid/overlay's sub-styles), and each r_c below its pair's cutoff. In a mixture
   the overlap distance differs between pairs of types, so the radius of types I, J is by
   default a fraction of that pair's sigma (FlowMapBridgeSetup::core_sigma), read from the
   pair style after mixing (for a hybrid, from the sub-styles serving that pair); pairs whose
   style reports no sigma get the fixed core_radius. Reported weights always use
   regularised = false.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_LAMMPS_BRIDGE_H
#define FLOWMAP_LAMMPS_BRIDGE_H

#include "flowmap_energy_model.h"

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
  // Regularisation for training: below its pair's core radius every pair energy is continued
  // linearly from its value and slope there (0: off). Requires pair styles that implement
  // single(). The radius of types I, J is core_sigma * sigma_IJ where the pair style reports
  // sigma (Pair::extract("sigma"); for a hybrid whose sub-styles all have single(), the
  // smallest reported by the sub-styles serving the pair), core_radius otherwise;
  // core_sigma = 0 gives every pair core_radius.
  double core_radius = 0.0;
  double core_sigma = 0.0;
  // Allow the direct pair sum where it is exact (above); false: always neighbor lists.
  bool direct_sum = true;
};

// Above this many particles the neighbor-list path is used (O(N) against O(N^2) work).
constexpr int kDirectSumMaxAtoms = 256;

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
  // and, with pair_modify tail yes (3D only: LAMMPS refuses it in 2D), LAMMPS's tail
  // correction, so they equal LAMMPS's own `pe` of the same configuration. A configuration
  // with a non-finite coordinate gets a NaN energy (and NaN forces) instead of an error, so a
  // trainer can skip it. Over the ranks of a communicator: flowmap::evaluate_distributed
  // (src/parallel).
  void evaluate(const double *positions, std::int64_t nconf, const double *box_lengths,
                double *energies, double *forces, bool regularised) override;

  // The inherent structure of one configuration: LAMMPS's `minimize` (conjugate gradient,
  // energy tolerance 0, force tolerance force_tolerance, at most 100000 iterations) run on this
  // rank's helper from positions (N*d, particle-major) in a box of box_lengths. Writes the
  // minimum to minimum (N*d), each particle unwrapped along its path from its start, and
  // returns its energy as evaluate() gives it. On this rank only.
  double inherent_structure(const double *positions, const double *box_lengths, double *minimum,
                            double force_tolerance);

  const FlowMapBridgeSetup &setup() const { return setup_; }
  // The regularisation's radius for types itype, jtype (1..ntypes; 0: not regularised).
  double core_radius(int itype, int jtype) const;
  // Every pair of types within reach of each other (nonzero cutoff) has a radius > 0.
  bool core_covers_all_pairs() const;
  // "1-1 0.8, 1-2 0.72, 2-2 0.64" over the pairs with a nonzero cutoff, for the log.
  std::string core_radii_text() const;
  // Whether the current box is evaluated by the direct pair sum (see the header comment).
  bool uses_direct_sum() const;

 private:
  class Helper;
  FlowMapBridgeSetup setup_;
  std::unique_ptr<Helper> helper_;
};

}    // namespace LAMMPS_NS

#endif
