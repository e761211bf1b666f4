// Weights, RESS and free energies against hand-computed values and analytic cases.
#include "flowmap_weights.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

using namespace flowmap;

TEST(Weights, LogWeightFormula)
{
  // beta_A = 1/2, U_A = -10, beta_B = 1, U_B = -12, log det = 0.3:
  // log w = -1 * (-12) + 0.5 * (-10) + 0.3 = 7.3
  EXPECT_DOUBLE_EQ(log_weight(0.5, -10.0, 1.0, -12.0, 0.3), 7.3);
}

TEST(Weights, LogSumExpIsStableAndHandlesZeroWeights)
{
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> big = {1000.0, 1000.0};
  EXPECT_NEAR(log_sum_exp(big), 1000.0 + std::log(2.0), 1e-12);
  std::vector<double> with_zero = {-inf, 0.0};
  EXPECT_NEAR(log_sum_exp(with_zero), 0.0, 1e-15);
  std::vector<double> all_zero = {-inf, -inf};
  EXPECT_EQ(log_sum_exp(all_zero), -inf);
  std::vector<double> with_nan = {0.0, std::nan("")};
  EXPECT_TRUE(std::isnan(log_sum_exp(with_nan)));
}

TEST(Weights, RessLimits)
{
  std::vector<double> equal(50, -3.7);
  EXPECT_NEAR(kish_ress(equal), 1.0, 1e-14);
  std::vector<double> one_dominates(40, -1e4);
  one_dominates[7] = 0.0;
  EXPECT_NEAR(kish_ress(one_dominates), 1.0 / 40.0, 1e-12);
  EXPECT_EQ(kish_ress({}), 0.0);
}

TEST(Weights, RessAndFreeEnergyByHand)
{
  // w = {1, 2, 3, 6}: (sum w)^2 / (n sum w^2) = 144 / (4 * 50) = 0.72; -log(mean w) = -log 3.
  std::vector<double> lw = {0.0, std::log(2.0), std::log(3.0), std::log(6.0)};
  for (double &v : lw) v += 123.0;    // an arbitrary common offset cancels in RESS
  EXPECT_NEAR(kish_ress(lw), 0.72, 1e-13);
  EXPECT_NEAR(free_energy_difference(lw), -(std::log(3.0) + 123.0), 1e-12);
  std::vector<double> obs = {4.0, 1.0, 2.0, 0.5};
  // (1*4 + 2*1 + 3*2 + 6*0.5) / 12 = 15/12
  EXPECT_NEAR(reweighted_mean(lw, obs), 15.0 / 12.0, 1e-13);
}

TEST(Weights, RessOfLogNormalWeightsMatchesAnalyticLimit)
{
  // log w ~ N(0, s^2): E[w]^2 / E[w^2] = exp(-s^2). 4e5 samples give about 0.5 % precision.
  const double s = 0.6;
  std::mt19937_64 engine(2024);
  std::normal_distribution<double> normal(0.0, s);
  std::vector<double> lw(400000);
  for (double &v : lw) v = normal(engine);
  EXPECT_NEAR(kish_ress(lw), std::exp(-s * s), 0.01);
  // and -log E[w] = -s^2 / 2
  EXPECT_NEAR(free_energy_difference(lw), -0.5 * s * s, 0.01);
}

TEST(Weights, BootstrapErrorShrinksLikeOneOverSqrtN)
{
  // Mild weights (sigma 0.5): for heavier tails the RESS estimator is far from its
  // asymptotic 1/sqrt(n) regime at these sizes.
  std::mt19937_64 engine(7);
  std::normal_distribution<double> normal(0.0, 0.5);
  std::vector<double> small(1000), large(16000);
  for (double &v : small) v = normal(engine);
  for (double &v : large) v = normal(engine);
  const auto a = summarize_weights(small, 200, 11);
  const auto b = summarize_weights(large, 200, 11);
  EXPECT_EQ(a.frames, 1000u);
  EXPECT_GT(a.free_energy.error, 0.0);
  // sqrt(16) = 4 times smaller, within the bootstrap's own noise
  EXPECT_NEAR(a.free_energy.error / b.free_energy.error, 4.0, 1.2);
  // The RESS estimator converges more slowly (it depends on the fourth moment of w): only
  // require a clear decrease.
  EXPECT_GT(a.ress.error / b.ress.error, 1.5);
  // the same seed gives the same errors
  EXPECT_EQ(summarize_weights(small, 200, 11).ress.error, a.ress.error);
}

TEST(Weights, StreamingRessEqualsBatch)
{
  std::mt19937_64 engine(3);
  std::normal_distribution<double> normal(0.0, 2.0);
  std::vector<double> lw(5000);
  StreamingRess streaming;
  for (double &v : lw) {
    v = normal(engine) + 50.0;
    streaming.add(v);
  }
  streaming.add(-std::numeric_limits<double>::infinity());
  lw.push_back(-std::numeric_limits<double>::infinity());
  EXPECT_EQ(streaming.count(), lw.size());
  EXPECT_NEAR(streaming.ress(), kish_ress(lw), 1e-12);
  EXPECT_NEAR(streaming.free_energy_difference(), free_energy_difference(lw), 1e-10);
}

TEST(Weights, MeanAndStandardError)
{
  const auto e = mean_and_standard_error({1.0, 2.0, 3.0, 4.0});
  EXPECT_DOUBLE_EQ(e.value, 2.5);
  // sample std = sqrt(5/3), divided by sqrt(4)
  EXPECT_NEAR(e.error, std::sqrt(5.0 / 3.0) / 2.0, 1e-15);
}

TEST(Weights, ScalingLogDet)
{
  // 10 particles, 2D box 4x4 -> 5x5: 10 * 2 * log(5/4)
  EXPECT_NEAR(scaling_log_det(10, {4.0, 4.0}, {5.0, 5.0}), 20.0 * std::log(1.25), 1e-14);
}
