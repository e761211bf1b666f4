// fix flowmap inside LAMMPS: every misuse gives a clear error, mapped frames and weights equal
// the flow and the formula applied independently, loss gradients through the energy bridge
// equal finite differences, a restarted run equals an uninterrupted one, 1 and 2 ranks and 1
// and 2 partitions train the same model, and a short training run beats the identity.
#include "fix_flowmap.h"
#include "fix_flowmap_settings.h"
#include "flowmap_dump_reader.h"
#include "flowmap_energy_function.h"
#include "flowmap_lammps_bridge.h"
#include "flowmap_model_file.h"
#include "flowmap_weights.h"
#include "lammps_fixture.h"
#include "input_text.h"
#include "output_files.h"

#include "modify.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace LAMMPS_NS;
using flowmap_test::bare_message;
using flowmap_test::LammpsRunner;
using flowmap_test::world_rank;
using flowmap_test::world_size;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using flowmap_test::kWcaLines;
using flowmap_test::kLjLines;
using flowmap_test::quoted;
using flowmap_test::number;

namespace {


constexpr int kSide = 5;    // 25 particles: the LJ cutoff 2.5 stays below half the box
constexpr double kDensity = 0.735;

double box_length(int side = kSide, double density = kDensity)
{
  return std::sqrt(side * side / density);
}

std::vector<std::string> system_lines(int side = kSide, double density = kDensity)
{
  const double L = box_length(side, density);
  return {"units lj", "dimension 2", "atom_style atomic", "atom_modify map array",
          "region box block 0 " + number(L) + " 0 " + number(L) + " -0.5 0.5",
          "create_box 1 box",
          // lattice points half a spacing inside the box: exactly side^2 atoms
          "lattice sq " + number(side * side / (L * L)) + " origin 0.5 0.5 0.0",
          "create_atoms 1 box", "mass 1 1.0"};
}

// Langevin MD of the reduced system; frames every `every` steps from timestep 0, positions
// written exactly.
void write_frames(const std::string &path, const std::vector<std::string> &pair, double t,
                  int frames, int every, int seed)
{
  LammpsRunner r;
  r.commands(system_lines());
  r.commands(pair);
  const std::string T = number(t), s = std::to_string(seed);
  r.commands({"velocity all create " + T + " " + s + " dist gaussian",
              "fix lang all langevin " + T + " " + T + " 0.5 " + s, "fix nve all nve",
              "fix 2d all enforce2d", "timestep 0.005", "thermo 0", "run 2000",
              "reset_timestep 0",
              "dump d all custom " + std::to_string(every) + " " + path + " id type x y",
              "dump_modify d sort id format float %.17g",
              "run " + std::to_string((frames - 1) * every), "undump d"});
}

// The common part of every fix flowmap command in these tests: WCA at T 2 -> LJ at T 1.
std::string fix_flowmap(const std::string &id, int nevery, const std::string &keywords)
{
  return "fix " + id + " all flowmap " + std::to_string(nevery) + " 2.0 1.0 source" +
      quoted(kWcaLines) + " target" + quoted(kLjLines) + " " + keywords;
}

std::vector<double> parameters_of(const std::string &model_file)
{
  auto model = flowmap::load_model(model_file);
  std::vector<double> all;
  for (const auto &p : model.flow()->parameters()) {
    auto flat = p.detach().to(torch::kFloat64).reshape({-1}).contiguous();
    all.insert(all.end(), flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
  }
  return all;
}

double max_difference(const std::vector<double> &a, const std::vector<double> &b)
{
  if (a.size() != b.size()) return INFINITY;
  double d = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

// Shared frame files, written once per test program (each ctest run has its own folder).
struct Frames {
  static const Frames &get()
  {
    static Frames frames;
    return frames;
  }
  std::string source = "source_frames.dump", source_b = "source_frames_b.dump",
              target = "target_frames.dump";

 private:
  Frames()
  {
    write_frames(source, kWcaLines, 2.0, 120, 20, 101);
    write_frames(source_b, kWcaLines, 2.0, 120, 20, 202);
    write_frames(target, kLjLines, 1.0, 120, 20, 303);
  }
};

// A model trained briefly on the shared frames, in float64, for the inference tests; particle
// split, as the default network, with the tiny sizes.
const std::string &trained_model()
{
  static const std::string path = [] {
    const auto &frames = Frames::get();
    LammpsRunner r;
    r.load_plugin();
    r.commands(system_lines());
    r.commands(kWcaLines);
    r.commands({fix_flowmap("f", 20, "arch tiny split particle precision float64 batch 16 "
                                     "steps 1 holdout 10 lr 3e-3 save trained.flow frames " +
                                         frames.target),
                "rerun " + frames.source + " dump x y"});
    return std::string("trained.flow");
  }();
  return path;
}

// An instance with the reduced system and a fix "map" mapping with the trained model.
void start_mapping(LammpsRunner &r, int mapbatch)
{
  r.load_plugin();
  r.commands(system_lines());
  r.commands(kWcaLines);
  r.command(fix_flowmap("map", 20, "mode map load " + trained_model() + " mapbatch " +
                                       std::to_string(mapbatch)));
}

class FixFlowMapErrors : public flowmap_test::LammpsTest {
 protected:
  void SetUp() override
  {
    // Made before this test's instance loads the plugin: LAMMPS 29Sep2021 keeps one plugin
    // list for the whole process, so a second live instance cannot load it too.
    Frames::get();
    trained_model();
    LammpsTest::SetUp();
    commands(system_lines());
    commands(kWcaLines);
    commands({"fix nve all nve", "fix 2d all enforce2d"});
  }
  std::string error(const std::string &line) { return bare_message(error_of(line)); }
};

}    // namespace

/* ----------------------------------------------------------------------
   Bad input: each misuse is refused with a message naming the problem
------------------------------------------------------------------------- */

TEST_F(FixFlowMapErrors, Syntax)
{
  EXPECT_THAT(error("fix f all flowmap 10 2.0"),
              HasSubstr("expected fix ID group flowmap Nevery Tsource Ttarget"));
  EXPECT_THAT(error("fix f all flowmap 0 2.0 1.0" + quoted(kWcaLines)),
              HasSubstr("Nevery must be > 0, got 0"));
  EXPECT_THAT(error("fix f all flowmap 10 -1.0 1.0 source" + quoted(kWcaLines) + " target" +
                    quoted(kLjLines)),
              HasSubstr("temperatures must be > 0"));
  EXPECT_THAT(error(fix_flowmap("f", 10, "blah 3")), HasSubstr("Unknown fix flowmap keyword blah"));
  EXPECT_THAT(error(fix_flowmap("f", 10, "batch")), HasSubstr("keyword batch needs 1 value(s)"));
  EXPECT_THAT(error(fix_flowmap("f", 10, "batch 0")),
              HasSubstr("batch must be a positive integer, got 0"));
  EXPECT_THAT(error("fix f all flowmap 10 2.0 1.0 source" + quoted(kWcaLines)),
              HasSubstr("needs both the source and the target Hamiltonian"));
  EXPECT_THAT(error("fix f all flowmap 10 2.0 1.0 source" + quoted(kWcaLines) + " target seed 3"),
              HasSubstr("target needs one or more quoted pair commands"));
  EXPECT_THAT(error(fix_flowmap("f", 10, "mode infer")), HasSubstr("mode must be train or map"));
  EXPECT_THAT(error(fix_flowmap("f", 10, "mode map")),
              HasSubstr("mode map needs a trained model (keyword load)"));
  EXPECT_THAT(error(fix_flowmap("f", 10, "nll 1")), HasSubstr("nll 1 needs target frames"));
  EXPECT_THAT(error(fix_flowmap("f", 10, "direction inverse kld 1")),
              HasSubstr("kld 1 needs source frames"));
  EXPECT_THAT(error(fix_flowmap("f", 10, "kld 0")),
              HasSubstr("needs kld, nll or reweighted > 0 to train"));
  EXPECT_THAT(error(fix_flowmap("f", 10, "reweighted 1 0")),
              HasSubstr("reweighted needs a weight >= 0 and a power alpha in (0, 1], got power 0"));
  EXPECT_THAT(error(fix_flowmap("f", 10, "reweighted 1 1.5")),
              HasSubstr("got power 1.5"));
  EXPECT_THAT(error(fix_flowmap("f", 10, "reweighted 1")),
              HasSubstr("keyword reweighted needs 2 value(s)"));
  EXPECT_THAT(error(fix_flowmap("f", 10, "direction inverse kld 0 reweighted 1 0.5")),
              HasSubstr("reweighted 1 needs source frames"));
  EXPECT_THAT(error(fix_flowmap("f", 10, "arch huge")), HasSubstr("arch huge is unknown"));
  EXPECT_THAT(error(fix_flowmap("f", 10, "split diagonal")),
              HasSubstr("split must be component or particle, got diagonal"));
  EXPECT_THAT(error(fix_flowmap("f", 10, "precision half")),
              HasSubstr("precision must be float32 or float64"));
  EXPECT_THAT(error(fix_flowmap("f", 10, "decay 2.0 100")),
              HasSubstr("decay needs a factor in (0, 1]"));
  EXPECT_THAT(error(fix_flowmap("f", 10, "density -0.7")), HasSubstr("density must be > 0"));
  EXPECT_THAT(error(fix_flowmap("f", 10, "direction sideways")),
              HasSubstr("direction must be forward"));
  EXPECT_THAT(error(fix_flowmap("f", 10, "cache maybe")), HasSubstr("cache must be yes or no"));
}

// The keyword table drives parsing and defaults; the command page must list the same keywords
// in its Syntax section and state each default the table sets in its Default section.
TEST(FixFlowMapSettings, KeywordTableMatchesTheDocumentation)
{
  std::ifstream in(std::string(FLOWMAP_SOURCE_DIR) + "/doc/fix_flowmap.rst");
  std::stringstream text;
  text << in.rdbuf();
  const std::string page = text.str();
  const auto syntax_at = page.find("Syntax\n"), examples_at = page.find("Examples\n");
  const auto default_at = page.find("Default\n\"\"\"");
  ASSERT_NE(syntax_at, std::string::npos);
  ASSERT_NE(examples_at, std::string::npos);
  ASSERT_NE(default_at, std::string::npos);

  std::set<std::string> documented;
  const std::regex keyword_line(R"(^\s+((\*\w+\*,?\s*)+)values?\b)"), name(R"(\*(\w+)\*)");
  std::istringstream syntax(page.substr(syntax_at, examples_at - syntax_at));
  for (std::string line; std::getline(syntax, line);) {
    std::smatch match;
    if (!std::regex_search(line, match, keyword_line)) continue;
    const std::string names = match[1];
    for (std::sregex_iterator it(names.begin(), names.end(), name), end; it != end; ++it)
      documented.insert((*it)[1]);
  }
  std::set<std::string> table;
  for (const auto &k : LAMMPS_NS::flowmap_keywords()) table.insert(k.name);
  EXPECT_EQ(documented, table);

  // the Default section with its line breaks as spaces
  std::string defaults = page.substr(default_at);
  std::replace(defaults.begin(), defaults.end(), '\n', ' ');
  for (const auto &k : LAMMPS_NS::flowmap_keywords())
    if (!k.doc_default.empty())
      EXPECT_THAT(defaults, HasSubstr(k.doc_default)) << "keyword " << k.name;
}

TEST_F(FixFlowMapErrors, FixModify)
{
  command(fix_flowmap("f", 10, "arch tiny"));
  EXPECT_THAT(error("fix_modify f steps -1"), HasSubstr("fix_modify steps must be >= 0, got -1"));
  EXPECT_THAT(error("fix_modify f steps"), HasSubstr("fix_modify steps needs a number"));
  EXPECT_THAT(error("fix_modify f mode sideways"), HasSubstr("mode must be train or map"));
  EXPECT_THAT(error("fix_modify f mode map"), HasSubstr("mode map needs a trained model"));
  EXPECT_THAT(error("fix_modify f reweighted 1"),
              HasSubstr("fix_modify reweighted needs 2 value(s)"));
  EXPECT_THAT(error("fix_modify f reweighted 1 0"), HasSubstr("got power 0"));
  EXPECT_THAT(error("fix_modify f reweighted -1 0.5"), HasSubstr("reweighted must be >= 0, got -1"));
  EXPECT_THAT(error("fix_modify f nll 1"), HasSubstr("fix_modify nll 1 needs target frames"));
  // Each refusal above left the weights as they were: KLD alone, so switching it off is
  // refused too.
  EXPECT_THAT(error("fix_modify f kld 0"),
              HasSubstr("fix_modify needs kld, nll or reweighted > 0 to train"));
  EXPECT_THAT(error("fix_modify f colour blue"),
              AnyOf(HasSubstr("Illegal fix_modify command"),    // LAMMPS 2021
                    HasSubstr("does not support fix_modify colour command")));
}

TEST_F(FixFlowMapErrors, SystemChecksAtInit)
{
  command(fix_flowmap("f", 10, "arch tiny target \"pair_style nonsense 2.5\""));
  EXPECT_THAT(error("run 0"), HasSubstr("Fix flowmap target Hamiltonian: pair command "
                                        "'pair_style nonsense 2.5' failed"));
  command("unfix f");
  command("group half id <= 12");
  command(fix_flowmap("f", 10, "arch tiny").replace(6, 3, "half"));
  EXPECT_THAT(error("run 0"), HasSubstr("group holding all atoms"));
  command("unfix f");
  command(fix_flowmap("f", 10, "arch tiny save /nonexistent-folder/model.flow"));
  EXPECT_THAT(error("run 0"), HasSubstr("cannot write its model file /nonexistent-folder/"));
  command("unfix f");
  command(fix_flowmap("f", 10, "mode map load missing.flow"));
  EXPECT_THAT(error("run 0"), HasSubstr("cannot open model file 'missing.flow'"));
  command("unfix f");
  command(fix_flowmap("f", 10, "arch tiny density 0.7 sourcedensity 0.8"));
  EXPECT_THAT(error("run 0"), HasSubstr("sourcedensity 0.8 differs from the simulated source"));
}

TEST_F(FixFlowMapErrors, TooFewFramesForTheHoldOutAndABatch)
{
  const auto &frames = Frames::get();
  command(fix_flowmap("f", 10, "arch tiny holdout 110 batch 16 frames " + frames.target));
  EXPECT_THAT(error("run 0"), HasSubstr("the frames files hold 120 frames; the hold-out set "
                                        "takes the first 110 and training needs 16 more"));
}

TEST_F(FixFlowMapErrors, CorruptModelFileIsRefused)
{
  if (world_rank() == 0) std::ofstream("garbage.flow") << "not a model file\n";
  MPI_Barrier(MPI_COMM_WORLD);
  command(fix_flowmap("f", 10, "mode map load garbage.flow"));
  EXPECT_THAT(error("run 0"), HasSubstr("model file 'garbage.flow': not a readable model archive"));
}

TEST_F(FixFlowMapErrors, NonPeriodicBox)
{
  // a fresh instance with a fixed boundary in y
  runner_ = std::make_unique<LammpsRunner>();
  runner_->load_plugin();
  auto lines = system_lines();
  lines.insert(lines.begin() + 2, "boundary p f p");
  commands(lines);
  commands(kWcaLines);
  command(fix_flowmap("f", 10, "arch tiny"));
  EXPECT_THAT(error("run 0"), HasSubstr("box must be periodic in every direction"));
}

TEST_F(FixFlowMapErrors, AtomCountOrBoxChangedMidRun)
{
  command(fix_flowmap("f", 10, "arch tiny"));
  command("run 0");
  command("delete_atoms group all");    // every atom gone: any change must be refused
  command("create_atoms 1 single 1.0 1.0 0.0");
  EXPECT_THAT(error("run 0"), HasSubstr("the number of atoms changed from 25 to 1"));

  runner_ = std::make_unique<LammpsRunner>();
  runner_->load_plugin();
  commands(system_lines());
  commands(kWcaLines);
  command(fix_flowmap("f", 10, "arch tiny"));
  command("run 0");
  command("change_box all x final 0 7.0 remap");
  EXPECT_THAT(error("run 0"), HasSubstr("the box changed from"));
}

TEST_F(FixFlowMapErrors, ModelForAnotherSystemIsRefused)
{
  const auto &model = trained_model();
  command(fix_flowmap("f", 10, "mode map load " + model + " density 0.7"));
  EXPECT_THAT(error("run 0"), HasSubstr("model was trained with target box"));

  runner_ = std::make_unique<LammpsRunner>();
  runner_->load_plugin();
  commands(system_lines(6));    // 36 particles
  commands(kWcaLines);
  command(fix_flowmap("f", 10, "mode map load " + model));
  EXPECT_THAT(error("run 0"), HasSubstr("model was trained for N = 25 particles, this system has 36"));
}

TEST(FixFlowMap, NonFiniteTargetEnergiesAreSkippedAndCounted)
{
  // Every frame has two particles on top of each other and no regularisation (core 0): the
  // target energy of every mapped frame is infinite, every batch is skipped, the run goes on.
  const std::string path = "overlapping.dump";
  if (world_rank() == 0) {
    std::ofstream out(path);
    const double L = box_length();
    for (int frame = 0; frame < 8; ++frame) {
      out << "ITEM: TIMESTEP\n" << frame << "\nITEM: NUMBER OF ATOMS\n25\n"
          << "ITEM: BOX BOUNDS pp pp pp\n0 " << number(L) << "\n0 " << number(L)
          << "\n-0.5 0.5\nITEM: ATOMS id type x y\n";
      for (int i = 0; i < 25; ++i) {
        const int site = i == 1 ? 0 : i;    // atom 2 sits on atom 1
        out << i + 1 << " 1 " << number((site % 5 + 0.5) * L / 5 + 0.01 * frame) << " "
            << number((site / 5 + 0.5) * L / 5) << "\n";
      }
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
  LammpsRunner r;
  r.load_plugin();
  r.commands(system_lines());
  r.commands(kWcaLines);
  r.commands({fix_flowmap("f", 1, "arch tiny batch 2 holdout 1 steps 1 core 0"),
              "variable steps equal f_f[1]", "variable skipped equal f_f[6]",
              "rerun " + path + " dump x y"});
  EXPECT_EQ(r.equal_variable("steps"), 0.0);
  EXPECT_GE(r.equal_variable("skipped"), 4.0);
}

/* ----------------------------------------------------------------------
   Inference: the dumped mapped positions are the flow applied to the dumped frame, and the
   weights compute ress reports are the formula evaluated independently
------------------------------------------------------------------------- */

TEST(FixFlowMap, MappedPositionsAndWeightsEqualIndependentEvaluation)
{
  const auto &frames = Frames::get();
  const auto &model_file = trained_model();
  {
    LammpsRunner r;
    start_mapping(r, 3);
    r.commands({"compute w all ress fix map file weights.dat",
                "thermo_style custom step c_w[1] c_w[3] c_w[9]", "thermo 60",
                "dump d all custom 60 mapped.dump id x y f_map[1] f_map[2]",
                "dump_modify d sort id format float %.17g",
                "rerun " + frames.source_b + " dump x y",
                "variable ress equal c_w[1]", "variable frames equal c_w[3]"});
    EXPECT_GT(r.equal_variable("frames"), 100.0);
  }
  if (world_rank() != 0) return;

  auto model = flowmap::load_model(model_file);
  const double L = box_length();
  const std::vector<double> box = {L, L};
  torch::NoGradGuard no_grad;

  // positions: the mapped dump holds the frame (x y) and its image (f_map[1] f_map[2])
  std::ifstream dump("mapped.dump");
  std::string line;
  int checked_frames = 0;
  double largest_move = 0.0;
  while (std::getline(dump, line)) {
    if (line.rfind("ITEM: ATOMS", 0) != 0) continue;
    std::vector<double> x(50), mapped(50);
    for (int i = 0; i < 25; ++i) {
      std::getline(dump, line);
      std::istringstream fields(line);
      int id;
      fields >> id;
      fields >> x[2 * (id - 1)] >> x[2 * (id - 1) + 1] >> mapped[2 * (id - 1)] >>
          mapped[2 * (id - 1) + 1];
    }
    auto result = model.forward(torch::tensor(x, torch::kFloat64).view({1, 25, 2}),
                                torch::zeros({1}, torch::kInt64));
    for (int v = 0; v < 50; ++v) {
      const double y = result.positions[0][v / 2][v % 2].item<double>();
      const double wrapped = y - L * std::floor(y / L);
      double diff = std::fabs(wrapped - mapped[v]);
      diff = std::min(diff, L - diff);    // 0 and L are the same point
      EXPECT_LT(diff, 1e-9) << "frame " << checked_frames << " value " << v;
      largest_move = std::max(largest_move, std::fabs(wrapped - x[v] - L * std::round((wrapped - x[v]) / L)));
    }
    ++checked_frames;
  }
  EXPECT_GE(checked_frames, 2);
  EXPECT_GT(largest_move, 1e-4) << "the trained flow should move particles";

  // weights: against the bridge and the model, evaluated here
  LAMMPS_NS::FlowMapBridgeSetup setup;
  setup.dimension = 2;
  setup.types.assign(25, 1);
  setup.box_lengths = box;
  setup.pair_commands = kWcaLines;
  LAMMPS_NS::FlowMapBridge wca(setup);
  setup.pair_commands = kLjLines;
  LAMMPS_NS::FlowMapBridge lj(setup);

  std::map<long, std::vector<double>> source;
  flowmap::DumpReader reader(frames.source_b, 2);
  flowmap::DumpFrame frame;
  while (reader.next(frame)) source[frame.timestep] = frame.positions;

  std::vector<double> log_weights;
  int checked = 0;
  for (const auto &[step, u_from, u_to, log_w, u_to_id, log_w_id] :
       flowmap_test::read_weights("weights.dat")) {
    log_weights.push_back(log_w);
    ASSERT_TRUE(source.count(step)) << "step " << step;
    const auto &x = source[step];
    double ua, ub, ub_id;
    wca.evaluate(x.data(), 1, box.data(), &ua, nullptr, false);
    lj.evaluate(x.data(), 1, box.data(), &ub_id, nullptr, false);
    auto result = model.forward(torch::tensor(x, torch::kFloat64).view({1, 25, 2}),
                                torch::zeros({1}, torch::kInt64));
    auto y = result.positions.contiguous();
    lj.evaluate(y.data_ptr<double>(), 1, box.data(), &ub, nullptr, false);
    const double log_det = result.log_det[0].item<double>();
    const double tol = 1e-9 * std::max(1.0, std::fabs(log_w));
    EXPECT_NEAR(u_from, ua, 1e-9 * std::max(1.0, std::fabs(ua)));
    EXPECT_NEAR(u_to, ub, 1e-9 * std::max(1.0, std::fabs(ub)));
    EXPECT_NEAR(log_w, -1.0 * ub + 0.5 * ua + log_det, tol);
    EXPECT_NEAR(log_w_id, -1.0 * ub_id + 0.5 * ua, tol);
    ++checked;
  }
  EXPECT_GT(checked, 100);
}

TEST(FixFlowMap, ComputeRessReportsTheRessOfItsWeights)
{
  const auto &frames = Frames::get();
  LammpsRunner r;
  start_mapping(r, 4);
  r.commands({              "compute w all ress fix map file weights_ress.dat bootstrap 0",
              "thermo_style custom step c_w[1] c_w[9] c_w[13]", "thermo 20",
              "rerun " + frames.source + " dump x y", "variable ress equal c_w[1]",
              "variable identity equal c_w[9]", "variable ratio equal c_w[13]"});
  std::vector<double> flow, identity;
  for (const auto &row : flowmap_test::read_weights("weights_ress.dat")) {
    flow.push_back(row.log_w);
    identity.push_back(row.log_w_identity);
  }
  ASSERT_EQ(flow.size(), 120u);
  EXPECT_NEAR(r.equal_variable("ress"), flowmap::kish_ress(flow), 1e-9);
  EXPECT_NEAR(r.equal_variable("identity"), flowmap::kish_ress(identity), 1e-9);
  EXPECT_NEAR(r.equal_variable("ratio"), flowmap::kish_ress(flow) / flowmap::kish_ress(identity),
              1e-8);
}

TEST(FixFlowMap, ComputeDefinedLaterSeesOnlyTheFramesMappedAfterIt)
{
  // Sets of frames in one run (a new compute per set, as in the wca2lj inputs): the second
  // compute's frames are exactly the second rerun's, the first compute's are all of them.
  const auto &frames = Frames::get();
  LammpsRunner r;
  start_mapping(r, 4);
  r.commands({              "compute all_sets all ress fix map file all_sets.dat bootstrap 0",
              "thermo_style custom step c_all_sets[3]", "thermo 20",
              "rerun " + frames.source + " last 1180 dump x y",
              "compute second all ress fix map file second.dat bootstrap 0",
              "thermo_style custom step c_all_sets[3] c_second[3]",
              "rerun " + frames.source + " first 1200 dump x y",
              "variable all equal c_all_sets[3]", "variable second equal c_second[3]"});
  EXPECT_EQ(r.equal_variable("all"), 120.0);
  EXPECT_EQ(r.equal_variable("second"), 60.0);
  if (world_rank() != 0) return;
  const auto all = flowmap_test::data_lines("all_sets.dat"),
             second = flowmap_test::data_lines("second.dat");
  ASSERT_EQ(all.size(), 120u);
  ASSERT_EQ(second.size(), 60u);
  EXPECT_TRUE(std::equal(second.begin(), second.end(), all.begin() + 60));
  EXPECT_EQ(second.front().substr(0, 5), "1200 ");
}

/* ----------------------------------------------------------------------
   Training
------------------------------------------------------------------------- */

TEST(FixFlowMap, LossGradientThroughTheBridgeMatchesFiniteDifferences)
{
  const double L = box_length();
  LAMMPS_NS::FlowMapBridgeSetup setup;
  setup.dimension = 2;
  setup.types.assign(25, 1);
  setup.box_lengths = {L, L};
  setup.pair_commands = kLjLines;
  LAMMPS_NS::FlowMapBridge lj(setup);

  for (const auto split : {flowmap::CouplingSplit::component, flowmap::CouplingSplit::particle}) {
  auto options = flowmap::FlowOptions::preset("tiny", 25, 2);
  options.dtype = torch::kFloat64;
  options.split = split;
  flowmap::ModelMetadata meta;
  meta.source_box = meta.target_box = {L, L};
  torch::manual_seed(3);
  flowmap::FlowModel model(options, meta);
  {
    torch::NoGradGuard no_grad;
    for (auto &p : model.flow()->parameters()) p.add_(torch::randn_like(p) * 0.02);
  }
  // lattice configurations with small displacements: no pair near the LJ core
  auto lattice = torch::empty({25, 2}, torch::kFloat64);
  for (int i = 0; i < 25; ++i) {
    lattice[i][0] = (i % 5 + 0.5) * L / 5;
    lattice[i][1] = (i / 5 + 0.5) * L / 5;
  }
  const auto x = lattice.unsqueeze(0) + 0.08 * torch::randn({4, 25, 2}, torch::kFloat64);
  const auto reference = torch::zeros({4}, torch::kInt64);
  const std::vector<double> box = {L, L};
  auto loss = [&] {
    auto mapped = model.forward(x, reference);
    return (flowmap::potential_energy(lj, mapped.positions, box, false) - mapped.log_det).mean();
  };
  model.flow()->zero_grad();
  loss().backward();
  int checked = 0;
  double largest = 0.0;
  torch::NoGradGuard no_grad;
  for (auto &p : model.flow()->parameters()) {
    if (!p.grad().defined() || p.grad().abs().max().item<double>() == 0.0) continue;
    const auto index = p.grad().abs().reshape({-1}).argmax().item<std::int64_t>();
    auto value = p.view({-1})[index];
    const double analytic = p.grad().reshape({-1})[index].item<double>();
    const double saved = value.item<double>(), h = 1e-6;
    value.fill_(saved + h);
    const double plus = loss().item<double>();
    value.fill_(saved - h);
    const double minus = loss().item<double>();
    value.fill_(saved);
    const double numeric = (plus - minus) / (2 * h);
    EXPECT_NEAR(analytic, numeric, 1e-5 * std::max(1.0, std::fabs(numeric)));
    largest = std::max(largest, std::fabs(analytic));
    ++checked;
  }
  EXPECT_GT(checked, 4) << flowmap::split_name(split);
  EXPECT_GT(largest, 1e-2);
  }
}

namespace {
// Trains on a rerun of the shared source frames (deterministic input) and saves the model.
std::string train_by_rerun(LammpsRunner &r, const std::string &save, const std::string &rerun_args,
                           const std::string &extra = "")
{
  const auto &frames = Frames::get();
  r.load_plugin();
  r.commands(system_lines());
  r.commands(kWcaLines);
  r.commands({fix_flowmap("f", 20, "arch tiny split particle precision float64 batch 16 "
                                   "steps 0.5 holdout 10 validate 7 seed 11 frames " +
                                   frames.target + " save " + save + " " + extra),
              "rerun " + frames.source + " " + rerun_args + " dump x y"});
  return save;
}
}    // namespace

TEST(FixFlowMap, ShortTrainingBeatsTheIdentity)
{
  // A reduced system where the identity is poor and the flow's job is simple: an ideal gas
  // (uniform frames) mapped onto soft disks, 8 particles. A few hundred steps of the tiny
  // network must raise the validation RESS above the identity's on the same held-out frames
  // and remove Kullback-Leibler divergence.
  const int n = 8;
  const double L = 4.0;
  const std::string path = "ideal_gas.dump";
  if (world_rank() == 0) {
    std::mt19937_64 random(2024);
    std::uniform_real_distribution<double> uniform(0.0, L);
    std::ofstream out(path);
    for (int frame = 0; frame < 1200; ++frame) {
      out << "ITEM: TIMESTEP\n" << frame << "\nITEM: NUMBER OF ATOMS\n" << n
          << "\nITEM: BOX BOUNDS pp pp pp\n0 " << L << "\n0 " << L
          << "\n-0.5 0.5\nITEM: ATOMS id type x y\n";
      for (int i = 0; i < n; ++i)
        out << i + 1 << " 1 " << number(uniform(random)) << " " << number(uniform(random)) << "\n";
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
  LammpsRunner r;
  r.load_plugin();
  r.commands({"units lj", "dimension 2", "atom_style atomic", "atom_modify map array",
              "region box block 0 4 0 4 -0.5 0.5", "create_box 1 box",
              "create_atoms 1 random 8 4711 NULL", "mass 1 1.0", "pair_style zero 1.0",
              "pair_coeff * *",
              "fix f all flowmap 1 1.0 1.0 source \"pair_style zero 1.0\" \"pair_coeff * *\" "
              "target \"pair_style soft 1.0\" \"pair_coeff * * 3.0\" arch tiny precision "
              "float64 batch 64 lr 3e-3 warmup 20 average 0.9 holdout 400 steps 0.5 validate 50 "
              "seed 5",
              "variable steps equal f_f[1]", "variable flow equal f_f[7]",
              "variable identity equal f_f[8]", "variable gain equal f_f[22]",
              "rerun " + path + " dump x y"});
  EXPECT_EQ(r.equal_variable("steps"), 368.0);    // 0.5 per frame once 400 + 64 are in
  EXPECT_LT(r.equal_variable("identity"), 0.5) << "the identity must leave room to improve";
  EXPECT_GT(r.equal_variable("flow"), 1.5 * r.equal_variable("identity"))
      << "flow " << r.equal_variable("flow") << " identity " << r.equal_variable("identity");
  EXPECT_GT(r.equal_variable("gain"), 0.3);    // measured 2.7x and 1.07 nats
}

namespace {

// Fix flowmap's decorrelation estimate (element 21, in timesteps) after 600 frames, taken every
// nevery steps, of equilibrated Langevin MD of the WCA system.
double decorrelation_steps(int nevery, const std::string &keywords)
{
  LammpsRunner r;
  r.load_plugin();
  r.commands(system_lines());
  r.commands(kWcaLines);
  r.commands({"velocity all create 2.0 5 dist gaussian", "fix lang all langevin 2.0 2.0 0.5 5",
              "fix nve all nve", "fix 2d all enforce2d", "timestep 0.005", "run 1000",
              fix_flowmap("f", nevery, keywords), "variable tau equal f_f[21]",
              "run " + std::to_string(600 * nevery)});
  return r.equal_variable("tau");
}

}    // namespace

TEST(FixFlowMap, EstimatesTheDecorrelationTimeOfTheSampledEnergy)
{
  // Frames every step are strongly correlated: the estimate must say so, and be of the order
  // of the energy's correlation time, not of Nevery.
  const double tau = decorrelation_steps(1, "arch tiny steps 0");
  EXPECT_GT(tau, 5.0);
  EXPECT_LT(tau, 500.0);
}

TEST(FixFlowMap, MapModeEstimatesTheDecorrelationTimeToo)
{
  // Mapped frames are weighed one by one but their RESS error assumes independent frames, so
  // map mode must report the same estimate from the energies it evaluates, a batch at a time:
  // correlated every-step frames against frames 100 steps apart.
  // trained_model() first: it trains in its own instances, before this test's load the plugin
  const auto map = "mode map mapbatch 48 load " + trained_model();
  const double every_step = decorrelation_steps(1, map);
  EXPECT_GT(every_step, 5.0);
  EXPECT_LT(every_step, 500.0);
  EXPECT_LT(decorrelation_steps(100, map), 200.0)
      << "frames 100 steps apart are nearly independent: about 1 frame, 100 steps";
}

TEST(FixFlowMap, FixModifySwitchesALossTermOnBetweenRuns)
{
  // KLD and NLL for the first half of the frames, then fix_modify reweighted 1 0.5: the term
  // reaches the trainer only from then on, and the model ends up elsewhere than without it.
  {
    LammpsRunner r;
    train_by_rerun(r, "never_switched.flow", "");
  }
  double term_before = -1.0, term_after = 0.0, ess_after = 0.0;
  {
    LammpsRunner r;
    train_by_rerun(r, "switched.flow", "last 1180");
    r.commands({"variable term equal f_f[24]", "variable ess equal f_f[25]",
                "variable steps equal f_f[1]"});
    term_before = r.equal_variable("term");
    const double steps_before = r.equal_variable("steps");
    r.command("fix_modify f reweighted 1 0.5");
    r.command("rerun " + Frames::get().source + " first 1200 dump x y");
    term_after = r.equal_variable("term");
    ess_after = r.equal_variable("ess");
    EXPECT_GT(r.equal_variable("steps"), steps_before) << "the second half must train";
  }
  EXPECT_EQ(term_before, 0.0);
  EXPECT_NE(term_after, 0.0);
  EXPECT_GT(ess_after, 1.0);
  EXPECT_LE(ess_after, 16.0 + 1e-9);    // batch 16
  if (world_rank() == 0)
    EXPECT_GT(max_difference(parameters_of("switched.flow"), parameters_of("never_switched.flow")),
              1e-6);
}

TEST(FixFlowMap, StepsZeroOnlyCollectsFrames)
{
  // fix_modify steps 0 fills the pools without training (the bench and the examples fill the
  // pools first); a later rate trains on them.
  const auto &frames = Frames::get();
  LammpsRunner r;
  r.load_plugin();
  r.commands(system_lines());
  r.commands(kWcaLines);
  r.commands({fix_flowmap("f", 20, "arch tiny batch 16 holdout 10 frames " + frames.target),
              "variable steps equal f_f[1]", "variable pool equal f_f[11]",
              "fix_modify f steps 0", "rerun " + frames.source + " last 1180 dump x y"});
  EXPECT_EQ(r.equal_variable("steps"), 0.0);
  EXPECT_EQ(r.equal_variable("pool"), 50.0);    // 60 frames, 10 held out
  r.commands({"fix_modify f steps 1", "rerun " + frames.source + " first 1200 dump x y"});
  EXPECT_EQ(r.equal_variable("steps"), 60.0);
}

// LibTorch's tensors go through the caching allocator unless cache no; the log says which. (That
// the cache leaves every result bit-identical is tested in the core, test_tensor_cache.)
TEST(FixFlowMap, TensorCacheIsOnByDefaultAndSaysSo)
{
  const auto &frames = Frames::get();
  const std::string log = "tensor_cache.log";
  {
    LammpsRunner r;
    r.load_plugin();
    r.command("log " + log);
    r.commands(system_lines());
    r.commands(kWcaLines);
    r.commands({fix_flowmap("f", 20, "arch tiny batch 16 holdout 10 frames " + frames.target),
                "run 0", "log none"});
  }
  if (world_rank() != 0) return;
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("torch threads per rank, tensor cache on;"));
}

TEST(FixFlowMap, SameSeedSameModel)
{
  {
    LammpsRunner r;
    train_by_rerun(r, "seed_a.flow", "");
  }
  {
    LammpsRunner r;
    train_by_rerun(r, "seed_b.flow", "");
  }
  if (world_rank() == 0) {
    const auto a = parameters_of("seed_a.flow"), b = parameters_of("seed_b.flow");
    EXPECT_EQ(max_difference(a, b), 0.0);
    EXPECT_GT(flowmap::load_model("seed_a.flow").metadata().training_steps, 20);
  }
}

TEST(FixFlowMap, RestartEqualsUninterruptedTraining)
{
  // 120 frames at steps 0, 20, ..., 2380: the first run stops after step 1180.
  {
    LammpsRunner r;
    train_by_rerun(r, "uninterrupted.flow", "");
  }
  {
    LammpsRunner r;
    train_by_rerun(r, "first_half.flow", "last 1180");
    r.command("write_restart half.restart");
  }
  {
    const auto &frames = Frames::get();
    LammpsRunner r;
    r.load_plugin();
    r.commands({"read_restart half.restart"});
    r.commands(kWcaLines);
    r.commands({fix_flowmap("f", 20, "arch tiny split particle precision float64 batch 16 "
                                     "steps 0.5 holdout 10 validate 7 seed 11 frames " +
                                     frames.target + " save resumed.flow"),
                "rerun " + frames.source + " first 1200 dump x y"});
  }
  if (world_rank() == 0) {
    const auto full = parameters_of("uninterrupted.flow");
    EXPECT_GT(max_difference(parameters_of("first_half.flow"), full), 1e-6)
        << "the second half must train too, or the test proves nothing";
    EXPECT_EQ(max_difference(parameters_of("resumed.flow"), full), 0.0);
    EXPECT_EQ(flowmap::load_model("resumed.flow").metadata().training_steps,
              flowmap::load_model("uninterrupted.flow").metadata().training_steps);
  }
}

TEST(FixFlowMap, TwoRanksTrainTheSameModelAsOne)
{
  if (world_size() != 2) GTEST_SKIP() << "needs 2 MPI ranks";
  // with the reweighted term too, whose weights are normalised over the whole batch
  const std::string reweighted = "reweighted 1 0.5";
  {
    LammpsRunner r;
    train_by_rerun(r, "two_ranks.flow", "");
  }
  {
    LammpsRunner r;
    train_by_rerun(r, "two_ranks_reweighted.flow", "", reweighted);
  }
  if (world_rank() == 0) {
    {
      LammpsRunner r({}, MPI_COMM_SELF);
      train_by_rerun(r, "one_rank.flow", "");
    }
    LammpsRunner r({}, MPI_COMM_SELF);
    train_by_rerun(r, "one_rank_reweighted.flow", "", reweighted);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (world_rank() == 0) {
    EXPECT_LT(max_difference(parameters_of("two_ranks.flow"), parameters_of("one_rank.flow")),
              1e-10);
    EXPECT_LT(max_difference(parameters_of("two_ranks_reweighted.flow"),
                             parameters_of("one_rank_reweighted.flow")),
              1e-10);
    EXPECT_GT(max_difference(parameters_of("one_rank_reweighted.flow"),
                             parameters_of("one_rank.flow")),
              1e-6)
        << "the reweighted term must change the training";
  }
}

TEST(FixFlowMap, TwoPartitionsTrainTheSameModelAsOneWalkerSeeingBothStreams)
{
  if (world_size() != 2) GTEST_SKIP() << "needs 2 MPI ranks";
  const auto &frames = Frames::get();
  // Training starts once the pool holds a batch. Partitions deliver frames in pairs, the single
  // walker one by one; an odd batch (15) makes the pool ready after the first frame of a pair
  // in both runs, so both take their first step after the same pair.
  // One stream holding the two walkers' frames alternately, as the partitions deliver them.
  if (world_rank() == 0) {
    flowmap::DumpReader a(frames.source, 2), b(frames.source_b, 2);
    flowmap::DumpFrame fa, fb;
    std::ofstream out("interleaved.dump");
    const double L = box_length();
    long step = 0;
    auto write = [&](const flowmap::DumpFrame &f) {
      out << "ITEM: TIMESTEP\n" << step << "\nITEM: NUMBER OF ATOMS\n25\n"
          << "ITEM: BOX BOUNDS pp pp pp\n0 " << number(L) << "\n0 " << number(L)
          << "\n-0.5 0.5\nITEM: ATOMS id type x y\n";
      for (int i = 0; i < 25; ++i)
        out << i + 1 << " 1 " << number(f.positions[2 * i]) << " " << number(f.positions[2 * i + 1])
            << "\n";
      step += 10;
    };
    while (a.next(fa) && b.next(fb)) {
      write(fa);
      write(fb);
    }
  }
  // LAMMPS insists on an input file with partitions; the commands still come one by one.
  if (world_rank() == 0) std::ofstream("empty.in");
  MPI_Barrier(MPI_COMM_WORLD);
  {
    LammpsRunner r({"-partition", "2x1", "-in", "empty.in"});
    r.load_plugin();
    r.commands(system_lines());
    r.commands(kWcaLines);
    r.commands({"variable walker world " + frames.source + " " + frames.source_b,
                fix_flowmap("f", 20, "arch tiny precision float64 batch 15 steps 0.5 holdout 10 "
                                     "validate 7 seed 11 frames " + frames.target +
                                     " save partitions.flow"),
                "rerun ${walker} dump x y"});
  }
  if (world_rank() == 0) {
    LammpsRunner r({}, MPI_COMM_SELF);
    r.load_plugin();
    r.commands(system_lines());
    r.commands(kWcaLines);
    r.commands({fix_flowmap("f", 10, "arch tiny precision float64 batch 15 steps 0.5 holdout 10 "
                                     "validate 7 seed 11 frames " + frames.target +
                                     " save one_walker.flow"),
                "rerun interleaved.dump dump x y"});
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (world_rank() == 0)
    EXPECT_LT(max_difference(parameters_of("partitions.flow"), parameters_of("one_walker.flow")),
              1e-10);
}
