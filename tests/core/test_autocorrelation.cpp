// The decorrelation estimate against processes with a known answer.
#include "flowmap_autocorrelation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using flowmap::statistical_inefficiency;

namespace {
std::vector<double> ar1(double phi, std::size_t n, unsigned seed)
{
  std::mt19937_64 engine(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<double> x(n);
  double v = 0.0;
  for (auto &xi : x) xi = v = phi * v + noise(engine);
  return x;
}
}    // namespace

TEST(Autocorrelation, UncorrelatedSeriesHasInefficiencyOne)
{
  EXPECT_NEAR(statistical_inefficiency(ar1(0.0, 20000, 1)), 1.0, 0.1);
}

TEST(Autocorrelation, Ar1MatchesAnalyticValue)
{
  // g = (1 + phi) / (1 - phi): 3 for phi = 0.5, 19 for phi = 0.9
  EXPECT_NEAR(statistical_inefficiency(ar1(0.5, 50000, 2)), 3.0, 0.3);
  EXPECT_NEAR(statistical_inefficiency(ar1(0.9, 200000, 3)), 19.0, 2.0);
}

TEST(Autocorrelation, DegenerateInputs)
{
  EXPECT_EQ(statistical_inefficiency({1.0, 2.0}), 1.0);
  EXPECT_EQ(statistical_inefficiency(std::vector<double>(100, 4.2)), 1.0);
}

TEST(Autocorrelation, TrackerReestimatesWhenTheSeriesDoubles)
{
  const auto series = ar1(0.5, 2100, 4);
  flowmap::InefficiencyTracker tracker(512);
  std::vector<std::size_t> updated_at;
  for (std::size_t i = 0; i < series.size(); ++i) {
    if (tracker.add(series[i])) updated_at.push_back(tracker.size());
  }
  EXPECT_EQ(updated_at, (std::vector<std::size_t>{512, 1024, 2048}));
  EXPECT_EQ(tracker.size(), series.size());
  const std::vector<double> first(series.begin(), series.begin() + 2048);
  EXPECT_EQ(tracker.inefficiency(), statistical_inefficiency(first));
  // A batch counts whole: the estimate at 512 or more values, from all of them.
  flowmap::InefficiencyTracker batched(512);
  EXPECT_FALSE(batched.add(std::vector<double>(series.begin(), series.begin() + 500)));
  EXPECT_TRUE(batched.add(std::vector<double>(series.begin() + 500, series.begin() + 530)));
  EXPECT_EQ(batched.inefficiency(),
            statistical_inefficiency(std::vector<double>(series.begin(), series.begin() + 530)));
}
