/* ----------------------------------------------------------------------
   USER-FLOWMAP: running importance-weight statistics (see flowmap_weight_accumulator.h).
------------------------------------------------------------------------- */

#include "flowmap_weight_accumulator.h"

#include <cmath>
#include <limits>

namespace flowmap {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Sample standard deviation of the finite entries.
double spread(const std::vector<double> &values)
{
  double n = 0.0, mean = 0.0;
  for (double v : values)
    if (std::isfinite(v)) {
      n += 1.0;
      mean += v;
    }
  if (n < 2.0) return 0.0;
  mean /= n;
  double var = 0.0;
  for (double v : values)
    if (std::isfinite(v)) var += (v - mean) * (v - mean);
  return std::sqrt(var / (n - 1.0));
}
}    // namespace

void WeightAccumulator::Sums::add(double log_weight, double observable, double multiplicity)
{
  count += multiplicity;
  if (log_weight == -kInf) return;
  if (!any_weight || log_weight > max) {
    // Rescale to the new maximum so exp() never overflows.
    const double scale = any_weight ? std::exp(max - log_weight) : 0.0;
    sum_w *= scale;
    sum_w2 *= scale * scale;
    sum_wo *= scale;
    max = log_weight;
    any_weight = true;
  }
  const double w = std::exp(log_weight - max);
  sum_w += multiplicity * w;
  sum_w2 += multiplicity * w * w;
  if (w != 0.0) sum_wo += multiplicity * w * observable;
}

double WeightAccumulator::Sums::ress() const
{
  if (count == 0.0 || sum_w == 0.0) return 0.0;
  return sum_w * sum_w / (count * sum_w2);
}

double WeightAccumulator::Sums::free_energy_difference() const
{
  if (count == 0.0) return kNaN;
  if (sum_w == 0.0) return kInf;
  return -(max + std::log(sum_w / count));
}

WeightAccumulator::WeightAccumulator(int nresample, std::uint64_t seed) :
    replicates_(nresample > 1 ? nresample : 0), engine_(seed)
{
}

void WeightAccumulator::add(double log_weight, double observable)
{
  ++count_;
  all_.add(log_weight, observable, 1.0);
  for (auto &replicate : replicates_) {
    const int m = multiplicity_(engine_);
    if (m > 0) replicate.add(log_weight, observable, m);
  }
}

BootstrapEstimate WeightAccumulator::ress() const
{
  BootstrapEstimate estimate;
  estimate.value = all_.ress();
  std::vector<double> values;
  values.reserve(replicates_.size());
  for (const auto &replicate : replicates_)
    if (replicate.count > 0.0) values.push_back(replicate.ress());
  estimate.error = spread(values);
  return estimate;
}

BootstrapEstimate WeightAccumulator::free_energy_difference() const
{
  BootstrapEstimate estimate;
  estimate.value = all_.free_energy_difference();
  std::vector<double> values;
  values.reserve(replicates_.size());
  for (const auto &replicate : replicates_) values.push_back(replicate.free_energy_difference());
  estimate.error = spread(values);
  return estimate;
}

double WeightAccumulator::reweighted_mean() const
{
  if (all_.sum_w == 0.0) return kNaN;
  return all_.sum_wo / all_.sum_w;
}

}    // namespace flowmap
