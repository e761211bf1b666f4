// Circular rational-quadratic spline: identity, invertibility, exact log-derivative,
// periodicity and robustness at and beyond the interval ends.
#include "flow_test_helpers.h"
#include "flowmap_spline.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

using flowmap::CircularSpline;
using flowmap_test::max_circular_distance;

namespace {

constexpr std::int64_t kBins = 8;
constexpr double kMinBin = 1e-3, kMinSlope = 1e-3;

torch::Tensor random_raw(std::int64_t m, double scale, torch::Dtype dtype, std::uint64_t seed)
{
  torch::manual_seed(seed);
  return (torch::randn({m, 3 * kBins}, torch::kFloat64) * scale).to(dtype);
}

torch::Tensor random_points(std::int64_t m, torch::Dtype dtype, std::uint64_t seed)
{
  torch::manual_seed(seed);
  return (torch::rand({m}, torch::kFloat64) * 2.0 - 1.0).to(dtype);
}

}    // namespace

TEST(Spline, ZeroParametersAreTheIdentityBitForBit)
{
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    const auto x = random_points(4096, dtype, 1);
    const CircularSpline spline(torch::zeros({4096, 3 * kBins}, dtype), kBins, kMinBin, kMinSlope);
    const auto f = spline.forward(x);
    const auto g = spline.inverse(x);
    EXPECT_TRUE(torch::equal(f.y, x));
    EXPECT_TRUE(torch::equal(g.y, x));
    EXPECT_EQ(f.log_derivative.abs().max().item<double>(), 0.0);
    EXPECT_EQ(g.log_derivative.abs().max().item<double>(), 0.0);
  }
}

TEST(Spline, InverseUndoesForward)
{
  // Inversion error is rounding / slope, so the tolerance holds for bounded slopes: raw
  // scale 0.5 keeps them within about e^+-4 (float32), scale 1 within e^+-10 (float64).
  struct Case {
    torch::Dtype dtype;
    double scale, tol;
  };
  for (const auto &c : {Case{torch::kFloat32, 0.5, 1e-5}, Case{torch::kFloat64, 1.0, 1e-10}}) {
    const std::int64_t m = 20000;
    const CircularSpline spline(random_raw(m, c.scale, c.dtype, 2), kBins, kMinBin, kMinSlope);
    const auto x = random_points(m, c.dtype, 3);
    const auto y = spline.forward(x);
    const auto back = spline.inverse(y.y);
    EXPECT_LT(max_circular_distance(back.y, x), c.tol);
    // log |dx/dy| at y is minus log |dy/dx| at x; tolerance relative to the typical size
    EXPECT_LT((back.log_derivative + y.log_derivative).abs().max().item<double>(), 100 * c.tol);
    const auto forth = spline.forward(spline.inverse(x).y);
    EXPECT_LT(max_circular_distance(forth.y, x), c.tol);
    // the map is not the identity: otherwise this test would be vacuous
    EXPECT_GT(max_circular_distance(y.y, x), 0.1);
  }
}

TEST(Spline, LogDerivativeMatchesFiniteDifferences)
{
  // Central differences with step h have error h^2 |f'''| / 6 inside a bin and h |f''| at a
  // knot (f is C1, not C2, there); with h = 1e-7 both stay below 1e-5 relative here.
  const std::int64_t m = 5000;
  const double h = 1e-7;
  const CircularSpline spline(random_raw(m, 1.0, torch::kFloat64, 4), kBins, kMinBin, kMinSlope);
  const auto x = random_points(m, torch::kFloat64, 5) * (1.0 - 2 * h);
  for (bool inverse : {false, true}) {
    auto eval = [&](const torch::Tensor &v) {
      return inverse ? spline.inverse(v) : spline.forward(v);
    };
    const auto fd = (eval(x + h).y - eval(x - h).y) / (2 * h);
    const auto exact = torch::exp(eval(x).log_derivative);
    EXPECT_LT(((fd - exact).abs() / exact).max().item<double>(), 1e-5) << "inverse " << inverse;
  }
}

TEST(Spline, BoundaryAndOutsideInputsAreWrappedToFiniteValues)
{
  const std::vector<double> values = {-1.0,        1.0,  1.0 + 1e-7, -1.0 - 1e-7, 3.2,
                                      -3.2,        7.0,  -7.0,       1.0 - 1e-16, -1.0 + 1e-16,
                                      1.0 - 1e-7, 1e3};
  const auto n = static_cast<std::int64_t>(values.size());
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    const auto x = torch::tensor(values, torch::kFloat64).to(dtype);
    const CircularSpline spline(random_raw(n, 2.0, dtype, 6), kBins, kMinBin, kMinSlope);
    for (bool inverse : {false, true}) {
      const auto r = inverse ? spline.inverse(x) : spline.forward(x);
      EXPECT_TRUE(torch::isfinite(r.y).all().item<bool>());
      EXPECT_TRUE(torch::isfinite(r.log_derivative).all().item<bool>());
      EXPECT_GE(r.y.min().item<double>(), -1.0);
      EXPECT_LT(r.y.max().item<double>(), 1.0);
    }
    // a point outside maps like its image on the circle: 3.2 ~ -0.8
    const auto params = random_raw(1, 2.0, dtype, 7);
    const CircularSpline one(params, kBins, kMinBin, kMinSlope);
    const auto outside = one.forward(torch::tensor({3.2}, torch::kFloat64).to(dtype)).y;
    const auto inside = one.forward(torch::tensor({-0.8}, torch::kFloat64).to(dtype)).y;
    EXPECT_LT(max_circular_distance(outside, inside), dtype == torch::kFloat32 ? 1e-5 : 1e-12);
  }
}

TEST(Spline, ContinuousAcrossTheWrapPoint)
{
  // -1 and 1 are the same point: the map and its log-derivative approach the same values
  // from both sides (the slope at 1 is the slope at -1).
  const std::int64_t m = 1000;
  const auto raw = random_raw(m, 1.0, torch::kFloat64, 8);
  const CircularSpline spline(raw, kBins, kMinBin, kMinSlope);
  const double eps = 1e-12;
  const auto left = spline.forward(torch::full({m}, 1.0 - eps, torch::kFloat64));
  const auto right = spline.forward(torch::full({m}, -1.0 + eps, torch::kFloat64));
  const auto edge = spline.forward(torch::full({m}, -1.0, torch::kFloat64));
  // slopes stay below e^6 and |d log f' / dx| below 1e6 at this scale: gaps of at most
  // 2 eps e^6 and 2 eps 1e6
  EXPECT_LT(max_circular_distance(left.y, right.y), 1e-9);
  EXPECT_EQ(edge.y.abs().max().item<double>(), 1.0);    // the knot at -1 is fixed
  EXPECT_LT((left.log_derivative - right.log_derivative).abs().max().item<double>(), 1e-5);
}

TEST(Spline, StrictlyIncreasingOnTheInterval)
{
  const auto x = torch::linspace(-1.0, 1.0, 20001, torch::kFloat64).narrow(0, 0, 20000);
  const auto raw = random_raw(1, 3.0, torch::kFloat64, 9).expand({20000, 3 * kBins});
  const CircularSpline spline(raw, kBins, kMinBin, kMinSlope);
  const auto y = spline.forward(x).y;
  EXPECT_EQ(y[0].item<double>(), -1.0);
  EXPECT_TRUE((y.narrow(0, 1, 19999) > y.narrow(0, 0, 19999)).all().item<bool>());
}

TEST(Spline, ExtremeParametersStayFiniteWithFiniteGradients)
{
  // A diverging conditioner must not produce NaN: huge raw values hit the bin and slope floors.
  const std::int64_t m = 2048;
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    auto raw = (random_raw(m, 1.0, dtype, 10) * 1e3).requires_grad_(true);
    const auto x = random_points(m, dtype, 11).requires_grad_(true);
    const CircularSpline spline(raw, kBins, kMinBin, kMinSlope);
    const auto f = spline.forward(x);
    const auto g = spline.inverse(x);
    const auto loss = f.y.sum() + f.log_derivative.sum() + g.y.sum() + g.log_derivative.sum();
    EXPECT_TRUE(torch::isfinite(loss).item<bool>());
    loss.backward();
    EXPECT_TRUE(torch::isfinite(raw.grad()).all().item<bool>());
    EXPECT_TRUE(torch::isfinite(x.grad()).all().item<bool>());
  }
}

TEST(Spline, WrongParameterCountIsRejected)
{
  EXPECT_THROW(CircularSpline(torch::zeros({3, 3 * kBins + 1}), kBins, kMinBin, kMinSlope),
               std::invalid_argument);
}
