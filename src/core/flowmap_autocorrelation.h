/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: integrated autocorrelation time of a time series.

   fix flowmap estimates it from the source energy of the frames it collects, to report
   whether frames Nevery steps apart are decorrelated (doc/method.md section 10).
------------------------------------------------------------------------- */

#ifndef FLOWMAP_AUTOCORRELATION_H
#define FLOWMAP_AUTOCORRELATION_H

#include <cstddef>
#include <vector>

namespace flowmap {

// Statistical inefficiency g = 1 + 2 sum_{t>=1} rho(t), in units of the sampling interval, with
// Sokal's self-consistent window (sum up to the first t >= window_factor * g). g is about 1 for
// uncorrelated samples and (1 + phi) / (1 - phi) for an AR(1) process with coefficient phi.
// Returns 1 for fewer than 8 samples or a constant series.
double statistical_inefficiency(const std::vector<double> &series, double window_factor = 5.0);

// The statistical inefficiency of a growing series (one value per frame), re-estimated each
// time the series has doubled from first_estimate values on: cheap, and stable by then (at 128
// frames the estimate was twice the final one in the examples). Values arrive singly or a
// batch at a time, so the sizes are thresholds, not exact counts.
class InefficiencyTracker {
 public:
  explicit InefficiencyTracker(std::size_t first_estimate = 512) : next_estimate_(first_estimate)
  {
  }
  // Adds values (a batch is added whole before the size is compared with the threshold).
  // True when the estimate was just updated.
  bool add(const std::vector<double> &values);
  bool add(double value) { return add(std::vector<double>{value}); }
  double inefficiency() const { return inefficiency_; }    // 1 before the first estimate
  std::size_t size() const { return series_.size(); }

 private:
  std::vector<double> series_;
  std::size_t next_estimate_;
  double inefficiency_ = 1.0;
};

}    // namespace flowmap

#endif
