// The caching CPU allocator reuses freed blocks and changes no result.
#include "flow_test_helpers.h"
#include "flowmap_flow.h"
#include "flowmap_tensor_cache.h"

#include <gtest/gtest.h>

using namespace flowmap;

TEST(TensorCache, ReusesBlocksAndKeepsResultsBitIdentical)
{
  auto o = FlowOptions::preset("small", 16, 2);
  Flow flow(o);
  flowmap_test::randomize_flow(flow, 0.1, 1);
  const auto u = flowmap_test::torus_points(64, 15, 2, torch::kFloat32, 2);
  auto run = [&]() {
    const auto r = flow->forward(u);
    (r.u.sum() + r.log_det.sum()).backward();
    std::vector<torch::Tensor> out = {r.u.detach().clone(), r.log_det.detach().clone()};
    for (auto &p : flow->parameters()) {
      out.push_back(p.grad().clone());
      p.mutable_grad() = torch::Tensor();
    }
    return out;
  };
  const auto before = run();
  ASSERT_FALSE(tensor_cache_enabled());
  enable_tensor_cache();
  EXPECT_TRUE(tensor_cache_enabled());
  run();    // fills the cache
  const auto warm = tensor_cache_stats();
  const auto after = run();
  const auto stats = tensor_cache_stats();
  ASSERT_EQ(before.size(), after.size());
  for (std::size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(torch::equal(before[i], after[i])) << i;
  // the second pass allocates the same sizes again: (nearly) all from the cache
  const auto hits = stats.hits - warm.hits, misses = stats.misses - warm.misses;
  EXPECT_GT(hits, 100u);
  EXPECT_LT(misses * 20, hits);
  EXPECT_GT(stats.cached_bytes, 0u);
  release_tensor_cache();
  EXPECT_EQ(tensor_cache_stats().cached_bytes, 0u);
}

TEST(TensorCache, LimitSendsBlocksBackToTheSystem)
{
  enable_tensor_cache(0);
  release_tensor_cache();
  { const auto t = torch::empty({1 << 20}); }
  EXPECT_EQ(tensor_cache_stats().cached_bytes, 0u);
  enable_tensor_cache(std::size_t{1} << 30);
  { const auto t = torch::empty({1 << 20}); }
  EXPECT_GE(tensor_cache_stats().cached_bytes, std::size_t{4} << 20);
}
