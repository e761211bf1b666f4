// The energy bridge against LAMMPS itself: energies equal a normal LAMMPS `run 0` of the same
// configuration, forces equal minus the finite-difference gradient, the regularised energy
// behaves as documented, and invalid pair commands give errors that name them.
#include "flowmap_collective.h"
#include "flowmap_distributed_energy.h"
#include "flowmap_lammps_bridge.h"
#include "lammps_fixture.h"

#include "library.h"
#include "lmptype.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace LAMMPS_NS;
using flowmap_test::LammpsRunner;
using ::testing::AnyOf;
using ::testing::HasSubstr;

namespace {

struct System {
  int dimension;
  std::vector<double> box;
  std::vector<int> types;
  std::vector<double> positions;    // N * d, inside [0, L)
};

// A perturbed lattice with two atom types: no overlaps, energies far from zero.
System make_system(int dimension, int per_side, double spacing, std::uint64_t seed)
{
  System s;
  s.dimension = dimension;
  s.box.assign(dimension, per_side * spacing);
  std::mt19937_64 engine(seed);
  std::uniform_real_distribution<double> jitter(-0.12 * spacing, 0.12 * spacing);
  const int n = dimension == 2 ? per_side * per_side : per_side * per_side * per_side;
  for (int i = 0; i < n; ++i) {
    int rest = i;
    for (int k = 0; k < dimension; ++k) {
      s.positions.push_back((rest % per_side + 0.5) * spacing + jitter(engine));
      rest /= per_side;
    }
    s.types.push_back(1 + (i * 7) % 3 % 2);
  }
  return s;
}

FlowMapBridgeSetup setup_for(const System &s, const std::vector<std::string> &pair_commands,
                             double core_radius = 0.0, bool direct_sum = true)
{
  FlowMapBridgeSetup setup;
  setup.direct_sum = direct_sum;
  setup.dimension = s.dimension;
  setup.types = s.types;
  setup.ntypes = 2;
  setup.box_lengths = s.box;
  setup.pair_commands = pair_commands;
  setup.core_radius = core_radius;
  return setup;
}

// A normal LAMMPS instance on all ranks holding the configuration with these pair commands.
void load_reference(LammpsRunner &runner, const System &s,
                    const std::vector<std::string> &pair_commands)
{
  const int d = s.dimension;
  runner.commands({"units lj", "dimension " + std::to_string(d), "boundary p p p",
                   "atom_style atomic", "atom_modify map array"});
  std::string region = "region box block";
  for (int k = 0; k < 3; ++k)
    region += k < d ? " 0 " + std::to_string(s.box[k]) : std::string(" -0.5 0.5");
  runner.commands({region, "create_box 2 box", "mass * 1.0"});
  const int n = static_cast<int>(s.types.size());
  std::vector<double> x(3 * n, 0.0);
  std::vector<tagint> ids(n);
  for (int i = 0; i < n; ++i) {
    ids[i] = i + 1;
    for (int k = 0; k < d; ++k) x[3 * i + k] = s.positions[i * d + k];
  }
  lammps_create_atoms(runner.lmp(), n, ids.data(), s.types.data(), x.data(), nullptr, nullptr,
                      0);
  runner.commands(pair_commands);
}

// LAMMPS's own `pe` of the configuration.
double reference_energy(const System &s, const std::vector<std::string> &pair_commands)
{
  LammpsRunner runner;
  load_reference(runner, s, pair_commands);
  runner.commands({"thermo_style custom step pe", "thermo_modify norm no", "run 0 post no",
                   "variable energy equal pe"});
  return runner.equal_variable("energy");
}

double energy_of(FlowMapBridge &bridge, const std::vector<double> &x,
                 const std::vector<double> &box, bool regularised = false,
                 std::vector<double> *forces = nullptr)
{
  double e = 0.0;
  if (forces) forces->assign(x.size(), 0.0);
  bridge.evaluate(x.data(), 1, box.data(), &e, forces ? forces->data() : nullptr, regularised);
  return e;
}

struct PairCase {
  const char *name;
  std::vector<std::string> commands;
  double max_cutoff;
};

std::vector<PairCase> pair_cases()
{
  return {
      {"lj_cut_shifted",
       {"pair_style lj/cut 2.5", "pair_coeff 1 1 1.0 1.0", "pair_coeff 1 2 0.8 1.1",
        "pair_coeff 2 2 1.3 0.9", "pair_modify shift yes"},
       2.5},
      {"wca",
       {"pair_style lj/cut 1.122462048309373", "pair_coeff * * 1.0 1.0",
        "pair_modify shift yes"},
       1.122462048309373},
      {"morse",
       {"pair_style morse 2.3", "pair_coeff 1 1 1.0 2.0 1.1", "pair_coeff 1 2 0.7 1.5 1.2",
        "pair_coeff 2 2 1.2 2.5 1.0"},
       2.3},
      {"hybrid_overlay_lj_morse",
       {"pair_style hybrid/overlay lj/cut 2.5 morse 2.0", "pair_coeff * * lj/cut 1.0 1.0",
        "pair_coeff 1 2 morse 0.5 2.0 1.2", "pair_coeff 2 2 morse 0.3 1.5 1.1",
        "pair_modify shift yes"},
       2.5},
      // LAMMPS refuses tail corrections in 2D: this case runs in 3D only.
      {"lj_cut_tail",
       {"pair_style lj/cut 2.5", "pair_coeff * * 1.0 1.0", "pair_modify tail yes"},
       2.5},
  };
}

// Box lengths 7.5 and 5 survive the reference input's std::to_string() exactly.
System test_system(int dimension)
{
  return dimension == 2 ? make_system(2, 6, 1.25, 17) : make_system(3, 4, 1.25, 23);
}

// (dimension, pair case, direct sum allowed)
class BridgeMatchesLammps : public ::testing::TestWithParam<std::tuple<int, int, bool>> {};

}    // namespace

TEST_P(BridgeMatchesLammps, EnergyEqualsRunZeroAndForcesAreMinusGradient)
{
  const int dimension = std::get<0>(GetParam());
  const PairCase pc = pair_cases()[std::get<1>(GetParam())];
  const bool direct_allowed = std::get<2>(GetParam());
  SCOPED_TRACE(pc.name);
  const System s = test_system(dimension);
  FlowMapBridge bridge(setup_for(s, pc.commands, 0.0, direct_allowed));
  // Both evaluation paths must be exercised: the direct sum wherever it is exact.
  const bool direct_exact = pc.max_cutoff < 0.5 * s.box[0];
  EXPECT_EQ(bridge.uses_direct_sum(), direct_allowed && direct_exact);
  EXPECT_EQ(bridge.num_particles(), static_cast<std::int64_t>(s.types.size()));
  EXPECT_EQ(bridge.dimension(), dimension);

  const double reference = reference_energy(s, pc.commands);
  std::vector<double> forces;
  const double energy = energy_of(bridge, s.positions, s.box, false, &forces);
  EXPECT_GT(std::fabs(reference), 1.0);    // a real test, not 0 == 0
  EXPECT_NEAR(energy, reference, 1e-10 * std::fabs(reference));

  // Any periodic image gives the same energy.
  std::vector<double> shifted = s.positions;
  for (std::size_t v = 0; v < shifted.size(); ++v)
    shifted[v] += static_cast<double>(static_cast<int>(v % 5) - 2) * s.box[v % dimension];
  EXPECT_NEAR(energy_of(bridge, shifted, s.box), reference, 1e-10 * std::fabs(reference));

  const double h = 1e-5;
  double largest = 0.0;
  for (double f : forces) largest = std::max(largest, std::fabs(f));
  EXPECT_GT(largest, 0.1);
  for (std::size_t v = 0; v < s.positions.size(); v += 3) {
    std::vector<double> plus = s.positions, minus = s.positions;
    plus[v] += h;
    minus[v] -= h;
    const double gradient =
        (energy_of(bridge, plus, s.box) - energy_of(bridge, minus, s.box)) / (2 * h);
    EXPECT_NEAR(forces[v], -gradient, 1e-6 * std::max(1.0, largest)) << "component " << v;
  }
}

INSTANTIATE_TEST_SUITE_P(
    PairStyles, BridgeMatchesLammps,
    ::testing::ValuesIn([] {
      std::vector<std::tuple<int, int, bool>> cases;
      for (int d : {2, 3})
        for (int c = 0; c < 5; ++c)
          for (bool direct : {true, false})
            if (d == 3 || c != 4) cases.emplace_back(d, c, direct);
      return cases;
    }()),
    [](const ::testing::TestParamInfo<std::tuple<int, int, bool>> &info) {
      return std::string(pair_cases()[std::get<1>(info.param)].name) + "_" +
          std::to_string(std::get<0>(info.param)) + "d" +
          (std::get<2>(info.param) ? "_direct" : "_neighbors");
    });

TEST(EnergyBridge, DistributedEqualsLocal)
{
  const System s = test_system(2);
  FlowMapBridge bridge(setup_for(s, pair_cases()[0].commands));
  const int nconf = 5;
  const std::size_t nd = s.positions.size();
  std::vector<double> batch;
  std::mt19937_64 engine(3);
  std::normal_distribution<double> noise(0.0, 0.03);
  for (int c = 0; c < nconf; ++c)
    for (double x : s.positions) batch.push_back(x + noise(engine));
  std::vector<double> e_local(nconf), f_local(nconf * nd), e_dist(nconf), f_dist(nconf * nd);
  bridge.evaluate(batch.data(), nconf, s.box.data(), e_local.data(), f_local.data(), false);
  flowmap::evaluate_distributed(bridge, MPI_COMM_WORLD, batch.data(), nconf, s.box.data(), 0,
                                e_dist.data(), f_dist.data(), false);
  EXPECT_EQ(e_local, e_dist);
  EXPECT_EQ(f_local, f_dist);
  EXPECT_NE(e_local[0], e_local[1]);

  // Per-configuration boxes: configuration c scaled by 1 + 0.02 c.
  std::vector<double> scaled(batch), boxes;
  for (int c = 0; c < nconf; ++c) {
    const double scale = 1.0 + 0.02 * c;
    for (std::size_t v = 0; v < nd; ++v) scaled[c * nd + v] *= scale;
    for (double length : s.box) boxes.push_back(scale * length);
  }
  std::vector<double> e_boxes(nconf);
  flowmap::evaluate_distributed(bridge, MPI_COMM_WORLD, scaled.data(), nconf, boxes.data(),
                                s.dimension, e_boxes.data(), nullptr, false);
  for (int c = 0; c < nconf; ++c) {
    double e = 0.0;
    bridge.evaluate(&scaled[c * nd], 1, &boxes[c * s.dimension], &e, nullptr, false);
    EXPECT_EQ(e_boxes[c], e) << "configuration " << c;
  }
}

namespace {

// LAMMPS's own minimize of the same configuration in a normal instance (on all ranks): the
// minimum unwrapped by its image flags, and its energy.
double reference_minimum(const System &s, const std::vector<std::string> &pair_commands,
                         std::vector<double> &minimum)
{
  LammpsRunner runner;
  load_reference(runner, s, pair_commands);
  const int d = s.dimension;
  const int n = static_cast<int>(s.types.size());
  if (d == 2) runner.command("fix plane all enforce2d");
  runner.commands({"thermo_style custom step pe", "thermo_modify norm no",
                   "minimize 0.0 1e-10 100000 1000000", "variable energy equal pe"});
  std::vector<double> wrapped(3 * n);
  std::vector<int> image(n);
  lammps_gather_atoms(runner.lmp(), (char *) "x", 1, 3, wrapped.data());
  lammps_gather_atoms(runner.lmp(), (char *) "image", 0, 1, image.data());
  minimum.assign(static_cast<std::size_t>(n) * d, 0.0);
  for (int i = 0; i < n; ++i) {
    const imageint img = image[i];
    const int shift[3] = {static_cast<int>((img & IMGMASK) - IMGMAX),
                          static_cast<int>((img >> IMGBITS & IMGMASK) - IMGMAX),
                          static_cast<int>((img >> IMG2BITS) - IMGMAX)};
    for (int k = 0; k < d; ++k) minimum[i * d + k] = wrapped[3 * i + k] + shift[k] * s.box[k];
  }
  return runner.equal_variable("energy");
}

}    // namespace

// The inherent structure found by the helper equals LAMMPS's minimize in a normal instance,
// unwrapped from the caller's start (here shifted by a box vector), with vanishing forces.
TEST(EnergyBridge, InherentStructureEqualsLammpsMinimize)
{
  for (int d : {2, 3}) {
    const System s = test_system(d);
    const auto commands = pair_cases()[0].commands;
    FlowMapBridge bridge(setup_for(s, commands));
    std::vector<double> expected;
    const double e_expected = reference_minimum(s, commands, expected);
    std::vector<double> start = s.positions, minimum(start.size());
    for (std::size_t v = 0; v < start.size(); v += d) start[v] += s.box[0];
    const double e = bridge.inherent_structure(start.data(), s.box.data(), minimum.data(), 1e-10);
    EXPECT_NEAR(e, e_expected, 1e-9 * std::fabs(e_expected)) << d << "D";
    EXPECT_LT(e, energy_of(bridge, s.positions, s.box)) << d << "D";
    double largest = 0.0, moved = 0.0;
    for (std::size_t v = 0; v < minimum.size(); ++v) {
      const double unshifted = minimum[v] - (v % d == 0 ? s.box[0] : 0.0);
      largest = std::max(largest, std::fabs(unshifted - expected[v]));
      moved = std::max(moved, std::fabs(unshifted - s.positions[v]));
    }
    EXPECT_LT(largest, 1e-6) << d << "D";
    EXPECT_GT(moved, 1e-3) << d << "D: the minimiser did not move the atoms";
    std::vector<double> forces;
    energy_of(bridge, minimum, s.box, false, &forces);
    for (double f : forces) EXPECT_LT(std::fabs(f), 1e-6) << d << "D";
    // the helper still evaluates other configurations as before
    EXPECT_NEAR(energy_of(bridge, s.positions, s.box), reference_energy(s, commands),
                1e-10 * std::fabs(e_expected));
  }
  const System s = test_system(2);
  FlowMapBridge bridge(setup_for(s, pair_cases()[0].commands));
  std::vector<double> minimum(s.positions.size());
  EXPECT_THROW(bridge.inherent_structure(s.positions.data(), s.box.data(), minimum.data(), 0.0),
               FlowMapBridgeError);
  // a non-finite start gives a NaN energy and minimum, as evaluate() does, for the caller to
  // count, and leaves the helper usable
  std::vector<double> broken = s.positions;
  broken[3] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(std::isnan(bridge.inherent_structure(broken.data(), s.box.data(), minimum.data(),
                                                   1e-10)));
  for (double v : minimum) EXPECT_TRUE(std::isnan(v));
  EXPECT_NEAR(energy_of(bridge, s.positions, s.box), reference_energy(s, pair_cases()[0].commands),
              1e-10 * std::fabs(reference_energy(s, pair_cases()[0].commands)));
}

TEST(EnergyBridge, BoxChangeEqualsFreshBridge)
{
  System s = test_system(3);
  const auto commands = pair_cases()[0].commands;
  FlowMapBridge bridge(setup_for(s, commands));
  const double e_first = energy_of(bridge, s.positions, s.box);

  System bigger = s;
  for (auto &length : bigger.box) length *= 1.07;
  for (auto &x : bigger.positions) x *= 1.07;
  FlowMapBridge fresh(setup_for(bigger, commands));
  const double e_fresh = energy_of(fresh, bigger.positions, bigger.box);
  const double e_resized = energy_of(bridge, bigger.positions, bigger.box);
  EXPECT_NE(e_fresh, e_first);
  EXPECT_NEAR(e_resized, e_fresh, 1e-12 * std::fabs(e_fresh));
  EXPECT_NEAR(energy_of(bridge, s.positions, s.box), e_first, 1e-12 * std::fabs(e_first));
  // The tail correction (3D) follows the volume.
  const auto tail = pair_cases()[4].commands;
  FlowMapBridge tail_bridge(setup_for(s, tail)), tail_fresh(setup_for(bigger, tail));
  energy_of(tail_bridge, s.positions, s.box);
  EXPECT_NEAR(energy_of(tail_bridge, bigger.positions, bigger.box),
              energy_of(tail_fresh, bigger.positions, bigger.box), 1e-10);
}

TEST(EnergyBridge, NonFiniteCoordinatesGiveNaNNotAnError)
{
  System s = test_system(2);
  FlowMapBridge bridge(setup_for(s, pair_cases()[0].commands));
  std::vector<double> x = s.positions, forces;
  x[3] = std::nan("");
  EXPECT_TRUE(std::isnan(energy_of(bridge, x, s.box, false, &forces)));
  EXPECT_TRUE(std::isnan(forces[0]));
  EXPECT_TRUE(std::isfinite(energy_of(bridge, s.positions, s.box)));
}

/* ---------------------------------------------------------------------- */
// Regularisation

namespace {
const std::vector<std::string> kLJ = {"pair_style lj/cut 2.5", "pair_coeff * * 1.0 1.0",
                                      "pair_modify shift yes"};

double lj(double r)
{
  auto raw = [](double x) { return 4.0 * (std::pow(x, -12) - std::pow(x, -6)); };
  return raw(r) - raw(2.5);
}
double lj_slope(double r)
{
  return 4.0 * (-12.0 * std::pow(r, -13) + 6.0 * std::pow(r, -7));
}

// Two particles of type 1 at distance r along x in a 10 x 10 box.
System pair_at(double r)
{
  System s;
  s.dimension = 2;
  s.box = {10.0, 10.0};
  s.types = {1, 1};
  s.positions = {5.0, 5.0, 5.0 + r, 5.0};
  return s;
}

// Every regularisation test runs on both evaluation paths (parameter: direct sum allowed).
class EnergyBridgeRegularised : public ::testing::TestWithParam<bool> {
 protected:
  FlowMapBridgeSetup setup(const System &s, const std::vector<std::string> &commands, double rc)
  {
    return setup_for(s, commands, rc, GetParam());
  }
  void expect_path(const FlowMapBridge &bridge) { EXPECT_EQ(bridge.uses_direct_sum(), GetParam()); }
};
}    // namespace

TEST_P(EnergyBridgeRegularised, EqualsTrueEnergyWhenNoPairIsInsideTheCore)
{
  const System s = test_system(2);    // spacing 1.25, jitter 0.15: every pair beyond 0.9
  FlowMapBridge bridge(setup(s, pair_cases()[3].commands, 0.8));
  expect_path(bridge);
  std::vector<double> f_true, f_reg;
  const double e_true = energy_of(bridge, s.positions, s.box, false, &f_true);
  const double e_reg = energy_of(bridge, s.positions, s.box, true, &f_reg);
  EXPECT_NEAR(e_reg, e_true, 1e-10 * std::fabs(e_true));
  for (std::size_t v = 0; v < f_true.size(); ++v) EXPECT_NEAR(f_reg[v], f_true[v], 1e-9);
}

TEST_P(EnergyBridgeRegularised, LinearCoreWithContinuousValueAndSlope)
{
  const double rc = 0.8;
  System s = pair_at(1.0);
  FlowMapBridge bridge(setup(s, kLJ, rc));
  expect_path(bridge);
  for (double r : {0.3, 0.6, 0.79, 0.8 - 1e-9}) {
    s = pair_at(r);
    std::vector<double> forces;
    const double e = energy_of(bridge, s.positions, s.box, true, &forces);
    EXPECT_NEAR(e, lj(rc) + lj_slope(rc) * (r - rc), 1e-9 * std::fabs(lj(rc))) << "r " << r;
    // Force on particle 2 (at +x) is -dU/dr.
    EXPECT_NEAR(forces[2], -lj_slope(rc), 1e-9 * std::fabs(lj_slope(rc))) << "r " << r;
    EXPECT_NEAR(forces[0], lj_slope(rc), 1e-9 * std::fabs(lj_slope(rc))) << "r " << r;
  }
  // Continuity across r_c: values and one-sided slopes from both sides.
  const double h = 1e-7;
  auto e_at = [&](double r) {
    System p = pair_at(r);
    return energy_of(bridge, p.positions, p.box, true);
  };
  EXPECT_NEAR(e_at(rc - h), e_at(rc + h), 3 * h * std::fabs(lj_slope(rc)));
  const double slope_in = (e_at(rc) - e_at(rc - 1e-5)) / 1e-5;
  const double slope_out = (e_at(rc + 1e-5) - e_at(rc)) / 1e-5;
  EXPECT_NEAR(slope_in, lj_slope(rc), 1e-4 * std::fabs(lj_slope(rc)));
  EXPECT_NEAR(slope_out, lj_slope(rc), 1e-3 * std::fabs(lj_slope(rc)));
  // Beyond r_c the true energy is kept.
  EXPECT_NEAR(e_at(1.1), lj(1.1), 1e-12);
}

TEST_P(EnergyBridgeRegularised, FiniteAndBoundedForOverlaps)
{
  System s = test_system(2);
  const auto commands = pair_cases()[3].commands;    // hybrid/overlay lj/cut + morse
  FlowMapBridge bridge(setup(s, commands, 0.8));
  expect_path(bridge);
  std::vector<double> f_normal;
  energy_of(bridge, s.positions, s.box, false, &f_normal);
  double bound = 0.0;
  for (double f : f_normal) bound = std::max(bound, std::fabs(f));

  for (double distance : {0.0, 1e-12, 1e-8, 1e-3}) {
    std::vector<double> x = s.positions;
    x[2] = x[0] + distance;    // particle 2 onto particle 1
    x[3] = x[1];
    std::vector<double> forces;
    const double e_true = energy_of(bridge, x, s.box, false);
    const double e_reg = energy_of(bridge, x, s.box, true, &forces);
    SCOPED_TRACE("distance " + std::to_string(distance));
    EXPECT_TRUE(!std::isfinite(e_true) || e_true > 1e10);
    EXPECT_TRUE(std::isfinite(e_reg));
    EXPECT_LT(e_reg, 1e4);
    for (double f : forces) {
      EXPECT_TRUE(std::isfinite(f));
      // |u'(0.8)| of lj/cut is about 760; one such pair plus the ordinary forces.
      EXPECT_LT(std::fabs(f), 4 * 400.0 + bound);
    }
  }
}

TEST_P(EnergyBridgeRegularised, GradientIsMinusForceInsideTheCore)
{
  System s = test_system(2);
  std::vector<double> x = s.positions;
  x[2] = x[0] + 0.3;
  x[3] = x[1] + 0.2;
  FlowMapBridge bridge(setup(s, pair_cases()[0].commands, 0.8));
  expect_path(bridge);
  std::vector<double> forces;
  energy_of(bridge, x, s.box, true, &forces);
  const double h = 1e-6;
  for (std::size_t v : {0, 1, 2, 3, 7}) {
    std::vector<double> plus = x, minus = x;
    plus[v] += h;
    minus[v] -= h;
    const double gradient =
        (energy_of(bridge, plus, s.box, true) - energy_of(bridge, minus, s.box, true)) / (2 * h);
    EXPECT_NEAR(forces[v], -gradient, 1e-5 * std::max(1.0, std::fabs(gradient)))
        << "component " << v;
  }
}

TEST_P(EnergyBridgeRegularised, CoreRadiusOfEachTypePairIsAFractionOfItsSigma)
{
  // Explicit 1-2 coefficients, and 1-2 mixed by LAMMPS (geometric: sigma 0.8944, epsilon
  // 0.7071), so the radius follows the mixed sigma too. No shift: u is the plain formula.
  struct Coefficients {
    std::vector<std::string> commands;
    double epsilon12, sigma12;
  };
  const std::vector<Coefficients> cases = {
      {{"pair_style lj/cut 2.5", "pair_coeff 1 1 1.0 1.0", "pair_coeff 1 2 1.5 0.9 2.0",
        "pair_coeff 2 2 0.5 0.8"},
       1.5, 0.9},
      {{"pair_style lj/cut 2.5", "pair_coeff 1 1 1.0 1.0", "pair_coeff 2 2 0.5 0.8"},
       std::sqrt(0.5), std::sqrt(0.8)}};
  for (const auto &c : cases) {
    const double epsilon[3] = {1.0, c.epsilon12, 0.5}, sigma[3] = {1.0, c.sigma12, 0.8};
    const int pair_types[3][2] = {{1, 1}, {1, 2}, {2, 2}};
    for (int p = 0; p < 3; ++p) {
      SCOPED_TRACE("types " + std::to_string(pair_types[p][0]) + " " +
                   std::to_string(pair_types[p][1]) + ", sigma " + std::to_string(sigma[p]));
      System s = pair_at(1.0);
      s.types = {pair_types[p][0], pair_types[p][1]};
      auto bridge_setup = setup(s, c.commands, 0.5);    // 0.5: for styles without sigma
      bridge_setup.core_sigma = 0.8;
      FlowMapBridge bridge(bridge_setup);
      expect_path(bridge);
      const double rc = 0.8 * sigma[p];
      EXPECT_EQ(bridge.core_radius(pair_types[p][0], pair_types[p][1]), rc);
      auto u = [&](double r) {
        return 4.0 * epsilon[p] * (std::pow(sigma[p] / r, 12) - std::pow(sigma[p] / r, 6));
      };
      auto slope = [&](double r) {
        return 4.0 * epsilon[p] *
            (-12.0 * std::pow(sigma[p] / r, 12) + 6.0 * std::pow(sigma[p] / r, 6)) / r;
      };
      for (double r : {0.2 * sigma[p], 0.5 * sigma[p], 0.79 * sigma[p]}) {
        System at = pair_at(r);
        at.types = s.types;
        std::vector<double> forces;
        const double e = energy_of(bridge, at.positions, at.box, true, &forces);
        EXPECT_NEAR(e, u(rc) + slope(rc) * (r - rc), 1e-9 * std::fabs(u(rc))) << "r " << r;
        EXPECT_NEAR(forces[2], -slope(rc), 1e-9 * std::fabs(slope(rc))) << "r " << r;
      }
      // outside its own radius a pair keeps its true energy, even where another pair's
      // radius would still be inside
      const double r_out = 0.85 * sigma[p];
      System at = pair_at(r_out);
      at.types = s.types;
      EXPECT_NEAR(energy_of(bridge, at.positions, at.box, true), u(r_out),
                  1e-12 * std::fabs(u(r_out)));
    }
  }
}

TEST_P(EnergyBridgeRegularised, FixedCoreRadiusOverridesAndFallsBack)
{
  const std::vector<std::string> lj = {"pair_style lj/cut 2.5", "pair_coeff 1 1 1.0 1.0",
                                       "pair_coeff 2 2 0.5 0.8"};
  System s = pair_at(1.0);
  s.types = {1, 2};
  // core_sigma 0: the one radius for every pair (fix flowmap's keyword core)
  FlowMapBridge fixed(setup(s, lj, 0.6));
  for (int i = 1; i <= 2; ++i)
    for (int j = 1; j <= 2; ++j) EXPECT_EQ(fixed.core_radius(i, j), 0.6);
  // sigma: 0.8 of each pair's
  auto by_sigma = setup(s, lj, 0.6);
  by_sigma.core_sigma = 0.8;
  FlowMapBridge scaled(by_sigma);
  EXPECT_EQ(scaled.core_radii_text(), "1-1 0.8, 1-2 0.715542, 2-2 0.64");
  EXPECT_TRUE(scaled.core_covers_all_pairs());
  // a style without sigma: the fixed radius, or none
  auto fallback = setup(s, pair_cases()[2].commands, 0.7);
  fallback.core_sigma = 0.8;
  FlowMapBridge morse(fallback);
  EXPECT_EQ(morse.core_radius(1, 2), 0.7);
  EXPECT_EQ(morse.core_radius(2, 2), 0.7);
  fallback.core_radius = 0.0;
  FlowMapBridge none(fallback);
  EXPECT_EQ(none.core_radius(1, 1), 0.0);
  EXPECT_FALSE(none.core_covers_all_pairs());
  // hybrid: each pair's sigma from the sub-styles that serve it (the first sub-style's table
  // has no entry for 2-2, which it does not serve), the smallest of overlaid ones, mixed
  // where the hybrid mixes, and the fixed radius where no sub-style on the pair has one
  auto hybrid = setup(s,
                      {"pair_style hybrid/overlay lj/cut 2.5 lj/cut 2.0 morse 2.0",
                       "pair_coeff 1 1 lj/cut 1 1.0 1.0", "pair_coeff 1 1 lj/cut 2 0.5 0.9",
                       "pair_coeff 2 2 morse 0.3 1.5 1.1", "pair_coeff 1 2 lj/cut 1 0.8 1.1",
                       "pair_coeff 1 2 morse 0.5 2.0 1.2"},
                      0.7);
  hybrid.core_sigma = 0.8;
  FlowMapBridge overlaid(hybrid);
  EXPECT_EQ(overlaid.core_radii_text(), "1-1 0.72, 1-2 0.88, 2-2 0.7");
  auto mixed = setup(s,
                     {"pair_style hybrid lj/cut 2.5", "pair_coeff 1 1 lj/cut 1.0 1.0",
                      "pair_coeff 2 2 lj/cut 0.5 0.8"},
                     0.7);
  mixed.core_sigma = 0.8;
  EXPECT_EQ(FlowMapBridge(mixed).core_radii_text(), "1-1 0.8, 1-2 0.715542, 2-2 0.64");
  // a radius from sigma beyond the cutoff is refused, naming the pair
  auto too_far = setup(s, lj, 0.0);
  too_far.core_sigma = 3.0;
  try {
    FlowMapBridge bridge(too_far);
    ADD_FAILURE() << "expected FlowMapBridgeError";
  } catch (FlowMapBridgeError &e) {
    EXPECT_THAT(e.what(), HasSubstr("core_radius 3 (3 sigma) is not below the pair cutoff 2.5 "
                                    "of types 1 1"));
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, EnergyBridgeRegularised, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool> &info) {
                           return info.param ? "direct" : "neighbors";
                         });

TEST(EnergyBridgeErrors, RegularisationNeedsSingleAndACoreBelowTheCutoff)
{
  const System s = test_system(2);
  try {
    FlowMapBridge bridge(setup_for(
        s, {"pair_style hybrid/overlay lj/cut 2.5 dsmc 2.0 1234 1.0 1.0 1 1",
            "pair_coeff * * lj/cut 1.0 1.0", "pair_coeff * * dsmc 1.0 1.0"},
        0.8));
    ADD_FAILURE() << "expected FlowMapBridgeError";
  } catch (FlowMapBridgeError &e) {
    EXPECT_THAT(e.what(), HasSubstr("has no single()"));
  }
  // Radii from sigma only, and the style reports none (hybrid): no pair is regularised, so
  // no single() is needed (fix flowmap's default outside lj units).
  auto sigma_only = setup_for(
      s, {"pair_style hybrid/overlay lj/cut 2.5 dsmc 2.0 1234 1.0 1.0 1 1",
          "pair_coeff * * lj/cut 1.0 1.0", "pair_coeff * * dsmc 1.0 1.0"},
      0.0);
  sigma_only.core_sigma = 0.8;
  FlowMapBridge unregularised(sigma_only);
  EXPECT_FALSE(unregularised.core_covers_all_pairs());
  EXPECT_EQ(unregularised.core_radius(1, 2), 0.0);
  try {
    FlowMapBridge bridge(setup_for(
        s, {"pair_style lj/cut 1.122462048309373", "pair_coeff * * 1.0 1.0"}, 1.2));
    ADD_FAILURE() << "expected FlowMapBridgeError";
  } catch (FlowMapBridgeError &e) {
    EXPECT_THAT(e.what(), HasSubstr("core_radius 1.2 is not below the pair cutoff"));
  }
}

/* ---------------------------------------------------------------------- */
// Invalid input

namespace {
std::string bridge_error(const std::vector<std::string> &commands)
{
  try {
    FlowMapBridge bridge(setup_for(test_system(2), commands));
  } catch (FlowMapBridgeError &e) {
    return e.what();
  }
  return "no error";
}
}    // namespace

TEST(EnergyBridgeErrors, InvalidPairCommandsAreNamed)
{
  std::string m = bridge_error({"pair_style lj/nonsense 2.5", "pair_coeff * * 1.0 1.0"});
  EXPECT_THAT(m, HasSubstr("pair command 'pair_style lj/nonsense 2.5'"));
  EXPECT_THAT(m, HasSubstr("Unrecognized pair style"));

  m = bridge_error({"pair_style lj/cut 2.5", "pair_coeff * * one 1.0"});
  EXPECT_THAT(m, HasSubstr("pair command 'pair_coeff * * one 1.0'"));
  EXPECT_THAT(m, HasSubstr("Expected floating point"));

  m = bridge_error({"pair_style lj/cut 2.5", "pair_coeff 1 1 1.0 1.0"});
  EXPECT_THAT(m, HasSubstr("'pair_style lj/cut 2.5', 'pair_coeff 1 1 1.0 1.0'"));
  EXPECT_THAT(m, HasSubstr("All pair coeffs are not set"));

  m = bridge_error({"pair_style lj/cut 2.5", "pair_coeff * * 1.0 1.0", "pair_modify bogus"});
  EXPECT_THAT(m, HasSubstr("pair command 'pair_modify bogus'"));
  // LAMMPS's own words (2021: "Illegal ...", from 2023: names the keyword).
  EXPECT_THAT(m, AnyOf(HasSubstr("Illegal pair_modify command"),
                       HasSubstr("Unknown pair_modify keyword: bogus")));

  m = bridge_error({"pair_style lj/cut 2.5", "fix 1 all nve"});
  EXPECT_THAT(m, HasSubstr("'fix 1 all nve' is not a pair_style, pair_coeff or pair_modify"));

  EXPECT_THAT(bridge_error({}), HasSubstr("no pair commands given"));
}

TEST(EnergyBridgeErrors, TailCorrectionIn2DIsRefusedByLammps)
{
  const std::string m =
      bridge_error({"pair_style lj/cut 2.5", "pair_coeff * * 1.0 1.0", "pair_modify tail yes"});
  EXPECT_THAT(m, HasSubstr("Cannot use pair tail corrections with 2d simulations"));
}

TEST(EnergyBridgeErrors, InvalidSetup)
{
  System s = test_system(2);
  auto setup = setup_for(s, kLJ);
  setup.types[3] = 3;
  EXPECT_THROW(FlowMapBridge bridge(setup), FlowMapBridgeError);
  setup = setup_for(s, kLJ);
  setup.box_lengths = {7.5, 7.5, 7.5};
  EXPECT_THROW(FlowMapBridge bridge(setup), FlowMapBridgeError);
  setup = setup_for(s, kLJ);
  FlowMapBridge bridge(setup);
  const std::vector<double> bad_box = {-1.0, 7.5};
  double e = 0.0;
  try {
    bridge.evaluate(s.positions.data(), 1, bad_box.data(), &e, nullptr, false);
    ADD_FAILURE() << "expected FlowMapBridgeError";
  } catch (FlowMapBridgeError &err) {
    EXPECT_THAT(err.what(), HasSubstr("box length -1 along axis 0 is not positive"));
  }
}

TEST(EnergyBridgeErrors, DistributedErrorReachesEveryRank)
{
  const System s = test_system(2);
  FlowMapBridge bridge(setup_for(s, kLJ));
  // Configuration 1 (rank 0 on one rank; the last rank's block on two) has a bad box.
  std::vector<double> batch = s.positions;
  batch.insert(batch.end(), s.positions.begin(), s.positions.end());
  std::vector<double> boxes = {s.box[0], s.box[1], 0.0, s.box[1]};
  std::vector<double> e(2);
  try {
    flowmap::evaluate_distributed(bridge, MPI_COMM_WORLD, batch.data(), 2, boxes.data(), 2,
                                  e.data(), nullptr, false);
    ADD_FAILURE() << "expected CollectiveError";
  } catch (flowmap::CollectiveError &err) {
    EXPECT_THAT(err.what(), HasSubstr("box length 0 along axis 0"));
  }
}
