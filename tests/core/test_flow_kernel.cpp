// The small-batch flow kernel (flowmap_flow_kernel.h) against LibTorch's operations: the same
// map and log-determinant over every architecture switch (particle and component split, one
// and three species, 0 to 2 encoder layers, with and without the pair bias, 2D and 3D), in
// float64 to 1e-10 and in float32 to float rounding; a fresh flow stays the identity bit for
// bit; and FlowImpl takes the kernel exactly where applies() says.
#include "flow_test_helpers.h"
#include "flowmap_flow.h"
#include "flowmap_flow_kernel.h"

#include <gtest/gtest.h>

#include <string>

using namespace flowmap;
using flowmap_test::max_circular_distance;
using flowmap_test::randomize_flow;
using flowmap_test::torus_points;

namespace {

struct Variant {
  CouplingSplit split;
  std::int64_t species, layers, pair_frequencies, dimension;

  std::string name() const
  {
    return split_name(split) + " species " + std::to_string(species) + " layers " +
        std::to_string(layers) + " pair_frequencies " + std::to_string(pair_frequencies) +
        " d " + std::to_string(dimension);
  }
};

constexpr std::int64_t kParticles = 11;    // N - 1 rows of the flow

Flow make_flow(const Variant &v, torch::Dtype dtype, std::uint64_t seed)
{
  torch::manual_seed(seed);
  auto o = FlowOptions::preset("default", kParticles + 1, v.dimension);
  o.split = v.split;
  o.layers = v.layers;
  o.pair_frequencies = v.pair_frequencies;
  o.embedding = 16;
  o.feedforward = 24;
  o.dtype = dtype;
  InternalSpecies species;
  species.count = v.species;
  if (v.species > 1)
    for (std::int64_t i = 0; i < kParticles; ++i) species.of_row.push_back((i * 7) % v.species);
  Flow flow(o, species);
  randomize_flow(flow, 0.2, seed + 1);
  return flow;
}

std::vector<Variant> variants()
{
  std::vector<Variant> all;
  for (auto split : {CouplingSplit::particle, CouplingSplit::component})
    for (std::int64_t species : {1, 3})
      for (std::int64_t layers : {0, 1, 2})
        for (std::int64_t pair : {0, 1}) {
          if (layers == 0 && pair == 1) continue;    // the bias is an attention input
          all.push_back({split, species, layers, pair, 2});
        }
  all.push_back({CouplingSplit::particle, 3, 1, 1, 3});
  all.push_back({CouplingSplit::component, 1, 2, 1, 3});
  return all;
}

// The map through LibTorch's operations, gradients off as in the kernel's use.
FlowResult reference_map(Flow &flow, const torch::Tensor &u, bool inverse)
{
  torch::NoGradGuard no_grad;
  const bool previous = FlowKernel::enable(false);
  auto r = inverse ? flow->inverse(u) : flow->forward(u);
  FlowKernel::enable(previous);
  return r;
}

}    // namespace

// The kernel against the tensor operations over every variant, both directions.
static void expect_same_maps(torch::Dtype dtype, std::int64_t batch, double position_tolerance,
                      double log_det_tolerance, std::uint64_t seed)
{
  for (const auto &v : variants()) {
    SCOPED_TRACE(v.name());
    auto flow = make_flow(v, dtype, seed);
    const auto u = torus_points(batch, kParticles, v.dimension, dtype, seed + 1);
    for (bool inverse : {false, true}) {
      const auto expected = reference_map(flow, u, inverse);
      const auto got = FlowKernel::run(*flow, u, inverse);
      EXPECT_LT(max_circular_distance(got.u, expected.u), position_tolerance)
          << "inverse " << inverse;
      EXPECT_LT((got.log_det - expected.log_det).abs().max().item<double>(), log_det_tolerance)
          << "inverse " << inverse;
      // Not a trivial agreement: the map moves the points and changes volume.
      EXPECT_GT(max_circular_distance(got.u, u), 0.05);
      EXPECT_GT(got.log_det.abs().max().item<double>(), 0.05);
    }
  }
}

TEST(FlowKernel, EqualsTensorOperationsInFloat64)
{
  expect_same_maps(torch::kFloat64, FlowKernel::kMaxBatch, 1e-10, 1e-10, 5);
}

TEST(FlowKernel, EqualsTensorOperationsInFloat32ToRounding)
{
  expect_same_maps(torch::kFloat32, 2, 2e-5, 2e-4, 7);
}

TEST(FlowKernel, RoundTripInFloat64)
{
  for (const auto &v : variants()) {
    SCOPED_TRACE(v.name());
    auto flow = make_flow(v, torch::kFloat64, 9);
    const auto u = torus_points(3, kParticles, v.dimension, torch::kFloat64, 10);
    const auto out = FlowKernel::run(*flow, u, false);
    const auto back = FlowKernel::run(*flow, out.u, true);
    EXPECT_LT(max_circular_distance(back.u, u), 1e-10);
    EXPECT_LT((out.log_det + back.log_det).abs().max().item<double>(), 1e-10);
  }
}

TEST(FlowKernel, FreshFlowIsTheIdentityBitForBit)
{
  for (auto dtype : {torch::kFloat32, torch::kFloat64})
    for (const auto &v : variants()) {
      SCOPED_TRACE(v.name() + " " + dtype_name(dtype));
      auto o = FlowOptions::preset("default", kParticles + 1, v.dimension);
      o.split = v.split;
      o.layers = v.layers;
      o.pair_frequencies = v.pair_frequencies;
      o.dtype = dtype;
      Flow flow(o);
      const auto u = torus_points(2, kParticles, v.dimension, dtype, 11);
      for (bool inverse : {false, true}) {
        const auto r = FlowKernel::run(*flow, u, inverse);
        EXPECT_TRUE(torch::equal(r.u, u));
        EXPECT_EQ(r.log_det.abs().max().item<double>(), 0.0);
      }
    }
}

TEST(FlowKernel, FlowTakesTheKernelOnlyWithoutGradientsForSmallBatches)
{
  const Variant v{CouplingSplit::particle, 3, 1, 1, 2};
  auto flow = make_flow(v, torch::kFloat32, 12);
  const auto small = torus_points(FlowKernel::kMaxBatch, kParticles, 2, torch::kFloat32, 13);
  const auto large = torus_points(FlowKernel::kMaxBatch + 1, kParticles, 2, torch::kFloat32, 14);
  {
    torch::InferenceMode inference;
    EXPECT_TRUE(FlowKernel::applies(*flow, small));
    EXPECT_FALSE(FlowKernel::applies(*flow, large));
    // float32 results of the two paths differ in the last bits, so equality names the path.
    const auto via_flow = flow->forward(small);
    EXPECT_TRUE(torch::equal(via_flow.u, FlowKernel::run(*flow, small, false).u));
    EXPECT_FALSE(torch::equal(via_flow.u, reference_map(flow, small, false).u));
    EXPECT_TRUE(torch::equal(flow->inverse(large).u, reference_map(flow, large, true).u));
    const bool previous = FlowKernel::enable(false);
    EXPECT_FALSE(FlowKernel::applies(*flow, small));
    FlowKernel::enable(previous);
  }
  // Training needs the graph: with gradients on, the flow never takes the kernel.
  EXPECT_FALSE(FlowKernel::applies(*flow, small));
  const auto trained = flow->forward(small);
  EXPECT_TRUE(trained.log_det.requires_grad());
}
