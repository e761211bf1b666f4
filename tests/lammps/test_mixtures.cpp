// Mixtures in LAMMPS: fix flowmap trains a type-aware flow on a binary Lennard-Jones mixture
// with the same Hamiltonian at two temperatures, records the atom types in its model file,
// maps with them (weights equal the model applied independently, the identity baseline is
// plain temperature reweighting), and refuses a system or dump frames with other types,
// naming both; compute ress reweights a mixture between temperatures; type exchanges by swap
// moves are relabellings of the same system, for mapping, weights and per-atom output, and a
// run continued by read_restart after them goes on in the flow's type order.
#include "flowmap_dump_reader.h"
#include "flowmap_lammps_bridge.h"
#include "flowmap_model_file.h"
#include "flowmap_weights.h"
#include "lammps_fixture.h"
#include "input_text.h"
#include "output_files.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using flowmap_test::bare_message;
using flowmap_test::LammpsRunner;
using flowmap_test::world_rank;
using ::testing::HasSubstr;
using flowmap_test::quoted;
using flowmap_test::number;

namespace {

// Kob-Andersen-type binary mixture; each cutoff below half the box (direct pair sum).
const std::vector<std::string> kMixture = {
    "pair_style lj/cut 2.5", "pair_coeff 1 1 1.0 1.0 2.5", "pair_coeff 1 2 1.5 0.8 2.0",
    "pair_coeff 2 2 0.5 0.88 2.2", "pair_modify shift yes"};
constexpr double kDensity = 0.9, kHot = 2.0, kCold = 1.5;
constexpr int kAtoms = 25;

double box_length()
{
  return std::sqrt(kAtoms / kDensity);
}

// 25 atoms on a square lattice; the atoms in `minority` (an ID list for `group id`) are type 2.
std::vector<std::string> system_lines(const std::string &minority = "5 10 15 20 25")
{
  const double L = box_length();
  std::vector<std::string> lines = {
      "units lj", "dimension 2", "atom_style atomic", "atom_modify map array",
      "region box block 0 " + number(L) + " 0 " + number(L) + " -0.5 0.5", "create_box 2 box",
      "lattice sq " + number(kDensity) + " origin 0.5 0.5 0.0", "create_atoms 1 box",
      "mass * 1.0"};
  if (!minority.empty())
    lines.insert(lines.end(), {"group minority id " + minority, "set group minority type 2"});
  return lines;
}

// The atom types of system_lines(minority) in atom-ID order.
std::vector<int> types_of(const std::vector<int> &minority_ids)
{
  std::vector<int> types(kAtoms, 1);
  for (int id : minority_ids) types[id - 1] = 2;
  return types;
}

const std::vector<int> kMinorityIds = {5, 10, 15, 20, 25};

void write_frames(const std::string &path, double t, int frames, int seed,
                  const std::string &minority = "5 10 15 20 25")
{
  LammpsRunner r;
  r.commands(system_lines(minority));
  r.commands(kMixture);
  const std::string T = number(t), s = std::to_string(seed);
  r.commands({"velocity all create " + T + " " + s + " dist gaussian",
              "fix lang all langevin " + T + " " + T + " 0.5 " + s, "fix nve all nve",
              "fix 2d all enforce2d", "timestep 0.005", "thermo 0", "run 1000",
              "reset_timestep 0", "dump d all custom 20 " + path + " id type x y",
              "dump_modify d sort id format float %.17g",
              "run " + std::to_string((frames - 1) * 20), "undump d"});
}

struct Frames {
  static const Frames &get()
  {
    static Frames frames;
    return frames;
  }
  std::string hot = "hot.dump", cold = "cold.dump", cold_other_types = "cold_other.dump",
              cold_four = "cold_four.dump";

 private:
  Frames()
  {
    write_frames(hot, kHot, 80, 11);
    write_frames(cold, kCold, 80, 12);
    write_frames(cold_other_types, kCold, 40, 13, "1 2 3 4 5");
    write_frames(cold_four, kCold, 40, 14, "1 2 3 4");
  }
};

std::string fix_flowmap(const std::string &id, const std::string &keywords)
{
  return "fix " + id + " all flowmap 20 " + number(kHot) + " " + number(kCold) + " source" +
      quoted(kMixture) + " target" + quoted(kMixture) + " " + keywords;
}

// Trained once per test program: same Hamiltonian, hot -> cold.
const std::string &trained_model()
{
  static const std::string path = [] {
    const auto &frames = Frames::get();
    LammpsRunner r;
    r.load_plugin();
    r.commands(system_lines());
    r.commands(kMixture);
    r.commands({fix_flowmap("f", "arch tiny split particle precision float64 batch 16 steps 1 "
                                 "holdout 10 lr 3e-3 save mixture.flow frames " + frames.cold),
                "rerun " + frames.hot + " dump x y"});
    return std::string("mixture.flow");
  }();
  return path;
}

class Mixtures : public ::testing::Test {
 protected:
  void SetUp() override
  {
    // Before any instance here loads the plugin (LAMMPS 29Sep2021: one plugin list per process).
    Frames::get();
    trained_model();
  }
};

}    // namespace

TEST_F(Mixtures, ModelFileRecordsTheTypesInAtomIdOrder)
{
  const auto model = flowmap::load_model(trained_model());
  EXPECT_GT(model.metadata().training_steps, 0);
  const auto types = types_of(kMinorityIds);
  EXPECT_EQ(model.species(),
            flowmap::Species(std::vector<std::int64_t>(types.begin(), types.end())));
  EXPECT_EQ(model.species().runs(),
            (std::vector<std::int64_t>{1, 4, 2, 1, 1, 4, 2, 1, 1, 4, 2, 1, 1, 4, 2, 1, 1, 4, 2, 1}));
  EXPECT_EQ(model.mapping_reference(), 0);    // type 1 is the most numerous, atom ID 1 is type 1
}

TEST_F(Mixtures, MappedWeightsUseTheTypesAndTheIdentityIsTemperatureReweighting)
{
  const auto &frames = Frames::get();
  {
    LammpsRunner r;
    r.load_plugin();
    r.commands(system_lines());
    r.commands(kMixture);
    r.commands({fix_flowmap("map", "mode map load " + trained_model() + " mapbatch 4"),
                "compute w all ress fix map file mixture_weights.dat bootstrap 0",
                "thermo_style custom step c_w[1]", "thermo 100",
                "rerun " + frames.hot + " dump x y"});
  }
  if (world_rank() != 0) return;

  auto model = flowmap::load_model(trained_model());
  const double L = box_length();
  const std::vector<double> box = {L, L};
  LAMMPS_NS::FlowMapBridgeSetup setup;
  setup.dimension = 2;
  setup.types = types_of(kMinorityIds);
  setup.ntypes = 2;
  setup.box_lengths = box;
  setup.pair_commands = kMixture;
  LAMMPS_NS::FlowMapBridge bridge(setup);

  std::map<long, std::vector<double>> source;
  flowmap::DumpReader reader(frames.hot, 2);
  flowmap::DumpFrame frame;
  while (reader.next(frame)) source[frame.timestep] = frame.positions;

  const double beta_hot = 1.0 / kHot, beta_cold = 1.0 / kCold;
  int checked = 0;
  double largest_gain = 0.0;
  torch::NoGradGuard no_grad;
  for (const auto &[step, u_from, u_to, log_w, u_to_id, log_w_id] :
       flowmap_test::read_weights("mixture_weights.dat")) {
    ASSERT_TRUE(source.count(step)) << "step " << step;
    const auto &x = source[step];
    double u;
    bridge.evaluate(x.data(), 1, box.data(), &u, nullptr, false);
    const double tol = 1e-10 * std::max(1.0, std::fabs(u));
    EXPECT_NEAR(u_from, u, tol);
    // same Hamiltonian: the identity's image is the frame, its weight the temperature change
    EXPECT_EQ(u_to_id, u_from);
    EXPECT_NEAR(log_w_id, (beta_hot - beta_cold) * u_from, tol);
    // the flow's weight: the typed model applied here, reference atom ID 1
    const auto mapped = model.forward(torch::tensor(x, torch::kFloat64).view({1, kAtoms, 2}),
                                      torch::zeros({1}, torch::kInt64));
    const auto y = mapped.positions.contiguous();
    double u_mapped;
    bridge.evaluate(y.data_ptr<double>(), 1, box.data(), &u_mapped, nullptr, false);
    EXPECT_NEAR(u_to, u_mapped, 1e-9 * std::max(1.0, std::fabs(u_mapped)));
    EXPECT_NEAR(log_w, -beta_cold * u_mapped + beta_hot * u + mapped.log_det[0].item<double>(),
                1e-9 * std::max(1.0, std::fabs(log_w)));
    largest_gain = std::max(largest_gain, std::fabs(log_w - log_w_id));
    ++checked;
  }
  EXPECT_EQ(checked, 80);
  EXPECT_GT(largest_gain, 1e-6) << "the trained flow is not the identity";
}

TEST_F(Mixtures, SystemWithOtherTypesIsRefusedNamingBothCompositions)
{
  {
    LammpsRunner r;
    r.load_plugin();
    r.commands(system_lines("1 2 3 4 5"));    // the same counts, other atoms
    r.commands(kMixture);
    r.command(fix_flowmap("f", "mode map load " + trained_model()));
    const auto message = bare_message(r.error_of("run 0"));
    EXPECT_THAT(message, HasSubstr("model file 'mixture.flow' does not fit this system"));
    EXPECT_THAT(message, HasSubstr("trained for 25 atoms: 20 of type 1, 5 of type 2; in "
                                   "atom-ID order 1 (IDs 1-4), 2 (IDs 5), 1 (IDs 6-9)"));
    EXPECT_THAT(message, HasSubstr("this system has 25 atoms: 20 of type 1, 5 of type 2; in "
                                   "atom-ID order 2 (IDs 1-5), 1 (IDs 6-25)"));
    EXPECT_THAT(message, HasSubstr("first difference at atom ID 1"));
  }
  {
    LammpsRunner r;
    r.load_plugin();
    r.commands(system_lines(""));    // one type
    r.commands(kMixture);
    r.command(fix_flowmap("f", "mode map load " + trained_model()));
    EXPECT_THAT(bare_message(r.error_of("run 0")),
                HasSubstr("this system has 25 atoms: 25 of type 1; in atom-ID order 1 (IDs 1-25)"));
  }
}

TEST_F(Mixtures, DumpFramesAreRelabelledOrRefused)
{
  const auto &frames = Frames::get();
  {
    // the type-2 atoms are IDs 1-5 instead of 5, 10, ..., 25: the same system relabelled
    LammpsRunner r;
    r.load_plugin();
    r.commands(system_lines());
    r.commands(kMixture);
    r.commands({fix_flowmap("f", "arch tiny holdout 5 batch 8 steps 0 frames " +
                                     frames.cold_other_types),
                "variable pool equal f_f[12]", "run 0"});
    EXPECT_EQ(r.equal_variable("pool"), 35.0);
  }
  LammpsRunner r;
  r.load_plugin();
  r.commands(system_lines());
  r.commands(kMixture);
  r.command(fix_flowmap("f", "arch tiny holdout 5 batch 8 frames " + frames.cold_four));
  const auto message = bare_message(r.error_of("run 0"));
  EXPECT_THAT(message, HasSubstr("dump file cold_four.dump (step 0): the atoms have other types "
                                 "than recorded: 25 atoms: 20 of type 1, 5 of type 2"));
  EXPECT_THAT(message, HasSubstr("now 25 atoms: 21 of type 1, 4 of type 2"));
}

TEST_F(Mixtures, ComputeRessReweightsAMixtureBetweenTemperatures)
{
  LammpsRunner r;
  r.load_plugin();
  r.commands(system_lines());
  r.commands(kMixture);
  r.commands({"thermo_modify norm no", "velocity all create 2.0 5 dist gaussian",
              "fix lang all langevin 2.0 2.0 0.5 6", "fix nve all nve", "fix 2d all enforce2d",
              "compute r all ress " + number(kHot) + " " + number(kCold) + " target" +
                  quoted(kMixture),
              "thermo_style custom step pe c_r[1]", "thermo 50", "run 200"});
  std::string pe = "c_thermo_pe", last = "c_r[6]";
  const double u = r.lmp()->input->variable->compute_equal(&pe[0]);
  const double log_w = r.lmp()->input->variable->compute_equal(&last[0]);
  EXPECT_NEAR(log_w, (1.0 / kHot - 1.0 / kCold) * u, 1e-12 * std::max(1.0, std::fabs(u)));
  EXPECT_LT(u, 0.0);    // an attractive liquid: the weight is not trivially 0
}

namespace {

// The test's own relabelling: atom slot i of the recorded types takes the coordinates of the
// k-th atom (by ID) that now has slot i's type, where slot i is the k-th of its type.
std::vector<int> source_rows(const std::vector<int> &recorded, const std::vector<int> &now)
{
  std::vector<int> source(recorded.size(), -1);
  for (int type = 1; type <= 2; ++type) {
    std::vector<int> slots, atoms;
    for (int i = 0; i < static_cast<int>(recorded.size()); ++i) {
      if (recorded[i] == type) slots.push_back(i);
      if (now[i] == type) atoms.push_back(i);
    }
    for (std::size_t k = 0; k < slots.size() && k < atoms.size(); ++k) source[slots[k]] = atoms[k];
  }
  return source;
}

}    // namespace

TEST_F(Mixtures, TypeExchangesBySwapMovesAreRelabellings)
{
  {
    LammpsRunner r;
    r.load_plugin();
    r.commands(system_lines());
    r.commands(kMixture);
    r.commands({"velocity all create 2.0 21 dist gaussian",
                "fix lang all langevin 2.0 2.0 0.5 22", "fix nve all nve", "fix 2d all enforce2d",
                "timestep 0.005", "fix swap all atom/swap 10 5 23 2.0 ke yes types 1 2",
                fix_flowmap("map", "mode map load " + trained_model() + " mapbatch 1"),
                "compute w all ress fix map file swap_weights.dat bootstrap 0",
                "compute direct all ress " + number(kHot) + " " + number(kCold) + " target" +
                    quoted(kMixture),
                "dump d all custom 20 swap.dump id type x y f_map[1] f_map[2]",
                "dump_modify d sort id format float %.17g", "thermo_modify norm no",
                "thermo_style custom step pe c_direct[6] c_w[3]", "thermo 20", "run 400",
                "variable accepted equal f_swap[2]"});
    EXPECT_GT(r.equal_variable("accepted"), 0.0) << "no swap was accepted: the test is vacuous";
    // compute ress direct: the relabelled frame has the host's energy
    std::string pe = "c_thermo_pe", last = "c_direct[6]";
    const double u = r.lmp()->input->variable->compute_equal(&pe[0]);
    EXPECT_NEAR(r.lmp()->input->variable->compute_equal(&last[0]),
                (1.0 / kHot - 1.0 / kCold) * u, 1e-10 * std::fabs(u));
  }
  if (world_rank() != 0) return;

  auto model = flowmap::load_model(trained_model());
  const double L = box_length();
  const std::vector<double> box = {L, L};
  const auto recorded = types_of(kMinorityIds);
  LAMMPS_NS::FlowMapBridgeSetup setup;
  setup.dimension = 2;
  setup.types = recorded;
  setup.ntypes = 2;
  setup.box_lengths = box;
  setup.pair_commands = kMixture;
  LAMMPS_NS::FlowMapBridge bridge(setup);

  // frames, their types and the per-atom mapped output, by step
  struct Frame {
    std::vector<int> types;
    std::vector<double> x, mapped;
  };
  std::map<long, Frame> frames;
  std::ifstream dump("swap.dump");
  std::string line;
  long step = 0;
  while (std::getline(dump, line)) {
    if (line.rfind("ITEM: TIMESTEP", 0) == 0) {
      std::getline(dump, line);
      step = std::stol(line);
    }
    if (line.rfind("ITEM: ATOMS", 0) != 0) continue;
    Frame f{std::vector<int>(kAtoms), std::vector<double>(2 * kAtoms),
            std::vector<double>(2 * kAtoms)};
    for (int i = 0; i < kAtoms; ++i) {
      std::getline(dump, line);
      std::istringstream fields(line);
      int id, type;
      fields >> id >> type;
      f.types[id - 1] = type;
      fields >> f.x[2 * (id - 1)] >> f.x[2 * (id - 1) + 1] >> f.mapped[2 * (id - 1)] >>
          f.mapped[2 * (id - 1) + 1];
    }
    frames[step] = f;
  }
  ASSERT_EQ(frames.size(), 21u);

  int checked = 0, exchanged = 0;
  torch::NoGradGuard no_grad;
  for (const auto &weights : flowmap_test::read_weights("swap_weights.dat")) {
    step = weights.step;
    ASSERT_TRUE(frames.count(step)) << "step " << step;
    const auto &f = frames[step];
    if (f.types != recorded) ++exchanged;
    const auto source = source_rows(recorded, f.types);
    std::vector<double> x(2 * kAtoms);
    for (int i = 0; i < kAtoms; ++i) {
      ASSERT_GE(source[i], 0) << "the counts per type changed";
      x[2 * i] = f.x[2 * source[i]];
      x[2 * i + 1] = f.x[2 * source[i] + 1];
    }
    double u;
    bridge.evaluate(x.data(), 1, box.data(), &u, nullptr, false);
    EXPECT_NEAR(weights.u_from, u, 1e-10 * std::max(1.0, std::fabs(u))) << "step " << step;
    const auto mapped = model.forward(torch::tensor(x, torch::kFloat64).view({1, kAtoms, 2}),
                                      torch::zeros({1}, torch::kInt64));
    const auto y = mapped.positions.contiguous();
    double u_mapped;
    bridge.evaluate(y.data_ptr<double>(), 1, box.data(), &u_mapped, nullptr, false);
    EXPECT_NEAR(weights.log_w, -u_mapped / kCold + u / kHot + mapped.log_det[0].item<double>(),
                1e-9 * std::max(1.0, std::fabs(weights.log_w)))
        << "step " << step;
    // per-atom output: row i of the image belongs to atom source[i]
    for (int i = 0; i < kAtoms; ++i)
      for (int k = 0; k < 2; ++k) {
        const double v = y.data_ptr<double>()[2 * i + k];
        const double wrapped = v - L * std::floor(v / L);
        double diff = std::fabs(wrapped - f.mapped[2 * source[i] + k]);
        diff = std::min(diff, L - diff);
        EXPECT_LT(diff, 1e-9) << "step " << step << " atom " << source[i] + 1;
      }
    ++checked;
  }
  EXPECT_EQ(checked, 21);
  EXPECT_GT(exchanged, 5) << "too few frames with exchanged types to test the relabelling";
}

TEST_F(Mixtures, RestartAfterSwapMovesGoesOnInTheFlowsTypeOrder)
{
  // A training run with swap moves writes a restart file whose atoms hold their types in
  // another order than the flow recorded; read_restart must continue the training, relabelling.
  const std::string keywords = "arch tiny split particle precision float64 batch 8 steps 1 "
                               "holdout 5 seed 5";
  const std::vector<std::string> dynamics = {"fix lang all langevin 2.0 2.0 0.5 22",
                                             "fix nve all nve", "fix 2d all enforce2d",
                                             "timestep 0.005"};
  double steps_written = 0.0;
  {
    LammpsRunner r;
    r.load_plugin();
    r.commands(system_lines());
    r.commands(kMixture);
    r.command("velocity all create 2.0 21 dist gaussian");
    r.commands(dynamics);
    r.commands({"fix swap all atom/swap 10 5 23 2.0 ke yes types 1 2",
                fix_flowmap("f", keywords), "run 600", "variable steps equal f_f[1]",
                "write_restart swapped.restart",
                "write_dump all custom restart_types.dump id type x y modify sort id"});
    steps_written = r.equal_variable("steps");
  }
  ASSERT_GT(steps_written, 0.0) << "the first run must train";
  {
    flowmap::DumpReader reader("restart_types.dump", 2);
    flowmap::DumpFrame written;
    ASSERT_TRUE(reader.next(written));
    const auto recorded = types_of(kMinorityIds);
    ASSERT_NE(written.types, std::vector<std::int64_t>(recorded.begin(), recorded.end()))
        << "no swap changed the types by atom ID: the test is vacuous";
  }

  LammpsRunner r;
  r.load_plugin();
  r.command("read_restart swapped.restart");
  r.commands(kMixture);
  r.commands(dynamics);
  // 10 frames (steps 620 to 800), one optimizer step each, on the restored pools
  r.commands({fix_flowmap("f", keywords + " save resumed.flow"), "run 200",
              "variable steps equal f_f[1]"});
  EXPECT_EQ(r.equal_variable("steps"), steps_written + 10.0);
  // mapped frames: the relabelled frame has the simulation's energy at every step
  r.commands({"fix_modify f mode map", "compute w all ress fix f file restart_weights.dat",
              "fix pe all ave/time 20 1 20 c_thermo_pe file restart_pe.dat format ' %.17g'",
              "thermo_style custom step pe c_w[3]", "thermo 20", "run 200"});
  if (world_rank() != 0) return;

  const auto types = types_of(kMinorityIds);
  EXPECT_EQ(flowmap::load_model("resumed.flow").species(),
            flowmap::Species(std::vector<std::int64_t>(types.begin(), types.end())));
  const auto pe = flowmap_test::read_series("restart_pe.dat");
  int checked = 0;
  for (const auto &row : flowmap_test::read_weights("restart_weights.dat")) {
    if (!pe.count(row.step)) continue;
    EXPECT_NEAR(row.u_from, pe.at(row.step), 1e-10 * std::max(1.0, std::fabs(row.u_from)))
        << "step " << row.step;
    ++checked;
  }
  EXPECT_GE(checked, 10);
}
