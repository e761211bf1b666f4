// The decorrelation estimate against processes with a known answer.
#include "flowmap_autocorrelation.h"

#include <gtest/gtest.h>

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
