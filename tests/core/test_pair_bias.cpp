// The fused pair bias computes sum_k w_hk y_ik y_jk, values and gradients, as LibTorch's
// batched product does, and refuses inputs of the wrong shape or type.
#include "flowmap_pair_bias.h"

#include <gtest/gtest.h>

using namespace flowmap;

namespace {

double max_difference(const torch::Tensor &a, const torch::Tensor &b)
{
  return (a - b).abs().max().item<double>();
}

}    // namespace

TEST(PairBias, ElementIsTheWeightedSumOverFeatures)
{
  torch::manual_seed(3);
  const auto y = torch::randn({2, 5, 4}, torch::kFloat64);
  const auto w = torch::randn({3, 4}, torch::kFloat64);
  const auto bias = pair_bias(y, w);
  ASSERT_EQ(bias.sizes(), (std::vector<std::int64_t>{2, 3, 5, 5}));
  const auto ya = y.accessor<double, 3>();
  const auto wa = w.accessor<double, 2>();
  double by_hand = 0.0;
  for (int k = 0; k < 4; ++k) by_hand += wa[2][k] * ya[1][3][k] * ya[1][0][k];
  EXPECT_NEAR(bias[1][2][3][0].item<double>(), by_hand, 1e-14);
  EXPECT_LT(max_difference(bias, pair_bias_reference(y, w)), 1e-14);
}

TEST(PairBias, GradientsMatchLibTorchsProduct)
{
  torch::manual_seed(4);
  for (const std::int64_t features : {4, 6, 24}) {
    const auto y = torch::randn({6, 31, features}, torch::kFloat64);
    const auto w = torch::randn({2, features}, torch::kFloat64);
    // a probe that is not symmetric in (i, j), so the transposed term is exercised
    const auto probe = torch::randn({6, 2, 31, 31}, torch::kFloat64);
    const auto y_ours = y.clone().requires_grad_(true), w_ours = w.clone().requires_grad_(true);
    const auto y_ref = y.clone().requires_grad_(true), w_ref = w.clone().requires_grad_(true);
    (pair_bias(y_ours, w_ours) * probe).sum().backward();
    (pair_bias_reference(y_ref, w_ref) * probe).sum().backward();
    EXPECT_LT(max_difference(y_ours.grad(), y_ref.grad()), 1e-11) << features << " features";
    EXPECT_LT(max_difference(w_ours.grad(), w_ref.grad()), 1e-10) << features << " features";
    EXPECT_GT(y_ref.grad().abs().max().item<double>(), 1.0);
  }
}

TEST(PairBias, GradientAgreesWithFiniteDifferences)
{
  torch::manual_seed(5);
  const auto y = torch::randn({3, 7, 4}, torch::kFloat64).requires_grad_(true);
  const auto w = torch::randn({2, 4}, torch::kFloat64).requires_grad_(true);
  const auto probe = torch::randn({3, 2, 7, 7}, torch::kFloat64);
  (pair_bias(y, w) * probe).sum().backward();
  const double h = 1e-6;
  auto loss = [&](const torch::Tensor &yy, const torch::Tensor &ww) {
    return (pair_bias(yy, ww) * probe).sum().item<double>();
  };
  torch::NoGradGuard no_grad;
  for (const auto &[b, i, k] : {std::tuple<int, int, int>{0, 0, 0}, {1, 4, 2}, {2, 6, 3}}) {
    auto up = y.detach().clone(), down = y.detach().clone();
    up[b][i][k] += h;
    down[b][i][k] -= h;
    const double numeric = (loss(up, w.detach()) - loss(down, w.detach())) / (2 * h);
    EXPECT_NEAR(y.grad()[b][i][k].item<double>(), numeric, 1e-6);
  }
  auto up = w.detach().clone(), down = w.detach().clone();
  up[1][3] += h;
  down[1][3] -= h;
  const double numeric = (loss(y.detach(), up) - loss(y.detach(), down)) / (2 * h);
  EXPECT_NEAR(w.grad()[1][3].item<double>(), numeric, 1e-6);
}

TEST(PairBias, Float32AgreesWithFloat64)
{
  torch::manual_seed(6);
  const auto y = torch::rand({4, 31, 4}, torch::kFloat64) * 2 - 1;
  const auto w = torch::full({2, 4}, 2.0, torch::kFloat64);
  const auto exact = pair_bias(y, w);
  const auto single = pair_bias(y.to(torch::kFloat32), w.to(torch::kFloat32));
  EXPECT_EQ(single.scalar_type(), torch::kFloat32);
  EXPECT_LT(max_difference(single.to(torch::kFloat64), exact), 1e-5);
}

TEST(PairBias, RefusesInputsOfTheWrongShapeOrType)
{
  const auto y = torch::zeros({2, 5, 4}), w = torch::zeros({2, 4});
  EXPECT_THROW(pair_bias(y, torch::zeros({2, 3})), std::invalid_argument);
  EXPECT_THROW(pair_bias(torch::zeros({5, 4}), w), std::invalid_argument);
  EXPECT_THROW(pair_bias(y, w.to(torch::kFloat64)), std::invalid_argument);
  EXPECT_THROW(pair_bias(y.to(torch::kInt64), w.to(torch::kInt64)), std::invalid_argument);
  EXPECT_THROW(pair_bias(torch::Tensor(), w), std::invalid_argument);
}
