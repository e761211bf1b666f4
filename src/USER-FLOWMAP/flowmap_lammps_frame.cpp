/* ----------------------------------------------------------------------
   USER-FLOWMAP: the current LAMMPS frame as the flow core sees it.
------------------------------------------------------------------------- */

#include "flowmap_lammps_frame.h"

#include "atom.h"
#include "domain.h"
#include "error.h"
#include "group.h"

#include <cmath>
#include <stdexcept>

using namespace LAMMPS_NS;

FlowMapFrame::FlowMapFrame(LAMMPS *lmp, const std::string &style) : Pointers(lmp), style_(style)
{
}

void FlowMapFrame::check_system(int igroup)
{
  if (domain->triclinic)
    error->all(FLERR, "{} needs an orthogonal box; this one is triclinic", style_);
  if (!domain->xperiodic || !domain->yperiodic || (domain->dimension == 3 && !domain->zperiodic))
    error->all(FLERR, "{} needs a box periodic in every dimension (boundary p p p)", style_);
  if (!atom->tag_enable || atom->tag_consecutive() == 0)
    error->all(FLERR, "{} needs atom IDs numbered consecutively from 1 (reset_atom_ids)", style_);
  if (group->count(igroup) != atom->natoms)
    error->all(FLERR, "{} must be defined for a group holding all atoms (group all): a flow "
               "maps whole configurations", style_);
  if (atom->natoms > MAXSMALLINT)
    error->all(FLERR, "{} supports at most {} atoms", style_, MAXSMALLINT);

  const int n = static_cast<int>(atom->natoms);
  const int d = domain->dimension;
  std::vector<double> box(domain->prd, domain->prd + d);
  if (natoms_ == 0) {
    natoms_ = n;
    dimension_ = d;
    box_ = box;
    types_.assign(n, 0);
    std::vector<int> local(n, 0);
    for (int i = 0; i < atom->nlocal; ++i) local[atom->tag[i] - 1] = atom->type[i];
    MPI_Allreduce(local.data(), types_.data(), n, MPI_INT, MPI_SUM, world);
    species_ = flowmap::Species(std::vector<std::int64_t>(types_.begin(), types_.end()));
    return;
  }
  if (n != natoms_)
    error->all(FLERR, "{}: the number of atoms changed from {} to {}; a flow maps a fixed number "
               "of particles", style_, natoms_, n);
  for (int k = 0; k < d; ++k)
    if (std::fabs(box[k] - box_[k]) > 1e-10 * box_[k])
      error->all(FLERR, "{}: the box changed from {} to {} along dimension {}; the states are "
                 "defined at fixed volume", style_, box_[k], box[k], k + 1);
}

const std::vector<double> &FlowMapFrame::gather()
{
  if (atom->natoms != natoms_)
    error->all(FLERR, "{}: the number of atoms changed from {} to {}; a flow maps a fixed number "
               "of particles", style_, natoms_, atom->natoms);
  for (int k = 0; k < dimension_; ++k)
    if (std::fabs(domain->prd[k] - box_[k]) > 1e-10 * box_[k])
      error->all(FLERR, "{}: the box changed from {} to {} along dimension {}; the states are "
                 "defined at fixed volume", style_, box_[k], domain->prd[k], k + 1);

  // Each row: the coordinates, then the type (exact in a double).
  const int d = dimension_, stride = d + 1;
  local_.assign(static_cast<std::size_t>(natoms_) * stride, 0.0);
  std::vector<double> all(local_.size());
  double **x = atom->x;
  for (int i = 0; i < atom->nlocal; ++i) {
    const auto base = static_cast<std::size_t>(atom->tag[i] - 1) * stride;
    for (int k = 0; k < d; ++k) local_[base + k] = x[i][k];
    local_[base + d] = atom->type[i];
  }
  // Each atom is owned by exactly one rank, so a sum over ranks assembles the frame.
  MPI_Allreduce(local_.data(), all.data(), static_cast<int>(local_.size()), MPI_DOUBLE, MPI_SUM,
                world);
  positions_.resize(static_cast<std::size_t>(natoms_) * d);
  std::vector<std::int64_t> types(natoms_);
  bool same = true;
  for (int t = 0; t < natoms_; ++t) {
    for (int k = 0; k < d; ++k) positions_[t * d + k] = all[t * stride + k];
    types[t] = static_cast<std::int64_t>(all[t * stride + d]);
    same = same && types[t] == types_[t];
  }
  relabelling_.clear();
  if (same) return positions_;
  try {
    relabelling_ = species_.relabelling(types);
  } catch (std::invalid_argument &e) {
    error->all(FLERR, "{}: {}", style_, e.what());
  }
  positions_ = flowmap::relabel(positions_, relabelling_, d);
  return positions_;
}
