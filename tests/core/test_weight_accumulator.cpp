// The running accumulator behind compute ress against the stored-sample functions of
// flowmap_weights.h on the same log-weights.
#include "flowmap_weight_accumulator.h"
#include "flowmap_weights.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

using namespace flowmap;

namespace {
// Heavy-tailed log-weights like those of system I, in an arbitrary order with a late maximum
// so the running rescaling is exercised.
std::vector<double> heavy_tailed_log_weights(std::size_t n, std::uint64_t seed)
{
  std::mt19937_64 engine(seed);
  std::normal_distribution<double> normal(-40.0, 2.5);
  std::vector<double> lw(n);
  for (auto &v : lw) v = normal(engine);
  return lw;
}
}    // namespace

TEST(WeightAccumulator, PointEstimatesEqualStoredSampleFunctions)
{
  const auto lw = heavy_tailed_log_weights(3000, 11);
  std::vector<double> observable(lw.size());
  for (std::size_t i = 0; i < lw.size(); ++i) observable[i] = -50.0 + 0.01 * i;
  WeightAccumulator acc(0);
  for (std::size_t i = 0; i < lw.size(); ++i) acc.add(lw[i], observable[i]);
  EXPECT_EQ(acc.count(), lw.size());
  EXPECT_NEAR(acc.ress().value, kish_ress(lw), 1e-12 * kish_ress(lw));
  EXPECT_NEAR(acc.free_energy_difference().value, free_energy_difference(lw), 1e-10);
  EXPECT_NEAR(acc.reweighted_mean(), reweighted_mean(lw, observable), 1e-10);
  EXPECT_EQ(acc.ress().error, 0.0);
}

TEST(WeightAccumulator, EqualWeightsGiveRessOneAndZeroFreeEnergy)
{
  WeightAccumulator acc(50, 3);
  for (int i = 0; i < 100; ++i) acc.add(0.0, 1.0);
  EXPECT_NEAR(acc.ress().value, 1.0, 1e-14);
  EXPECT_NEAR(acc.ress().error, 0.0, 1e-14);
  EXPECT_NEAR(acc.free_energy_difference().value, 0.0, 1e-14);
  EXPECT_NEAR(acc.free_energy_difference().error, 0.0, 1e-14);
}

TEST(WeightAccumulator, ZeroWeightsDoNotPoisonTheMean)
{
  const double inf = std::numeric_limits<double>::infinity();
  WeightAccumulator acc(10, 1);
  acc.add(-inf, inf);
  acc.add(0.0, 2.0);
  acc.add(std::log(3.0), 6.0);
  EXPECT_EQ(acc.count(), 3u);
  EXPECT_NEAR(acc.reweighted_mean(), (2.0 + 3.0 * 6.0) / 4.0, 1e-14);
  EXPECT_NEAR(acc.free_energy_difference().value, -std::log(4.0 / 3.0), 1e-14);
}

TEST(WeightAccumulator, BootstrapErrorsAgreeWithResamplingBootstrap)
{
  // Online Poisson and stored multinomial bootstraps estimate the same standard deviation;
  // with 400 replicates each their error estimates agree to about 10 %.
  const auto lw = heavy_tailed_log_weights(2000, 29);
  WeightAccumulator acc(400, 7);
  for (double v : lw) acc.add(v, 0.0);
  const WeightSummary reference = summarize_weights(lw, 400, 8);
  EXPECT_GT(acc.ress().error, 0.0);
  EXPECT_NEAR(acc.ress().error / reference.ress.error, 1.0, 0.25);
  EXPECT_NEAR(acc.free_energy_difference().error / reference.free_energy.error, 1.0, 0.25);
}

TEST(WeightAccumulator, SameSeedSameErrors)
{
  const auto lw = heavy_tailed_log_weights(500, 5);
  WeightAccumulator a(100, 42), b(100, 42), c(100, 43);
  for (double v : lw) {
    a.add(v, 0.0);
    b.add(v, 0.0);
    c.add(v, 0.0);
  }
  EXPECT_EQ(a.ress().error, b.ress().error);
  EXPECT_NE(a.ress().error, c.ress().error);
}
