// The exact sampler of tests/core/lennard_jones_disks.h, on which the shipped flows' tests
// rely: the cut-and-shifted energy and its forces, and a Metropolis chain whose statistics
// match an exactly integrable case.
#include "lennard_jones_disks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

using flowmap_test::CutShiftedLennardJones;
using flowmap_test::Metropolis;

TEST(CutShiftedLennardJones, EnergyThroughThePeriodicBoundaryIsTheShiftedPotential)
{
  CutShiftedLennardJones lj(2, 2, flowmap_test::kLjCutoff);
  // x 0.3 and 4.3 in a box of 5: one box length minus 4.0, so r = 1 where 4 (r^-12 - r^-6) = 0
  const std::vector<double> x = {0.3, 1.0, 4.3, 1.0}, box = {5.0, 5.0};
  double u = 0.0;
  lj.evaluate(x.data(), 1, box.data(), &u, nullptr, false);
  const double shift = 4.0 * (std::pow(2.5, -12) - std::pow(2.5, -6));    // -0.0163169...
  EXPECT_NEAR(u, -shift, 1e-15);
  EXPECT_NEAR(u, 0.016316891136, 1e-12);
  // beyond the cutoff nothing, and WCA's cutoff at the minimum gives u(r_c) = 0 continuously
  const std::vector<double> far = {0.0, 0.0, 2.6, 0.0}, wide = {6.0, 6.0};
  lj.evaluate(far.data(), 1, wide.data(), &u, nullptr, false);
  EXPECT_EQ(u, 0.0);
  CutShiftedLennardJones wca(2, 2, flowmap_test::kWcaCutoff);
  const std::vector<double> near_cut = {0.0, 0.0, flowmap_test::kWcaCutoff - 1e-6, 0.0};
  wca.evaluate(near_cut.data(), 1, box.data(), &u, nullptr, false);
  EXPECT_LT(u, 1e-10);
  EXPECT_GE(u, 0.0);
}

TEST(CutShiftedLennardJones, ForcesAreMinusTheEnergyGradient)
{
  CutShiftedLennardJones lj(5, 3, flowmap_test::kLjCutoff);
  const std::vector<double> box = {5.5, 6.0, 6.5};
  // pair distances 1.1 to 3.3, four of them inside the cutoff, two through the boundary
  std::vector<double> x = {0.1, 0.2, 0.3, 1.2, 0.4, 0.1, 0.5, 1.3, 6.2, 2.9, 0.1, 0.6,
                           2.0, 2.1, 2.2};
  std::vector<double> force(x.size());
  double u = 0.0;
  lj.evaluate(x.data(), 1, box.data(), &u, force.data(), false);
  const double h = 1e-6;
  for (std::size_t k = 0; k < x.size(); ++k) {
    double up = 0.0, down = 0.0;
    x[k] += h;
    lj.evaluate(x.data(), 1, box.data(), &up, nullptr, false);
    x[k] -= 2.0 * h;
    lj.evaluate(x.data(), 1, box.data(), &down, nullptr, false);
    x[k] += h;
    EXPECT_NEAR(force[k], -(up - down) / (2.0 * h), 1e-6 * (1.0 + std::abs(force[k]))) << k;
  }
}

TEST(Metropolis, TwoDisksSampleTheBoltzmannDistributionOfTheirDistance)
{
  // Two WCA disks in a 2D box of side 3 at T = 1: the relative position is uniform in the box
  // with density exp(-u(r)), so P(r < a) = int_0^a 2 pi r exp(-u) dr / Z with
  // Z = int_0^rc 2 pi r exp(-u) dr + L^2 - pi rc^2 (a cutoff below L/2: one image).
  CutShiftedLennardJones wca(2, 2, flowmap_test::kWcaCutoff);
  const double length = 3.0, a = 1.05, rc = flowmap_test::kWcaCutoff;
  auto integral = [&](double upper) {
    const int intervals = 20000;    // Simpson's rule; exp(-u) vanishes below r = 0.6
    const double lower = 0.6, h = (upper - lower) / intervals;
    double sum = 0.0;
    for (int i = 0; i <= intervals; ++i) {
      const double r = lower + i * h;
      const double f = 2.0 * M_PI * r * std::exp(-wca.pair(r * r));
      sum += f * (i == 0 || i == intervals ? 1.0 : (i % 2 ? 4.0 : 2.0));
    }
    return sum * h / 3.0;
  };
  const double exact = integral(a) / (integral(rc) + length * length - M_PI * rc * rc);

  Metropolis chain(wca, {length, length}, 1.0, 5);
  chain.equilibrate(10);
  const int batches = 40, per_batch = 5000;
  std::vector<double> fraction(batches, 0.0);
  const double box[2] = {length, length};
  double delta[2];
  for (int b = 0; b < batches; ++b)
    for (int s = 0; s < per_batch; ++s) {
      chain.sweep(1);
      const auto &x = chain.positions();
      if (wca.separation(&x[0], &x[2], box, delta) < a * a) fraction[b] += 1.0 / per_batch;
    }
  double mean = 0.0, var = 0.0;
  for (double f : fraction) mean += f / batches;
  for (double f : fraction) var += (f - mean) * (f - mean) / (batches - 1);
  const double error = std::sqrt(var / batches);
  // exact 0.0435 (a rough hand integral over 0.9 < r < 1.05 gives 0.05); the batch-mean
  // error of 2e5 sweeps is about 0.0006, and a chain at T = 1.1 instead of 1 fails (0.0460)
  EXPECT_NEAR(exact, 0.0435, 0.0005);
  EXPECT_LT(error, 0.003);
  EXPECT_LT(std::abs(mean - exact), 4.0 * error)
      << "exact " << exact << " sampled " << mean << " +- " << error;
}
