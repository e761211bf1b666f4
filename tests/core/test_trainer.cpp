// Training: it learns, it is deterministic, it skips non-finite batches, it resumes exactly,
// its loss gradient is right, and data-parallel training equals serial training.
#include "flowmap_energy_function.h"
#include "flowmap_trainer.h"
#include "flowmap_weights.h"
#include "trainer_fixtures.h"

#include <gtest/gtest.h>

#include <sstream>
#include <thread>

using namespace flowmap;

TEST(Trainer, KldTrainingRaisesRessAboveIdentity)
{
  // Ideal gas -> dense soft disks (identity RESS about 0.13); 150 steps of the tiny flow give
  // about 0.2 (measured 0.21 at 100 steps).
  DenseDiskTraining task;
  auto &pool = task.pool;
  auto &holdout = task.holdout;
  auto options = small_batches();
  options.batch_size = 128;
  options.learning_rate = 1e-3;
  Trainer trainer(task.model, task.toy.ideal_gas, task.dense, task.toy.states(), options);
  const auto before = trainer.validate(&holdout, nullptr);
  EXPECT_NEAR(before.ress_forward, before.ress_forward_identity, 1e-3);
  double first_loss = 0.0, last_loss = 0.0;
  for (int s = 0; s < 150; ++s) {
    const auto r = trainer.step(&pool, nullptr);
    ASSERT_FALSE(r.skipped);
    if (s < 10) first_loss += r.loss / 10;
    if (s >= 140) last_loss += r.loss / 10;
  }
  const auto after = trainer.validate(&holdout, nullptr);
  EXPECT_LT(last_loss, first_loss - 0.1);
  EXPECT_GT(after.ress_forward, 1.3 * after.ress_forward_identity)
      << "identity " << after.ress_forward_identity << " flow " << after.ress_forward;
  EXPECT_EQ(trainer.steps(), 150);
}

TEST(Trainer, SameSeedSameModel)
{
  ToySystem toy;
  auto a = toy.model(), b = toy.model();
  FramePool pool(500, toy.n, toy.d);
  toy.fill(pool, 500, 1);
  Trainer ta(a, toy.ideal_gas, toy.soft, toy.states(), small_batches());
  Trainer tb(b, toy.ideal_gas, toy.soft, toy.states(), small_batches());
  for (int s = 0; s < 5; ++s) {
    ta.step(&pool, nullptr);
    tb.step(&pool, nullptr);
  }
  EXPECT_TRUE(torch::equal(flat_parameters(a), flat_parameters(b)));
  EXPECT_GT((flat_parameters(a) - flat_parameters(toy.model())).abs().max().item<double>(), 0.0);
}

TEST(Trainer, NonFiniteBatchIsSkippedAndCounted)
{
  ToySystem toy;
  auto model = toy.model();
  Poisoned poisoned(toy.n, toy.d, 4.0, 1.2);
  FramePool pool(200, toy.n, toy.d);
  toy.fill(pool, 200, 1);
  Trainer trainer(model, toy.ideal_gas, poisoned, toy.states(), small_batches());
  trainer.step(&pool, nullptr);
  const auto before = flat_parameters(model);
  poisoned.armed = true;
  const auto report = trainer.step(&pool, nullptr);
  EXPECT_TRUE(report.skipped);
  EXPECT_EQ(trainer.skipped(), 1);
  EXPECT_EQ(trainer.steps(), 1);
  EXPECT_TRUE(torch::equal(before, flat_parameters(model)));
  poisoned.armed = false;
  EXPECT_FALSE(trainer.step(&pool, nullptr).skipped);
  EXPECT_EQ(trainer.steps(), 2);
}

TEST(Trainer, LearningRateDecaysInSteps)
{
  ToySystem toy;
  auto model = toy.model();
  FramePool pool(100, toy.n, toy.d);
  toy.fill(pool, 100, 1);
  auto options = small_batches();
  options.learning_rate = 1e-2;
  options.decay_factor = 0.1;
  options.decay_every = 2;
  Trainer trainer(model, toy.ideal_gas, toy.soft, toy.states(), options);
  std::vector<double> used;
  for (int s = 0; s < 5; ++s) used.push_back(trainer.step(&pool, nullptr).learning_rate);
  EXPECT_DOUBLE_EQ(used[0], 1e-2);
  EXPECT_DOUBLE_EQ(used[1], 1e-2);
  EXPECT_NEAR(used[2], 1e-3, 1e-15);
  EXPECT_NEAR(used[4], 1e-4, 1e-16);
}

TEST(Trainer, LearningRateWarmsUpLinearly)
{
  ToySystem toy;
  auto model = toy.model();
  FramePool pool(100, toy.n, toy.d);
  toy.fill(pool, 100, 1);
  auto options = small_batches();
  options.learning_rate = 4e-3;
  options.warmup_steps = 4;
  Trainer trainer(model, toy.ideal_gas, toy.soft, toy.states(), options);
  std::vector<double> used;
  for (int s = 0; s < 6; ++s) used.push_back(trainer.step(&pool, nullptr).learning_rate);
  EXPECT_NEAR(used[0], 1e-3, 1e-15);
  EXPECT_NEAR(used[2], 3e-3, 1e-15);
  EXPECT_NEAR(used[3], 4e-3, 1e-15);
  EXPECT_NEAR(used[5], 4e-3, 1e-15);
}

namespace {

// 8 uninterrupted steps against 4 steps, the model and trainer state written and read into a
// fresh model (other initial parameters) and trainer, and 4 more steps. Checks the live
// parameters, and the averaged ones when averaging.
void expect_resume_equals_uninterrupted(const TrainingOptions &options)
{
  ToySystem toy;
  FramePool pool(300, toy.n, toy.d);
  toy.fill(pool, 300, 1);

  auto uninterrupted = toy.model();
  Trainer t1(uninterrupted, toy.ideal_gas, toy.soft, toy.states(), options);
  for (int s = 0; s < 8; ++s) t1.step(&pool, nullptr);

  auto first = toy.model();
  Trainer t2(first, toy.ideal_gas, toy.soft, toy.states(), options);
  for (int s = 0; s < 4; ++s) t2.step(&pool, nullptr);
  std::stringstream params, state;
  {
    torch::serialize::OutputArchive a, b;
    first.flow()->save(a);
    t2.write(b);
    a.save_to(params);
    b.save_to(state);
  }
  auto second = toy.model(torch::kFloat32, 1234);    // different initial parameters
  {
    torch::serialize::InputArchive a;
    a.load_from(params);
    second.flow()->load(a);
  }
  Trainer t3(second, toy.ideal_gas, toy.soft, toy.states(), options);
  {
    torch::serialize::InputArchive b;
    b.load_from(state);
    t3.read(b);
  }
  EXPECT_EQ(t3.steps(), 4);
  for (int s = 0; s < 4; ++s) t3.step(&pool, nullptr);
  EXPECT_TRUE(torch::equal(flat_parameters(uninterrupted), flat_parameters(second)));
  if (!options.average) return;
  AveragedParameters a1(t1), a3(t3);
  EXPECT_TRUE(torch::equal(flat_parameters(uninterrupted), flat_parameters(second)));
}

}    // namespace

TEST(Trainer, ResumingFromSavedStateEqualsUninterruptedTraining)
{
  expect_resume_equals_uninterrupted(small_batches());
}

TEST(Trainer, ResumingWithAveragingEqualsUninterruptedTraining)
{
  auto options = small_batches();
  options.average = 0.8;
  expect_resume_equals_uninterrupted(options);
}

TEST(Trainer, LossGradientMatchesFiniteDifferences)
{
  // d/dtheta of < beta U(F(x)) - log det > with U entering through its forces.
  // A smooth energy: a cutoff kink would spoil the finite differences, not the gradient.
  ToySystem toy;
  CosinePairs smooth(toy.n, toy.d, 0.7);
  auto model = toy.model(torch::kFloat64);
  perturb_parameters(model, 0.05, 8);
  torch::manual_seed(9);
  const auto x = torch::rand({8, toy.n, toy.d}, torch::kFloat64) * 3.0;
  const auto reference = torch::randint(toy.n, {8}, torch::kInt64);
  auto loss = [&] {
    auto mapped = model.forward(x, reference);
    return (potential_energy(smooth, mapped.positions, toy.target_box, false) -
            mapped.log_det).mean();
  };
  model.flow()->zero_grad();
  loss().backward();
  int checked = 0;
  double max_error = 0.0, max_grad = 0.0;
  torch::NoGradGuard no_grad;
  for (auto &p : model.flow()->parameters()) {
    if (!p.grad().defined()) continue;
    // the largest gradient entry of each parameter tensor
    const auto flat_index = p.grad().abs().reshape({-1}).argmax().item<std::int64_t>();
    auto value = p.view({-1})[flat_index];
    const double analytic = p.grad().reshape({-1})[flat_index].item<double>();
    const double h = 1e-6, saved = value.item<double>();
    value.fill_(saved + h);
    const double plus = loss().item<double>();
    value.fill_(saved - h);
    const double minus = loss().item<double>();
    value.fill_(saved);
    const double numeric = (plus - minus) / (2 * h);
    max_error = std::max(max_error, std::abs(numeric - analytic) / std::max(1.0, std::abs(numeric)));
    max_grad = std::max(max_grad, std::abs(analytic));
    ++checked;
  }
  EXPECT_GT(checked, 5);
  EXPECT_GT(max_grad, 1e-3);
  EXPECT_LT(max_error, 1e-6);
}

TEST(Trainer, DataParallelEqualsSerial)
{
  ToySystem toy;
  FramePool pool(400, toy.n, toy.d);
  toy.fill(pool, 400, 1);
  // float64: in float32, Adam turns rounding noise on near-zero gradients into lr-sized
  // steps, which hides the comparison.
  auto options = small_batches();
  options.batch_size = 30;    // not a multiple of 4: shares of 7 and 8

  auto serial = toy.model(torch::kFloat64);
  Trainer single(serial, toy.ideal_gas, toy.soft, toy.states(), options);
  for (int s = 0; s < 6; ++s) single.step(&pool, nullptr);

  const int nranks = 4;
  ThreadReducer reducer(nranks);
  std::vector<FlowModel> models;
  for (int r = 0; r < nranks; ++r) models.push_back(toy.model(torch::kFloat64));
  // SoftSpheres counts calls, so each rank gets its own energy objects.
  std::vector<std::unique_ptr<SoftSpheres>> gas, soft;
  std::vector<std::thread> ranks;
  for (int r = 0; r < nranks; ++r) {
    gas.push_back(std::make_unique<SoftSpheres>(toy.n, toy.d, 0.0, 1.0));
    soft.push_back(std::make_unique<SoftSpheres>(toy.n, toy.d, 4.0, 1.2));
  }
  for (int r = 0; r < nranks; ++r)
    ranks.emplace_back([&, r] {
      torch::set_num_threads(1);
      Trainer t(models[r], *gas[r], *soft[r], toy.states(), options, r, nranks,
                reducer.for_rank(r));
      for (int s = 0; s < 6; ++s) t.step(&pool, nullptr);
    });
  for (auto &t : ranks) t.join();

  const auto reference = flat_parameters(serial);
  for (int r = 0; r < nranks; ++r) {
    // every rank holds the identical model ...
    EXPECT_TRUE(torch::equal(flat_parameters(models[r]), flat_parameters(models[0])));
    // ... equal to the serial one up to the order of floating-point sums
    EXPECT_LT((flat_parameters(models[r]) - reference).abs().max().item<double>(), 1e-10);
  }
}

TEST(Trainer, ParameterAverageFollowsItsFormula)
{
  ToySystem toy;
  FramePool pool(200, toy.n, toy.d);
  toy.fill(pool, 200, 1);
  auto model = toy.model(torch::kFloat64);
  auto options = small_batches();
  options.average = 0.5;
  Trainer trainer(model, toy.ideal_gas, toy.soft, toy.states(), options);
  ASSERT_TRUE(trainer.averaging());
  const auto p0 = flat_parameters(model);
  trainer.step(&pool, nullptr);
  const auto p1 = flat_parameters(model);
  trainer.step(&pool, nullptr);
  const auto p2 = flat_parameters(model);
  // decay min(0.5, (1 + t) / (10 + t)) after step t: 2/11, then 3/12
  const double d1 = 2.0 / 11.0, d2 = 3.0 / 12.0;
  const auto expected = d2 * (d1 * p0 + (1 - d1) * p1) + (1 - d2) * p2;
  {
    AveragedParameters averaged(trainer);
    EXPECT_LT((flat_parameters(model) - expected).abs().max().item<double>(), 1e-14);
  }
  EXPECT_TRUE(torch::equal(flat_parameters(model), p2)) << "live parameters are back";
  EXPECT_GT((p2 - expected).abs().max().item<double>(), 1e-6) << "the test must tell them apart";
}

TEST(Trainer, ValidationMeasuresTheAveragedParameters)
{
  ToySystem toy;
  FramePool pool(300, toy.n, toy.d), holdout(200, toy.n, toy.d);
  toy.fill(pool, 300, 1);
  toy.fill(holdout, 200, 2);
  auto model = toy.model(torch::kFloat64);
  auto options = small_batches();
  options.average = 0.9;
  Trainer averaging(model, toy.ideal_gas, toy.soft, toy.states(), options);
  for (int s = 0; s < 6; ++s) averaging.step(&pool, nullptr);
  const auto reported = averaging.validate(&holdout, nullptr).ress_forward;
  double of_average = 0.0, of_live = 0.0;
  {
    Trainer plain(model, toy.ideal_gas, toy.soft, toy.states(), small_batches());
    of_live = plain.validate(&holdout, nullptr).ress_forward;
    AveragedParameters averaged(averaging);
    of_average = plain.validate(&holdout, nullptr).ress_forward;
  }
  EXPECT_DOUBLE_EQ(reported, of_average);
  EXPECT_NE(of_average, of_live);
}

TEST(Trainer, KlGainIsTheMeanLogWeightGainOverTheIdentity)
{
  ToySystem toy;
  FramePool pool(300, toy.n, toy.d), holdout(100, toy.n, toy.d);
  toy.fill(pool, 300, 1);
  toy.fill(holdout, 100, 2);
  auto model = toy.model(torch::kFloat64);
  Trainer trainer(model, toy.ideal_gas, toy.soft, toy.states(), small_batches());
  EXPECT_NEAR(trainer.validate(&holdout, nullptr).kl_gain_forward, 0.0, 1e-12)
      << "the initial flow is the identity";
  for (int s = 0; s < 5; ++s) trainer.step(&pool, nullptr);
  const auto report = trainer.validate(&holdout, nullptr);

  const auto energies = holdout.energies().contiguous();
  const std::vector<double> from(energies.data_ptr<double>(),
                                 energies.data_ptr<double>() + holdout.size());
  const auto flow = map_and_weigh(&model, Direction::forward, toy.states(), holdout.positions(),
                                  from, toy.soft);
  const auto identity = map_and_weigh(nullptr, Direction::forward, toy.states(),
                                      holdout.positions(), from, toy.soft);
  double gain = 0.0;
  for (std::size_t i = 0; i < from.size(); ++i)
    gain += (flow.log_weight[i] - identity.log_weight[i]) / static_cast<double>(from.size());
  EXPECT_NEAR(report.kl_gain_forward, gain, 1e-10);
  EXPECT_GT(std::abs(gain), 1e-6) << "five steps must change the flow";
}
