// The basin map's pieces against hand-computed values, a brute-force Jacobian, and harmonic
// basins, where the map carries the canonical distribution at T_A exactly onto the one at T_B.
#include "flowmap_basin_map.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

using namespace flowmap;

namespace {

// log|det A| by Gaussian elimination with partial pivoting.
double log_abs_det(std::vector<double> a, int n)
{
  double log_det = 0.0;
  for (int c = 0; c < n; ++c) {
    int pivot = c;
    for (int r = c + 1; r < n; ++r)
      if (std::fabs(a[r * n + c]) > std::fabs(a[pivot * n + c])) pivot = r;
    if (pivot != c)
      for (int k = 0; k < n; ++k) std::swap(a[c * n + k], a[pivot * n + k]);
    log_det += std::log(std::fabs(a[c * n + c]));
    for (int r = c + 1; r < n; ++r) {
      const double f = a[r * n + c] / a[c * n + c];
      for (int k = c; k < n; ++k) a[r * n + k] -= f * a[c * n + k];
    }
  }
  return log_det;
}

}    // namespace

TEST(BasinMap, ScalesTheMinimumImageOfTheDisplacement)
{
  const std::vector<double> box = {10.0, 4.0};
  // particle 1 wrapped across x = 0 from its minimum at 9.9; particle 2 unwrapped by one box
  const std::vector<double> minimum = {9.9, 2.0, 5.0, 1.0};
  const std::vector<double> frame = {0.1, 2.4, 15.5, 0.8};
  const auto image = scale_about_minimum(frame, minimum, box, 0.5);
  EXPECT_NEAR(image[0], 10.0, 1e-14);
  EXPECT_NEAR(image[1], 2.2, 1e-14);
  EXPECT_NEAR(image[2], 5.25, 1e-14);
  EXPECT_NEAR(image[3], 0.9, 1e-14);
  // factor 1 is the identity up to box vectors; factor 0 gives the minimum
  const auto same = scale_about_minimum(frame, minimum, box, 1.0);
  EXPECT_NEAR(same[0], 10.1, 1e-14);
  EXPECT_NEAR(same[2], 5.5, 1e-14);
  EXPECT_EQ(scale_about_minimum(frame, minimum, box, 0.0), minimum);
  EXPECT_THROW(scale_about_minimum({1.0, 2.0, 3.0}, {1.0, 2.0, 3.0}, box, 0.5),
               std::invalid_argument);
}

TEST(BasinMap, LargestDisplacementUsesMinimumImageAndRefusesNonFinite)
{
  const std::vector<double> box = {10.0, 10.0};
  EXPECT_NEAR(largest_displacement({0.1, 5.0, 3.0, 3.0}, {9.9, 5.0, 3.0, 3.3}, box), 0.3, 1e-14);
  EXPECT_EQ(largest_displacement({1.0, 2.0}, {11.0, -8.0}, box), 0.0);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(largest_displacement({nan, 0.0, 1.0, 1.0}, {0.0, 0.0, 1.0, 1.0}, box),
            std::numeric_limits<double>::infinity());
}

TEST(BasinMap, LogDetAgainstBruteForceJacobian)
{
  // A stand-in for the inherent structure that has its two properties: locally constant, and
  // moving with x by whole-configuration translations: m(x) = lattice + mean(x - lattice).
  const int n = 4, d = 2, nd = n * d;
  const std::vector<double> box = {20.0, 20.0};
  const std::vector<double> lattice = {1.0, 1.0, 3.0, 1.2, 1.1, 3.0, 3.2, 2.9};
  const double s = 0.7;
  auto map = [&](const std::vector<double> &x) {
    std::vector<double> m = lattice;
    for (int k = 0; k < d; ++k) {
      double shift = 0.0;
      for (int i = 0; i < n; ++i) shift += (x[i * d + k] - lattice[i * d + k]) / n;
      for (int i = 0; i < n; ++i) m[i * d + k] += shift;
    }
    return scale_about_minimum(x, m, box, s);
  };
  std::vector<double> x = {1.2, 0.9, 2.8, 1.5, 1.0, 3.3, 3.1, 2.6};
  std::vector<double> jacobian(nd * nd);
  const double h = 1e-6;
  for (int c = 0; c < nd; ++c) {
    auto plus = x, minus = x;
    plus[c] += h;
    minus[c] -= h;
    const auto up = map(plus), down = map(minus);
    for (int r = 0; r < nd; ++r) jacobian[r * nd + c] = (up[r] - down[r]) / (2 * h);
  }
  EXPECT_NEAR(log_abs_det(jacobian, nd), basin_map_log_det(n, d, s), 1e-7);
  EXPECT_NEAR(basin_map_log_det(n, d, s), 6 * std::log(s), 1e-14);
}

TEST(BasinMap, MixtureWeightByHand)
{
  // b_A = 1, b_B = 2, log det = -1. An image with U = 2 whose preimage has U = 3:
  // w = exp(-4) / (exp(-3 + 1) + exp(-2)); a frame whose preimage left its basin:
  // w = exp(-2 * 3) / exp(-3).
  EXPECT_NEAR(basin_mixture_log_weight(1.0, 2.0, 2.0, 2.0, true, 3.0, -1.0),
              -4.0 - std::log(2.0 * std::exp(-2.0)), 1e-13);
  EXPECT_NEAR(basin_mixture_log_weight(1.0, 2.0, 3.0, 3.0, false, 99.0, -1.0), -3.0, 1e-13);
  // different Hamiltonians: U_A(z) = 1, U_B(z) = 5, preimage U_A = 0.5, log det 0.2
  EXPECT_NEAR(basin_mixture_log_weight(0.5, 1.0, 1.0, 5.0, true, 0.5, 0.2),
              -5.0 - std::log(std::exp(-0.25 - 0.2) + std::exp(-0.5)), 1e-13);
  // stable far from zero
  EXPECT_NEAR(basin_mixture_log_weight(1.0, 2.0, 2000.0, 2000.0, true, 3000.0, -1000.0),
              -4000.0 + 2000.0 - std::log(2.0), 1e-9);
  // no density at all (infinite source energy, no preimage): NaN, which compute ress counts
  EXPECT_TRUE(std::isnan(basin_mixture_log_weight(
      1.0, 2.0, std::numeric_limits<double>::infinity(), 1.0, false, 0.0, 0.0)));
}

TEST(BasinMap, HarmonicBasinsGiveTheExactFreeEnergyAndEnergy)
{
  // k harmonic degrees of freedom about U_m: U - U_m ~ Gamma(k/2, T). The map scales it by
  // s^2 = T_B/T_A, its inverse by 1/s^2. Exact: ln(Z_B/Z_A) = -(b_B - b_A) U_m + (k/2) ln s^2
  // and <U>_B = U_m + k T_B / 2.
  const int atoms = 43, d = 2, k = atoms * d - d;
  const double t_a = 0.3, t_b = 0.2, u_m = -100.0, s2 = t_b / t_a;
  const double b_a = 1.0 / t_a, b_b = 1.0 / t_b;
  const double log_det = basin_map_log_det(atoms, d, std::sqrt(s2));
  std::mt19937_64 engine(11);
  std::gamma_distribution<double> vibration(k / 2.0, t_a);
  const int frames = 20000;
  std::vector<double> log_w, energy;
  for (int i = 0; i < frames; ++i) {
    const double g = vibration(engine);
    const double image = u_m + s2 * g, frame = u_m + g;
    log_w.push_back(basin_mixture_log_weight(b_a, b_b, image, image, true, frame, log_det));
    energy.push_back(image);
    log_w.push_back(basin_mixture_log_weight(b_a, b_b, frame, frame, true, u_m + g / s2,
                                             log_det));
    energy.push_back(frame);
  }
  double top = -std::numeric_limits<double>::infinity();
  for (double v : log_w) top = std::max(top, v);
  double sum_w = 0.0, sum_wu = 0.0;
  for (std::size_t i = 0; i < log_w.size(); ++i) {
    const double w = std::exp(log_w[i] - top);
    sum_w += w;
    sum_wu += w * energy[i];
  }
  const double log_ratio = std::log(sum_w / frames) + top;
  EXPECT_NEAR(log_ratio, -(b_b - b_a) * u_m + 0.5 * k * std::log(s2), 0.02);
  // the spread of U at T_B is sqrt(k/2) T_B = 1.3; 20000 nearly equal weights pin the mean
  EXPECT_NEAR(sum_wu / sum_w, u_m + 0.5 * k * t_b, 0.05);
}
