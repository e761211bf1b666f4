/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: integrated autocorrelation time of a time series.

   fix flowmap estimates it from the source energy of the frames it collects, to report
   whether frames Nevery steps apart are decorrelated (doc/method.md section 10).
------------------------------------------------------------------------- */

#ifndef FLOWMAP_AUTOCORRELATION_H
#define FLOWMAP_AUTOCORRELATION_H

#include <vector>

namespace flowmap {

// Statistical inefficiency g = 1 + 2 sum_{t>=1} rho(t), in units of the sampling interval, with
// Sokal's self-consistent window (sum up to the first t >= window_factor * g). g is about 1 for
// uncorrelated samples and (1 + phi) / (1 - phi) for an AR(1) process with coefficient phi.
// Returns 1 for fewer than 8 samples or a constant series.
double statistical_inefficiency(const std::vector<double> &series, double window_factor = 5.0);

}    // namespace flowmap

#endif
