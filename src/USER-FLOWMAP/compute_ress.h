/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: compute ress, importance weights of the running simulation's frames for a
   target state, with the relative effective sample size (RESS), the free-energy difference
   and reweighted averages (doc/compute_ress.rst).

   The compute is the accumulator and the reporter; where the weighted samples come from is a
   SampleSource. Direct mode maps the current frame by the identity or by an isotropic
   scaling to the target density and evaluates its energies through the energy bridge; it
   also runs the state-point scan. Fix mode takes the frames fix flowmap has mapped since the
   last invocation, with their flow and identity-baseline weights.
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

// One weighted sample, as every mode hands it to the accumulator. "from" is the ensemble the
// simulation samples, "to" the one its frames are mapped into (direct mode: source, target).
struct RESSSample {
  bigint step;
  double source_energy;    // U_from of the simulated frame
  double target_energy;    // U_to of the mapped frame
  double log_weight;       // log w of doc/method.md section 2, log-determinant included
  // fix mode: the identity / isotropic-scaling baseline of the same frame
  double identity_target_energy;
  double identity_log_weight;
};

class ComputeRESS : public Compute {
 public:
  // Where the samples of each invocation come from. A LAMMPS-side object (Pointers), so its
  // destructor's exception specification is LAMMPS's, whatever the release.
  class SampleSource : protected Pointers {
   public:
    explicit SampleSource(LAMMPS *lmp) : Pointers(lmp) {}
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
    // Whether samples carry an identity baseline to report next to them.
    virtual bool has_baseline() const { return false; }
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
  std::unique_ptr<flowmap::WeightAccumulator> accumulator_, baseline_;
  std::string frame_file_;
  FILE *frame_fp_;
  bigint processed_step_;
  double values_[13];

  void open_frame_file();
};

}    // namespace LAMMPS_NS

#endif
#endif
