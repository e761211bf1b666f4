// The reweighted NLL loss term: its value is the weighted NLL of the batch's mapped frames under
// the flow, with the self-normalised, tempered importance weights computed by hand here, and
// the optimizer step follows that NLL's gradient through F^-1 at the fixed frames; it
// trains a flow on its own; data-parallel evaluation equals serial; a non-finite weight skips
// the batch; bad options are refused.
#include "flowmap_energy_function.h"
#include "flowmap_trainer.h"
#include "trainer_fixtures.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>

using namespace flowmap;

namespace {

TrainingOptions reweighted_only(double power)
{
  TrainingOptions o;
  o.batch_size = 32;
  o.learning_rate = 3e-3;
  o.weight_kld = 0.0;
  o.weight_nll = 0.0;
  o.weight_reweighted = 1.0;
  o.reweight_power = power;
  o.seed = 99;
  return o;
}

// Frames of a smooth source energy with their energies, as the pool of a source run holds them.
void fill_with_energies(FramePool &pool, EnergyModel &energy, const std::vector<double> &box,
                        std::int64_t count, std::uint64_t seed)
{
  const auto n = ToySystem::n, d = ToySystem::d;
  torch::manual_seed(seed);
  const auto frames = (torch::rand({count, n, d}, torch::kFloat64) * box[0]).contiguous();
  std::vector<double> u(count);
  energy.evaluate(frames.data_ptr<double>(), count, box.data(), u.data(), nullptr, false);
  for (std::int64_t f = 0; f < count; ++f) pool.add(frames[f].contiguous().data_ptr<double>(), u[f]);
}

}    // namespace

TEST(ReweightedNll, ValueAndStepAreThoseOfTheWeightedNllOfTheMappedBatch)
{
  ToySystem toy;
  CosinePairs source(toy.n, toy.d, 0.3);
  SoftSpheres target(toy.n, toy.d, 4.0, 1.2);
  auto states = toy.states();
  states.beta_source = 0.7;
  states.beta_target = 1.3;
  auto model = toy.model(torch::kFloat64);
  perturb_parameters(model, 0.05, 8);
  FramePool pool(50, toy.n, toy.d);
  fill_with_energies(pool, source, toy.source_box, 50, 3);

  const double power = 0.5;
  auto options = reweighted_only(power);
  options.augment = false;    // the batch is then the generator's first draw, reproduced here
  options.clip_norm = 0.0;    // Adam's first step is then -lr sign(gradient) wherever it is clear
  Trainer trainer(model, source, target, states, options);

  // The expected value, from the forward map alone: F^-1(F(x)) = x and
  // log|det J_F^-1(F(x))| = -log|det J_F(x)|.
  auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  const auto indices = torch::randint(pool.size(), {options.batch_size}, generator, torch::kInt64);
  const auto x = pool.gather(indices);
  const auto reference = torch::full({options.batch_size}, model.mapping_reference(),
                                     torch::kInt64);
  torch::Tensor expected, weights;
  {
    torch::NoGradGuard no_grad;
    const auto mapped = model.forward(x, reference);
    const auto u_b = potential_energy(target, mapped.positions, toy.target_box, true);
    const auto u_a = pool.energies().index_select(0, indices);
    const auto log_w = -states.beta_target * u_b + states.beta_source * u_a + mapped.log_det;
    weights = torch::softmax(power * log_w, 0);
    expected = (weights * (states.beta_source * u_a + mapped.log_det)).sum();
  }

  // The gradient the step must follow: the same weighted NLL, evaluated through F^-1 at the
  // fixed mapped frames. Adam's first step moves each parameter by -lr sign(gradient).
  const auto y = model.forward(x, reference).positions.detach();
  const auto back = model.inverse(y, reference);
  const auto nll = states.beta_source *
          potential_energy(source, back.positions, toy.source_box, true) -
      back.log_det;
  model.flow()->zero_grad();
  (weights * nll).sum().backward();
  std::vector<torch::Tensor> gradients;
  for (const auto &p : model.flow()->parameters())
    gradients.push_back(p.grad().defined() ? p.grad().detach().reshape({-1}).clone()
                                           : torch::zeros({p.numel()}, torch::kFloat64));
  const auto gradient = torch::cat(gradients);
  model.flow()->zero_grad();
  const auto before = flat_parameters(model);

  const auto report = trainer.step(&pool, nullptr);
  ASSERT_FALSE(report.skipped);
  const auto moved = flat_parameters(model) - before;
  const auto clear = gradient.abs() > 1e-4;
  ASSERT_GT(clear.sum().item<std::int64_t>(), 100);
  EXPECT_LT((moved.masked_select(clear) + options.learning_rate *
             gradient.masked_select(clear).sign()).abs().max().item<double>(),
            1e-3 * options.learning_rate);
  EXPECT_NEAR(report.loss_reweighted, expected.item<double>(),
              1e-9 * std::max(1.0, std::abs(expected.item<double>())));
  EXPECT_DOUBLE_EQ(report.loss, report.loss_reweighted);
  EXPECT_NEAR(report.batch_ess, 1.0 / weights.square().sum().item<double>(), 1e-9);
  // the test must tell a weighted from a plain mean
  EXPECT_LT(report.batch_ess, 0.9 * static_cast<double>(options.batch_size));
  EXPECT_GT(report.batch_ess, 1.5);
  EXPECT_GT(report.grad_norm, 0.0);
}

TEST(ReweightedNll, TrainsAFlowOnItsOwn)
{
  // Ideal gas -> dense soft disks as in KldTrainingRaisesRessAboveIdentity, with the
  // reweighted term alone and exact weights (power 1).
  DenseDiskTraining task;
  auto options = reweighted_only(1.0);
  options.batch_size = 128;
  options.learning_rate = 1e-3;
  Trainer trainer(task.model, task.toy.ideal_gas, task.dense, task.toy.states(), options);
  for (int s = 0; s < 150; ++s) ASSERT_FALSE(trainer.step(&task.pool, nullptr).skipped);
  const auto after = trainer.validate(&task.holdout, nullptr);
  EXPECT_GT(after.kl_gain_forward, 0.05);
  EXPECT_GT(after.ress_forward, 1.2 * after.ress_forward_identity)
      << "identity " << after.ress_forward_identity << " flow " << after.ress_forward;
}

TEST(ReweightedNll, DataParallelEqualsSerial)
{
  // The weights are normalised over the whole batch, across the ranks' shares.
  ToySystem toy;
  FramePool pool(400, toy.n, toy.d);
  CosinePairs source(toy.n, toy.d, 0.3);
  fill_with_energies(pool, source, toy.source_box, 400, 1);
  auto options = reweighted_only(0.5);
  options.weight_kld = 1.0;
  options.batch_size = 30;    // shares of 7 and 8

  auto serial = toy.model(torch::kFloat64);
  SoftSpheres soft(toy.n, toy.d, 4.0, 1.2);
  Trainer single(serial, source, soft, toy.states(), options);
  std::vector<double> serial_losses;
  for (int s = 0; s < 4; ++s) serial_losses.push_back(single.step(&pool, nullptr).loss_reweighted);

  const int nranks = 4;
  ThreadReducer reducer(nranks);
  std::vector<FlowModel> models;
  std::vector<std::unique_ptr<SoftSpheres>> targets;
  std::vector<std::unique_ptr<CosinePairs>> sources;
  for (int r = 0; r < nranks; ++r) {
    models.push_back(toy.model(torch::kFloat64));
    targets.push_back(std::make_unique<SoftSpheres>(toy.n, toy.d, 4.0, 1.2));
    sources.push_back(std::make_unique<CosinePairs>(toy.n, toy.d, 0.3));
  }
  std::vector<std::vector<double>> losses(nranks);
  std::vector<std::thread> ranks;
  for (int r = 0; r < nranks; ++r)
    ranks.emplace_back([&, r] {
      torch::set_num_threads(1);
      Trainer t(models[r], *sources[r], *targets[r], toy.states(), options, r, nranks,
                reducer.for_rank(r));
      for (int s = 0; s < 4; ++s) losses[r].push_back(t.step(&pool, nullptr).loss_reweighted);
    });
  for (auto &t : ranks) t.join();

  const auto reference = flat_parameters(serial);
  for (int r = 0; r < nranks; ++r) {
    EXPECT_TRUE(torch::equal(flat_parameters(models[r]), flat_parameters(models[0])));
    EXPECT_LT((flat_parameters(models[r]) - reference).abs().max().item<double>(), 1e-10);
    for (int s = 0; s < 4; ++s)
      EXPECT_NEAR(losses[r][s], serial_losses[s], 1e-9 * std::abs(serial_losses[s]));
  }
}

TEST(ReweightedNll, NonFiniteWeightSkipsTheBatch)
{
  ToySystem toy;
  auto model = toy.model();
  Poisoned target(toy.n, toy.d, 4.0, 1.2);
  FramePool pool(200, toy.n, toy.d);
  toy.fill(pool, 200, 1);
  Trainer trainer(model, toy.ideal_gas, target, toy.states(), reweighted_only(0.5));
  ASSERT_FALSE(trainer.step(&pool, nullptr).skipped);
  const auto before = flat_parameters(model);
  target.armed = true;
  EXPECT_TRUE(trainer.step(&pool, nullptr).skipped);
  EXPECT_EQ(trainer.skipped(), 1);
  EXPECT_TRUE(torch::equal(before, flat_parameters(model)));
}

TEST(ReweightedNll, RefusesBadOptions)
{
  ToySystem toy;
  auto model = toy.model();
  for (double power : {0.0, -0.5, 1.5}) {
    auto options = reweighted_only(power);
    EXPECT_THROW(Trainer(model, toy.ideal_gas, toy.soft, toy.states(), options),
                 std::invalid_argument)
        << "power " << power;
  }
  auto options = reweighted_only(1.0);
  options.weight_reweighted = -1.0;
  EXPECT_THROW(Trainer(model, toy.ideal_gas, toy.soft, toy.states(), options),
               std::invalid_argument);
}
