/* ----------------------------------------------------------------------
   USER-FLOWMAP: integrated autocorrelation time of a time series.
------------------------------------------------------------------------- */

#include "flowmap_autocorrelation.h"

#include <algorithm>

namespace flowmap {

double statistical_inefficiency(const std::vector<double> &series, double window_factor)
{
  const std::size_t n = series.size();
  if (n < 8) return 1.0;
  double mean = 0.0;
  for (double x : series) mean += x;
  mean /= static_cast<double>(n);
  double variance = 0.0;
  for (double x : series) variance += (x - mean) * (x - mean);
  variance /= static_cast<double>(n);
  // A constant series leaves only rounding noise in the variance.
  if (variance <= 1e-24 * std::max(mean * mean, 1e-300)) return 1.0;

  // Direct O(n * window) sum: the window stops the loop long before n for any series whose
  // correlation time is short compared with its length, which is the only useful case.
  double g = 1.0;
  for (std::size_t t = 1; t < n / 2; ++t) {
    double c = 0.0;
    for (std::size_t i = 0; i + t < n; ++i) c += (series[i] - mean) * (series[i + t] - mean);
    g += 2.0 * c / (static_cast<double>(n - t) * variance);
    if (static_cast<double>(t) >= window_factor * g) break;
  }
  return std::max(g, 1.0 / static_cast<double>(n));
}

bool InefficiencyTracker::add(const std::vector<double> &values)
{
  series_.insert(series_.end(), values.begin(), values.end());
  if (series_.size() < next_estimate_) return false;
  while (next_estimate_ <= series_.size()) next_estimate_ *= 2;
  inefficiency_ = statistical_inefficiency(series_);
  return true;
}

}    // namespace flowmap
