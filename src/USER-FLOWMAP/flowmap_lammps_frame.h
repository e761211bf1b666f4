/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: the current LAMMPS frame as the flow core sees it.

   fix flowmap and compute ress both turn the distributed atoms of a running simulation into
   one configuration ordered by atom ID, available on every rank, and both need the same
   checks that the system is one the package supports.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_LAMMPS_FRAME_H
#define FLOWMAP_LAMMPS_FRAME_H

#include "pointers.h"

#include "flowmap_species.h"

#include <string>
#include <vector>

namespace LAMMPS_NS {

class FlowMapFrame : protected Pointers {
 public:
  // style: "fix flowmap" or "compute ress", used in error messages.
  FlowMapFrame(LAMMPS *lmp, const std::string &style);

  // Checks that the simulation is supported: a fully periodic orthogonal box, consecutive atom
  // IDs 1..N, the group (index igroup) holds all atoms. The first call records N, the
  // dimension, the types and the box; later calls and gather() refuse a change of N or the box
  // (exchanges of types are relabelled, see gather()). Collective (error->all).
  void check_system(int igroup);

  // Positions of all atoms ordered by ID (N * dimension values, wrapped into the box),
  // identical on every rank of world. Collective. When atoms have exchanged types since the
  // first call (fix atom/swap), the frame is relabelled to the recorded types (see
  // flowmap::Species::relabelling) and relabelling() says which atom each row holds; a
  // change of the count of any type is an error.
  const std::vector<double> &gather();
  // Atom index (ID - 1) of each row of the last gathered frame; empty when the types agreed.
  const std::vector<std::int64_t> &relabelling() const { return relabelling_; }

  int natoms() const { return natoms_; }
  int dimension() const { return dimension_; }
  const std::vector<double> &box_lengths() const { return box_; }
  const std::vector<int> &types() const { return types_; }    // per atom, ordered by ID
  const flowmap::Species &species() const { return species_; }    // the same

 private:
  std::string style_;
  int natoms_ = 0, dimension_ = 0;
  std::vector<double> box_;
  std::vector<int> types_;
  flowmap::Species species_;
  std::vector<std::int64_t> relabelling_;
  std::vector<double> local_, positions_;
};

}    // namespace LAMMPS_NS

#endif
