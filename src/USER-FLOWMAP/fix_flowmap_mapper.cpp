/* ----------------------------------------------------------------------
   USER-FLOWMAP: fix flowmap's map mode (see fix_flowmap_mapper.h).
------------------------------------------------------------------------- */

#include "fix_flowmap_mapper.h"

#include "flowmap_collective.h"
#include "flowmap_distributed_mapping.h"
#include "flowmap_lammps_bridge.h"
#include "flowmap_session.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "update.h"

#include <cmath>
#include <limits>

using namespace LAMMPS_NS;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}    // namespace

FlowMapMapper::FlowMapMapper(LAMMPS *lmp, flowmap::Session &session, bool forward,
                             FlowMapBridge &from, FlowMapBridge &to) :
    Pointers(lmp), session_(session), forward_(forward), from_(from), to_(to)
{
}

std::size_t FlowMapMapper::add(const std::vector<double> &frame,
                               const std::vector<std::int64_t> &relabelling)
{
  last_relabelling_ = relabelling;
  buffer_.insert(buffer_.end(), frame.begin(), frame.end());
  steps_.push_back(update->ntimestep);
  return steps_.size();
}

std::int64_t FlowMapMapper::flush(double **mapped)
{
  const auto count = static_cast<std::int64_t>(steps_.size());
  if (count == 0) return 0;
  flowmap::DistributedMapping result;
  try {
    result = flowmap::map_distributed(
        session_.model(), forward_ ? flowmap::Direction::forward : flowmap::Direction::inverse,
        session_.states(), buffer_.data(), count, from_, to_, world);
  } catch (flowmap::CollectiveError &err) {
    const std::string what = err.what();
    error->all(FLERR, "Fix flowmap could not map the frames of steps {} to {}: {}", steps_.front(),
               steps_.back(), what.substr(0, what.find('\n')));
  }
  // A frame whose log-weight is NaN or +inf (overlapping atoms: infinite energies in both
  // Hamiltonians) would poison every estimate made from it; it gets weight 0 and is counted.
  const std::int64_t nonfinite_before = nonfinite_;
  auto zero_if_nonfinite = [](double log_weight) {
    return log_weight < kInf ? log_weight : -kInf;
  };
  for (std::int64_t f = 0; f < count; ++f) {
    const auto &w = result.frames[f];
    if (!(w.log_weight < kInf)) ++nonfinite_;
    weighed_.push_back({steps_[f], w.energy_from, w.energy_to, zero_if_nonfinite(w.log_weight),
                        w.energy_to_identity, zero_if_nonfinite(w.log_weight_identity)});
  }
  if (nonfinite_ > nonfinite_before && comm->me == 0)
    error->warning(FLERR, "Fix flowmap: {} of the frames of steps {} to {} ({} of {} so far) have a "
                   "non-finite log-weight (NaN or +inf: overlapping atoms?) and get weight 0",
                   nonfinite_ - nonfinite_before, steps_.front(), steps_.back(), nonfinite_,
                   weighed_.size());
  write_image(result.last_image, mapped);
  buffer_.clear();
  steps_.clear();
  return count;
}

// The image wrapped into the other box: the simulation box scaled about the coordinate
// origin. In 2D the third column is the atom's z. After type exchanges the image's rows are
// relabelled atoms: each goes back to its atom.
void FlowMapMapper::write_image(const std::vector<double> &image, double **mapped)
{
  const auto &states = session_.states();
  const int d = static_cast<int>(states.dimension);
  const auto &box_from = forward_ ? states.source_box : states.target_box;
  const auto &box_to = forward_ ? states.target_box : states.source_box;
  const auto &source = last_relabelling_;
  std::vector<std::int64_t> row_of_atom(source.size());
  for (std::size_t r = 0; r < source.size(); ++r) row_of_atom[source[r]] = r;
  for (int i = 0; i < atom->nlocal; ++i) {
    const std::int64_t atom_index = atom->tag[i] - 1;
    const auto row = source.empty() ? atom_index : row_of_atom[atom_index];
    const double *yi = &image[static_cast<std::size_t>(row) * d];
    for (int k = 0; k < 3; ++k) {
      if (k >= d) {
        mapped[i][k] = atom->x[i][k];
        continue;
      }
      const double lo = domain->boxlo[k] * box_to[k] / box_from[k];
      mapped[i][k] = lo + std::fmod(std::fmod(yi[k] - lo, box_to[k]) + box_to[k], box_to[k]);
    }
  }
}
