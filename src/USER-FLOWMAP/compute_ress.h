/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: compute ress, importance weights of the running simulation's frames for a
   target state, with the relative effective sample size (RESS), the free-energy difference
   and reweighted averages (doc/compute_ress.rst).

   The compute is the accumulator and the reporter; where the weighted samples come from is a
   RESSSampleSource (compute_ress_source.h): direct mode (compute_ress_direct.h) or fix mode
   (compute_ress_fix.h).
------------------------------------------------------------------------- */

#ifdef COMPUTE_CLASS
// clang-format off
ComputeStyle(ress,ComputeRESS);
// clang-format on
#else

#ifndef LMP_COMPUTE_RESS_H
#define LMP_COMPUTE_RESS_H

#include "compute.h"

#include "compute_ress_source.h"
#include "flowmap_weight_accumulator.h"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace LAMMPS_NS {

class ComputeRESS : public Compute {
 public:
  ComputeRESS(class LAMMPS *, int, char **);
  ~ComputeRESS() override;
  void init() override;
  void compute_vector() override;
  double memory_usage() override;

 private:
  std::unique_ptr<RESSSampleSource> source_;
  int nbootstrap_;
  std::uint64_t seed_;
  std::unique_ptr<flowmap::WeightAccumulator> accumulator_, baseline_;
  std::string frame_file_;
  FILE *frame_fp_;
  bigint processed_step_;
  bigint nonfinite_ = 0;    // frames whose NaN or +inf log-weight was replaced by weight 0
  bigint next_warning_ = 1;
  double values_[13];

  void open_frame_file();
};

}    // namespace LAMMPS_NS

#endif
#endif
