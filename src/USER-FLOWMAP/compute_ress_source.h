/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: where compute ress's weighted samples come from.

   compute ress is the accumulator and the reporter; a RESSSampleSource supplies the samples
   of each invocation: compute_ress_direct.h (the current frame mapped by the identity or an
   isotropic scaling, with its state-point scan) or compute_ress_fix.h (the frames a fix
   flowmap has mapped).
------------------------------------------------------------------------- */

#ifndef LMP_COMPUTE_RESS_SOURCE_H
#define LMP_COMPUTE_RESS_SOURCE_H

#include "pointers.h"

#include <vector>

namespace LAMMPS_NS {

// One weighted sample, as every source hands it to the accumulator. "from" is the ensemble the
// simulation samples, "to" the one its frames are mapped into (direct mode: source, target).
struct RESSSample {
  bigint step;
  double source_energy;    // U_from of the simulated frame
  double target_energy;    // U_to of the mapped frame
  double log_weight;       // log w, log-determinant included
  // fix mode: the identity / isotropic-scaling baseline of the same frame
  double identity_target_energy;
  double identity_log_weight;
};

// A LAMMPS-side object (Pointers), so its destructor's exception specification is LAMMPS's,
// whatever the release.
class RESSSampleSource : protected Pointers {
 public:
  explicit RESSSampleSource(LAMMPS *lmp) : Pointers(lmp) {}
  // Consumes a source-specific keyword at arg[0] with its values; returns the number of
  // arguments used, 0 when the keyword is not this source's.
  virtual int parse_keyword(int narg, char **arg) = 0;
  // After all keywords: checks the settings and prepares (collective).
  virtual void setup() = 0;
  // At each run's init (collective).
  virtual void init() = 0;
  // The samples of the current timestep, identical on every rank (collective).
  virtual std::vector<RESSSample> samples() = 0;
  virtual double memory_usage() const { return 0.0; }
  // Whether samples carry an identity baseline to report next to them.
  virtual bool has_baseline() const { return false; }
  // The keywords of this source, for the message about an unknown one.
  virtual const char *keywords() const = 0;
  // What one line of the per-sample file is, for its header.
  virtual const char *file_lines() const { return "one line per frame"; }
};

}    // namespace LAMMPS_NS

#endif
