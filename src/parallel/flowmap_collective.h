/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: collective failures and the small collectives the package needs.

   A rank that fails while the others go on to a collective call leaves them waiting for ever.
   Work whose failure may differ between ranks (file access on one rank, energies of
   different configurations, LibTorch allocations) runs through run_collectively(): after it,
   either every rank succeeded or every rank throws CollectiveError with the same message,
   the lowest failing rank's, and the caller turns it into error->all.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_COLLECTIVE_H
#define FLOWMAP_COLLECTIVE_H

#include "flowmap_trainer.h"

#include <mpi.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace flowmap {

class CollectiveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The failure message of the lowest rank of comm whose message is not empty, on every rank;
// empty when no rank failed. Collective.
std::string first_failure(const std::string &failure, MPI_Comm comm);

// The text of rank root on every rank of comm. Collective.
void broadcast_string(std::string &text, int root, MPI_Comm comm);

// Runs work on every rank of comm. If it throws (std::exception) on any rank, every rank
// throws CollectiveError with the lowest failing rank's message. Collective.
template <typename Work> void run_collectively(MPI_Comm comm, Work &&work)
{
  std::string failure;
  try {
    work();
  } catch (const std::exception &e) {
    failure = e.what();
    if (failure.empty()) failure = "unknown error";
  }
  failure = first_failure(failure, comm);
  if (!failure.empty()) throw CollectiveError(failure);
}

// The trainer's Reducer: an in-place MPI sum over comm.
Reducer sum_over(MPI_Comm comm);

// Each rank's values (the same number on every rank) on every rank, in rank order.
std::vector<double> allgather(const std::vector<double> &mine, MPI_Comm comm);

// Items split over the ranks by work_share(): each rank passes its share (values_per_item
// values per item) and every rank receives all total items in order.
void allgather_shares(const double *mine, std::int64_t total, std::int64_t values_per_item,
                      double *all, MPI_Comm comm);

}    // namespace flowmap

#endif
