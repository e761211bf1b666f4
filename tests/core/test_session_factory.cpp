// From settings to a session without LAMMPS: a new flow is the recipe's preset with its
// overrides and seeded initialisation; a loaded flow is checked against the run (N, boxes,
// units) and resumes its training state exactly.
#include "flowmap_model_file.h"
#include "flowmap_session_factory.h"
#include "trainer_fixtures.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <string>

using namespace flowmap;
using ::testing::HasSubstr;

namespace {

SessionPlan toy_plan()
{
  ToySystem toy;
  SessionPlan plan;
  plan.flow.arch = "tiny";
  plan.session.pool_capacity = 40;
  plan.session.holdout_capacity = 4;
  plan.session.training.batch_size = 8;
  plan.session.training.seed = 21;
  plan.states = toy.states();
  plan.units = "lj";
  plan.source_temperature = 1.0;
  plan.target_temperature = 1.0;
  return plan;
}

std::string error_of(const std::function<void()> &work)
{
  try {
    work();
  } catch (const std::exception &e) {
    return e.what();
  }
  return "no error";
}

}    // namespace

TEST(SessionFactory, RecipeIsThePresetWithItsOverrides)
{
  FlowRecipe recipe;
  recipe.arch = "small";
  recipe.sizes = {{"blocks", 3}, {"heads", 4}, {"embedding", 16}};
  recipe.split = "particle";
  recipe.precision = "float64";
  const auto options = flow_options(recipe, 6, 2);
  auto expected = FlowOptions::preset("small", 6, 2);
  expected.blocks = 3;
  expected.heads = 4;
  expected.embedding = 16;
  for (const auto &size : FlowOptions::sizes())
    EXPECT_EQ(options.*size.member, expected.*size.member) << size.name;
  EXPECT_EQ(options.split, CouplingSplit::particle);
  EXPECT_EQ(options.dtype, torch::kFloat64);

  recipe.sizes = {{"embedding", 6}};    // a multiple of small's 2 heads
  EXPECT_NO_THROW(flow_options(recipe, 6, 2));
  recipe.sizes = {{"embedding", 7}};
  EXPECT_THAT(error_of([&] { flow_options(recipe, 6, 2); }),
              HasSubstr("flow option 'embedding' must be positive and a multiple of heads (2)"));
  recipe.sizes = {{"depth", 2}};
  EXPECT_THAT(error_of([&] { flow_options(recipe, 6, 2); }),
              HasSubstr("unknown flow size 'depth'; valid: blocks, bins, frequencies"));
}

TEST(SessionFactory, ThePairBiasIsTheDefaultWhereThereIsAttention)
{
  FlowRecipe recipe;    // the default preset biases attention; the study's does not
  EXPECT_EQ(flow_options(recipe, 6, 2).pair_frequencies, 1);
  recipe.arch = "published";
  EXPECT_EQ(flow_options(recipe, 6, 2).pair_frequencies, 0);
  // Without encoder layers the default bias goes with the attention; asked for, it is refused.
  recipe.arch = "default";
  recipe.sizes = {{"layers", 0}};
  const auto plain = flow_options(recipe, 6, 2);
  EXPECT_EQ(plain.layers, 0);
  EXPECT_EQ(plain.pair_frequencies, 0);
  recipe.sizes = {{"layers", 0}, {"pair_frequencies", 2}};
  EXPECT_THAT(error_of([&] { flow_options(recipe, 6, 2); }),
              HasSubstr("flow option 'pair_frequencies' must be 0 when layers is 0"));
  recipe.sizes = {{"pair_frequencies", 0}};
  EXPECT_EQ(flow_options(recipe, 6, 2).pair_frequencies, 0);
}

TEST(SessionFactory, DeviceIsTheCpuOrAUsableCudaDevice)
{
  FlowRecipe recipe;
  recipe.arch = "tiny";
  EXPECT_EQ(flow_options(recipe, 6, 2).device, torch::Device(torch::kCPU));
  for (const std::string bad : {"gpu", "cuda:", "cuda:x", "cuda0", "cuda:99999", "CPU"})
    EXPECT_THAT(error_of([&] { device_from_name(bad); }),
                HasSubstr("unknown device '" + bad + "'; valid: cpu, cuda, cuda:K"));
  if (torch::cuda::is_available()) {
    EXPECT_EQ(device_from_name("cuda:0"), torch::Device(torch::kCUDA, 0));
    const auto beyond = "cuda:" + std::to_string(torch::cuda::device_count());
    EXPECT_THAT(error_of([&] { device_from_name(beyond); }), HasSubstr("CUDA device(s)"));
  } else {
    // the CPU-only LibTorch of Debian: a clear refusal, not a LibTorch exception later
    recipe.device = "cuda";
    EXPECT_THAT(error_of([&] { flow_options(recipe, 6, 2); }),
                HasSubstr("device cuda needs a LibTorch built with CUDA and a visible NVIDIA "
                          "GPU"));
    EXPECT_THAT(error_of([&] { device_from_name("cuda:1"); }),
                HasSubstr("device cuda:1 needs a LibTorch built with CUDA"));
  }
}

TEST(SessionFactory, NewSessionIsSeededAndTheSameEverywhere)
{
  ToySystem toy;
  const auto plan = toy_plan();
  auto a = new_session(plan, toy.ideal_gas, toy.soft);
  torch::manual_seed(999);    // whatever the global generator did before
  auto b = new_session(plan, toy.ideal_gas, toy.soft);
  EXPECT_FALSE(a.resumed);
  EXPECT_TRUE(a.warnings.empty());
  EXPECT_TRUE(torch::equal(flat_parameters(a.session->model()),
                           flat_parameters(b.session->model())));
  EXPECT_EQ(a.session->model().options().blocks, FlowOptions::preset("tiny", 6, 2).blocks);
  EXPECT_EQ(a.session->pool(Ensemble::source).capacity(), 40);
  EXPECT_EQ(a.session->model().metadata().units, "lj");
}

TEST(SessionFactory, LoadedSessionIsCheckedAgainstTheRun)
{
  ToySystem toy;
  auto plan = toy_plan();
  const auto start = new_session(plan, toy.ideal_gas, toy.soft);
  save_model(start.session->model(), "factory.flow");

  auto load = [&](const SessionPlan &p) {
    auto archive = load_archive("factory.flow");
    return load_session(archive, "model file 'factory.flow'", false, p, toy.ideal_gas,
                        toy.soft);
  };
  const auto loaded = load(plan);
  EXPECT_TRUE(torch::equal(flat_parameters(loaded.session->model()),
                           flat_parameters(start.session->model())));
  EXPECT_TRUE(loaded.warnings.empty());

  auto hotter = plan;
  hotter.target_temperature = 1.5;
  const auto warned = load(hotter);
  ASSERT_EQ(warned.warnings.size(), 1u);
  EXPECT_THAT(warned.warnings[0], HasSubstr("trained for Tsource = 1, Ttarget = 1; weights use "
                                            "the temperatures of this run (1, 1.5)"));

  auto metal = plan;
  metal.units = "metal";
  EXPECT_THAT(error_of([&] { load(metal); }),
              HasSubstr("model file 'factory.flow' holds a model trained in units lj, this "
                        "simulation uses units metal"));
  auto wider = plan;
  wider.states.target_box = {3.3, 3.3};
  EXPECT_THAT(error_of([&] { load(wider); }), HasSubstr("model was trained with target box 3 x 3"));
}

TEST(SessionFactory, ResumedSessionContinuesItsTraining)
{
  ToySystem toy;
  const auto plan = toy_plan();
  auto start = new_session(plan, toy.ideal_gas, toy.soft);
  auto &session = *start.session;
  FramePool frames(30, ToySystem::n, ToySystem::d);
  toy.fill(frames, 30, 4);
  for (std::int64_t f = 0; f < 30; ++f)
    session.add_frame(Ensemble::source, frames.positions()[f].contiguous().data_ptr<double>(),
                      0.0);
  for (int s = 0; s < 3; ++s) session.train_step();
  torch::serialize::OutputArchive archive;
  session.write_checkpoint(archive);
  archive.save_to("factory.checkpoint");

  auto in = load_archive("factory.checkpoint");
  auto resumed = load_session(in, "checkpoint", true, plan, toy.ideal_gas, toy.soft);
  ASSERT_TRUE(resumed.resumed);
  EXPECT_EQ(resumed.session->trainer().steps(), 3);
  EXPECT_EQ(resumed.session->pool(Ensemble::source).size(), 26);    // 4 held out
  session.train_step();
  resumed.session->train_step();
  EXPECT_TRUE(torch::equal(flat_parameters(resumed.session->model()),
                           flat_parameters(session.model())));

  auto model_only = load_archive("factory.checkpoint");
  EXPECT_FALSE(load_session(model_only, "checkpoint", false, plan, toy.ideal_gas, toy.soft)
                   .resumed);
}

TEST(SessionFactory, PoolBytesByHand)
{
  SessionOptions options;
  options.pool_capacity = 1000;
  options.holdout_capacity = 24;
  // 2 states x 1024 frames x (N d + 1 = 65 values) x 8 bytes
  EXPECT_DOUBLE_EQ(pool_bytes(options, 32, 2), 2.0 * 1024 * 65 * 8);
}
