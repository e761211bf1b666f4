// Changing the weights of the loss terms between optimizer steps (fix_modify kld, nll,
// reweighted): the next step uses the new weights on the batch it would have drawn anyway,
// a change undone before a step leaves no trace, and a refused change changes nothing.
#include "flowmap_session.h"
#include "flowmap_trainer.h"
#include "trainer_fixtures.h"

#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>

using namespace flowmap;

namespace {

// Two trainers of identical flows, options and streams over one pool.
struct Twins {
  ToySystem toy;
  FramePool pool{200, ToySystem::n, ToySystem::d};
  FlowModel model_a = toy.model(torch::kFloat64), model_b = toy.model(torch::kFloat64);
  Trainer a{model_a, toy.ideal_gas, toy.soft, toy.states(), small_batches()};
  Trainer b{model_b, toy.ideal_gas, toy.soft, toy.states(), small_batches()};
  Twins() { toy.fill(pool, 200, 4); }
};

}    // namespace

TEST(LossWeights, NewWeightsActFromTheNextStepOnTheSameBatch)
{
  Twins t;
  t.a.step(&t.pool, nullptr);
  t.b.step(&t.pool, nullptr);
  ASSERT_TRUE(torch::equal(flat_parameters(t.model_a), flat_parameters(t.model_b)));

  t.b.set_loss_weights(1.0, 0.0, 0.5, 0.5);
  const auto kld = t.a.step(&t.pool, nullptr);
  const auto both = t.b.step(&t.pool, nullptr);
  EXPECT_EQ(kld.loss_reweighted, 0.0);
  EXPECT_EQ(kld.batch_ess, 0.0);
  // Same parameters and the same draw of the stream: the KLD term is the same number.
  EXPECT_EQ(both.loss_kld, kld.loss_kld);
  EXPECT_NE(both.loss_reweighted, 0.0);
  EXPECT_GT(both.batch_ess, 1.0);
  EXPECT_LE(both.batch_ess, 32.0 + 1e-9);
  EXPECT_NEAR(both.loss, both.loss_kld + 0.5 * both.loss_reweighted, 1e-12 * std::abs(both.loss));
  EXPECT_FALSE(torch::equal(flat_parameters(t.model_a), flat_parameters(t.model_b)));
  EXPECT_DOUBLE_EQ(t.b.options().weight_reweighted, 0.5);
  EXPECT_DOUBLE_EQ(t.b.options().reweight_power, 0.5);
}

TEST(LossWeights, ScaledWeightsScaleTheLoss)
{
  Twins t;
  t.a.set_loss_weights(0.0, 0.0, 1.0, 0.7);
  t.b.set_loss_weights(0.0, 0.0, 3.0, 0.7);
  const auto one = t.a.step(&t.pool, nullptr);
  const auto three = t.b.step(&t.pool, nullptr);
  EXPECT_EQ(one.loss_kld, 0.0);
  EXPECT_DOUBLE_EQ(three.loss_reweighted, one.loss_reweighted);
  EXPECT_NEAR(three.loss, 3.0 * one.loss, 1e-12 * std::abs(three.loss));
  EXPECT_NEAR(three.grad_norm, 3.0 * one.grad_norm, 1e-9 * three.grad_norm);
}

TEST(LossWeights, AChangeUndoneBeforeAStepLeavesNoTrace)
{
  Twins t;
  t.b.set_loss_weights(1.0, 0.0, 2.0, 0.3);
  t.b.set_loss_weights(1.0, 0.0, 0.0, 1.0);
  for (int s = 0; s < 3; ++s) {
    const auto ra = t.a.step(&t.pool, nullptr), rb = t.b.step(&t.pool, nullptr);
    EXPECT_EQ(ra.loss, rb.loss);
  }
  EXPECT_TRUE(torch::equal(flat_parameters(t.model_a), flat_parameters(t.model_b)));
}

TEST(LossWeights, ARefusedChangeChangesNothing)
{
  Twins t;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_THROW(t.b.set_loss_weights(-1.0, 0.0, 0.0, 1.0), std::invalid_argument);
  EXPECT_THROW(t.b.set_loss_weights(1.0, -0.5, 0.0, 1.0), std::invalid_argument);
  EXPECT_THROW(t.b.set_loss_weights(1.0, 0.0, -1.0, 1.0), std::invalid_argument);
  EXPECT_THROW(t.b.set_loss_weights(nan, 0.0, 0.0, 1.0), std::invalid_argument);
  EXPECT_THROW(t.b.set_loss_weights(1.0, 0.0, inf, 1.0), std::invalid_argument);
  for (double power : {0.0, -0.5, 1.5, nan})
    EXPECT_THROW(t.b.set_loss_weights(1.0, 0.0, 1.0, power), std::invalid_argument)
        << "power " << power;
  EXPECT_DOUBLE_EQ(t.b.options().weight_kld, 1.0);
  EXPECT_DOUBLE_EQ(t.b.options().weight_reweighted, 0.0);
  for (int s = 0; s < 2; ++s) {
    t.a.step(&t.pool, nullptr);
    t.b.step(&t.pool, nullptr);
  }
  EXPECT_TRUE(torch::equal(flat_parameters(t.model_a), flat_parameters(t.model_b)));
}

TEST(LossWeights, TheSessionWaitsForThePoolOfATermSwitchedOn)
{
  ToySystem toy;
  SessionOptions options;
  options.pool_capacity = 100;
  options.holdout_capacity = 1;
  options.training = small_batches();
  Session session(toy.model(), toy.ideal_gas, toy.soft, toy.states(), options);
  std::vector<double> frame(ToySystem::n * ToySystem::d);
  for (std::size_t k = 0; k < frame.size(); ++k) frame[k] = 0.37 * static_cast<double>(k % 8);
  for (int f = 0; f < 40; ++f) session.add_frame(Ensemble::source, frame.data(), 0.0);
  ASSERT_TRUE(session.can_train());

  // No frames of B yet: an NLL term switched on must wait for them.
  session.set_loss_weights(1.0, 1.0, 0.0, 1.0);
  EXPECT_FALSE(session.can_train());
  EXPECT_DOUBLE_EQ(session.options().training.weight_nll, 1.0);
  EXPECT_DOUBLE_EQ(session.trainer().options().weight_nll, 1.0);

  // The reweighted term alone trains on the frames of A. The frames are one configuration
  // repeated, so its weights are equal and their Kish size is the batch.
  session.set_loss_weights(0.0, 0.0, 1.0, 0.5);
  EXPECT_TRUE(session.can_train());
  EXPECT_DOUBLE_EQ(session.source_weight(), 1.0);
  const auto report = session.train_step();
  EXPECT_FALSE(report.skipped);
  EXPECT_NEAR(report.batch_ess, 32.0, 1e-9);

  EXPECT_THROW(session.set_loss_weights(0.0, 0.0, 1.0, 2.0), std::invalid_argument);
  EXPECT_DOUBLE_EQ(session.options().training.reweight_power, 0.5);
}
