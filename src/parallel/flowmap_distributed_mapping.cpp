/* ----------------------------------------------------------------------
   USER-FLOWMAP: mapping over the ranks of a communicator (see flowmap_distributed_mapping.h).
------------------------------------------------------------------------- */

#include "flowmap_distributed_mapping.h"

#include "flowmap_collective.h"
#include "flowmap_work_share.h"

#include <algorithm>

namespace flowmap {

namespace {
constexpr int kValues = sizeof(WeighedFrame) / sizeof(double);
static_assert(sizeof(WeighedFrame) == kValues * sizeof(double), "WeighedFrame is all doubles");
}    // namespace

DistributedMapping map_distributed(FlowModel &model, Direction direction,
                                   const StatePair &states, const double *frames,
                                   std::int64_t count, EnergyModel &energy_from,
                                   EnergyModel &energy_to, MPI_Comm comm)
{
  DistributedMapping out;
  if (count == 0) return out;
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const auto share = work_share(count, rank, size);
  const std::int64_t n = states.num_particles, d = states.dimension;
  const bool forward = direction == Direction::forward;
  const auto &box_from = forward ? states.source_box : states.target_box;

  std::vector<WeighedFrame> mine(share.count);
  std::vector<double> last(n * d, 0.0);
  // The rank whose share ends the batch holds its last frame.
  const bool has_last = share.count > 0 && share.begin + share.count == count;
  run_collectively(comm, [&] {
    if (share.count == 0) return;
    const double *x = frames + share.begin * n * d;
    std::vector<double> own(share.count);
    energy_from.evaluate(x, share.count, box_from.data(), own.data(), nullptr, false);
    const auto positions =
        torch::from_blob(const_cast<double *>(x), {share.count, n, d}, torch::kFloat64).clone();
    const auto flow = map_and_weigh(&model, direction, states, positions, own, energy_to);
    const auto identity = map_and_weigh(nullptr, direction, states, positions, own, energy_to);
    for (std::int64_t f = 0; f < share.count; ++f)
      mine[f] = {own[f], flow.energy_to[f], flow.log_weight[f], identity.energy_to[f],
                 identity.log_weight[f]};
    if (has_last) {
      const auto image = flow.positions[share.count - 1].contiguous();
      std::copy_n(image.data_ptr<double>(), n * d, last.begin());
    }
  });

  out.frames.resize(count);
  allgather_shares(reinterpret_cast<const double *>(mine.data()), count, kValues,
                   reinterpret_cast<double *>(out.frames.data()), comm);
  const int owner = [&] {
    for (int r = size - 1; r >= 0; --r)
      if (work_share(count, r, size).count > 0) return r;
    return 0;
  }();
  MPI_Bcast(last.data(), static_cast<int>(n * d), MPI_DOUBLE, owner, comm);
  out.last_image = std::move(last);
  return out;
}

}    // namespace flowmap
