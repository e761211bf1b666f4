// Mapping and weighing frames: weights against the formula evaluated independently.
#include "flowmap_weights.h"
#include "trainer_fixtures.h"

#include <gtest/gtest.h>

using namespace flowmap;

TEST(Mapping, IdentityBaselineWeightsByHand)
{
  ToySystem toy;
  toy.target_box = {3.3, 3.3};    // a density change: positions scale by 1.1
  auto states = toy.states();
  states.beta_source = 0.5;
  states.beta_target = 1.25;
  torch::manual_seed(3);
  auto frames = torch::rand({5, toy.n, toy.d}, torch::kFloat64) * 3.0;
  std::vector<double> energy_from = {0.1, -0.2, 0.3, 0.0, 1.5};
  auto weighed = map_and_weigh(nullptr, Direction::forward, states, frames, energy_from, toy.soft);

  for (int f = 0; f < 5; ++f) {
    auto scaled = (frames[f] * 1.1).contiguous();
    double u = 0.0;
    toy.soft.evaluate(scaled.data_ptr<double>(), 1, toy.target_box.data(), &u, nullptr, false);
    const double log_det = toy.n * toy.d * std::log(1.1);
    EXPECT_NEAR(weighed.energy_to[f], u, 1e-12);
    EXPECT_NEAR(weighed.log_det[f], log_det, 1e-12);
    EXPECT_NEAR(weighed.log_weight[f], -1.25 * u + 0.5 * energy_from[f] + log_det, 1e-12);
    EXPECT_TRUE(torch::allclose(weighed.positions[f], scaled, 0, 1e-14));
  }
}

TEST(Mapping, FlowWeightsMatchTheModelAppliedIndependently)
{
  ToySystem toy;
  auto model = toy.model(torch::kFloat64);
  perturb_parameters(model, 0.05, 11);
  torch::manual_seed(4);
  auto frames = torch::rand({7, toy.n, toy.d}, torch::kFloat64) * 3.0;
  std::vector<double> energy_from(7, 0.25);
  auto weighed = map_and_weigh(&model, Direction::inverse, toy.states(), frames, energy_from,
                               toy.ideal_gas, 3);    // chunks of 3 exercise the chunking

  torch::NoGradGuard no_grad;
  auto direct = model.inverse(frames, torch::zeros({7}, torch::kInt64));
  double max_logdet = 0.0;
  for (int f = 0; f < 7; ++f) {
    const double ld = direct.log_det[f].item<double>();
    max_logdet = std::max(max_logdet, std::abs(ld));
    // chunks change the batch shapes, hence the summation order: relative 1e-12
    EXPECT_NEAR(weighed.log_det[f], ld, 1e-12 * std::max(1.0, std::abs(ld)));
    EXPECT_NEAR(weighed.log_weight[f], 0.25 + ld, 1e-12 * std::max(1.0, std::abs(ld)));
  }
  EXPECT_GT(max_logdet, 1e-3) << "the perturbed flow should not be volume preserving";
  EXPECT_TRUE(torch::allclose(weighed.positions, direct.positions, 0, 1e-12));
}

TEST(Mapping, UntrainedFlowEqualsIdentityBaseline)
{
  ToySystem toy;
  auto model = toy.model(torch::kFloat32);
  torch::manual_seed(5);
  auto frames = torch::rand({16, toy.n, toy.d}, torch::kFloat64) * 3.0;
  std::vector<double> energy_from(16, 0.0);
  auto flow = map_and_weigh(&model, Direction::forward, toy.states(), frames, energy_from, toy.soft);
  auto identity = map_and_weigh(nullptr, Direction::forward, toy.states(), frames, energy_from,
                                toy.soft);
  for (int f = 0; f < 16; ++f) EXPECT_NEAR(flow.log_weight[f], identity.log_weight[f], 1e-4);
}

TEST(Mapping, ScalingBetweenDensitiesByHand)
{
  // 32 particles in 8 x 4 (density 1) at density 0.5: twice the area, every length x sqrt(2)
  const std::vector<double> box = {8.0, 4.0};
  EXPECT_DOUBLE_EQ(flowmap::number_density(32, box), 1.0);
  EXPECT_DOUBLE_EQ(flowmap::density_scale(32, box, 0.5), std::sqrt(2.0));
  const auto scaled = flowmap::box_at_density(32, box, 0.5);
  ASSERT_EQ(scaled.size(), 2u);
  EXPECT_DOUBLE_EQ(scaled[0], 8.0 * std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(scaled[1], 4.0 * std::sqrt(2.0));
  // 3D: 27 particles in 3^3 at density 8: every length halved
  EXPECT_DOUBLE_EQ(flowmap::density_scale(27, {3.0, 3.0, 3.0}, 8.0), 0.5);
  // its own density: exactly the same box
  EXPECT_EQ(flowmap::box_at_density(32, box, 1.0), box);
}
