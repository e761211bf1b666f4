// Energies enter the autograd graph with the model's forces as their gradient.
#include "analytic_energy.h"
#include "flowmap_energy_function.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

using flowmap::potential_energy;

TEST(EnergyFunction, GradientIsMinusForceAndMatchesFiniteDifferences)
{
  torch::manual_seed(1);
  const std::int64_t n = 6, d = 2;
  const std::vector<double> box = {3.0, 3.5};
  SoftSpheres model(n, d, 2.0, 1.3);
  auto x = (torch::rand({4, n, d}, torch::kFloat64) * torch::tensor(box, torch::kFloat64))
               .requires_grad_(true);
  auto weights = torch::tensor({1.0, -0.5, 2.0, 0.25}, torch::kFloat64);
  auto energy = potential_energy(model, x, box, false);
  (energy * weights).sum().backward();
  ASSERT_TRUE(x.grad().defined());

  // central differences of the same weighted sum
  const double h = 1e-6;
  auto base = x.detach().clone();
  double max_error = 0.0, max_grad = 0.0;
  for (std::int64_t c = 0; c < 4; ++c)
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t k = 0; k < d; ++k) {
        auto plus = base.clone(), minus = base.clone();
        plus[c][i][k] += h;
        minus[c][i][k] -= h;
        const double fd = ((potential_energy(model, plus, box, false) -
                            potential_energy(model, minus, box, false)) * weights)
                              .sum()
                              .item<double>() / (2 * h);
        max_error = std::max(max_error, std::abs(fd - x.grad()[c][i][k].item<double>()));
        max_grad = std::max(max_grad, std::abs(fd));
      }
  EXPECT_GT(max_grad, 1e-3);    // the configuration has interacting pairs
  EXPECT_LT(max_error, 1e-7);
}

TEST(EnergyFunction, PassesTheRegularisationFlagAndSkipsForcesWithoutGrad)
{
  const std::vector<double> box = {2.0, 2.0};
  SoftSpheres model(3, 2, 1.0, 1.0);
  auto x = torch::rand({2, 3, 2}, torch::kFloat64) * 2.0;
  auto e = potential_energy(model, x, box, true);
  EXPECT_TRUE(model.last_regularised);
  EXPECT_FALSE(e.requires_grad());
  EXPECT_EQ(e.sizes(), torch::IntArrayRef({2}));
}

TEST(EnergyFunction, RejectsWrongShapes)
{
  SoftSpheres model(3, 2, 1.0, 1.0);
  const std::vector<double> box = {2.0, 2.0};
  EXPECT_THROW(potential_energy(model, torch::zeros({2, 4, 2}, torch::kFloat64), box, false),
               std::invalid_argument);
  EXPECT_THROW(potential_energy(model, torch::zeros({2, 3, 2}, torch::kFloat64), {2.0}, false),
               std::invalid_argument);
}
