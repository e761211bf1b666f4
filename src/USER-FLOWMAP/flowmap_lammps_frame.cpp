/* ----------------------------------------------------------------------
   USER-FLOWMAP: the current LAMMPS frame as the flow core sees it.
------------------------------------------------------------------------- */

#include "flowmap_lammps_frame.h"

#include "atom.h"
#include "domain.h"
#include "error.h"
#include "group.h"
#include "update.h"

#include <cmath>
#include <stdexcept>

using namespace LAMMPS_NS;

FlowMapFrame::FlowMapFrame(LAMMPS *lmp, const std::string &style, Box box) :
    Pointers(lmp), style_(style), box_policy_(box)
{
}

void FlowMapFrame::forget()
{
  recorded_ = false;
  frames_ = 0;
}

void FlowMapFrame::adopt_types(const std::vector<int> &types)
{
  flowmap::Species adopted(std::vector<std::int64_t>(types.begin(), types.end()));
  // relabelling() refuses other counts of the types, naming both compositions
  adopted.relabelling(std::vector<std::int64_t>(types_.begin(), types_.end()));
  types_ = types;
  species_ = std::move(adopted);
}

std::vector<double> FlowMapFrame::current_box_lengths() const
{
  return std::vector<double>(domain->prd, domain->prd + domain->dimension);
}

FlowMapBridgeSetup FlowMapFrame::bridge_setup(const std::vector<double> &box,
                                              const std::vector<std::string> &pair_commands) const
{
  FlowMapBridgeSetup setup;
  setup.units = update->unit_style;
  setup.dimension = dimension_;
  setup.types = types_;
  setup.ntypes = atom->ntypes;
  setup.box_lengths = box;
  setup.pair_commands = pair_commands;
  return setup;
}

void FlowMapFrame::check_system(int igroup)
{
  if (domain->triclinic)
    error->all(FLERR, "{}: triclinic boxes are not supported; the energy bridge needs an "
               "orthogonal box", style_);
  if (!domain->xperiodic || !domain->yperiodic || (domain->dimension == 3 && !domain->zperiodic))
    error->all(FLERR, "{}: the box must be periodic in every direction (boundary p p p); the "
               "weights are defined for periodic systems", style_);
  if (atom->natoms > MAXSMALLINT)
    error->all(FLERR, "{}: too many atoms ({}) for one frame; at most {}", style_, atom->natoms,
               MAXSMALLINT);
  if (!atom->tag_enable || (atom->natoms > 0 && atom->tag_consecutive() == 0))
    error->all(FLERR, "{}: atom IDs must be numbered consecutively from 1 (reset_atom_ids)",
               style_);
  if (group->count(igroup) != atom->natoms)
    error->all(FLERR, "{} must be defined for a group holding all atoms (group all): a flow "
               "maps whole configurations", style_);

  if (!recorded_) {
    natoms_ = static_cast<int>(atom->natoms);
    dimension_ = domain->dimension;
    box_ = current_box_lengths();
    collect(nullptr, types_);
    species_ = flowmap::Species(std::vector<std::int64_t>(types_.begin(), types_.end()));
    recorded_ = true;
    frames_ = 0;
    return;
  }
  check_unchanged(atom->natoms);
}

void FlowMapFrame::check_unchanged(bigint natoms)
{
  if (natoms != natoms_)
    error->all(FLERR, "{}: the number of atoms changed from {} to {} after {} frames; the frames "
               "taken so far belong to the old system", style_, natoms_, natoms, frames_);
  if (box_policy_ == Box::variable) return;
  for (int k = 0; k < dimension_; ++k)
    if (std::fabs(domain->prd[k] - box_[k]) > 1e-10 * box_[k])
      error->all(FLERR, "{}: the box changed from {} to {} along dimension {}; the states are "
                 "defined at fixed volume", style_, box_[k], domain->prd[k], k + 1);
}

const std::vector<double> &FlowMapFrame::gather()
{
  check_unchanged(atom->natoms);
  std::vector<int> types;
  collect(&positions_, types);
  ++frames_;
  relabelling_.clear();
  if (types == types_) return positions_;
  // Exchanges of types between atoms (fix atom/swap) relabel the same system: the frame is
  // relabelled to the recorded types the Hamiltonians and the flow were set up with.
  try {
    relabelling_ = species_.relabelling(std::vector<std::int64_t>(types.begin(), types.end()));
  } catch (std::invalid_argument &e) {
    error->all(FLERR, "{} after {} frames: {}", style_, frames_ - 1, e.what());
  }
  positions_ = flowmap::relabel(positions_, relabelling_, dimension_);
  return positions_;
}

void FlowMapFrame::collect(std::vector<double> *positions, std::vector<int> &types)
{
  // Each atom is owned by exactly one rank, so a sum over ranks of per-ID slots assembles the
  // frame exactly (x + 0 = x).
  const int d = dimension_;
  const int stride = d + 1;
  buffer_.assign(static_cast<std::size_t>(natoms_) * stride, 0.0);
  double **x = atom->x;
  for (int i = 0; i < atom->nlocal; ++i) {
    const tagint tag = atom->tag[i];
    if (tag < 1 || tag > natoms_)
      error->one(FLERR, "{}: atom ID {} outside 1..{}", style_, tag, natoms_);
    double *row = &buffer_[static_cast<std::size_t>(tag - 1) * stride];
    for (int k = 0; k < d; ++k) row[k] = x[i][k];
    row[d] = atom->type[i];
  }
  MPI_Allreduce(MPI_IN_PLACE, buffer_.data(), static_cast<int>(buffer_.size()), MPI_DOUBLE,
                MPI_SUM, world);
  types.resize(natoms_);
  if (positions) positions->resize(static_cast<std::size_t>(natoms_) * d);
  for (int t = 0; t < natoms_; ++t) {
    const double *row = &buffer_[static_cast<std::size_t>(t) * stride];
    types[t] = static_cast<int>(row[d]);
    if (positions)
      for (int k = 0; k < d; ++k) (*positions)[static_cast<std::size_t>(t) * d + k] = row[k];
  }
}
