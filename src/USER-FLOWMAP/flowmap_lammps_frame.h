/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: the current LAMMPS frame as the flow core sees it.

   fix flowmap and compute ress both turn the distributed atoms of a running simulation into
   one configuration ordered by atom ID, available on every rank, and both need the same
   checks that the system is one the package supports. This class is the one place for both.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_LAMMPS_FRAME_H
#define FLOWMAP_LAMMPS_FRAME_H

#include "pointers.h"

#include "flowmap_lammps_bridge.h"
#include "flowmap_species.h"

#include <string>
#include <vector>

namespace LAMMPS_NS {

class FlowMapFrame : protected Pointers {
 public:
  // fixed: the states are defined at this box (fix flowmap); variable: each frame's own box
  // is used (compute ress in direct mode, where change_box between runs is fine).
  enum class Box { fixed, variable };

  // style names the user's command in messages, e.g. "Fix flowmap" or "Compute ress w".
  FlowMapFrame(LAMMPS *lmp, const std::string &style, Box box);

  // Checks that the simulation is supported: a fully periodic orthogonal box, consecutive
  // atom IDs 1..N, the group (index igroup) holds all atoms. The first call (and the first
  // after forget()) records N, the dimension, the types and the box; later calls refuse a
  // change of N (and of the box, if fixed); exchanges of types are relabelled, see gather().
  // Collective (error->all).
  void check_system(int igroup);
  // The next check_system() records the system anew (nothing gathered yet: atoms may still be
  // created).
  void forget();
  // Takes `types` (per atom, ordered by ID) as the recorded types from now on, e.g. an order
  // that two partitions or a model share. std::invalid_argument naming both compositions when
  // the count of any type differs from the recorded system's. Called after check_system().
  void adopt_types(const std::vector<int> &types);

  // Positions of all atoms ordered by ID (N * dimension values, as LAMMPS holds them),
  // identical on every rank of world. Refuses a frame whose N or (fixed) box differ from the
  // recorded ones. Collective. When atoms have exchanged types since the first call (fix
  // atom/swap), the frame is relabelled to the recorded types (see
  // flowmap::Species::relabelling) and relabelling() says which atom each row holds; a change
  // of the count of any type is an error.
  const std::vector<double> &gather();
  // Atom index (ID - 1) of each row of the last gathered frame; empty when the types agreed.
  const std::vector<std::int64_t> &relabelling() const { return relabelling_; }

  int natoms() const { return natoms_; }
  int dimension() const { return dimension_; }
  const std::vector<double> &box_lengths() const { return box_; }    // recorded box
  std::vector<double> current_box_lengths() const;
  const std::vector<int> &types() const { return types_; }    // per atom, ordered by ID
  const flowmap::Species &species() const { return species_; }    // the same
  bigint frames() const { return frames_; }                    // gathered since recorded

  // The energy bridge's set-up for this system (units, dimension, types) in the given box.
  FlowMapBridgeSetup bridge_setup(const std::vector<double> &box,
                                  const std::vector<std::string> &pair_commands) const;

 private:
  std::string style_;
  Box box_policy_;
  bool recorded_ = false;
  int natoms_ = 0, dimension_ = 0;
  std::vector<double> box_;
  std::vector<int> types_;
  bigint frames_ = 0;
  std::vector<double> buffer_, positions_;
  flowmap::Species species_;
  std::vector<std::int64_t> relabelling_;

  void check_unchanged(bigint natoms);
  // positions (when not null) and types of every atom by ID, one MPI_Allreduce
  void collect(std::vector<double> *positions, std::vector<int> &types);
};

}    // namespace LAMMPS_NS

#endif
