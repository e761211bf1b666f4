// The Cartesian model between a source and a target box: the identity baseline, exact
// full Jacobian including reference translation and box scaling, invertibility, periodicity
// and permutation equivariance, and gradients reaching the parameters.
#include "flow_test_helpers.h"
#include "flowmap_coordinates.h"
#include "flowmap_model.h"
#include "flowmap_weights.h"

#include <gtest/gtest.h>

#include <vector>

using namespace flowmap;
using flowmap_test::max_periodic_distance;
using flowmap_test::randomize_flow;

namespace {

FlowModel make_model(const std::string &preset, std::int64_t n, std::int64_t d,
                     torch::Dtype dtype, std::vector<double> source, std::vector<double> target)
{
  auto o = FlowOptions::preset(preset, n, d);
  o.dtype = dtype;
  ModelMetadata m;
  m.source_box = std::move(source);
  m.target_box = std::move(target);
  return FlowModel(o, m);
}

struct Batch {
  torch::Tensor x, reference, symmetry;
};

Batch random_batch(std::int64_t batch, std::int64_t n, const std::vector<double> &box,
                   std::uint64_t seed)
{
  torch::manual_seed(seed);
  const auto d = static_cast<std::int64_t>(box.size());
  const auto l = torch::tensor(box, torch::kFloat64);
  Batch b;
  b.x = torch::rand({batch, n, d}, torch::kFloat64) * l;
  b.reference = torch::randint(0, n, {batch}, torch::kInt64);
  const auto group = symmetry_group(d, true);
  b.symmetry = group.index_select(0, torch::randint(0, group.size(0), {batch}));
  return b;
}

}    // namespace

TEST(Model, FreshModelIsTheScalingBaseline)
{
  // Identity flow: x_B = x_A L_B / L_A modulo box B, log det = N sum log(L_B / L_A).
  const std::vector<double> a = {6.0, 6.0}, b = {6.6, 6.6};
  auto model = make_model("default", 16, 2, torch::kFloat32, a, b);
  const auto in = random_batch(32, 16, a, 1);
  torch::NoGradGuard no_grad;
  const auto out = model.forward(in.x, in.reference, in.symmetry);
  const auto box_b = torch::tensor(b, torch::kFloat64);
  EXPECT_LT(max_periodic_distance(out.positions, in.x * 1.1, box_b), 1e-12);
  EXPECT_EQ(out.positions.scalar_type(), torch::kFloat64);
  EXPECT_EQ(out.log_det.scalar_type(), torch::kFloat64);
  const double expected = 16 * 2 * std::log(1.1);
  EXPECT_LT((out.log_det - expected).abs().max().item<double>(), 1e-12);
}

TEST(Model, LogDetIsTheFullCartesianJacobian)
{
  // All N d coordinates, the reference particle included, between boxes of different size;
  // autograd through wrapping, symmetry and the reference re-insertion.
  for (std::int64_t d : {2, 3}) {
    const std::vector<double> a(d, 3.0), b(d, 3.5);
    auto model = make_model("small", 4, d, torch::kFloat64, a, b);
    randomize_flow(model.flow(), 0.3, 2);
    const auto in = random_batch(3, 4, a, 3);
    for (bool inverse : {false, true}) {
      auto x = in.x.clone().requires_grad_(true);
      const auto out = inverse ? model.inverse(x, in.reference, in.symmetry)
                               : model.forward(x, in.reference, in.symmetry);
      const auto flat = out.positions.reshape({3, -1});
      std::vector<torch::Tensor> rows;
      for (std::int64_t i = 0; i < flat.size(1); ++i)
        rows.push_back(
            torch::autograd::grad({flat.select(1, i).sum()}, {x}, {}, true)[0].reshape({3, -1}));
      const auto slogdet = torch::linalg::slogdet(torch::stack(rows, 1));
      EXPECT_LT((std::get<1>(slogdet) - out.log_det).abs().max().item<double>(), 1e-8)
          << "d " << d << " inverse " << inverse;
      // the scaling part alone would be +-4 d log(3.5 / 3): the flow contributes
      const double scaling = (inverse ? -1 : 1) * scaling_log_det(4, a, b);
      EXPECT_GT((out.log_det - scaling).abs().max().item<double>(), 0.1);
    }
  }
}

TEST(Model, InverseUndoesForwardInCartesianCoordinates)
{
  struct Case {
    torch::Dtype dtype;
    double tol;    // in units of the box
  };
  const std::vector<double> a = {5.0, 5.0}, b = {5.4, 5.4};
  for (const auto &c : {Case{torch::kFloat32, 1e-5}, Case{torch::kFloat64, 1e-10}}) {
    auto model = make_model("default", 32, 2, c.dtype, a, b);
    randomize_flow(model.flow(), 0.1, 4);
    const auto in = random_batch(64, 32, a, 5);
    torch::NoGradGuard no_grad;
    const auto out = model.forward(in.x, in.reference, in.symmetry);
    const auto back = model.inverse(out.positions, in.reference, in.symmetry);
    const auto box_a = torch::tensor(a, torch::kFloat64);
    EXPECT_LT(max_periodic_distance(back.positions, in.x, box_a), c.tol * a[0]);
    EXPECT_LT((out.log_det + back.log_det).abs().max().item<double>(), 1e3 * c.tol);
    EXPECT_GT(max_periodic_distance(out.positions, in.x * 1.08, torch::tensor(b)), 0.3);
  }
}

TEST(Model, PeriodicImagesAndParticleOrderDoNotMatter)
{
  const std::vector<double> a = {4.0, 4.0, 4.0}, b = {4.2, 4.2, 4.2};
  auto model = make_model("small", 10, 3, torch::kFloat64, a, b);
  randomize_flow(model.flow(), 0.1, 6);
  const auto in = random_batch(8, 10, a, 7);
  const auto box_a = torch::tensor(a, torch::kFloat64), box_b = torch::tensor(b, torch::kFloat64);
  torch::NoGradGuard no_grad;
  const auto out = model.forward(in.x, in.reference, in.symmetry);
  // every particle, the reference included, moved by whole box lengths
  const auto images = torch::randint(-2, 3, in.x.sizes()).to(torch::kFloat64) * box_a;
  const auto moved = model.forward(in.x + images, in.reference, in.symmetry);
  EXPECT_LT(max_periodic_distance(moved.positions, out.positions, box_b), 1e-11);
  EXPECT_LT((moved.log_det - out.log_det).abs().max().item<double>(), 1e-10);
  // relabel the particles; the reference keeps its identity under its new index
  const auto perm = torch::randperm(10, torch::kInt64);
  const auto inverse_perm = torch::argsort(perm);
  const auto permuted = model.forward(in.x.index_select(1, perm),
                                      inverse_perm.index_select(0, in.reference), in.symmetry);
  EXPECT_LT(max_periodic_distance(permuted.positions, out.positions.index_select(1, perm), box_b),
            1e-11);
  EXPECT_LT((permuted.log_det - out.log_det).abs().max().item<double>(), 1e-10);
}

TEST(Model, GradientsReachEveryParameterFromTheIdentity)
{
  const std::vector<double> a = {5.0, 5.0}, b = {5.0, 5.0};
  auto model = make_model("tiny", 8, 2, torch::kFloat32, a, b);
  const auto in = random_batch(16, 8, a, 8);
  const auto out = model.forward(in.x, in.reference, in.symmetry);
  const auto back = model.inverse(in.x, in.reference);
  // a loss that depends on positions and log-determinants of both directions
  ((out.positions.sin().sum() + out.log_det.sum()) + back.log_det.square().sum()).backward();
  for (const auto &item : model.flow()->named_parameters()) {
    // at the identity only the heads and shifts see a gradient (the head blocks the rest)
    const bool first_order = item.key().find("head") != std::string::npos ||
                             item.key().find("shift") != std::string::npos;
    if (!first_order) continue;
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    EXPECT_GT(item.value().grad().abs().max().item<double>(), 0.0) << item.key();
  }
}

TEST(Model, BadInputsAreRejected)
{
  EXPECT_THROW(make_model("tiny", 8, 2, torch::kFloat32, {5.0}, {5.0, 5.0}), std::invalid_argument);
  EXPECT_THROW(make_model("tiny", 8, 2, torch::kFloat32, {5.0, -1.0}, {5.0, 5.0}),
               std::invalid_argument);
  auto model = make_model("tiny", 8, 2, torch::kFloat32, {5.0, 5.0}, {5.0, 5.0});
  EXPECT_THROW(model.forward(torch::zeros({2, 7, 2}, torch::kFloat64), torch::zeros({2}, torch::kInt64)),
               std::invalid_argument);
}
