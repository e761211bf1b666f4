/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: compute ress, importance weights of the running simulation's frames for a
   target state, with the relative effective sample size (RESS), the free-energy difference
   and reweighted averages (doc/compute_ress.rst).

   The compute is the accumulator and the reporter; where the weighted samples come from is a
   SampleSource. Direct mode (this file) maps the current frame by the identity or by an
   isotropic scaling to the target density and evaluates its energies through the energy
   bridge; it also runs the state-point scan.
------------------------------------------------------------------------- */

#ifdef COMPUTE_CLASS
// clang-format off
ComputeStyle(ress,ComputeRESS);
// clang-format on
#else

#ifndef LMP_COMPUTE_RESS_H
#define LMP_COMPUTE_RESS_H

#include "compute.h"

#include "flowmap_weight_accumulator.h"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace LAMMPS_NS {

// One weighted sample, as every mode hands it to the accumulator.
struct RESSSample {
  double source_energy;    // U_A of the source frame
  double target_energy;    // U_B of the mapped frame
  double log_weight;       // log w of METHOD.md section 2, log-determinant included
};

class ComputeRESS : public Compute {
 public:
  // Where the samples of each invocation come from.
  class SampleSource {
   public:
    virtual ~SampleSource() = default;
    // Consumes a mode-specific keyword at arg[0] with its values; returns the number of
    // arguments used, 0 when the keyword is not this mode's.
    virtual int parse_keyword(int narg, char **arg) = 0;
    // After all keywords: checks the mode's settings and prepares (collective).
    virtual void setup() = 0;
    // At each run's init (collective).
    virtual void init() = 0;
    // The samples of the current timestep, identical on every rank (collective).
    virtual std::vector<RESSSample> samples() = 0;
    virtual double memory_usage() const { return 0.0; }
  };

  ComputeRESS(class LAMMPS *, int, char **);
  ~ComputeRESS() override;
  void init() override;
  void compute_vector() override;
  double memory_usage() override;

 private:
  std::unique_ptr<SampleSource> source_;
  int nbootstrap_;
  std::uint64_t seed_;
  std::unique_ptr<flowmap::WeightAccumulator> accumulator_;
  std::string frame_file_;
  FILE *frame_fp_;
  bigint processed_step_;
  double values_[8];

  void open_frame_file();
};

}    // namespace LAMMPS_NS

#endif
#endif
