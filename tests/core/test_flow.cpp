// The flow on the torus: identity at initialisation, invertibility, exact log-determinant,
// permutation equivariance and periodicity, on flows with randomised parameters, for both
// coupling splits; what each particle-split coupling may and may not depend on.
#include "flow_test_helpers.h"
#include "flowmap_flow.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

using namespace flowmap;
using flowmap_test::max_circular_distance;
using flowmap_test::randomize_flow;
using flowmap_test::torus_points;

namespace {

FlowOptions options(const std::string &preset, std::int64_t n, std::int64_t d, torch::Dtype dtype,
                    CouplingSplit split = CouplingSplit::component,
                    std::int64_t pair_frequencies = 0)
{
  auto o = FlowOptions::preset(preset, n, d);
  o.dtype = dtype;
  o.split = split;
  o.pair_frequencies = pair_frequencies;
  return o;
}

// Without and with the attention's pair bias (two frequencies: the narrowing of the features
// is then not the trivial first column).
const std::int64_t kPairFrequencies[] = {0, 2};

const CouplingSplit kSplits[] = {CouplingSplit::component, CouplingSplit::particle};

// Full Jacobian of u -> flow(u) for each configuration, by one backward pass per output
// coordinate (configurations are independent, so summing over the batch is exact). [B, D, D]
torch::Tensor autograd_jacobian(Flow &flow, const torch::Tensor &u, bool inverse)
{
  auto in = u.clone().requires_grad_(true);
  const auto out = (inverse ? flow->inverse(in) : flow->forward(in)).u.reshape({u.size(0), -1});
  std::vector<torch::Tensor> rows;
  for (std::int64_t i = 0; i < out.size(1); ++i) {
    auto g = torch::autograd::grad({out.select(1, i).sum()}, {in}, {}, true)[0];
    rows.push_back(g.reshape({u.size(0), -1}));
  }
  return torch::stack(rows, 1);
}

}    // namespace

TEST(Flow, IdentityAtInitialisation)
{
  for (const auto &preset : {"default", "published"})
    for (const auto split : kSplits)
    for (const auto pf : kPairFrequencies) {
      torch::manual_seed(1);
      Flow flow(options(preset, 32, 2, torch::kFloat32, split, pf));
      const auto u = torus_points(64, 31, 2, torch::kFloat32, 2);
      torch::NoGradGuard no_grad;
      for (bool inverse : {false, true}) {
        const auto r = inverse ? flow->inverse(u) : flow->forward(u);
        EXPECT_LT(max_circular_distance(r.u, u), 1e-6) << preset << " " << split_name(split);
        EXPECT_LT(r.log_det.abs().max().item<double>(), 1e-6) << preset;
      }
    }
}

TEST(Flow, InverseUndoesForwardOnRandomisedFlows)
{
  struct Case {
    std::int64_t d;
    torch::Dtype dtype;
    double tol;
  };
  for (const auto split : kSplits)
  for (const auto pf : kPairFrequencies)
  for (const auto &c : {Case{2, torch::kFloat32, 1e-5}, Case{2, torch::kFloat64, 1e-10},
                        Case{3, torch::kFloat32, 1e-5}, Case{3, torch::kFloat64, 1e-10}}) {
    // Raw spline parameters of scale 0.1 already move particles by up to a half box and
    // give log-determinants of +-10; larger random scales make maps so ill-conditioned
    // (log-det -100) that float32 round trips lose digits as rounding / slope.
    Flow flow(options("default", 16, c.d, c.dtype, split, pf));
    randomize_flow(flow, 0.1, 3);
    const auto u = torus_points(128, 15, c.d, c.dtype, 4);
    torch::NoGradGuard no_grad;
    const auto f = flow->forward(u);
    const auto back = flow->inverse(f.u);
    EXPECT_LT(max_circular_distance(back.u, u), c.tol)
        << "d " << c.d << " " << c.dtype << " " << split_name(split) << " pair " << pf;
    const auto g = flow->inverse(u);
    EXPECT_LT(max_circular_distance(flow->forward(g.u).u, u), c.tol);
    EXPECT_LT((f.log_det + back.log_det).abs().max().item<double>(), 1e3 * c.tol);
    EXPECT_GT(max_circular_distance(f.u, u), 0.3);    // far from the identity
    EXPECT_GT(f.log_det.abs().max().item<double>(), 1.0);
    EXPECT_TRUE(torch::isfinite(f.log_det).all().item<bool>());
  }
}

TEST(Flow, LogDetEqualsAutogradJacobian)
{
  for (const auto split : kSplits)
  for (const auto pf : kPairFrequencies)
  for (std::int64_t d : {2, 3}) {
    Flow flow(options("small", 4, d, torch::kFloat64, split, pf));
    randomize_flow(flow, 0.5, 5 + d);
    const auto u = torus_points(6, 3, d, torch::kFloat64, 6);
    for (bool inverse : {false, true}) {
      const auto jac = autograd_jacobian(flow, u, inverse);
      const auto slogdet = torch::linalg::slogdet(jac);
      const auto reported = (inverse ? flow->inverse(u) : flow->forward(u)).log_det;
      EXPECT_TRUE(torch::equal(std::get<0>(slogdet), torch::ones({6}, torch::kFloat64)));
      // 3e-8, relative beyond |log det| = 10: slogdet of a Jacobian with log det -20 loses
      // digits to its condition number (perturbing the d = 3 Jacobians by 1e-16 relative
      // moves their slogdet by up to 1e-7; the pair-biased component split at log det -23
      // lands 4e-7 off). A coordinate leaking into its own conditioner is off by O(1).
      const auto tolerance = 3e-8 * torch::clamp_min(reported.abs(), 10.0);
      EXPECT_TRUE(((std::get<1>(slogdet) - reported).abs() < tolerance).all().item<bool>())
          << std::get<1>(slogdet) - reported << reported << "d " << d << " inverse " << inverse << " " << split_name(split) << " pair " << pf;
      EXPECT_GT(reported.abs().max().item<double>(), 0.1);
    }
  }
}

TEST(Flow, PermutingParticlesPermutesTheOutput)
{
  for (const auto pf : kPairFrequencies)
  for (std::int64_t d : {2, 3}) {
    Flow flow(options("small", 12, d, torch::kFloat64, CouplingSplit::component, pf));
    randomize_flow(flow, 0.1, 7);
    const auto u = torus_points(8, 11, d, torch::kFloat64, 8);
    const auto perm = torch::randperm(11, torch::kInt64);
    torch::NoGradGuard no_grad;
    for (bool inverse : {false, true}) {
      const auto a = inverse ? flow->inverse(u) : flow->forward(u);
      const auto b = inverse ? flow->inverse(u.index_select(1, perm))
                             : flow->forward(u.index_select(1, perm));
      // the particle order changes summation orders in attention: rounding only
      EXPECT_LT(max_circular_distance(b.u, a.u.index_select(1, perm)), 1e-12);
      EXPECT_LT((a.log_det - b.log_det).abs().max().item<double>(), 1e-10);
      EXPECT_GT(max_circular_distance(a.u, u), 0.1);
    }
  }
}

TEST(Flow, ShiftingByAPeriodChangesNothing)
{
  Flow flow(options("small", 10, 2, torch::kFloat64));
  randomize_flow(flow, 0.1, 9);
  const auto u = torus_points(16, 9, 2, torch::kFloat64, 10);
  const auto periods = torch::randint(-2, 3, {16, 9, 2}).to(torch::kFloat64) * 2.0;
  torch::NoGradGuard no_grad;
  const auto a = flow->forward(u);
  const auto b = flow->forward(u + periods);
  EXPECT_LT(max_circular_distance(a.u, b.u), 1e-12);
  EXPECT_LT((a.log_det - b.log_det).abs().max().item<double>(), 1e-11);
}

TEST(ParticleSplit, CouplingsComeInComplementaryPairsWithTheirOwnPartitions)
{
  for (std::int64_t d : {2, 3}) {
    const auto o = options("small", 32, d, torch::kFloat32, CouplingSplit::particle);
    Flow flow(o), again(o);
    const auto &couplings = flow->couplings();
    ASSERT_EQ(static_cast<std::int64_t>(couplings.size()), o.blocks * o.couplings_per_block());
    ASSERT_EQ(o.couplings_per_block(), 4 * d);
    std::set<std::vector<std::int64_t>> partitions;
    for (std::size_t k = 0; k < couplings.size(); k += 2) {
      const auto a = couplings[k]->transformed(), b = couplings[k + 1]->transformed();
      EXPECT_EQ(couplings[k]->component(), couplings[k + 1]->component());
      EXPECT_EQ(a.numel(), 15);
      EXPECT_EQ(b.numel(), 16);
      EXPECT_TRUE(torch::equal(std::get<0>(torch::sort(torch::cat({a, b}))),
                               torch::arange(31, torch::kInt64)));
      // the architecture is rebuilt identically, as loading a model file needs
      EXPECT_TRUE(torch::equal(a, again->couplings()[k]->transformed()));
      partitions.insert(std::vector<std::int64_t>(a.data_ptr<std::int64_t>(),
                                                  a.data_ptr<std::int64_t>() + a.numel()));
    }
    EXPECT_EQ(partitions.size(), couplings.size() / 2) << "d " << d;
  }
}

TEST(ParticleSplit, CouplingMovesOnlyItsParticlesAndSeesTheirNeighbours)
{
  for (const auto pf : kPairFrequencies) {
  const auto o = options("small", 7, 2, torch::kFloat64, CouplingSplit::particle, pf);
  const std::vector<std::int64_t> moved{1, 4};
  const std::int64_t c = 0;
  Coupling particle(c, o, moved), component(c, o);
  for (auto *coupling : {&particle, &component}) {
    (*coupling)->to(torch::kFloat64);
    torch::manual_seed(11);
    torch::NoGradGuard no_grad;
    for (auto &p : (*coupling)->parameters()) p.normal_(0.0, 0.3);
  }
  const auto u = torus_points(4, 6, 2, torch::kFloat64, 12).clone();
  auto jacobian = [&](Coupling &coupling) {
    auto in = u.clone().requires_grad_(true);
    const auto out = coupling->forward(in).u;
    std::vector<torch::Tensor> rows;
    for (std::int64_t i = 0; i < 6; ++i)
      for (std::int64_t k = 0; k < 2; ++k)
        rows.push_back(torch::autograd::grad({out.select(1, i).select(1, k).sum()}, {in}, {},
                                             true)[0]);
    return torch::stack(rows, 1).view({4, 6, 2, 6, 2});    // [B, out i, k, in j, l]
  };
  const auto jp = jacobian(particle), jc = jacobian(component);
  for (std::int64_t i = 0; i < 6; ++i) {
    const bool is_moved = std::find(moved.begin(), moved.end(), i) != moved.end();
    for (std::int64_t j = 0; j < 6; ++j) {
      const auto along_c = jp.select(1, i).select(1, c).select(1, j).select(1, c).abs();
      if (i == j) {
        EXPECT_TRUE((along_c > 0.0).all().item<bool>()) << i;
      } else if (is_moved && std::find(moved.begin(), moved.end(), j) == moved.end()) {
        // the spline of a moved particle depends on where the fixed ones are along c ...
        EXPECT_GT(along_c.max().item<double>(), 1e-3) << i << " " << j;
      } else {
        // ... but not on the other moved ones (a diagonal Jacobian), and fixed ones stay
        EXPECT_EQ(along_c.max().item<double>(), 0.0) << i << " " << j;
      }
      // the component split never sees component c of another particle
      if (i != j)
        EXPECT_EQ(jc.select(1, i).select(1, c).select(1, j).select(1, c).abs().max()
                      .item<double>(), 0.0);
    }
    if (!is_moved) {
      const auto out = particle->forward(u).u;
      EXPECT_TRUE(torch::equal(out.select(1, i), u.select(1, i))) << i;
    }
  }
  }
}

TEST(Flow, ParameterCountOfThePublishedNetwork)
{
  // 32 couplings of: embedding 16 -> 128 (2176), attention 4 * 128^2 + 4 * 128 (66048),
  // feed-forward 2 * 128 * 512 + 512 + 128 (131712), two LayerNorms (512), head 128 -> 48
  // (6192); plus 16 shifts of 2.
  Flow flow(FlowOptions::preset("published", 32, 2));
  std::int64_t count = 0;
  for (const auto &p : flow->parameters()) count += p.numel();
  EXPECT_EQ(count, 32 * (2176 + 66048 + 131712 + 512 + 6192) + 16 * 2);
}

TEST(Flow, WrongInputShapeIsRejected)
{
  Flow flow(options("tiny", 5, 2, torch::kFloat32));
  EXPECT_THROW(flow->forward(torch::zeros({3, 5, 2})), std::invalid_argument);
  EXPECT_THROW(flow->inverse(torch::zeros({3, 4, 3})), std::invalid_argument);
}

TEST(FlowOptions, PresetsAndValidation)
{
  const auto published = FlowOptions::preset("published", 32, 2);
  EXPECT_EQ(published.blocks, 8);
  EXPECT_EQ(published.embedding, 128);
  EXPECT_EQ(published.feedforward, 512);
  for (const auto &name : FlowOptions::preset_names())
    EXPECT_NO_THROW(FlowOptions::preset(name, 32, 3).validate()) << name;
  try {
    FlowOptions::preset("huge", 32, 2);
    FAIL() << "unknown preset accepted";
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("huge"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("published"), std::string::npos);
  }
  // validate()'s message, or "(accepted)"
  auto refusal = [](const FlowOptions &options) -> std::string {
    try {
      options.validate();
    } catch (const std::invalid_argument &e) {
      return e.what();
    }
    return "(accepted)";
  };
  auto o = FlowOptions::preset("small", 32, 2);
  o.embedding = 33;
  EXPECT_NE(refusal(o).find("'embedding' must be positive and a multiple of heads"),
            std::string::npos) << refusal(o);
  o = FlowOptions::preset("small", 32, 2);
  o.pair_frequencies = o.frequencies + 1;
  EXPECT_NE(refusal(o).find("'pair_frequencies' must be at most frequencies (4)"),
            std::string::npos) << refusal(o);
  o.pair_frequencies = 1;
  o.layers = 0;
  EXPECT_NE(refusal(o).find("'pair_frequencies' must be 0 when layers is 0"), std::string::npos)
      << refusal(o);
  o.layers = 1;
  EXPECT_NO_THROW(o.validate());
  // A size added after format 1 is named only when set, so older checksums hold.
  o.pair_frequencies = 0;
  EXPECT_EQ(o.describe().find("pair_frequencies"), std::string::npos);
  o.pair_frequencies = 1;
  EXPECT_NE(o.describe().find("pair_frequencies=1"), std::string::npos);
  o = FlowOptions::preset("small", 32, 4);
  EXPECT_THROW(o.validate(), std::invalid_argument);
  o = FlowOptions::preset("small", 1, 2);
  EXPECT_THROW(o.validate(), std::invalid_argument);
}

TEST(FlowOptions, TheSizeTableCoversEverySizeOnce)
{
  // The table names every integer size, in the order describe() prints them, and reaches the
  // member it names.
  flowmap::FlowOptions o;
  std::int64_t value = 100;
  std::string described =
      "N=" + std::to_string(o.num_particles) + " d=" + std::to_string(o.dimension);
  for (const auto &size : flowmap::FlowOptions::sizes()) {
    o.size(size.name) = ++value;
    EXPECT_EQ(o.*size.member, value) << size.name;
    described += " " + std::string(size.name) + "=" + std::to_string(value);
  }
  EXPECT_EQ(flowmap::FlowOptions::sizes().size(), 8u);
  EXPECT_EQ(o.blocks, 101);
  EXPECT_EQ(o.feedforward, 107);
  EXPECT_EQ(o.describe().rfind(described, 0), 0u) << o.describe();
  try {
    o.size("width");
    ADD_FAILURE() << "an unknown size was accepted";
  } catch (const std::invalid_argument &e) {
    EXPECT_STREQ(e.what(), "unknown flow size 'width'; valid: blocks, bins, frequencies, "
                           "embedding, heads, layers, feedforward, pair_frequencies");
  }
}
