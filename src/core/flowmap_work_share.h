/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: how P processes split T items of work.

   Process r of P takes the contiguous items [T r / P, T (r + 1) / P). Every process knows
   every other's share without communicating, and the shares tile 0..T in rank order, so
   gathering them in rank order restores the items' order. The trainer splits each batch this
   way; the parallel layer (src/parallel) splits configurations and frames the same way.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_WORK_SHARE_H
#define FLOWMAP_WORK_SHARE_H

#include <cstdint>

namespace flowmap {

struct WorkShare {
  std::int64_t begin = 0, count = 0;
};

inline WorkShare work_share(std::int64_t total, int rank, int nranks)
{
  WorkShare share;
  share.begin = total * rank / nranks;
  share.count = total * (rank + 1) / nranks - share.begin;
  return share;
}

}    // namespace flowmap

#endif
