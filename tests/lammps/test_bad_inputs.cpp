// Bad input a new user may give fix flowmap, compute ress and the energy bridge: each one gives
// a clear, named error or a counted warning, on 1 and on 2 ranks; nothing crashes or hangs and
// no NaN reaches a reported number.
#include "flowmap_flow_options.h"
#include "flowmap_lammps_bridge.h"
#include "flowmap_model.h"
#include "flowmap_model_file.h"
#include "lammps_fixture.h"
#include "input_text.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace LAMMPS_NS;
using flowmap_test::bare_message;
using flowmap_test::LammpsRunner;
using flowmap_test::world_rank;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using flowmap_test::kWcaLines;
using flowmap_test::kLjLines;
using flowmap_test::quoted;
using flowmap_test::number;

namespace {


constexpr int kSide = 5;    // 25 particles on a square lattice
constexpr double kDensity = 0.735;
const double kBox = std::sqrt(kSide * kSide / kDensity);

std::vector<std::string> system_lines()
{
  return {"units lj", "dimension 2", "atom_style atomic", "atom_modify map array",
          "region box block 0 " + number(kBox) + " 0 " + number(kBox) + " -0.5 0.5",
          "create_box 1 box", "lattice sq " + number(kSide * kSide / (kBox * kBox)) +
              " origin 0.5 0.5 0.0",
          "create_atoms 1 box", "mass 1 1.0"};
}

// WCA at T 2 -> LJ at T 1, as the other tests, a frame every `nevery` steps.
std::string fix_flowmap(const std::string &id, const std::string &keywords,
                        const std::string &temperatures = "2.0 1.0", int nevery = 1)
{
  return "fix " + id + " all flowmap " + std::to_string(nevery) + " " + temperatures +
      " source" + quoted(kWcaLines) +
      " target" + quoted(kLjLines) + " " + keywords;
}

// One dump frame of the lattice; atom `moved` (1-based, 0: none) at the text `x` `y`.
std::string lattice_frame(int step, int moved = 0, const std::string &x = "",
                          const std::string &y = "", const std::string &natoms = "25")
{
  std::ostringstream out;
  out << "ITEM: TIMESTEP\n" << step << "\nITEM: NUMBER OF ATOMS\n" << natoms
      << "\nITEM: BOX BOUNDS pp pp pp\n0 " << number(kBox) << "\n0 " << number(kBox)
      << "\n-0.5 0.5\nITEM: ATOMS id type x y\n";
  for (int i = 0; i < kSide * kSide; ++i) {
    out << i + 1 << " 1 ";
    if (i + 1 == moved) out << x << " " << y << "\n";
    else
      out << number((i % kSide + 0.5) * kBox / kSide + 0.01 * step) << " "
          << number((i / kSide + 0.5) * kBox / kSide) << "\n";
  }
  return out.str();
}

// Rank 0 writes, everyone waits.
void write_file(const std::string &path, const std::string &text)
{
  if (world_rank() == 0) std::ofstream(path) << text;
  MPI_Barrier(MPI_COMM_WORLD);
}

// A new (identity) tiny flow for the system, WCA T 2 -> LJ T 1 at the same density.
const std::string &identity_model()
{
  static const std::string path = [] {
    const std::string file = "identity_bad_inputs.flow";
    if (world_rank() == 0) {
      flowmap::ModelMetadata meta;
      meta.source_box = meta.target_box = {kBox, kBox};
      meta.source_temperature = 2.0;
      meta.target_temperature = 1.0;
      flowmap::FlowModel model(flowmap::FlowOptions::preset("tiny", kSide * kSide, 2), meta);
      flowmap::save_model(model, file);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    return file;
  }();
  return path;
}

class BadInput : public flowmap_test::LammpsTest {
 protected:
  void SetUp() override
  {
    identity_model();    // before this test's instance loads the plugin (29Sep2021)
    LammpsTest::SetUp();
    commands(system_lines());
    commands(kWcaLines);
  }
  std::string error(const std::string &line) { return bare_message(error_of(line)); }

  // The warnings the commands log, from a log file of their own.
  std::string logged(const std::vector<std::string> &lines)
  {
    const std::string path = "bad_inputs_warnings.log";
    command("log " + path);
    commands(lines);
    command("log none");
    MPI_Barrier(MPI_COMM_WORLD);
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
};

}    // namespace

// Two atoms on top of each other in map mode: infinite energies in both Hamiltonians, a NaN
// log-weight. The frame counts with weight 0 and a warning; RESS and the free energy of the
// other frames stay finite.
TEST_F(BadInput, OverlappingAtomsInMapModeGetWeightZero)
{
  // atom 1 of frame 1 (lattice_frame shifts x by 0.01 per step)
  const double x1 = 0.5 * kBox / kSide + 0.01, y1 = 0.5 * kBox / kSide;
  write_file("overlap_map.dump", lattice_frame(0) + lattice_frame(1, 2, number(x1), number(y1)) +
                                     lattice_frame(2) + lattice_frame(3));
  const auto log = logged(
      {fix_flowmap("map", "mode map load " + identity_model() + " mapbatch 1"),
       "compute r all ress fix map bootstrap 0", "thermo_style custom step c_r[1] c_r[3]",
       "thermo 1", "rerun overlap_map.dump dump x y", "variable ress equal c_r[1]",
       "variable count equal c_r[3]", "variable free equal c_r[4]",
       "variable last equal f_map[18]"});
  EXPECT_EQ(equal_variable("count"), 4.0);
  EXPECT_TRUE(std::isfinite(equal_variable("ress")));
  EXPECT_GT(equal_variable("ress"), 0.0);
  EXPECT_LE(equal_variable("ress"), 0.75 + 1e-12);    // at most 3 of 4 frames weigh
  EXPECT_TRUE(std::isfinite(equal_variable("free")));
  EXPECT_FALSE(std::isnan(equal_variable("last")));
  if (world_rank() == 0)
    EXPECT_THAT(log, HasSubstr("1 of the frames of steps 1 to 1 (1 of 2 so far) have a "
                               "non-finite log-weight"));
}

// Before the fix has mapped a frame (a run that starts between two of its steps), the free
// energies and the flow/identity ratio have no value: NaN, never a 0 that would
// read as one. The first frame makes them finite. (Read as expressions: an equal-style
// variable holding NaN cannot be referenced in another formula.)
TEST_F(BadInput, ComputeRessHasNoFreeEnergyBeforeTheFirstFrame)
{
  auto element = [this](int i) {
    std::string expression = "c_r[" + std::to_string(i) + "]";
    return lmp()->input->variable->compute_equal(&expression[0]);
  };
  commands({fix_flowmap("map", "mode map load " + identity_model(), "2.0 1.0", 2),
            "compute r all ress fix map bootstrap 0",
            "thermo_style custom step c_r[1] c_r[3] c_r[4] c_r[13]", "reset_timestep 1",
            "run 0"});
  EXPECT_EQ(element(3), 0.0);
  EXPECT_EQ(element(1), 0.0);
  for (int i : {4, 11, 13}) EXPECT_TRUE(std::isnan(element(i))) << "element " << i;
  commands({"fix integrate all nve", "run 1"});
  EXPECT_EQ(element(3), 1.0);
  for (int i : {1, 4, 11, 13}) EXPECT_TRUE(std::isfinite(element(i))) << "element " << i;
}

TEST_F(BadInput, NonFiniteCoordinateInFramesFileIsRefused)
{
  write_file("nan.dump", lattice_frame(0) + lattice_frame(1, 3, "nan", "1.0"));
  // the frames are read at the first run
  command(fix_flowmap("f", "arch tiny frames nan.dump"));
  EXPECT_THAT(error("run 0"), HasSubstr("atom ID 3 has coordinate nan, which is not a finite "
                                        "number"));
}

TEST_F(BadInput, AbsurdCoordinateInFramesFileIsRefused)
{
  write_file("huge.dump", lattice_frame(0, 4, "1e300", "1.0"));
  command(fix_flowmap("g", "arch tiny frames huge.dump"));
  EXPECT_THAT(error("run 0"), HasSubstr("atom ID 4 has coordinate 1e300, more than a million "
                                        "box lengths outside the box"));
}

TEST_F(BadInput, DumpHeaderClaimingAbsurdAtomCountIsRefusedBeforeAllocating)
{
  write_file("absurd.dump", lattice_frame(0, 0, "", "", "1000000000000000"));
  command(fix_flowmap("f", "arch tiny frames absurd.dump"));
  const auto message = error("run 0");
  EXPECT_THAT(message, HasSubstr("dump file absurd.dump"));
  EXPECT_THAT(message, HasSubstr("the header claims 1000000000000000 atoms, but the rest of the "
                                 "file can hold at most"));
}

TEST_F(BadInput, ComputeRessFileInMissingDirectoryIsANamedError)
{
  EXPECT_THAT(error("compute r all ress 2.0 1.0 target" + quoted(kLjLines) +
                    " file /nonexistent-flowmap-dir/ress.dat"),
              HasSubstr("Compute ress r: cannot open file /nonexistent-flowmap-dir/ress.dat: "));
  commands({"compute s all ress 2.0 1.0 target" + quoted(kLjLines) +
                " scan 0.7 0.8 2 1.0 1.1 2 /nonexistent-flowmap-dir/scan.dat",
            "thermo_style custom step c_s[1]"});
  EXPECT_THAT(error("run 0"), HasSubstr("cannot write scan table /nonexistent-flowmap-dir/"
                                        "scan.dat.tmp"));
}

// After unfix and a new fix flowmap with the same ID, compute ress counts the new fix's
// frames as new (it skipped as many as the old fix had mapped).
TEST_F(BadInput, UnfixAndNewFixWithTheSameIdAreCountedCorrectly)
{
  write_file("five.dump", lattice_frame(0) + lattice_frame(1) + lattice_frame(2) +
                              lattice_frame(3) + lattice_frame(4));
  const std::string map = fix_flowmap("map", "mode map load " + identity_model() + " mapbatch 1");
  commands({map, "compute r all ress fix map bootstrap 0", "thermo_style custom step c_r[3]",
            "thermo 1", "rerun five.dump dump x y", "variable count equal c_r[3]"});
  EXPECT_EQ(equal_variable("count"), 5.0);
  commands({"unfix map", map, "rerun five.dump dump x y"});
  EXPECT_EQ(equal_variable("count"), 10.0);
}

TEST_F(BadInput, PoolSmallerThanBatchIsRefused)
{
  EXPECT_THAT(error(fix_flowmap("f", "arch tiny pool 10 batch 16")),
              HasSubstr("pool 10 is smaller than batch 16"));
}

TEST_F(BadInput, UnknownOrUnavailableDeviceIsRefused)
{
  EXPECT_THAT(error(fix_flowmap("f", "arch tiny device gpu")),
              HasSubstr("Fix flowmap device: unknown device 'gpu'; valid: cpu, cuda, cuda:K"));
  if (!torch::cuda::is_available())
    EXPECT_THAT(error(fix_flowmap("f", "arch tiny device cuda")),
                HasSubstr("Fix flowmap device: device cuda needs a LibTorch built with CUDA"));
}

TEST_F(BadInput, MorePairFrequenciesThanFeaturesAreRefused)
{
  command(fix_flowmap("f", "arch tiny pair_frequencies 3"));
  EXPECT_THAT(error("run 0"), HasSubstr("Fix flowmap: flow option 'pair_frequencies' must be "
                                        "at most frequencies (2), got 3"));
}

TEST_F(BadInput, NegativeOrUnattachedPairFrequenciesAreRefused)
{
  EXPECT_THAT(error(fix_flowmap("f", "arch tiny pair_frequencies -1")),
              HasSubstr("Fix flowmap pair_frequencies must be an integer >= 0, got -1"));
  EXPECT_THAT(error(fix_flowmap("f", "arch tiny layers -1")),
              HasSubstr("Fix flowmap layers must be an integer >= 0, got -1"));
  EXPECT_THAT(error(fix_flowmap("f", "arch tiny heads 0")),
              HasSubstr("Fix flowmap heads must be a positive integer, got 0"));
  command(fix_flowmap("f", "arch tiny layers 0 pair_frequencies 1"));
  EXPECT_THAT(error("run 0"), HasSubstr("Fix flowmap: flow option 'pair_frequencies' must be 0 "
                                        "when layers is 0"));
}

TEST_F(BadInput, TwoFixesWithTheSameSaveFileAreRefused)
{
  commands({fix_flowmap("a", "arch tiny save same.flow"),
            fix_flowmap("b", "arch tiny checkpoint 10 other.ckpt save same.flow")});
  EXPECT_THAT(error("run 0"), HasSubstr("both write same.flow"));
}

TEST_F(BadInput, PoolLargerThanMemoryIsRefusedWithTheEstimate)
{
  command(fix_flowmap("f", "arch tiny pool 2000000000"));
  const auto message = error("run 0");
  // 2 x (2e9 + 1000) x (25 x 2 + 1) x 8 bytes
  EXPECT_THAT(message, HasSubstr("pool 2000000000 and holdout 1000 (mapbatch 64) need about "
                                 "1.63e+03 GB per process"));
  EXPECT_THAT(message, HasSubstr("GB of memory"));
}

TEST_F(BadInput, HugeStepsPerFrameAreRefusedLargeOnesWarned)
{
  EXPECT_THAT(error(fix_flowmap("f", "arch tiny steps 1000000")),
              HasSubstr("steps: 1000000 optimizer steps per frame are more than 10000"));
  const auto log = logged({fix_flowmap("f", "arch tiny steps 500")});
  if (world_rank() == 0)
    EXPECT_THAT(log, HasSubstr("every frame adds 500 optimizer steps"));
  EXPECT_THAT(error("fix_modify f steps 1e6"),
              HasSubstr("fix_modify steps: 1000000 optimizer steps per frame are more than "
                        "10000"));
}

TEST_F(BadInput, MisspeltKeywordAfterFramesIsNamed)
{
  write_file("a.dump", lattice_frame(0));
  EXPECT_THAT(error(fix_flowmap("f", "arch tiny frames a.dump sead 5")),
              HasSubstr("'sead' is neither a readable file nor a fix flowmap keyword (did you "
                        "mean seed?)"));
  EXPECT_THAT(error(fix_flowmap("f", "arch tiny frames missing_frames.dump")),
              HasSubstr("frames: cannot read dump file 'missing_frames.dump'"));
  EXPECT_THAT(error(fix_flowmap("f", "arch tiny sead 5")),
              HasSubstr("Unknown fix flowmap keyword sead (did you mean seed?)"));
}

TEST_F(BadInput, InfiniteTemperaturesAndValuesAreRefused)
{
  // LAMMPS 2025's own parser refuses 1e999 as out of range; 29 Sep 2021's reads infinity.
  const auto lammps_refusal = HasSubstr("1e999 in input script or data file is out of range");
  EXPECT_THAT(error(fix_flowmap("f", "arch tiny", "1e999 1.0")),
              AnyOf(HasSubstr("temperatures must be > 0 and finite"), lammps_refusal));
  EXPECT_THAT(error(fix_flowmap("f", "arch tiny lr 1e999")),
              AnyOf(HasSubstr("lr must be a finite number, got 1e999"), lammps_refusal));
  EXPECT_THAT(error("compute r all ress 1e999 1.0 target" + quoted(kLjLines)),
              AnyOf(HasSubstr("source temperature 1e999 must be > 0 and finite"),
                    lammps_refusal));
}

// LAMMPS does not substitute variables inside quotes, and the bridges' private instances have
// no variables: the styles substitute the host's when the command is read.
TEST_F(BadInput, VariablesInQuotedPairCommandsAreSubstituted)
{
  commands({"variable rc equal 2.5", "variable eps string 1.0",
            "compute lit all ress 2.0 1.0 target" + quoted(kLjLines),
            "compute var all ress 2.0 1.0 target \"pair_style lj/cut ${rc}\" "
            "\"pair_coeff * * ${eps} 1.0 $(v_rc)\" \"pair_modify shift yes\"",
            "compute bad all ress 2.0 1.0 target \"pair_style lj/cut ${rc}\" "
            "\"pair_coeff * * 1.5 1.0\" \"pair_modify shift yes\"",
            "thermo_style custom step c_lit[7] c_var[7] c_bad[7]", "run 0",
            "variable lit equal c_lit[7]", "variable var equal c_var[7]",
            "variable bad equal c_bad[7]"});
  EXPECT_TRUE(std::isfinite(equal_variable("lit")));
  EXPECT_EQ(equal_variable("var"), equal_variable("lit"));
  EXPECT_NE(equal_variable("bad"), equal_variable("lit"));    // epsilon 1.5 differs
  EXPECT_THAT(error("compute u all ress 2.0 1.0 target \"pair_style lj/cut ${undefined_rc}\" "
                    "\"pair_coeff * * 1.0 1.0\""),
              HasSubstr("undefined_rc"));
}

// The simulation runs WCA; a fix that says its source is LJ would weigh every frame wrongly.
TEST_F(BadInput, SourceHamiltonianThatDiffersFromTheSimulationIsRefused)
{
  command("fix f all flowmap 1 2.0 1.0 source" + quoted(kLjLines) + " target" +
          quoted(kLjLines) + " arch tiny");
  const auto message = error("run 0");
  EXPECT_THAT(message, HasSubstr("the simulation's pair energy is"));
  EXPECT_THAT(message, HasSubstr("but the source Hamiltonian of the fix (keyword source) gives"));
}

// An atom far outside the box with a cutoff longer than half the box (neighbor lists): the
// helper wraps it exactly, so the energy equals that of the wrapped configuration (this
// segfaulted through x[-1] when the atom was lost).
TEST(BridgeBadInput, AtomFarOutsideTheBoxIsWrappedExactly)
{
  FlowMapBridgeSetup setup;
  setup.units = "lj";
  setup.dimension = 2;
  setup.types.assign(kSide * kSide, 1);
  setup.box_lengths = {kBox, kBox};
  setup.pair_commands = {"pair_style lj/cut 3.0", "pair_coeff * * 1.0 1.0",
                         "pair_modify shift yes"};
  ASSERT_GT(3.0, 0.5 * kBox);
  FlowMapBridge bridge(setup);
  std::vector<double> x(2 * kSide * kSide);
  for (int i = 0; i < kSide * kSide; ++i) {
    x[2 * i] = (i % kSide + 0.5) * kBox / kSide + 0.1 * std::sin(i);
    x[2 * i + 1] = (i / kSide + 0.5) * kBox / kSide + 0.1 * std::cos(i);
  }
  double wrapped = 0.0;
  bridge.evaluate(x.data(), 1, setup.box_lengths.data(), &wrapped, nullptr, false);
  ASSERT_TRUE(std::isfinite(wrapped));
  for (double far : {1e300, -1e300, 1e12}) {
    auto y = x;
    y[0] = far;
    double energy = 0.0;
    EXPECT_NO_THROW(
        bridge.evaluate(y.data(), 1, setup.box_lengths.data(), &energy, nullptr, false));
    EXPECT_FALSE(std::isnan(energy)) << "x = " << far;
  }
  // a million boxes away is the same configuration, to the rounding of the shifted coordinate
  auto y = x;
  y[0] = x[0] + 1e6 * kBox;
  double energy = 0.0;
  bridge.evaluate(y.data(), 1, setup.box_lengths.data(), &energy, nullptr, false);
  EXPECT_NEAR(energy, wrapped, 1e-6 * std::fabs(wrapped) + 1e-9);
}
