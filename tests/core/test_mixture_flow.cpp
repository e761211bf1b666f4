// The type-aware flow: a single species builds exactly the type-blind flow; a mixture's flow
// is equivariant under permutations within a species and tells species apart; its partitions
// halve every species; round trip and full Cartesian log-determinant with several species;
// the reference particle is always of the reference species.
#include "flow_test_helpers.h"
#include "flowmap_coordinates.h"
#include "flowmap_model.h"
#include "flowmap_weights.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

using namespace flowmap;
using flowmap_test::max_periodic_distance;
using flowmap_test::randomize_flow;
using ::testing::HasSubstr;
using V = std::vector<std::int64_t>;

namespace {

// Three species, interleaved in atom-ID order; type 1 (4 atoms) is the reference species.
const V kTypes = {2, 1, 3, 1, 2, 1, 3, 1, 2};

FlowModel make_model(const std::string &preset, CouplingSplit split, torch::Dtype dtype,
                     const Species &species, std::int64_t n, std::int64_t d,
                     double box = 4.0, double target_box = 4.3, std::uint64_t seed = 3)
{
  torch::manual_seed(seed);
  auto o = FlowOptions::preset(preset, n, d);
  o.split = split;
  o.dtype = dtype;
  ModelMetadata m;
  m.source_box.assign(d, box);
  m.target_box.assign(d, target_box);
  return FlowModel(o, m, species);
}

void copy_parameters(const FlowModel &from, FlowModel &to)
{
  torch::NoGradGuard no_grad;
  const auto source = from.flow()->named_parameters();
  for (auto &item : to.flow()->named_parameters()) item.value().copy_(source[item.key()]);
}

torch::Tensor positions(std::int64_t batch, std::int64_t n, std::int64_t d, double box,
                        std::uint64_t seed)
{
  torch::manual_seed(seed);
  return torch::rand({batch, n, d}, torch::kFloat64) * box;
}

std::int64_t parameter_count(const FlowModel &model)
{
  std::int64_t count = 0;
  for (const auto &p : model.flow()->parameters()) count += p.numel();
  return count;
}

// x with atoms i and j exchanged, [B, N, d].
torch::Tensor swapped(const torch::Tensor &x, std::int64_t i, std::int64_t j)
{
  auto perm = torch::arange(x.size(1), torch::kInt64);
  perm[i] = j;
  perm[j] = i;
  return x.index_select(1, perm);
}

}    // namespace

TEST(MixtureFlow, ASingleSpeciesIsExactlyTheTypeBlindFlow)
{
  // Recorded species of one type (any type number) build the same modules, parameters and
  // partitions as no species at all, and map bit for bit identically with equal parameters.
  for (auto split : {CouplingSplit::component, CouplingSplit::particle})
    for (auto dtype : {torch::kFloat32, torch::kFloat64})
      for (std::int64_t type : {1, 3}) {
        SCOPED_TRACE("split " + split_name(split) + " type " + std::to_string(type));
        auto blind = make_model("default", split, dtype, Species(), 12, 2);
        randomize_flow(blind.flow(), 0.3, 4);
        auto typed = make_model("default", split, dtype, Species(V(12, type)), 12, 2, 4.0, 4.3,
                                99);
        const auto a = blind.flow()->named_parameters(), b = typed.flow()->named_parameters();
        ASSERT_EQ(a.size(), b.size());
        for (const auto &item : a) {
          ASSERT_TRUE(b.contains(item.key())) << item.key();
          EXPECT_TRUE(b[item.key()].sizes().equals(item.value().sizes())) << item.key();
        }
        EXPECT_EQ(parameter_count(typed), parameter_count(blind));
        for (std::size_t c = 0; c < blind.flow()->couplings().size(); ++c) {
          const auto &p = blind.flow()->couplings()[c]->transformed();
          const auto &q = typed.flow()->couplings()[c]->transformed();
          ASSERT_EQ(p.defined(), q.defined());
          if (p.defined()) EXPECT_TRUE(torch::equal(p, q)) << "partition of coupling " << c;
        }
        copy_parameters(blind, typed);
        const auto x = positions(16, 12, 2, 4.0, 5);
        torch::manual_seed(6);
        const auto reference = torch::randint(0, 12, {16}, torch::kInt64);
        const auto symmetry = symmetry_group(2, true).index_select(0, torch::randint(0, 8, {16}));
        torch::NoGradGuard no_grad;
        for (bool inverse : {false, true}) {
          const auto p = inverse ? blind.inverse(x, reference, symmetry)
                                 : blind.forward(x, reference, symmetry);
          const auto q = inverse ? typed.inverse(x, reference, symmetry)
                                 : typed.forward(x, reference, symmetry);
          EXPECT_TRUE(torch::equal(p.positions, q.positions)) << "inverse " << inverse;
          EXPECT_TRUE(torch::equal(p.log_det, q.log_det)) << "inverse " << inverse;
        }
        EXPECT_EQ(typed.mapping_reference(), 0);
        EXPECT_TRUE(torch::equal(typed.reference_atoms(), torch::arange(12, torch::kInt64)));
      }
}

TEST(MixtureFlow, SpeciesEnterEveryEmbeddingAsOneHotColumns)
{
  // The only new parameters: S columns of each conditioner's embedding, one learned vector
  // per species.
  for (auto split : {CouplingSplit::component, CouplingSplit::particle}) {
    const auto blind = make_model("default", split, torch::kFloat32, Species(), 9, 2);
    const auto mixed = make_model("default", split, torch::kFloat32, Species(kTypes), 9, 2);
    const auto couplings = static_cast<std::int64_t>(mixed.flow()->couplings().size());
    const auto embedding = mixed.flow()->options().embedding;
    EXPECT_EQ(parameter_count(mixed) - parameter_count(blind), couplings * 3 * embedding)
        << split_name(split);
    EXPECT_EQ(mixed.flow()->species().count, 3);
  }
}

TEST(MixtureFlow, ParticleSplitHalvesEverySpecies)
{
  // rows (grouped order, one type-1 atom removed): 3 of type 1, 3 of type 2, 2 of type 3
  const auto model =
      make_model("default", CouplingSplit::particle, torch::kFloat32, Species(kTypes), 9, 2);
  const auto &rows = model.flow()->species().of_row;
  ASSERT_EQ(rows, (V{0, 0, 0, 1, 1, 1, 2, 2}));
  const auto &couplings = model.flow()->couplings();
  ASSERT_EQ(couplings.size() % 2, 0u);
  for (std::size_t c = 0; c < couplings.size(); c += 2) {
    // couplings c and c + 1 are the two halves of one split coupling
    std::vector<std::int64_t> all;
    for (std::size_t h = 0; h < 2; ++h) {
      const auto t = couplings[c + h]->transformed();
      std::vector<std::int64_t> per_species(3, 0);
      for (std::int64_t k = 0; k < t.size(0); ++k) {
        all.push_back(t[k].item<std::int64_t>());
        ++per_species[rows[all.back()]];
      }
      // odd species (3 atoms) give their extra row to alternate halves, the even one splits 1:1
      EXPECT_EQ(per_species[2], 1) << "coupling " << c + h;
      EXPECT_GE(per_species[0], 1);
      EXPECT_GE(per_species[1], 1);
      EXPECT_EQ(per_species[0] + per_species[1], 3);
    }
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, (V{0, 1, 2, 3, 4, 5, 6, 7})) << "halves of coupling " << c;
  }
}

TEST(MixtureFlow, EquivariantWithinASpeciesOnly)
{
  // Component split (the particle split's partitions name rows, by design not equivariant).
  // Atoms 0 and 4 are both type 2, atoms 2 and 6 type 3, none of the reference species;
  // references are drawn from type 1 (atoms 1, 3, 5, 7).
  auto model = make_model("small", CouplingSplit::component, torch::kFloat64, Species(kTypes), 9,
                          2);
  randomize_flow(model.flow(), 0.3, 7);
  const auto x = positions(12, 9, 2, 4.0, 8);
  torch::manual_seed(9);
  const auto reference =
      model.reference_atoms().index_select(0, torch::randint(0, 4, {12}, torch::kInt64));
  const auto box_b = torch::tensor(std::vector<double>{4.3, 4.3}, torch::kFloat64);
  torch::NoGradGuard no_grad;
  const auto out = model.forward(x, reference);
  for (auto pair : {std::pair<int, int>{0, 4}, std::pair<int, int>{2, 6}}) {
    const auto same = model.forward(swapped(x, pair.first, pair.second), reference);
    EXPECT_LT(max_periodic_distance(same.positions,
                                    swapped(out.positions, pair.first, pair.second), box_b),
              1e-12);
    EXPECT_LT((same.log_det - out.log_det).abs().max().item<double>(), 1e-12);
  }
  // Atoms 0 (type 2) and 2 (type 3): exchanging their positions is another configuration of
  // the mixture, and the flow maps it differently from the exchanged image.
  const auto other = model.forward(swapped(x, 0, 2), reference);
  EXPECT_GT(max_periodic_distance(other.positions, swapped(out.positions, 0, 2), box_b), 1e-3);
  EXPECT_GT((other.log_det - out.log_det).abs().max().item<double>(), 1e-3);

  // Relabelling every atom together with its type: the image is relabelled the same way.
  const V perm = {3, 0, 6, 1, 8, 5, 2, 7, 4};    // atom k of the new labels is old atom perm[k]
  V types(9);
  for (int k = 0; k < 9; ++k) types[k] = kTypes[perm[k]];
  auto relabelled = make_model("small", CouplingSplit::component, torch::kFloat64,
                               Species(types), 9, 2);
  copy_parameters(model, relabelled);
  const auto p = torch::tensor(perm, torch::kInt64);
  const auto new_reference = torch::argsort(p).index_select(0, reference);
  const auto moved = relabelled.forward(x.index_select(1, p), new_reference);
  EXPECT_LT(max_periodic_distance(moved.positions, out.positions.index_select(1, p), box_b),
            1e-12);
  EXPECT_LT((moved.log_det - out.log_det).abs().max().item<double>(), 1e-12);
}

TEST(MixtureFlow, RoundTripAndLogDetEqualAutogradJacobian)
{
  // Full Cartesian Jacobian of all N d coordinates between boxes of different size, three
  // species, both splits, 2D and 3D, references of the reference species, symmetries.
  for (std::int64_t d : {2, 3})
    for (auto split : {CouplingSplit::component, CouplingSplit::particle}) {
      SCOPED_TRACE("d " + std::to_string(d) + " split " + split_name(split));
      const std::vector<double> a(d, 3.0), b(d, 3.4);
      auto model = make_model("small", split, torch::kFloat64, Species(kTypes), 9, d, 3.0, 3.4);
      randomize_flow(model.flow(), 0.3, 10);
      const auto x0 = positions(3, 9, d, 3.0, 11);
      torch::manual_seed(12);
      const auto reference =
          model.reference_atoms().index_select(0, torch::randint(0, 4, {3}, torch::kInt64));
      const auto group = symmetry_group(d, true);
      const auto symmetry = group.index_select(0, torch::randint(0, group.size(0), {3}));
      for (bool inverse : {false, true}) {
        auto x = x0.clone().requires_grad_(true);
        const auto out = inverse ? model.inverse(x, reference, symmetry)
                                 : model.forward(x, reference, symmetry);
        const auto flat = out.positions.reshape({3, -1});
        std::vector<torch::Tensor> rows;
        for (std::int64_t i = 0; i < flat.size(1); ++i)
          rows.push_back(torch::autograd::grad({flat.select(1, i).sum()}, {x}, {}, true)[0]
                             .reshape({3, -1}));
        const auto slogdet = torch::linalg::slogdet(torch::stack(rows, 1));
        EXPECT_LT((std::get<1>(slogdet) - out.log_det).abs().max().item<double>(), 1e-8)
            << "inverse " << inverse;
        const double scaling = (inverse ? -1 : 1) * scaling_log_det(9, a, b);
        EXPECT_GT((out.log_det - scaling).abs().max().item<double>(), 0.1)
            << "the flow contributes to the log-determinant";
      }
      torch::NoGradGuard no_grad;
      const auto out = model.forward(x0, reference, symmetry);
      const auto back = model.inverse(out.positions, reference, symmetry);
      EXPECT_LT(max_periodic_distance(back.positions, x0, torch::tensor(a)), 1e-10);
      EXPECT_LT((out.log_det + back.log_det).abs().max().item<double>(), 1e-10);
    }
}

TEST(MixtureFlow, ReferenceParticleMustBeOfTheReferenceSpecies)
{
  auto model = make_model("tiny", CouplingSplit::component, torch::kFloat32, Species(kTypes), 9,
                          2);
  EXPECT_TRUE(torch::equal(model.reference_atoms(), torch::tensor(V{1, 3, 5, 7})));
  EXPECT_EQ(model.mapping_reference(), 1);    // the lowest atom ID of type 1
  const auto x = positions(2, 9, 2, 4.0, 13);
  EXPECT_NO_THROW(model.forward(x, torch::tensor(V{1, 7})));
  try {
    model.forward(x, torch::tensor(V{1, 4}));    // atom 4 is type 2
    ADD_FAILURE() << "expected std::invalid_argument";
  } catch (const std::invalid_argument &e) {
    EXPECT_THAT(e.what(), HasSubstr("must be an atom of type 1"));
  }
  EXPECT_THROW(model.inverse(x, torch::tensor(V{1, 9})), std::invalid_argument);
  // species for another number of atoms
  EXPECT_THROW(make_model("tiny", CouplingSplit::component, torch::kFloat32, Species(V{1, 2}), 9,
                          2),
               std::invalid_argument);
}

TEST(MixtureFlow, FreshMixtureFlowIsTheScalingBaseline)
{
  // The one-hot columns leave the zero head alone: a fresh flow is the identity, so training
  // starts at the identity baseline for mixtures too.
  for (auto split : {CouplingSplit::component, CouplingSplit::particle}) {
    auto model = make_model("default", split, torch::kFloat32, Species(kTypes), 9, 2, 4.0, 4.4);
    const auto x = positions(8, 9, 2, 4.0, 14);
    torch::NoGradGuard no_grad;
    const auto out =
        model.forward(x, torch::full({8}, model.mapping_reference(), torch::kInt64));
    const auto box_b = torch::tensor(std::vector<double>{4.4, 4.4}, torch::kFloat64);
    EXPECT_LT(max_periodic_distance(out.positions, x * 1.1, box_b), 1e-12);
    EXPECT_LT((out.log_det - 9 * 2 * std::log(1.1)).abs().max().item<double>(), 1e-12);
  }
}
