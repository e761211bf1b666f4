// Species of a system: type map, reference species, grouped order and the rows of the flow,
// run-length records and the messages that name a composition, against hand-worked cases.
#include "flowmap_species.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>

using namespace flowmap;
using ::testing::HasSubstr;
using V = std::vector<std::int64_t>;

TEST(Species, DerivedOrdersOfAThreeTypeMixture)
{
  // atom index: 0 1 2 3 4 5 6; type 1 is the most numerous (4 atoms).
  const Species s(V{2, 1, 1, 3, 1, 2, 1});
  EXPECT_TRUE(s.recorded());
  EXPECT_EQ(s.num_atoms(), 7);
  EXPECT_EQ(s.num_species(), 3);
  EXPECT_EQ(s.type_map(), (V{1, 2, 3}));
  EXPECT_EQ(s.reference_species(), 0);
  EXPECT_EQ(s.reference_atoms(7), (V{1, 2, 4, 6}));
  EXPECT_EQ(s.grouped_order(), (V{1, 2, 4, 6, 0, 5, 3}));
  const auto internal = s.internal();
  EXPECT_EQ(internal.count, 3);
  EXPECT_EQ(internal.of_row, (V{0, 0, 0, 1, 1, 2}));
  EXPECT_EQ(s.runs(), (V{2, 1, 1, 2, 3, 1, 1, 1, 2, 1, 1, 1}));
  EXPECT_EQ(Species::from_runs(s.runs()), s);
}

TEST(Species, ReferenceSpeciesIsTheMostNumerousThenTheSmallestType)
{
  const Species most(V{1, 2, 2, 2, 1, 3});
  EXPECT_EQ(most.reference_species(), 1);    // type 2, 3 atoms
  EXPECT_EQ(most.reference_atoms(6), (V{1, 2, 3}));
  // the rows start with type 1's two atoms: the reference (type 2) leaves two of its three
  EXPECT_EQ(most.internal().of_row, (V{0, 0, 1, 1, 2}));
  const Species tie(V{4, 4, 2, 2});
  EXPECT_EQ(tie.type_map(), (V{2, 4}));
  EXPECT_EQ(tie.reference_species(), 0);    // types 2 and 4 both have 2 atoms: type 2
  EXPECT_EQ(tie.reference_atoms(4), (V{2, 3}));
}

TEST(Species, ASingleSpeciesIsTheTypeBlindCase)
{
  for (const auto &s : {Species(), Species(V(5, 1)), Species(V(5, 3))}) {
    EXPECT_EQ(s.num_species(), 1);
    EXPECT_TRUE(s.grouped_order().empty());    // identity
    EXPECT_EQ(s.reference_atoms(5), (V{0, 1, 2, 3, 4}));
    EXPECT_EQ(s.internal().count, 1);
    EXPECT_TRUE(s.internal().of_row.empty());
  }
  EXPECT_FALSE(Species().recorded());
  EXPECT_EQ(Species(V(5, 3)).runs(), (V{3, 5}));
}

TEST(Species, DescriptionNamesCountsAndOrder)
{
  V types(26, 1);
  types.insert(types.end(), 10, 2);
  types.insert(types.end(), 7, 3);
  EXPECT_EQ(Species(types).describe(),
            "43 atoms: 26 of type 1, 10 of type 2, 7 of type 3; in atom-ID order 1 (IDs 1-26), "
            "2 (IDs 27-36), 3 (IDs 37-43)");
  // alternating types: the order is cut after six runs
  const auto alternating = Species(V{1, 2, 1, 2, 1, 2, 1, 2}).describe();
  EXPECT_THAT(alternating, HasSubstr("4 of type 1, 4 of type 2"));
  EXPECT_THAT(alternating, HasSubstr("1 (IDs 5), 2 (IDs 6), ... (8 runs)"));
  EXPECT_EQ(Species().describe(), "species not recorded (type-blind)");
}

TEST(Species, MismatchNamesBothCompositions)
{
  const Species model(V{1, 1, 1, 2, 2});
  EXPECT_EQ(species_mismatch(model, model), "");
  EXPECT_EQ(species_mismatch(Species(), model), "");    // a type-blind model fits any system

  const auto counts = species_mismatch(model, Species(V{1, 1, 2, 2, 2}));
  EXPECT_THAT(counts, HasSubstr("trained for 5 atoms: 3 of type 1, 2 of type 2"));
  EXPECT_THAT(counts, HasSubstr("this system has 5 atoms: 2 of type 1, 3 of type 2"));
  EXPECT_THAT(counts, HasSubstr("first difference at atom ID 3: type 1 in the model, 2 here"));

  // same composition, other order
  const auto order = species_mismatch(model, Species(V{1, 2, 1, 1, 2}));
  EXPECT_THAT(order, HasSubstr("1 (IDs 1-3), 2 (IDs 4-5)"));
  EXPECT_THAT(order, HasSubstr("1 (IDs 1), 2 (IDs 2), 1 (IDs 3-4), 2 (IDs 5)"));
  EXPECT_THAT(order, HasSubstr("first difference at atom ID 2"));

  // other types with the same pattern are another system too
  EXPECT_THAT(species_mismatch(model, Species(V{2, 2, 2, 3, 3})),
              HasSubstr("3 of type 2, 2 of type 3"));
  // another size: no atom-by-atom comparison
  const auto size = species_mismatch(model, Species(V{1, 1, 1, 2}));
  EXPECT_THAT(size, HasSubstr("this system has 4 atoms"));
  EXPECT_THAT(size, ::testing::Not(HasSubstr("first difference")));
}

TEST(Species, TypeExchangesAreRelabelled)
{
  // atoms 0 and 1 exchanged their types (a swap move): the k-th atom of each type by ID takes
  // the k-th slot of that type
  const Species recorded(V{1, 2, 1, 2});
  const auto source = recorded.relabelling(V{2, 1, 1, 2});
  EXPECT_EQ(source, (V{1, 0, 2, 3}));
  EXPECT_EQ(relabel({0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5}, source, 2),
            (std::vector<double>{1, 1.5, 0, 0.5, 2, 2.5, 3, 3.5}));
  EXPECT_EQ(recorded.relabelling(recorded.types()), (V{0, 1, 2, 3}));
  // three types, every type moved
  EXPECT_EQ(Species(V{1, 1, 2, 3}).relabelling(V{3, 2, 1, 1}), (V{2, 3, 1, 0}));
  try {
    recorded.relabelling(V{1, 1, 1, 2});
    ADD_FAILURE() << "expected std::invalid_argument";
  } catch (const std::invalid_argument &e) {
    EXPECT_THAT(e.what(), HasSubstr("recorded: 4 atoms: 2 of type 1, 2 of type 2"));
    EXPECT_THAT(e.what(), HasSubstr("now 4 atoms: 3 of type 1, 1 of type 2"));
  }
  EXPECT_THROW(recorded.relabelling(V{1, 2, 3, 2}), std::invalid_argument);
  EXPECT_THROW(recorded.relabelling(V{1, 2, 1}), std::invalid_argument);
}

TEST(Species, InvalidInputIsRefused)
{
  try {
    Species(V{1, 0, 2});
    ADD_FAILURE() << "expected std::invalid_argument";
  } catch (const std::invalid_argument &e) {
    EXPECT_THAT(e.what(), HasSubstr("atom ID 2 has type 0"));
  }
  EXPECT_THROW(Species::from_runs(V{1, 3, 2}), std::invalid_argument);
  EXPECT_THROW(Species::from_runs(V{1, 0}), std::invalid_argument);
}
