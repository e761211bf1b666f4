/* ----------------------------------------------------------------------
   USER-FLOWMAP: collective failures and small collectives (see flowmap_collective.h).
------------------------------------------------------------------------- */

#include "flowmap_collective.h"

#include "flowmap_work_share.h"

#include <limits>

namespace flowmap {

namespace {

int rank_of(MPI_Comm comm)
{
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  return rank;
}

int size_of(MPI_Comm comm)
{
  int size = 1;
  MPI_Comm_size(comm, &size);
  return size;
}

int as_count(std::int64_t n)
{
  if (n > std::numeric_limits<int>::max())
    throw CollectiveError("a collective of " + std::to_string(n) +
                          " values exceeds MPI's count limit");
  return static_cast<int>(n);
}

}    // namespace

std::string first_failure(const std::string &failure, MPI_Comm comm)
{
  const int size = size_of(comm);
  int failed_rank = failure.empty() ? size : rank_of(comm);
  MPI_Allreduce(MPI_IN_PLACE, &failed_rank, 1, MPI_INT, MPI_MIN, comm);
  if (failed_rank == size) return {};
  std::string message = failure;
  broadcast_string(message, failed_rank, comm);
  return message;
}

void broadcast_string(std::string &text, int root, MPI_Comm comm)
{
  int length = static_cast<int>(text.size());
  MPI_Bcast(&length, 1, MPI_INT, root, comm);
  text.resize(length);
  if (length > 0) MPI_Bcast(&text[0], length, MPI_CHAR, root, comm);
}

Reducer sum_over(MPI_Comm comm)
{
  return [comm](double *data, std::int64_t n) {
    MPI_Allreduce(MPI_IN_PLACE, data, as_count(n), MPI_DOUBLE, MPI_SUM, comm);
  };
}

std::vector<double> allgather(const std::vector<double> &mine, MPI_Comm comm)
{
  std::vector<double> all(mine.size() * static_cast<std::size_t>(size_of(comm)));
  const int count = as_count(static_cast<std::int64_t>(mine.size()));
  MPI_Allgather(mine.data(), count, MPI_DOUBLE, all.data(), count, MPI_DOUBLE, comm);
  return all;
}

void allgather_shares(const double *mine, std::int64_t total, std::int64_t values_per_item,
                      double *all, MPI_Comm comm)
{
  const int size = size_of(comm);
  as_count(total * values_per_item);
  std::vector<int> counts(size), offsets(size);
  for (int r = 0; r < size; ++r) {
    const auto share = work_share(total, r, size);
    counts[r] = static_cast<int>(share.count * values_per_item);
    offsets[r] = static_cast<int>(share.begin * values_per_item);
  }
  const int me = rank_of(comm);
  MPI_Allgatherv(mine, counts[me], MPI_DOUBLE, all, counts.data(), offsets.data(), MPI_DOUBLE,
                 comm);
}

}    // namespace flowmap
