// Circular rational-quadratic spline: identity, invertibility, exact log-derivative,
// periodicity and robustness at and beyond the interval ends.
#include "flow_test_helpers.h"
#include "flowmap_spline.h"
#include "flowmap_spline_kernel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

using flowmap::CircularSpline;
using flowmap::SplineKernel;
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

// Every property holds for both evaluations of the spline: the fused CPU kernel and the
// tensor formulation (what other devices run).
class Spline : public ::testing::TestWithParam<SplineKernel> {};

}    // namespace

TEST_P(Spline, ZeroParametersAreTheIdentityBitForBit)
{
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    const auto x = random_points(4096, dtype, 1);
    const CircularSpline spline(torch::zeros({4096, 3 * kBins}, dtype), kBins, kMinBin,
                              kMinSlope, GetParam());
    const auto f = spline.forward(x);
    const auto g = spline.inverse(x);
    EXPECT_TRUE(torch::equal(f.y, x));
    EXPECT_TRUE(torch::equal(g.y, x));
    EXPECT_EQ(f.log_derivative.abs().max().item<double>(), 0.0);
    EXPECT_EQ(g.log_derivative.abs().max().item<double>(), 0.0);
  }
}

TEST_P(Spline, InverseUndoesForward)
{
  // Inversion error is rounding / slope, so the tolerance holds for bounded slopes: raw
  // scale 0.5 keeps them within about e^+-4 (float32), scale 1 within e^+-10 (float64).
  struct Case {
    torch::Dtype dtype;
    double scale, tol;
  };
  for (const auto &c : {Case{torch::kFloat32, 0.5, 1e-5}, Case{torch::kFloat64, 1.0, 1e-10}}) {
    const std::int64_t m = 20000;
    const CircularSpline spline(random_raw(m, c.scale, c.dtype, 2), kBins, kMinBin,
                              kMinSlope, GetParam());
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

TEST_P(Spline, LogDerivativeMatchesFiniteDifferences)
{
  // Central differences with step h have error h^2 |f'''| / 6 inside a bin and h |f''| at a
  // knot (f is C1, not C2, there); with h = 1e-7 both stay below 1e-5 relative here.
  const std::int64_t m = 5000;
  const double h = 1e-7;
  const CircularSpline spline(random_raw(m, 1.0, torch::kFloat64, 4), kBins, kMinBin,
                              kMinSlope, GetParam());
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

TEST_P(Spline, BoundaryAndOutsideInputsAreWrappedToFiniteValues)
{
  const std::vector<double> values = {-1.0,        1.0,  1.0 + 1e-7, -1.0 - 1e-7, 3.2,
                                      -3.2,        7.0,  -7.0,       1.0 - 1e-16, -1.0 + 1e-16,
                                      1.0 - 1e-7, 1e3};
  const auto n = static_cast<std::int64_t>(values.size());
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    const auto x = torch::tensor(values, torch::kFloat64).to(dtype);
    const CircularSpline spline(random_raw(n, 2.0, dtype, 6), kBins, kMinBin,
                              kMinSlope, GetParam());
    for (bool inverse : {false, true}) {
      const auto r = inverse ? spline.inverse(x) : spline.forward(x);
      EXPECT_TRUE(torch::isfinite(r.y).all().item<bool>());
      EXPECT_TRUE(torch::isfinite(r.log_derivative).all().item<bool>());
      EXPECT_GE(r.y.min().item<double>(), -1.0);
      EXPECT_LT(r.y.max().item<double>(), 1.0);
    }
    // a point outside maps like its image on the circle: 3.2 ~ -0.8
    const auto params = random_raw(1, 2.0, dtype, 7);
    const CircularSpline one(params, kBins, kMinBin,
                              kMinSlope, GetParam());
    const auto outside = one.forward(torch::tensor({3.2}, torch::kFloat64).to(dtype)).y;
    const auto inside = one.forward(torch::tensor({-0.8}, torch::kFloat64).to(dtype)).y;
    EXPECT_LT(max_circular_distance(outside, inside), dtype == torch::kFloat32 ? 1e-5 : 1e-12);
  }
}

TEST_P(Spline, ContinuousAcrossTheWrapPoint)
{
  // -1 and 1 are the same point: the map and its log-derivative approach the same values
  // from both sides (the slope at 1 is the slope at -1).
  const std::int64_t m = 1000;
  const auto raw = random_raw(m, 1.0, torch::kFloat64, 8);
  const CircularSpline spline(raw, kBins, kMinBin,
                              kMinSlope, GetParam());
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

TEST_P(Spline, StrictlyIncreasingOnTheInterval)
{
  const auto x = torch::linspace(-1.0, 1.0, 20001, torch::kFloat64).narrow(0, 0, 20000);
  const auto raw = random_raw(1, 3.0, torch::kFloat64, 9).expand({20000, 3 * kBins});
  const CircularSpline spline(raw, kBins, kMinBin,
                              kMinSlope, GetParam());
  const auto y = spline.forward(x).y;
  EXPECT_EQ(y[0].item<double>(), -1.0);
  EXPECT_TRUE((y.narrow(0, 1, 19999) > y.narrow(0, 0, 19999)).all().item<bool>());
}

TEST_P(Spline, ExtremeParametersStayFiniteWithFiniteGradients)
{
  // A diverging conditioner must not produce NaN: huge raw values hit the bin and slope floors.
  const std::int64_t m = 2048;
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    auto raw = (random_raw(m, 1.0, dtype, 10) * 1e3).requires_grad_(true);
    const auto x = random_points(m, dtype, 11).requires_grad_(true);
    const CircularSpline spline(raw, kBins, kMinBin,
                              kMinSlope, GetParam());
    const auto f = spline.forward(x);
    const auto g = spline.inverse(x);
    const auto loss = f.y.sum() + f.log_derivative.sum() + g.y.sum() + g.log_derivative.sum();
    EXPECT_TRUE(torch::isfinite(loss).item<bool>());
    loss.backward();
    EXPECT_TRUE(torch::isfinite(raw.grad()).all().item<bool>());
    EXPECT_TRUE(torch::isfinite(x.grad()).all().item<bool>());
  }
}

TEST(SplineShape, WrongParameterCountIsRejected)
{
  for (auto kernel : {SplineKernel::fused, SplineKernel::tensor})
    EXPECT_THROW(
        CircularSpline(torch::zeros({3, 3 * kBins + 1}), kBins, kMinBin, kMinSlope, kernel),
        std::invalid_argument);
}

namespace {

// sum_i a_i sin(pi y_i) + b_i log|dy/dx|_i: periodic in y, so the wrap at +-1 adds no jumps,
// and with random a, b every output and every element enter the gradient.
torch::Tensor probe_loss(const flowmap::SplineResult &r, const torch::Tensor &a,
                         const torch::Tensor &b)
{
  return (a * torch::sin(M_PI * r.y) + b * r.log_derivative).sum();
}

struct Gradients {
  torch::Tensor y, log_derivative, raw, x;
};

Gradients evaluate_with_gradients(const torch::Tensor &raw_in, const torch::Tensor &x_in,
                                  bool inverse, SplineKernel kernel)
{
  const auto raw = raw_in.detach().clone().requires_grad_(true);
  const auto x = x_in.detach().clone().requires_grad_(true);
  const CircularSpline spline(raw, kBins, kMinBin, kMinSlope, kernel);
  const auto r = inverse ? spline.inverse(x) : spline.forward(x);
  torch::manual_seed(99);
  const auto a = torch::randn(x.sizes(), x.options().requires_grad(false));
  const auto b = torch::randn(x.sizes(), x.options().requires_grad(false));
  probe_loss(r, a, b).backward();
  return {r.y.detach(), r.log_derivative.detach(), raw.grad(), x.grad()};
}

double max_relative(const torch::Tensor &a, const torch::Tensor &b)
{
  const auto d = (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs();
  return (d / (b.to(torch::kFloat64).abs() + 1.0)).max().item<double>();
}

}    // namespace

TEST(SplineKernels, FusedKernelAgreesWithTheTensorFormulation)
{
  // Values, log-derivatives and the gradients with respect to the raw parameters and the
  // input, both directions; in float64 to rounding, in float32 to float32 rounding (the
  // fused kernel computes in double, so it is the more accurate of the two there).
  struct Case {
    torch::Dtype dtype;
    double tol;
  };
  for (const auto &c : {Case{torch::kFloat64, 1e-9}, Case{torch::kFloat32, 2e-3}}) {
    const std::int64_t m = 4000;
    const auto raw = random_raw(m, 1.0, c.dtype, 21);
    const auto x = random_points(m, c.dtype, 22);
    for (bool inverse : {false, true}) {
      const auto fused = evaluate_with_gradients(raw, x, inverse, SplineKernel::fused);
      const auto tensor = evaluate_with_gradients(raw, x, inverse, SplineKernel::tensor);
      const double value_tol = c.dtype == torch::kFloat64 ? 1e-12 : 1e-5;
      EXPECT_LT(max_circular_distance(fused.y, tensor.y), value_tol) << "inverse " << inverse;
      EXPECT_LT(max_relative(fused.log_derivative, tensor.log_derivative), 10 * value_tol)
          << "inverse " << inverse;
      EXPECT_LT(max_relative(fused.raw, tensor.raw), c.tol) << "inverse " << inverse;
      EXPECT_LT(max_relative(fused.x, tensor.x), c.tol) << "inverse " << inverse;
      // the gradients are not trivially zero
      EXPECT_GT(fused.raw.abs().max().item<double>(), 0.1);
    }
  }
}

TEST(SplineKernels, FusedGradientsMatchFiniteDifferences)
{
  // Central differences of the probe loss in every raw parameter and in the input, float64,
  // step 1e-6: truncation error h^2 |f'''| and rounding 1e-16 / h, both below 1e-7 relative
  // here (a knot crossed by the step adds h |f''|, still within the tolerance).
  const std::int64_t m = 6;
  const double h = 1e-6;
  const auto raw = random_raw(m, 1.0, torch::kFloat64, 31);
  const auto x = random_points(m, torch::kFloat64, 32) * 0.9;
  torch::manual_seed(99);
  const auto a = torch::randn({m}, torch::kFloat64);
  const auto b = torch::randn({m}, torch::kFloat64);
  for (bool inverse : {false, true}) {
    const auto analytic = evaluate_with_gradients(raw, x, inverse, SplineKernel::fused);
    auto loss = [&](const torch::Tensor &r, const torch::Tensor &v) {
      const CircularSpline spline(r, kBins, kMinBin, kMinSlope, SplineKernel::fused);
      return probe_loss(inverse ? spline.inverse(v) : spline.forward(v), a, b).item<double>();
    };
    auto raw_fd = torch::zeros_like(raw);
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < 3 * kBins; ++j) {
        auto up = raw.clone(), down = raw.clone();
        up[i][j] += h;
        down[i][j] -= h;
        raw_fd[i][j] = (loss(up, x) - loss(down, x)) / (2 * h);
      }
    auto x_fd = torch::zeros_like(x);
    for (std::int64_t i = 0; i < m; ++i) {
      auto up = x.clone(), down = x.clone();
      up[i] += h;
      down[i] -= h;
      x_fd[i] = (loss(raw, up) - loss(raw, down)) / (2 * h);
    }
    EXPECT_LT(max_relative(analytic.raw, raw_fd), 1e-6) << "inverse " << inverse;
    EXPECT_LT(max_relative(analytic.x, x_fd), 1e-6) << "inverse " << inverse;
  }
}

TEST(SplineKernels, FusedKernelRejectsMismatchedTensors)
{
  const flowmap::SplineShape shape{kBins, kMinBin, kMinSlope};
  const auto raw = torch::zeros({4, 3 * kBins}, torch::kFloat64);
  using flowmap::fused_circular_spline;
  EXPECT_THROW(fused_circular_spline(raw, torch::zeros({4}, torch::kFloat32), shape, false),
               std::invalid_argument);
  EXPECT_THROW(fused_circular_spline(raw, torch::zeros({5}, torch::kFloat64), shape, false),
               std::invalid_argument);
  EXPECT_THROW(
      fused_circular_spline(raw.to(torch::kInt64), torch::zeros({4}, torch::kInt64), shape, true),
      std::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(BothKernels, Spline,
                         ::testing::Values(SplineKernel::fused, SplineKernel::tensor),
                         [](const ::testing::TestParamInfo<SplineKernel> &info) {
                           return std::string(info.param == SplineKernel::fused ? "fused"
                                                                                 : "tensor");
                         });
