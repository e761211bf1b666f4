/* ----------------------------------------------------------------------
   USER-FLOWMAP: energies over the ranks of a communicator (see flowmap_distributed_energy.h).
------------------------------------------------------------------------- */

#include "flowmap_distributed_energy.h"

#include "flowmap_collective.h"
#include "flowmap_work_share.h"

#include <vector>

namespace flowmap {

void evaluate_distributed(EnergyModel &model, MPI_Comm comm, const double *positions,
                          std::int64_t nconf, const double *box_lengths, std::int64_t box_stride,
                          double *energies, double *forces, bool regularised)
{
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const auto share = work_share(nconf, rank, size);
  const std::int64_t stride = model.num_particles() * model.dimension();
  std::vector<double> my_energies(share.count);
  std::vector<double> my_forces(forces ? share.count * stride : 0);
  run_collectively(comm, [&] {
    for (std::int64_t c = 0; c < share.count; ++c) {
      const std::int64_t conf = share.begin + c;
      model.evaluate(positions + conf * stride, 1, box_lengths + conf * box_stride,
                     &my_energies[c], forces ? &my_forces[c * stride] : nullptr, regularised);
    }
  });
  allgather_shares(my_energies.data(), nconf, 1, energies, comm);
  if (forces) allgather_shares(my_forces.data(), nconf, stride, forces, comm);
}

}    // namespace flowmap
