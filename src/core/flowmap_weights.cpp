/* ----------------------------------------------------------------------
   USER-FLOWMAP: importance weights, RESS and free energies.
------------------------------------------------------------------------- */

#include "flowmap_weights.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace flowmap {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}    // namespace

double scaling_log_det(std::int64_t num_particles, const std::vector<double> &box_from,
                       const std::vector<double> &box_to)
{
  double per_particle = 0.0;
  const std::size_t d = std::min(box_from.size(), box_to.size());
  for (std::size_t k = 0; k < d; ++k) per_particle += std::log(box_to[k] / box_from[k]);
  return static_cast<double>(num_particles) * per_particle;
}

double log_sum_exp(const double *values, std::size_t n)
{
  double top = -kInf;
  for (std::size_t i = 0; i < n; ++i) top = std::max(top, values[i]);
  if (!std::isfinite(top)) return top;    // empty, all -inf, or a +inf/NaN that must show
  double sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) sum += std::exp(values[i] - top);
  return top + std::log(sum);
}

double kish_ress(const std::vector<double> &log_weights)
{
  const std::size_t n = log_weights.size();
  if (n == 0) return 0.0;
  std::vector<double> twice(n);
  for (std::size_t i = 0; i < n; ++i) twice[i] = 2.0 * log_weights[i];
  const double lse = log_sum_exp(log_weights);
  if (lse == -kInf) return 0.0;
  return std::exp(2.0 * lse - log_sum_exp(twice) - std::log(static_cast<double>(n)));
}

double free_energy_difference(const std::vector<double> &log_weights)
{
  if (log_weights.empty()) return kNaN;
  return -(log_sum_exp(log_weights) - std::log(static_cast<double>(log_weights.size())));
}

double reweighted_mean(const std::vector<double> &log_weights, const std::vector<double> &values)
{
  const std::size_t n = log_weights.size();
  if (n == 0 || values.size() != n) return kNaN;
  const double top = *std::max_element(log_weights.begin(), log_weights.end());
  if (!std::isfinite(top)) return kNaN;
  double sum_w = 0.0, sum_wo = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double w = std::exp(log_weights[i] - top);
    if (w == 0.0) continue;    // a zero weight must not turn an infinite observable into NaN
    sum_w += w;
    sum_wo += w * values[i];
  }
  return sum_wo / sum_w;
}

namespace {
double standard_deviation(const std::vector<double> &v)
{
  if (v.size() < 2) return 0.0;
  double mean = 0.0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  double var = 0.0;
  for (double x : v) var += (x - mean) * (x - mean);
  return std::sqrt(var / static_cast<double>(v.size() - 1));
}
}    // namespace

WeightSummary summarize_weights(const std::vector<double> &log_weights, int nresample,
                                std::uint64_t seed)
{
  WeightSummary summary;
  const std::size_t n = log_weights.size();
  summary.frames = n;
  summary.ress.value = kish_ress(log_weights);
  summary.free_energy.value = free_energy_difference(log_weights);
  if (n < 2 || nresample < 2) return summary;

  std::mt19937_64 engine(seed);
  std::uniform_int_distribution<std::size_t> pick(0, n - 1);
  std::vector<double> resample(n), ress(nresample), dfree(nresample);
  for (int r = 0; r < nresample; ++r) {
    for (std::size_t i = 0; i < n; ++i) resample[i] = log_weights[pick(engine)];
    ress[r] = kish_ress(resample);
    dfree[r] = free_energy_difference(resample);
  }
  summary.ress.error = standard_deviation(ress);
  summary.free_energy.error = standard_deviation(dfree);
  return summary;
}

BootstrapEstimate mean_and_standard_error(const std::vector<double> &values)
{
  BootstrapEstimate estimate;
  if (values.empty()) return estimate;
  double mean = 0.0;
  for (double x : values) mean += x;
  estimate.value = mean / static_cast<double>(values.size());
  estimate.error = standard_deviation(values) / std::sqrt(static_cast<double>(values.size()));
  return estimate;
}

void StreamingRess::add(double log_weight)
{
  ++count_;
  if (log_weight == -kInf) return;
  if (count_ == 1 || sum_w_ == 0.0) {
    max_ = log_weight;
    sum_w_ = 1.0;
    sum_w2_ = 1.0;
    return;
  }
  if (log_weight > max_) {
    // Rescale the sums to the new maximum so exp() never overflows.
    const double scale = std::exp(max_ - log_weight);
    sum_w_ *= scale;
    sum_w2_ *= scale * scale;
    max_ = log_weight;
  }
  const double w = std::exp(log_weight - max_);
  sum_w_ += w;
  sum_w2_ += w * w;
}

double StreamingRess::ress() const
{
  if (count_ == 0 || sum_w_ == 0.0) return 0.0;
  return sum_w_ * sum_w_ / (static_cast<double>(count_) * sum_w2_);
}

double StreamingRess::free_energy_difference() const
{
  if (count_ == 0) return kNaN;
  if (sum_w_ == 0.0) return kInf;
  return -(max_ + std::log(sum_w_ / static_cast<double>(count_)));
}

}    // namespace flowmap
