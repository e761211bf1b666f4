// Known-answer training: a flow learns to map the uniform distribution on the torus onto a
// product of shifted von Mises densities, which an exact circle map per coordinate (the
// inverse CDF) reaches. Trained with the KLD loss from the identity initialisation.
#include "flowmap_flow.h"
#include "flowmap_weights.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <vector>

using namespace flowmap;

namespace {

constexpr double kKappa = 2.0, kModeX = 0.6, kModeY = -0.3;

// log of the unnormalised target density of configurations u [B, P, 2]: [B]
torch::Tensor log_target(const torch::Tensor &u)
{
  const auto x = u.select(2, 0), y = u.select(2, 1);
  return (kKappa * (torch::cos(M_PI * (x - kModeX)) + torch::cos(M_PI * (y - kModeY)))).sum(1);
}

// Kish RESS of the map on fresh uniform samples, from float64 log-weights.
double ress(Flow &flow, std::int64_t samples, std::int64_t particles)
{
  torch::NoGradGuard no_grad;
  const auto u = torch::rand({samples, particles, 2}) * 2.0 - 1.0;
  const auto r = flow->forward(u);
  const auto log_w = (log_target(r.u.to(torch::kFloat64)) + r.log_det.to(torch::kFloat64)).contiguous();
  return kish_ress(std::vector<double>(log_w.data_ptr<double>(), log_w.data_ptr<double>() + samples));
}

}    // namespace

TEST(ToyTraining, KldTrainingReachesRess95From1Percent)
{
  torch::manual_seed(7);
  // Tensors of 768 rows are too small to split: one thread is faster than two, and immune to
  // OpenMP spin-waiting when other processes hold the second core (20x slower then).
  torch::set_num_threads(1);
  const std::int64_t particles = 3;
  FlowOptions o = FlowOptions::preset("tiny", particles + 1, 2);
  o.bins = 8;
  o.embedding = 16;
  o.feedforward = 32;
  Flow flow(o);
  // identity RESS: per coordinate I0(k)^2 / I0(2k) = 0.46 for k = 2, so 0.46^6 = 0.01
  const double before = ress(flow, 20000, particles);
  EXPECT_LT(before, 0.03);

  const auto start = std::chrono::steady_clock::now();
  torch::optim::Adam optimizer(flow->parameters(), torch::optim::AdamOptions(1e-2));
  const int steps = 600;
  for (int step = 0; step < steps; ++step) {
    const auto u = torch::rand({256, particles, 2}) * 2.0 - 1.0;
    const auto r = flow->forward(u);
    // KLD to the target up to constants: < -log p(F(u)) - log|det J| >
    const auto loss = -(log_target(r.u) + r.log_det).mean();
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    if (step == 2 * steps / 3)
      for (auto &group : optimizer.param_groups())
        static_cast<torch::optim::AdamOptions &>(group.options()).lr(2e-3);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double after = ress(flow, 20000, particles);
  std::printf("identity RESS %.4f, trained RESS %.4f after %d steps in %.1f s\n", before, after,
              steps, seconds);
  // The time is printed, not asserted: speed goals live in bench/, and a loaded machine must
  // not fail a correctness test.
  EXPECT_GE(after, 0.95);
}
