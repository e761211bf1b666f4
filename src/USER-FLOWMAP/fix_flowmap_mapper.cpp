/* ----------------------------------------------------------------------
   USER-FLOWMAP: fix flowmap's map mode (see fix_flowmap_mapper.h).
------------------------------------------------------------------------- */

#include "fix_flowmap_mapper.h"

#include "flowmap_collective.h"
#include "flowmap_distributed_mapping.h"
#include "flowmap_lammps_bridge.h"
#include "flowmap_session.h"

#include "atom.h"
#include "domain.h"
#include "error.h"
#include "update.h"

#include <cmath>

using namespace LAMMPS_NS;

FlowMapMapper::FlowMapMapper(LAMMPS *lmp, flowmap::Session &session, bool forward,
                             FlowMapBridge &from, FlowMapBridge &to) :
    Pointers(lmp), session_(session), forward_(forward), from_(from), to_(to)
{
}

std::size_t FlowMapMapper::add(const std::vector<double> &frame)
{
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
  for (std::int64_t f = 0; f < count; ++f) {
    const auto &w = result.frames[f];
    weighed_.push_back({steps_[f], w.energy_from, w.energy_to, w.log_weight,
                        w.energy_to_identity, w.log_weight_identity});
  }
  write_image(result.last_image, mapped);
  buffer_.clear();
  steps_.clear();
  return count;
}

// The image wrapped into the other box: the simulation box scaled about the coordinate
// origin. In 2D the third column is the atom's z.
void FlowMapMapper::write_image(const std::vector<double> &image, double **mapped)
{
  const auto &states = session_.states();
  const int d = static_cast<int>(states.dimension);
  const auto &box_from = forward_ ? states.source_box : states.target_box;
  const auto &box_to = forward_ ? states.target_box : states.source_box;
  for (int i = 0; i < atom->nlocal; ++i) {
    const double *yi = &image[static_cast<std::size_t>(atom->tag[i] - 1) * d];
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
