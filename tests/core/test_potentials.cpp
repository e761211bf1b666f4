// The trained flows shipped in potentials/ load with this build, are for the systems their
// names say (N, dimension, boxes, temperatures of doc/method.md section 7), and are exact:
// at typical configurations of their two states the log-determinant is the Jacobian's and
// float32 agrees with float64, every spline goes once around the circle, and the map carries
// the uniform measure of the torus onto itself. A constant offset in log|det J| or a map
// that misses or doubly covers part of the configuration space would leave RESS unchanged
// and shift every free energy (doc/design.md section 9).
// They predate recorded species: they load type-blind, and a flow built for one recorded type
// from the same parameters maps bit for bit as they do.
#include "flow_test_helpers.h"
#include "flowmap_coordinates.h"
#include "flowmap_model_file.h"
#include "flowmap_spline.h"
#include "lennard_jones_disks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

namespace {

struct System {
  const char *name;
  double rho_a, t_a, rho_b, t_b;
};

const System kSystems[] = {{"I", 0.735, 2.0, 0.735, 1.0},
                           {"II", 0.735, 1.0, 0.735, 0.5},
                           {"III", 0.735, 1.0, 0.704, 0.608}};

std::string path_of(const System &s)
{
  return std::string(FLOWMAP_SOURCE_DIR) + "/potentials/wca2lj_" + s.name + ".flow";
}

// count configurations [count, 32, 2] of 32 disks at density rho and temperature t (WCA or
// LJ cutoff), Metropolis from the lattice, 20 sweeps apart after melting.
torch::Tensor typical_frames(double rho, double t, double cutoff, int count, std::uint64_t seed)
{
  const double length = std::sqrt(32 / rho);
  const flowmap_test::CutShiftedLennardJones model(32, 2, cutoff);
  flowmap_test::Metropolis chain(model, {length, length}, t, seed);
  chain.equilibrate(8);
  std::vector<torch::Tensor> frames;
  for (int i = 0; i < count; ++i) {
    chain.sweep(20);
    frames.push_back(torch::tensor(chain.positions(), torch::kFloat64).view({32, 2}));
  }
  return torch::stack(frames);
}

// The same flow with float64 parameters: the map the float32 network rounds.
flowmap::FlowModel in_float64(flowmap::FlowModel &model)
{
  auto options = model.options();
  options.dtype = torch::kFloat64;
  flowmap::FlowModel copy(options, model.metadata());
  torch::NoGradGuard no_grad;
  auto parameters = model.flow()->named_parameters();
  for (auto &p : copy.flow()->named_parameters()) p.value().copy_(parameters[p.key()]);
  auto buffers = model.flow()->named_buffers();
  for (auto &b : copy.flow()->named_buffers()) b.value().copy_(buffers[b.key()]);
  return copy;
}

double max_periodic_difference(const torch::Tensor &a, const torch::Tensor &b, double length)
{
  return (torch::remainder(a - b + length / 2, length) - length / 2).abs().max().item<double>();
}

}    // namespace

TEST(ShippedFlows, LoadForTheirSystemAndMapInvertibly)
{
  for (const auto &s : kSystems) {
    SCOPED_TRACE(std::string("system ") + s.name);
    ASSERT_TRUE(std::ifstream(path_of(s)).good()) << path_of(s) << " is missing";
    auto model = flowmap::load_model(path_of(s));
    const double la = std::sqrt(32 / s.rho_a), lb = std::sqrt(32 / s.rho_b);
    EXPECT_NO_THROW(flowmap::check_model_matches(model, 32, 2, {la, la}, {lb, lb}));
    EXPECT_DOUBLE_EQ(model.metadata().source_temperature, s.t_a);
    EXPECT_DOUBLE_EQ(model.metadata().target_temperature, s.t_b);
    EXPECT_GT(model.metadata().training_steps, 0);

    torch::NoGradGuard no_grad;
    torch::manual_seed(1);
    const auto x = torch::rand({4, 32, 2}, torch::kFloat64) * la;
    const auto reference = torch::zeros({4}, torch::kInt64);
    const auto forward = model.forward(x, reference);
    const auto back = model.inverse(forward.positions, reference);
    EXPECT_TRUE(torch::isfinite(forward.log_det).all().item<bool>());
    EXPECT_LT((back.log_det + forward.log_det).abs().max().item<double>(), 1e-3);
    const auto diff = torch::remainder(back.positions - x + la / 2, la) - la / 2;
    EXPECT_LT(diff.abs().max().item<double>(), 1e-4);
    EXPECT_GT((forward.positions - x * (lb / la)).abs().max().item<double>(), 1e-4)
        << "a trained flow is not the identity";
  }
}

TEST(ShippedFlows, LogDetIsTheJacobianAtTypicalConfigurationsInBothPrecisions)
{
  for (const auto &s : kSystems) {
    SCOPED_TRACE(std::string("system ") + s.name);
    auto model = flowmap::load_model(path_of(s));
    auto exact = in_float64(model);
    const double la = std::sqrt(32 / s.rho_a), lb = std::sqrt(32 / s.rho_b);
    const auto source = typical_frames(s.rho_a, s.t_a, flowmap_test::kWcaCutoff, 8, 1);
    const auto target = typical_frames(s.rho_b, s.t_b, flowmap_test::kLjCutoff, 8, 2);
    const auto reference = torch::zeros({8}, torch::kInt64);
    for (bool inverse : {false, true}) {
      SCOPED_TRACE(inverse ? "B -> A" : "A -> B");
      const auto &frames = inverse ? target : source;
      const double l_to = inverse ? la : lb;
      // autograd Jacobian of the float64 map on all 64 Cartesian coordinates of one frame:
      // 64 copies of it in one batch, copy i differentiating output coordinate i
      auto x = frames.narrow(0, 0, 1).expand({64, 32, 2}).clone().requires_grad_(true);
      const auto out = inverse ? exact.inverse(x, torch::zeros({64}, torch::kInt64))
                               : exact.forward(x, torch::zeros({64}, torch::kInt64));
      const auto picked = out.positions.reshape({64, 64}).diagonal().sum();
      const auto jacobian = torch::autograd::grad({picked}, {x})[0].reshape({64, 64});
      const auto slogdet = torch::linalg::slogdet(jacobian);
      EXPECT_GT(std::get<0>(slogdet).item<double>(), 0.0);
      // measured 4e-15 (log|det J| about 5 in system I)
      EXPECT_LT(std::abs(std::get<1>(slogdet).item<double>() - out.log_det[0].item<double>()),
                1e-9);

      // the shipped float32 network against float64, and back (measured on 5000 Metropolis
      // frames of system I each way: log-det 2.2e-5 at most and 1e-7 in the mean, positions
      // 3.5e-6, round trip 1.4e-5 in log-det)
      torch::NoGradGuard no_grad;
      const auto f32 =
          inverse ? model.inverse(frames, reference) : model.forward(frames, reference);
      const auto f64 =
          inverse ? exact.inverse(frames, reference) : exact.forward(frames, reference);
      EXPECT_LT((f32.log_det - f64.log_det).abs().max().item<double>(), 1e-4);
      EXPECT_LT(max_periodic_difference(f32.positions, f64.positions, l_to), 1e-5 * l_to);
      const auto back = inverse ? model.forward(f32.positions, reference)
                                : model.inverse(f32.positions, reference);
      EXPECT_LT(max_periodic_difference(back.positions, frames, inverse ? lb : la),
                1e-5 * l_to);
      EXPECT_LT((back.log_det + f32.log_det).abs().max().item<double>(), 1e-4);
      const auto back64 = inverse ? exact.forward(f64.positions, reference)
                                  : exact.inverse(f64.positions, reference);
      EXPECT_LT((back64.log_det + f64.log_det).abs().max().item<double>(), 1e-11);
    }
  }
}

TEST(ShippedFlows, EverySplineGoesOnceAroundTheCircle)
{
  // At the coordinates typical source frames reach in each coupling, each moved particle's
  // spline (the conditioner's parameters for it) is increasing, its image travels exactly
  // once around the circle, and the integral of its derivative over the circle is 2: the
  // coupling is a bijection of the torus with the log-determinant it reports.
  const int grid = 1000;
  const auto x = (torch::arange(grid, torch::kFloat64) + 0.5) * (2.0 / grid) - 1.0;
  for (const auto &s : kSystems) {
    SCOPED_TRACE(std::string("system ") + s.name);
    auto loaded = flowmap::load_model(path_of(s));
    auto model = in_float64(loaded);
    ASSERT_EQ(model.options().split, flowmap::CouplingSplit::particle);
    torch::NoGradGuard no_grad;
    const auto frames = typical_frames(s.rho_a, s.t_a, flowmap_test::kWcaCutoff, 2, 3);
    const auto box = torch::tensor(model.metadata().source_box, torch::kFloat64);
    const auto u0 = flowmap::to_internal(frames, box, torch::zeros({2}, torch::kInt64)).u;
    auto u = u0;
    int couplings = 0;
    // The flow's steps in order (registration order); checked below against Flow::forward.
    for (auto &child : model.flow()->named_children()) {
      if (auto *shift = child.value()->as<flowmap::ShiftImpl>()) {
        u = shift->forward(u);
        continue;
      }
      auto *coupling = child.value()->as<flowmap::CouplingImpl>();
      ASSERT_NE(coupling, nullptr) << child.key();
      auto buffers = coupling->named_buffers();
      const auto raw = coupling->conditioner()->forward(u, buffers["hidden"], buffers["flag"],
                                                         coupling->transformed());
      const auto rows = raw.reshape({-1, raw.size(-1)});
      const auto m = rows.size(0);
      const flowmap::CircularSpline spline(
          rows.unsqueeze(1).expand({m, grid, rows.size(1)}).reshape({-1, rows.size(1)}),
          model.options().bins, model.options().min_bin_size, model.options().min_derivative);
      const auto mapped = spline.forward(x.repeat({m}));
      const auto y = mapped.y.view({m, grid});
      const auto steps = flowmap::wrap_unit(y.narrow(1, 1, grid - 1) - y.narrow(1, 0, grid - 1));
      const auto travel =
          steps.sum(1) + flowmap::wrap_unit(y.select(1, 0) - y.select(1, grid - 1));
      EXPECT_TRUE((steps > 0.0).all().item<bool>()) << child.key();
      EXPECT_LT((travel - 2.0).abs().max().item<double>(), 1e-12) << child.key();
      // midpoint rule on a smooth periodic integrand: measured 3e-6 at 1000 points
      const auto integral = mapped.log_derivative.view({m, grid}).exp().sum(1) * (2.0 / grid);
      EXPECT_LT((integral - 2.0).abs().max().item<double>(), 1e-4) << child.key();
      u = coupling->forward(u).u;
      ++couplings;
    }
    EXPECT_EQ(couplings, 16);
    EXPECT_LT(flowmap_test::max_circular_distance(u, model.flow()->forward(u0).u), 1e-12)
        << "the steps walked here are not the flow's";
  }
}

TEST(ShippedFlows, CarryTheUniformMeasureOfTheTorusOntoItself)
{
  // Change of variables: for a bijection F of the torus with Jacobian J, E_{u uniform}[J(u)]
  // = 1 exactly, and so for F^-1. A constant offset c in log J, or a map covering part of the
  // torus twice or not at all, moves log E[J] away from 0 (by c, or by log 2 for a part
  // covered twice). Monte Carlo over 2000 uniform points per direction.
  for (const auto &s : kSystems) {
    SCOPED_TRACE(std::string("system ") + s.name);
    auto model = flowmap::load_model(path_of(s));
    torch::NoGradGuard no_grad;
    for (bool inverse : {false, true}) {
      torch::manual_seed(inverse ? 8 : 7);
      std::vector<torch::Tensor> log_det;
      for (int chunk = 0; chunk < 8; ++chunk) {
        const auto u = torch::rand({250, 31, 2}, torch::kFloat64) * 2.0 - 1.0;
        log_det.push_back(inverse ? model.flow()->inverse(u).log_det
                                  : model.flow()->forward(u).log_det);
      }
      const auto j = torch::cat(log_det).to(torch::kFloat64).exp();
      const double mean = j.mean().item<double>();
      const double error = j.std().item<double>() / std::sqrt(2000.0) / mean;
      // measured: log E[J] -0.004 and 0.003 with errors 0.011 (system I, 1e4 points)
      EXPECT_LT(error, 0.05) << "too few points to bound anything";
      EXPECT_LT(std::abs(std::log(mean)), 4.0 * error)
          << (inverse ? "F^-1" : "F") << ": log E[J] " << std::log(mean) << " +- " << error;
    }
  }
}

TEST(ShippedFlows, AreTypeBlindAndMapAsAOneTypeFlowWithTheirParameters)
{
  for (const auto &s : kSystems) {
    SCOPED_TRACE(std::string("system ") + s.name);
    auto old = flowmap::load_model(path_of(s));
    EXPECT_FALSE(old.species().recorded());
    EXPECT_NO_THROW(flowmap::check_model_species(
        old, flowmap::Species(std::vector<std::int64_t>(32, 1))));
    // What fix flowmap builds today for a one-type system of 32 atoms, with the file's sizes.
    flowmap::FlowModel typed(old.options(), old.metadata(),
                             flowmap::Species(std::vector<std::int64_t>(32, 1)));
    const auto stored = old.flow()->named_parameters();
    const auto fresh = typed.flow()->named_parameters();
    ASSERT_EQ(fresh.size(), stored.size());
    {
      torch::NoGradGuard no_grad;
      for (auto &item : fresh) {
        ASSERT_TRUE(stored.contains(item.key())) << item.key();
        item.value().copy_(stored[item.key()]);
      }
    }
    torch::NoGradGuard no_grad;
    torch::manual_seed(3);
    const double la = std::sqrt(32 / s.rho_a);
    const auto x = torch::rand({8, 32, 2}, torch::kFloat64) * la;
    const auto reference = torch::randint(0, 32, {8}, torch::kInt64);
    for (bool inverse : {false, true}) {
      const auto a = inverse ? old.inverse(x, reference) : old.forward(x, reference);
      const auto b = inverse ? typed.inverse(x, reference) : typed.forward(x, reference);
      EXPECT_TRUE(torch::equal(a.positions, b.positions)) << "inverse " << inverse;
      EXPECT_TRUE(torch::equal(a.log_det, b.log_det)) << "inverse " << inverse;
    }
  }
}
