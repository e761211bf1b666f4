// Internal coordinates: wrapping, the box symmetry group, the reference-particle transform
// and its inverse.
#include "flow_test_helpers.h"
#include "flowmap_coordinates.h"

#include <gtest/gtest.h>

#include <vector>

using namespace flowmap;
using flowmap_test::max_periodic_distance;

TEST(Coordinates, WrapUnitRangeValuesAndGradient)
{
  const std::vector<double> in = {-1.0, 0.5, 1.0, 3.2, -3.2, 1.0 + 1e-7, -1.0 - 1e-7, 5.0, -2.0};
  const std::vector<double> expected = {-1.0, 0.5, -1.0, -0.8, 0.8, -1.0 + 1e-7, 1.0 - 1e-7,
                                        -1.0, 0.0};
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    const auto x = torch::tensor(in, torch::kFloat64).to(dtype).requires_grad_(true);
    const auto w = wrap_unit(x);
    const double tol = dtype == torch::kFloat32 ? 1e-6 : 1e-14;
    for (std::size_t i = 0; i < in.size(); ++i)
      EXPECT_NEAR(w[i].item<double>(), expected[i], tol) << "input " << in[i];
    EXPECT_GE(w.min().item<double>(), -1.0);
    EXPECT_LT(w.max().item<double>(), 1.0);
    w.sum().backward();
    EXPECT_TRUE(torch::equal(x.grad(), torch::ones_like(x)));
  }
  // just below -1 by less than an ulp of 2: must not come out as 1
  const auto tiny = wrap_unit(torch::tensor({-1.0 - 1e-17, std::nextafter(-1.0, -2.0)},
                                            torch::kFloat64));
  EXPECT_LT(tiny.max().item<double>(), 1.0);
  // values on the circle are untouched
  const auto inside = torch::rand({1000}, torch::kFloat32) * 2.0 - 1.0;
  EXPECT_TRUE(torch::equal(wrap_unit(inside), inside));
}

TEST(Coordinates, SymmetryGroupsAreClosedGroupsOfSignedPermutations)
{
  struct Case {
    std::int64_t d;
    bool cubic;
    std::int64_t size;
  };
  for (const auto &c : {Case{2, true, 8}, Case{3, true, 48}, Case{2, false, 4}, Case{3, false, 8}}) {
    const auto g = symmetry_group(c.d, c.cubic);
    ASSERT_EQ(g.size(0), c.size);
    ASSERT_EQ(g.size(1), c.d);
    const auto eye = torch::eye(c.d, torch::kFloat64);
    EXPECT_TRUE(torch::equal(g[0], eye));
    // orthogonal with one +-1 per row
    EXPECT_TRUE(torch::allclose(torch::matmul(g, g.transpose(1, 2)), eye.expand_as(g)));
    EXPECT_TRUE(torch::equal(g.abs().sum(2), torch::ones({c.size, c.d}, torch::kFloat64)));
    if (!c.cubic) EXPECT_TRUE(torch::equal(g.abs(), eye.expand_as(g)));
    // closed and without repetitions: every product is exactly one element
    const auto flat = g.reshape({c.size, -1});
    for (std::int64_t i = 0; i < c.size; ++i) {
      EXPECT_EQ((flat.unsqueeze(1) == flat.unsqueeze(0)).all(2).sum().item<std::int64_t>(),
                c.size);
      const auto products = torch::matmul(g[i].unsqueeze(0), g).reshape({c.size, -1});
      const auto matches = (products.unsqueeze(1) == flat.unsqueeze(0)).all(2).sum(1);
      EXPECT_TRUE(torch::equal(matches, torch::ones({c.size}, torch::kInt64))) << "element " << i;
    }
  }
}

TEST(Coordinates, HandComputedInternalCoordinates)
{
  // Box 10 x 8, reference particle 1 at (9, 1):
  //   particle 0 at (1, 1): (1 - 9, 0) = (-8, 0) -> wrapped (2, 0) -> (2/5, 0)
  //   particle 2 at (9, 5): (0, 4) -> 4 / 4 = 1 -> wrapped to -1
  const auto x = torch::tensor({1.0, 1.0, 9.0, 1.0, 9.0, 5.0}, torch::kFloat64).view({1, 3, 2});
  const auto box = torch::tensor({10.0, 8.0}, torch::kFloat64);
  const auto ref = torch::tensor({std::int64_t{1}});
  const auto c = to_internal(x, box, ref);
  const auto expected = torch::tensor({0.4, 0.0, 0.0, -1.0}, torch::kFloat64).view({1, 2, 2});
  EXPECT_TRUE(torch::allclose(c.u, expected, 0.0, 1e-15));
  EXPECT_TRUE(torch::equal(c.origin, torch::tensor({9.0, 1.0}, torch::kFloat64).view({1, 2})));
  // the reflection y -> -y of the relative coordinates
  const auto mirror = torch::tensor({1.0, 0.0, 0.0, -1.0}, torch::kFloat64).view({1, 2, 2});
  const auto m = to_internal(x, box, ref, mirror);
  EXPECT_TRUE(torch::allclose(m.u, torch::tensor({0.4, 0.0, 0.0, -1.0}, torch::kFloat64)
                                       .view({1, 2, 2}), 0.0, 1e-15));
}

TEST(Coordinates, AxisSwapSwapsComponents)
{
  torch::manual_seed(3);
  const auto box = torch::tensor({6.0, 6.0}, torch::kFloat64);
  const auto x = torch::rand({5, 7, 2}, torch::kFloat64) * 6.0;
  const auto ref = torch::randint(0, 7, {5}, torch::kInt64);
  const auto swap = torch::tensor({0.0, 1.0, 1.0, 0.0}, torch::kFloat64).view({1, 2, 2})
                        .expand({5, 2, 2});
  const auto a = to_internal(x, box, ref);
  const auto b = to_internal(x, box, ref, swap);
  EXPECT_TRUE(torch::allclose(b.u, a.u.flip(2), 0.0, 1e-14));
}

TEST(Coordinates, RoundTripWithRandomReferenceAndSymmetry)
{
  for (std::int64_t d : {2, 3}) {
    for (bool cubic : {true, false}) {
      torch::manual_seed(10 + d);
      const std::int64_t batch = 64, n = 9;
      const auto box = cubic ? torch::full({d}, 4.5, torch::kFloat64)
                             : torch::linspace(3.0, 5.0, d, torch::kFloat64);
      // positions in several periodic images
      const auto x = (torch::rand({batch, n, d}, torch::kFloat64) * 3.0 - 1.0) * box;
      const auto ref = torch::randint(0, n, {batch}, torch::kInt64);
      const auto group = symmetry_group(d, cubic);
      const auto sym = group.index_select(0, torch::randint(0, group.size(0), {batch}));
      const auto c = to_internal(x, box, ref, sym);
      ASSERT_EQ(c.u.size(1), n - 1);
      EXPECT_GE(c.u.min().item<double>(), -1.0);
      EXPECT_LT(c.u.max().item<double>(), 1.0);
      const auto back = to_cartesian(c, box, ref, sym);
      EXPECT_LT(max_periodic_distance(back, x, box), 1e-12);
      // the reference particle comes back exactly at its own position
      const auto idx = ref.view({batch, 1, 1}).expand({batch, 1, d});
      EXPECT_TRUE(torch::equal(back.gather(1, idx), x.gather(1, idx)));
    }
  }
}

TEST(Coordinates, PeriodicImagesGiveTheSameInternalCoordinates)
{
  torch::manual_seed(4);
  const auto box = torch::tensor({5.0, 7.0, 6.0}, torch::kFloat64);
  const auto x = torch::rand({16, 6, 3}, torch::kFloat64) * box;
  const auto images = torch::randint(-3, 4, {16, 6, 3}).to(torch::kFloat64) * box;
  const auto ref = torch::randint(0, 6, {16}, torch::kInt64);
  const auto a = to_internal(x, box, ref);
  const auto b = to_internal(x + images, box, ref);
  EXPECT_LT(flowmap_test::max_circular_distance(a.u, b.u), 1e-14);
}

TEST(Coordinates, BadInputsAreRejected)
{
  const auto x = torch::rand({2, 4, 2}, torch::kFloat64);
  const auto box = torch::tensor({1.0, 2.0}, torch::kFloat64);
  const auto ref = torch::zeros({2}, torch::kInt64);
  const auto swap = torch::tensor({0.0, 1.0, 1.0, 0.0}, torch::kFloat64).view({1, 2, 2})
                        .expand({2, 2, 2});
  EXPECT_THROW(to_internal(x, box, ref, swap), std::invalid_argument);    // box not square
  EXPECT_THROW(to_internal(x, box, torch::full({2}, 4, torch::kInt64)), std::invalid_argument);
  EXPECT_THROW(to_internal(x, torch::ones({3}, torch::kFloat64), ref), std::invalid_argument);
  EXPECT_THROW(to_internal(x, box, ref.to(torch::kInt32)), std::invalid_argument);
  EXPECT_THROW(symmetry_group(0, true), std::invalid_argument);
}
