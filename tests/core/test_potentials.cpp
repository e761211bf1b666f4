// The trained flows shipped in potentials/ load with this build, are for the systems their
// names say (N, dimension, boxes, temperatures of doc/method.md section 7), and map a
// configuration invertibly with a finite log-determinant. They predate recorded species: they
// load type-blind, and a flow built for one recorded type from the same parameters maps
// bit for bit as they do.
#include "flowmap_model_file.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>

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
