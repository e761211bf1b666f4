// fix flowmap/exchange between two LAMMPS partitions: every misuse stops both partitions with a
// clear error; each attempt's log-weights equal the flow and the energies evaluated
// independently, an accepted exchange puts exactly the mapped configuration into each partition
// (with forces of the new positions and velocities redrawn from the partition's stream), a
// restarted run continues the exchange exactly, and 2 ranks per partition make the same
// exchanges as 1. Run on 2 MPI ranks (-partition 2x1) and on 4 (2x2, and 2x1 on two of them).
#include "flowmap_exchange.h"
#include "flowmap_lammps_bridge.h"
#include "flowmap_model_file.h"
#include "flowmap_random_stream.h"
#include "flowmap_weights.h"
#include "lammps_fixture.h"
#include "input_text.h"
#include "output_files.h"

#include "modify.h"
#include "universe.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace LAMMPS_NS;
using flowmap_test::bare_message;
using flowmap_test::LammpsRunner;
using flowmap_test::world_rank;
using flowmap_test::world_size;
using ::testing::HasSubstr;
using flowmap_test::kWcaLines;
using flowmap_test::kLjLines;
using flowmap_test::quoted;
using flowmap_test::number;
using flowmap_test::read_series;

namespace {

constexpr int kSide = 5, kAtoms = kSide * kSide;
// Different densities, so that the exchange also scales between the boxes.
constexpr double kDensitySource = 0.735, kDensityTarget = 0.70;
constexpr double kTemperatureSource = 2.0, kTemperatureTarget = 1.0;
constexpr double kTimestep = 0.005;

double box_length(double density, int side = kSide)
{
  return std::sqrt(side * side / density);
}

// Written once by rank 0 before any test: LAMMPS wants an input file with -partition (the
// commands still come one by one), and the flow: a tiny float64 network between the two
// boxes, moved away from the identity so that it is a real nonlinear map with a Jacobian.
struct Files {
  static const Files &get()
  {
    static Files files;
    return files;
  }
  std::string empty_input = "empty.in", flow = "exchange.flow", other_flow = "other.flow",
              wrong_box_flow = "wrong_box.flow", mixture_flow = "mixture.flow";

 private:
  static void save(const std::string &path, double target_density, double scale, int seed)
  {
    auto options = flowmap::FlowOptions::preset("tiny", kAtoms, 2);
    options.dtype = torch::kFloat64;
    flowmap::ModelMetadata meta;
    const double la = box_length(kDensitySource), lb = box_length(target_density);
    meta.source_box = {la, la};
    meta.target_box = {lb, lb};
    meta.source_temperature = kTemperatureSource;
    meta.target_temperature = kTemperatureTarget;
    torch::manual_seed(seed);
    flowmap::FlowModel model(options, meta);
    torch::NoGradGuard no_grad;
    for (auto &p : model.flow()->parameters()) p.add_(torch::randn_like(p) * scale);
    flowmap::save_model(model, path);
  }
  // An untrained flow (the identity map) of the 25-atom binary mixture below, in its box, with
  // its species recorded: type 2 at IDs 21-25.
  static void save_mixture(const std::string &path)
  {
    auto options = flowmap::FlowOptions::preset("tiny", kAtoms, 2);
    options.dtype = torch::kFloat64;
    flowmap::ModelMetadata meta;
    const double l = box_length(0.9);
    meta.source_box = meta.target_box = {l, l};
    meta.source_temperature = 2.0;
    meta.target_temperature = 1.5;
    std::vector<std::int64_t> types(kAtoms, 1);
    std::fill(types.end() - 5, types.end(), 2);
    flowmap::save_model(flowmap::FlowModel(options, meta, flowmap::Species(types)), path);
  }
  Files()
  {
    if (world_rank() == 0) {
      save_mixture(mixture_flow);
      std::ofstream(empty_input).close();
      save(flow, kDensityTarget, 0.003, 3);
      save(other_flow, kDensityTarget, 0.003, 4);
      save(wrong_box_flow, 0.6, 0.003, 3);
    }
    MPI_Barrier(MPI_COMM_WORLD);
  }
};

// A partitioned LAMMPS on comm (by default all ranks): its first half is partition 1, the
// second half partition 2. Commands are the same on both; what differs comes from world
// variables.
std::unique_ptr<LammpsRunner> partitions(MPI_Comm comm = MPI_COMM_WORLD)
{
  int size = 1;
  MPI_Comm_size(comm, &size);
  const auto &files = Files::get();
  auto r = std::make_unique<LammpsRunner>(
      std::vector<std::string>{"-partition", "2x" + std::to_string(size / 2), "-in",
                               files.empty_input},
      comm);
  r->load_plugin();
  return r;
}

// The two systems (source box and WCA on partition 1, target box and LJ on partition 2), MD
// with fix nve (thermostatted by the exchange's velocity redraws) or fix nvt.
std::vector<std::string> system_lines(const std::string &dynamics = "nve")
{
  const double la = box_length(kDensitySource), lb = box_length(kDensityTarget);
  std::vector<std::string> lines = {
      "variable L world " + number(la) + " " + number(lb),
      "variable T world " + number(kTemperatureSource) + " " + number(kTemperatureTarget),
      "variable vseed world 4928 5131",
      "variable pair world \"" + kWcaLines[0].substr(11) + "\" \"" + kLjLines[0].substr(11) + "\"",
      "units lj", "dimension 2", "atom_style atomic", "atom_modify map array",
      "region box block 0 ${L} 0 ${L} -0.5 0.5", "create_box 1 box"};
  // One atom per command, so that atom IDs do not depend on the number of ranks (create_atoms
  // on a lattice numbers each rank's atoms in turn): the centres of a square lattice.
  for (int i = 0; i < kAtoms; ++i)
    lines.push_back("create_atoms 1 single $((" + std::to_string(i % kSide) + "+0.5)*v_L/" +
                    std::to_string(kSide) + ") $((" + std::to_string(i / kSide) + "+0.5)*v_L/" +
                    std::to_string(kSide) + ") 0.0 units box");
  lines.insert(lines.end(), {"mass 1 1.0",
      "pair_style ${pair}", "pair_coeff * * 1.0 1.0", "pair_modify shift yes",
      "velocity all create ${T} ${vseed} dist gaussian", "fix 2d all enforce2d",
      "timestep " + number(kTimestep), "thermo 0"});
  if (dynamics == "nve") lines.push_back("fix md all nve");
  else lines.push_back("fix md all nvt temp ${T} ${T} 0.2");
  return lines;
}

std::string exchange(const std::string &id, int every, const std::string &keywords)
{
  return "fix " + id + " all flowmap/exchange " + std::to_string(every) + " " +
      number(kTemperatureSource) + " " + number(kTemperatureTarget) + " source" +
      quoted(kWcaLines) + " target" + quoted(kLjLines) + " " + keywords;
}

struct Attempt {
  long step;
  double lw_fwd, lw_inv, log_alpha;
  int accepted;
  double log_alpha_identity, energy_source, energy_target;
};

std::vector<Attempt> read_attempts(const std::string &path)
{
  std::vector<Attempt> out;
  for (const auto &row : flowmap_test::read_rows(path))
    if (row.size() >= 8)
      out.push_back({static_cast<long>(row[0]), row[1], row[2], row[3], static_cast<int>(row[4]),
                     row[5], row[6], row[7]});
  return out;
}

// Frames of a `dump custom ... id x y vx vy fx fy` sorted by ID with %.17g: per step, the
// columns x y vx vy fx fy of each atom in ID order.
std::map<long, std::vector<double>> read_dump(const std::string &path)
{
  std::map<long, std::vector<double>> frames;
  std::ifstream in(path);
  std::string line;
  long step = -1;
  while (std::getline(in, line)) {
    if (line == "ITEM: TIMESTEP") {
      std::getline(in, line);
      step = std::stol(line);
    } else if (line.rfind("ITEM: ATOMS", 0) == 0) {
      auto &f = frames[step];
      for (int i = 0; i < kAtoms && std::getline(in, line); ++i) {
        std::istringstream s(line);
        long id;
        double v[6];
        s >> id >> v[0] >> v[1] >> v[2] >> v[3] >> v[4] >> v[5];
        f.insert(f.end(), v, v + 6);
      }
    }
  }
  return frames;
}

std::vector<double> column_pairs(const std::vector<double> &frame, int first)
{
  std::vector<double> out;
  for (int i = 0; i < kAtoms; ++i) {
    out.push_back(frame[6 * i + first]);
    out.push_back(frame[6 * i + first + 1]);
  }
  return out;
}

std::unique_ptr<FlowMapBridge> bridge(const std::vector<std::string> &pair, double density)
{
  FlowMapBridgeSetup setup;
  setup.dimension = 2;
  setup.types.assign(kAtoms, 1);
  setup.box_lengths = {box_length(density), box_length(density)};
  setup.pair_commands = pair;
  return std::make_unique<FlowMapBridge>(setup);
}

double relative_error(double a, double b)
{
  return std::fabs(a - b) / std::max(1.0, std::fabs(b));
}

}    // namespace

/* ----------------------------------------------------------------------
   Misuse: each is refused on both partitions with a message naming the problem
------------------------------------------------------------------------- */

namespace {

class ExchangeErrors : public ::testing::Test {
 protected:
  void SetUp() override { Files::get(); }
  // The error of `line` (after the set-up commands) on this rank's partition.
  std::string error_after(const std::vector<std::string> &setup, const std::string &line)
  {
    auto r = partitions();
    r->commands(setup);
    return bare_message(r->error_of(line));
  }
  std::string error_of(const std::string &line) { return error_after(system_lines(), line); }
  // The error of a run of 20 steps after the set-up and the fix command.
  std::string run_error(const std::vector<std::string> &setup, const std::string &fix,
                        const std::string &run = "run 20")
  {
    auto r = partitions();
    r->commands(setup);
    r->command(fix);
    return bare_message(r->error_of(run));
  }
};

}    // namespace

TEST_F(ExchangeErrors, NeedsTwoPartitions)
{
  LammpsRunner r;
  r.load_plugin();
  r.commands({"units lj", "dimension 2", "region box block 0 5 0 5 -0.5 0.5", "create_box 1 box"});
  EXPECT_THAT(bare_message(r.error_of(exchange("ex", 10, "load identity seed 1"))),
              HasSubstr("needs exactly 2 partitions, one per state (mpirun -np 2M lmp -partition "
                        "2xM); this run has 1"));
}

TEST_F(ExchangeErrors, Syntax)
{
  const std::string pairs = " source" + quoted(kWcaLines) + " target" + quoted(kLjLines);
  EXPECT_THAT(error_of("fix ex all flowmap/exchange 10 2.0"),
              HasSubstr("expected fix ID group flowmap/exchange N Tsource Ttarget"));
  EXPECT_THAT(error_of("fix ex all flowmap/exchange 0 2.0 1.0" + pairs + " load identity seed 1"),
              HasSubstr("N must be > 0, got 0"));
  EXPECT_THAT(error_of("fix ex all flowmap/exchange -5 2.0 1.0" + pairs + " load identity seed 1"),
              HasSubstr("N must be > 0, got -5"));
  EXPECT_THAT(error_of("fix ex all flowmap/exchange 10 2.0 0" + pairs + " load identity seed 1"),
              HasSubstr("temperatures must be > 0"));
  EXPECT_THAT(error_of("fix ex all flowmap/exchange 10 2.0 1.0 source" + quoted(kWcaLines) +
                       " load identity seed 1"),
              HasSubstr("needs both the source and the target Hamiltonian"));
  EXPECT_THAT(error_of("fix ex all flowmap/exchange 10 2.0 1.0 source load identity" +
                       quoted(kLjLines)),
              HasSubstr("source needs one or more quoted pair commands"));
  EXPECT_THAT(error_of(exchange("ex", 10, "seed 1")),
              HasSubstr("needs a flow: load FILE (a model file written by fix flowmap) or load "
                        "identity"));
  EXPECT_THAT(error_of(exchange("ex", 10, "load identity")), HasSubstr("needs a random seed"));
  EXPECT_THAT(error_of(exchange("ex", 10, "load identity seed 0")),
              HasSubstr("seed must be a positive integer, got 0"));
  EXPECT_THAT(error_of(exchange("ex", 10, "load identity seed 1 state middle")),
              HasSubstr("state must be source or target"));
  EXPECT_THAT(error_of(exchange("ex", 10, "load identity seed 1 velocity rescale")),
              HasSubstr("velocity must be redraw or keep, got rescale"));
  EXPECT_THAT(error_of(exchange("ex", 10, "load identity seed 1 window 0")),
              HasSubstr("window must be a positive integer, got 0"));
  EXPECT_THAT(error_of(exchange("ex", 10, "load identity seed 1 temper 3")),
              HasSubstr("Unknown fix flowmap/exchange keyword temper"));
  EXPECT_THAT(error_of(exchange("ex", 10, "load identity seed")),
              HasSubstr("keyword seed needs a value"));
}

TEST_F(ExchangeErrors, PartitionsThatDoNotMatch)
{
  const auto base = system_lines();
  auto with = [&](const std::vector<std::string> &extra) {
    auto lines = base;
    lines.insert(lines.end(), extra.begin(), extra.end());
    return lines;
  };
  const std::string ok = "load identity seed 1";
  EXPECT_THAT(run_error(base, exchange("ex", 10, ok + " state source")),
              HasSubstr("both partitions sample the source state"));
  EXPECT_THAT(run_error(with({"variable s world target source"}),
                        exchange("ex", 10, ok + " state ${s}") + " state target"),
              HasSubstr("both partitions sample the target state"));
  EXPECT_THAT(run_error(with({"variable n world 10 20"}),
                        "fix ex all flowmap/exchange ${n} 2.0 1.0 source" + quoted(kWcaLines) +
                            " target" + quoted(kLjLines) + " " + ok),
              HasSubstr("attempts every 10 steps on partition 1 (source) and every 20 on "
                        "partition 2 (target): N must be the same"));
  EXPECT_THAT(run_error(with({"variable t world 0 7", "reset_timestep ${t}"}),
                        exchange("ex", 10, ok)),
              HasSubstr("partition 1 (source) is at step 0 and partition 2 (target) at step 7"));
  EXPECT_THAT(run_error(with({"variable t world 2.0 2.5"}),
                        "fix ex all flowmap/exchange 10 ${t} 1.0 source" + quoted(kWcaLines) +
                            " target" + quoted(kLjLines) + " " + ok),
              HasSubstr("Tsource and Ttarget are 2 1 on partition 1 (source) and 2.5 1 on "
                        "partition 2 (target)"));
  // quoted text is not substituted: the quotes of each command come with the variable
  EXPECT_THAT(run_error(with({"variable c world \"'pair_style lj/cut 2.5'\" "
                              "\"'pair_style lj/cut 3.0'\""}),
                        "fix ex all flowmap/exchange 10 2.0 1.0 source" + quoted(kWcaLines) +
                            " target ${c} \"pair_coeff * * 1.0 1.0\" \"pair_modify shift yes\" " +
                            ok),
              HasSubstr("the target pair commands are \"pair_style lj/cut 2.5 ; pair_coeff * "
                        "* 1.0 1.0 ; pair_modify shift yes\" on partition 1 (source) and "
                        "\"pair_style lj/cut 3.0 ; pair_coeff * * 1.0 1.0 ; pair_modify shift "
                        "yes\" on partition 2 (target); they must be the same"));
  EXPECT_THAT(run_error(with({"variable f world identity " + Files::get().flow}),
                        exchange("ex", 10, "load ${f} seed 1")),
              HasSubstr("partition 1 (source) exchanges through identity and partition 2 "
                        "(target) through exchange.flow; both must load the same flow"));
  EXPECT_THAT(run_error(with({"variable f world " + Files::get().flow + " " +
                              Files::get().other_flow}),
                        exchange("ex", 10, "load ${f} seed 1")),
              HasSubstr("both must load the same flow"));
}

TEST_F(ExchangeErrors, SystemsThatDoNotMatch)
{
  const auto &files = Files::get();
  const std::string ok = "load identity seed 1";
  auto lines = system_lines();
  lines.insert(lines.end(), {"variable p world 1 2", "group last id 25",
                             "if \"${p} == 2\" then \"delete_atoms group last\""});
  EXPECT_THAT(run_error(lines, exchange("ex", 10, ok)),
              HasSubstr("partition 1 (source) has 25 atoms and partition 2 (target) has 24; "
                        "both states need the same atoms"));

  lines = system_lines();
  for (auto &l : lines)
    if (l == "create_box 1 box") l = "create_box 2 box";
    else if (l == "mass 1 1.0") l = "mass * 1.0";
  lines.insert(lines.end(), {"variable p world 1 2",
                             "if \"${p} == 2\" then \"set atom 7 type 2\""});
  EXPECT_THAT(run_error(lines, exchange("ex", 10, ok)),
              HasSubstr("partition 1 (source) holds 25 atoms: 25 of type 1; in atom-ID order 1 "
                        "(IDs 1-25) and partition 2 (target) holds 25 atoms: 24 of type 1, 1 of "
                        "type 2; in atom-ID order 1 (IDs 1-6), 2 (IDs 7), 1 (IDs 8-25); both "
                        "states need the same number of atoms of each type"));

  // (no fix enforce2d: LAMMPS refuses it in 3D, on that partition only)
  auto replaced = [](const std::string &from, const std::string &to) {
    std::vector<std::string> out;
    for (const auto &l : system_lines())
      if (l != "fix 2d all enforce2d") out.push_back(l == from ? to : l);
    return out;
  };
  lines = replaced("dimension 2", "dimension ${dim}");
  lines.insert(lines.begin(), "variable dim world 2 3");
  EXPECT_THAT(run_error(lines, exchange("ex", 10, ok)),
              HasSubstr("partition 1 (source) is 2D and partition 2 (target) is 3D"));
  lines = replaced("units lj", "units ${u}");
  lines.insert(lines.begin(), "variable u world lj real");
  EXPECT_THAT(run_error(lines, exchange("ex", 10, ok)),
              HasSubstr("partition 1 (source) uses units lj and partition 2 (target) units real"));

  // partition 1 simulates LJ where the fix says it samples WCA
  lines = system_lines();
  for (auto &l : lines)
    if (l.rfind("variable pair world", 0) == 0)
      l = "variable pair world \"lj/cut 2.5\" \"lj/cut 2.5\"";
  const auto wrong_pair = run_error(lines, exchange("ex", 10, ok));
  EXPECT_THAT(wrong_pair, HasSubstr("partition 1 (source) simulates a pair energy of"));
  EXPECT_THAT(wrong_pair, HasSubstr("but the source Hamiltonian of the fix (keyword source) "
                                    "gives"));

  EXPECT_THAT(run_error(system_lines(), exchange("ex", 10, "load " + files.wrong_box_flow +
                                                              " seed 1")),
              HasSubstr("model was trained with target box"));
  EXPECT_THAT(run_error(system_lines(), exchange("ex", 10, "load missing.flow seed 1")),
              HasSubstr("cannot open model file 'missing.flow'"));
  EXPECT_THAT(run_error(system_lines(), exchange("ex", 10, ok + " file no/such/dir/a.txt")),
              HasSubstr("partition 1 (source): cannot open file no/such/dir/a.txt"));
  lines = system_lines();
  lines.push_back("variable len world 20 30");
  EXPECT_THAT(run_error(lines, exchange("ex", 10, ok), "run ${len}"),
              HasSubstr("the run of partition 1 (source) ends at step 20 and that of partition 2 "
                        "(target) at step 30"));
}

/* ----------------------------------------------------------------------
   Each attempt against an independent evaluation
------------------------------------------------------------------------- */

namespace {

// What the fix's output vector says after a run, on this rank's partition.
std::vector<double> output_vector(LammpsRunner &r, const std::string &id)
{
  // f_ID[i] evaluated directly (a v_ reference would pass through 15-digit text)
  std::vector<double> v;
  for (int i = 1; i <= 13; ++i) {
    std::string expr = "f_" + id + "[" + std::to_string(i) + "]";
    v.push_back(r.lmp()->input->variable->compute_equal(&expr[0]));
  }
  return v;
}

void expect_outputs_match_file(const std::vector<double> &v, const std::vector<Attempt> &attempts)
{
  ASSERT_FALSE(attempts.empty());
  double accepted = 0.0, probability = 0.0, probability_identity = 0.0;
  for (const auto &a : attempts) {
    accepted += a.accepted;
    probability += std::min(1.0, std::exp(a.log_alpha));
    probability_identity += std::min(1.0, std::exp(a.log_alpha_identity));
  }
  const double n = attempts.size();
  const auto &last = attempts.back();
  EXPECT_EQ(v[0], n);
  EXPECT_EQ(v[1], accepted);
  EXPECT_DOUBLE_EQ(v[2], accepted / n);
  EXPECT_NEAR(v[6], probability / n, 1e-14);
  EXPECT_NEAR(v[7], probability_identity / n, 1e-14);
  EXPECT_DOUBLE_EQ(v[4], last.log_alpha);
  EXPECT_EQ(v[5], last.accepted);
  EXPECT_DOUBLE_EQ(v[8], last.log_alpha_identity);
  EXPECT_EQ(v[9], 0.0);
  EXPECT_GT(v[10], 0.0);
  EXPECT_DOUBLE_EQ(v[11], last.lw_fwd);
  EXPECT_DOUBLE_EQ(v[12], last.lw_inv);
}

}    // namespace

TEST(FixFlowMapExchange, EachAttemptMatchesAnIndependentEvaluation)
{
  const auto &files = Files::get();
  constexpr int kEvery = 10, kSteps = 400, kSeed = 7;
  std::vector<double> outputs;
  {
    auto r = partitions();
    r->commands(system_lines("nve"));
    r->commands({"variable dumpfile world source.dump target.dump",
                 "dump d all custom " + std::to_string(kEvery) + " ${dumpfile} id x y vx vy fx fy",
                 "dump_modify d sort id format float %.17g",
                 exchange("ex", kEvery, "load " + files.flow + " seed " + std::to_string(kSeed) +
                                            " window 7 file attempts.txt"),
                 "run " + std::to_string(kSteps)});
    outputs = output_vector(*r, "ex");
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const auto attempts = read_attempts("attempts.txt");
  ASSERT_EQ(attempts.size(), static_cast<std::size_t>(kSteps / kEvery));
  expect_outputs_match_file(outputs, attempts);
  // recent rate over the last 7 attempts
  double recent = 0.0;
  for (std::size_t i = attempts.size() - 7; i < attempts.size(); ++i)
    recent += attempts[i].accepted;
  EXPECT_DOUBLE_EQ(outputs[3], recent / 7.0);
  if (world_rank() != 0) return;

  const auto source = read_dump("source.dump"), target = read_dump("target.dump");
  auto model = flowmap::load_model(files.flow);
  auto energy_a = bridge(kWcaLines, kDensitySource), energy_b = bridge(kLjLines, kDensityTarget);
  const double la = box_length(kDensitySource), lb = box_length(kDensityTarget);
  const std::vector<double> box_a = {la, la}, box_b = {lb, lb};
  const double beta_a = 1.0 / kTemperatureSource, beta_b = 1.0 / kTemperatureTarget;
  const double log_scale = 2.0 * kAtoms * std::log(lb / la);

  auto energy = [](FlowMapBridge &b, const std::vector<double> &x, const std::vector<double> &box,
                   std::vector<double> *forces = nullptr) {
    double u = 0.0;
    if (forces) forces->assign(x.size(), 0.0);
    b.evaluate(x.data(), 1, box.data(), &u, forces ? forces->data() : nullptr, false);
    return u;
  };
  auto map = [&](const std::vector<double> &x, bool forward, double &log_det) {
    torch::NoGradGuard no_grad;
    auto t = torch::from_blob(const_cast<double *>(x.data()), {1, kAtoms, 2}, torch::kFloat64);
    const auto zero = torch::zeros({1}, torch::kInt64);
    auto m = forward ? model.forward(t, zero) : model.inverse(t, zero);
    log_det = m.log_det[0].item<double>();
    auto p = m.positions.contiguous();
    return std::vector<double>(p.data_ptr<double>(), p.data_ptr<double>() + 2 * kAtoms);
  };
  auto scaled = [](const std::vector<double> &x, double factor) {
    std::vector<double> y(x);
    for (auto &v : y) v *= factor;
    return y;
  };
  // lw_fwd(x_A), lw_inv(x_B) and their identity counterparts, from scratch
  auto log_weights = [&](const std::vector<double> &xa, const std::vector<double> &xb,
                         double out[4]) {
    const double ua = energy(*energy_a, xa, box_a), ub = energy(*energy_b, xb, box_b);
    double ld_f = 0.0, ld_i = 0.0;
    const auto fa = map(xa, true, ld_f), fb = map(xb, false, ld_i);
    out[0] = -beta_b * energy(*energy_b, fa, box_b) + beta_a * ua + ld_f;
    out[1] = -beta_a * energy(*energy_a, fb, box_a) + beta_b * ub + ld_i;
    out[2] = -beta_b * energy(*energy_b, scaled(xa, lb / la), box_b) + beta_a * ua + log_scale;
    out[3] = -beta_a * energy(*energy_a, scaled(xb, la / lb), box_a) + beta_b * ub - log_scale;
  };

  flowmap::RandomStream stream_a(kSeed, 0), stream_b(kSeed, 1);
  int accepted = 0, rejected = 0;
  double largest_log_det = 0.0;
  for (const auto &a : attempts) {
    SCOPED_TRACE("attempt at step " + std::to_string(a.step));
    ASSERT_TRUE(source.count(a.step) && target.count(a.step));
    const auto &frame_a = source.at(a.step), &frame_b = target.at(a.step);
    const auto xa = column_pairs(frame_a, 0), xb = column_pairs(frame_b, 0);
    // the decision came from the source partition's stream and the documented rule
    EXPECT_EQ(a.accepted != 0, flowmap::exchange_accepted(a.log_alpha, stream_a.uniform()));
    EXPECT_DOUBLE_EQ(a.log_alpha, flowmap::exchange_log_acceptance(a.lw_fwd, a.lw_inv));

    double lw[4];
    log_weights(xa, xb, lw);
    if (!a.accepted) {
      // the dumps hold the configurations the attempt weighed
      ++rejected;
      EXPECT_LT(relative_error(a.energy_source, energy(*energy_a, xa, box_a)), 1e-10);
      EXPECT_LT(relative_error(a.energy_target, energy(*energy_b, xb, box_b)), 1e-10);
      EXPECT_LT(relative_error(a.lw_fwd, lw[0]), 1e-9);
      EXPECT_LT(relative_error(a.lw_inv, lw[1]), 1e-9);
      EXPECT_LT(relative_error(a.log_alpha_identity, lw[2] + lw[3]), 1e-9);
    } else {
      // the dumps hold T(s) = (F^-1(x_B), F(x_A)), whose log alpha is -log alpha(s); the
      // identity's is not related, so only the flow's is checked
      ++accepted;
      EXPECT_LT(relative_error(lw[0] + lw[1], -a.log_alpha), 1e-8);
    }
    double ld = 0.0;
    map(xa, true, ld);
    largest_log_det = std::max(largest_log_det, std::fabs(ld - log_scale));

    // forces of the positions each partition holds now, and after an exchange the
    // Maxwell-Boltzmann velocities of the partition's stream plus fix nve's half kick
    std::vector<double> fa, fb;
    energy(*energy_a, xa, box_a, &fa);
    energy(*energy_b, xb, box_b, &fb);
    const auto dumped_fa = column_pairs(frame_a, 4), dumped_fb = column_pairs(frame_b, 4);
    for (int k = 0; k < 2 * kAtoms; ++k) {
      EXPECT_NEAR(dumped_fa[k], fa[k], 1e-9 * (1.0 + std::fabs(fa[k])));
      EXPECT_NEAR(dumped_fb[k], fb[k], 1e-9 * (1.0 + std::fabs(fb[k])));
    }
    if (a.accepted) {
      // (unit masses) the draws less their mean, so that the total momentum is zero
      auto redrawn = [](flowmap::RandomStream &stream, double temperature) {
        std::vector<double> v(2 * kAtoms);
        double mean[2] = {0.0, 0.0};
        for (int k = 0; k < 2 * kAtoms; ++k) {
          v[k] = std::sqrt(temperature) * stream.normal();
          mean[k % 2] += v[k] / kAtoms;
        }
        for (int k = 0; k < 2 * kAtoms; ++k) v[k] -= mean[k % 2];
        return v;
      };
      const auto va = column_pairs(frame_a, 2), vb = column_pairs(frame_b, 2);
      const auto ra = redrawn(stream_a, kTemperatureSource),
                 rb = redrawn(stream_b, kTemperatureTarget);
      for (int k = 0; k < 2 * kAtoms; ++k) {
        EXPECT_NEAR(va[k], ra[k] + 0.5 * kTimestep * fa[k], 1e-10);
        EXPECT_NEAR(vb[k], rb[k] + 0.5 * kTimestep * fb[k], 1e-10);
      }
    }
  }
  EXPECT_GT(accepted, 0) << "no exchange was accepted: the placement is untested";
  EXPECT_GT(rejected, 0) << "every exchange was accepted: the weights are untested";
  EXPECT_GT(largest_log_det, 1e-3) << "the flow should not be volume preserving";
}

/* ----------------------------------------------------------------------
   Sequences of attempts that must be the same
------------------------------------------------------------------------- */

namespace {

// Same steps and decisions; log-weights equal to rounding (runs that differ in their
// decomposition or neighbor lists sum forces in another order).
void expect_same_attempts(const std::vector<Attempt> &a, const std::vector<Attempt> &b,
                          double tolerance)
{
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE("attempt " + std::to_string(i) + " at step " + std::to_string(a[i].step));
    EXPECT_EQ(a[i].step, b[i].step);
    EXPECT_EQ(a[i].accepted, b[i].accepted);
    EXPECT_LT(relative_error(a[i].lw_fwd, b[i].lw_fwd), tolerance);
    EXPECT_LT(relative_error(a[i].lw_inv, b[i].lw_inv), tolerance);
    EXPECT_LT(relative_error(a[i].energy_source, b[i].energy_source), tolerance);
    EXPECT_LT(relative_error(a[i].energy_target, b[i].energy_target), tolerance);
  }
}

int count_accepted(const std::vector<Attempt> &a, std::size_t from = 0)
{
  int n = 0;
  for (std::size_t i = from; i < a.size(); ++i) n += a[i].accepted;
  return n;
}

// Thermostatted (deterministic) MD on both partitions, exchanges through the flow every 10
// steps, velocities redrawn.
std::vector<std::string> thermostatted_exchange(const std::string &file)
{
  auto lines = system_lines("nvt");
  lines.push_back(exchange("ex", 10, "load " + Files::get().flow + " seed 19 file " + file));
  return lines;
}

}    // namespace

TEST(FixFlowMapExchange, RestartContinuesTheExchangeExactly)
{
  Files::get();
  {
    auto r = partitions();
    r->commands(thermostatted_exchange("uninterrupted.txt"));
    r->command("run 300");
  }
  {
    auto r = partitions();
    r->commands(thermostatted_exchange("first.txt"));
    r->commands({"run 150", "variable rf world source.restart target.restart",
                 "write_restart ${rf}"});
  }
  {
    auto r = partitions();
    r->commands({"variable T world " + number(kTemperatureSource) + " " +
                     number(kTemperatureTarget),
                 "variable rf world source.restart target.restart", "read_restart ${rf}",
                 "fix 2d all enforce2d", "fix md all nvt temp ${T} ${T} 0.2", "thermo 0",
                 exchange("ex", 10, "load " + Files::get().flow + " seed 19 file second.txt"),
                 "run 150"});
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const auto full = read_attempts("uninterrupted.txt");
  auto resumed = read_attempts("first.txt");
  const auto second = read_attempts("second.txt");
  ASSERT_EQ(resumed.size(), 15u);
  EXPECT_GT(count_accepted(resumed), 0);
  EXPECT_GT(count_accepted(second), 0) << "the continued stream must decide and redraw";
  resumed.insert(resumed.end(), second.begin(), second.end());
  expect_same_attempts(full, resumed, 1e-8);

  // The counters continue too; and a restart file read by the partition of the other state
  // is refused on both partitions.
  auto r = partitions();
  r->commands({"variable T world " + number(kTemperatureTarget) + " " +
                   number(kTemperatureSource),
               "variable rf world source.restart target.restart",
               "variable s world target source", "read_restart ${rf}",
               "fix md all nve", "thermo 0",
               exchange("ex", 10, "load " + Files::get().flow + " seed 19 state ${s}")});
  EXPECT_THAT(bare_message(r->error_of("run 10")),
              HasSubstr("the restart file holds the state of the source partition, this "
                        "partition samples the target state"));
}

TEST(FixFlowMapExchange, RestartedCountersContinue)
{
  Files::get();
  {
    auto r = partitions();
    r->commands(thermostatted_exchange("counted.txt"));
    r->commands({"run 100", "variable rf world count_a.restart count_b.restart",
                 "write_restart ${rf}"});
  }
  auto r = partitions();
  r->commands({"variable T world " + number(kTemperatureSource) + " " +
                   number(kTemperatureTarget),
               "variable rf world count_a.restart count_b.restart", "read_restart ${rf}",
               "fix 2d all enforce2d", "fix md all nvt temp ${T} ${T} 0.2", "thermo 0",
               exchange("ex", 10, "load " + Files::get().flow + " seed 19 file counted2.txt"),
               "run 50"});
  auto all = read_attempts("counted.txt");
  const auto more = read_attempts("counted2.txt");
  all.insert(all.end(), more.begin(), more.end());
  expect_outputs_match_file(output_vector(*r, "ex"), all);
}

TEST(FixFlowMapExchange, RolesFollowTheStateNotThePartitionIndex)
{
  // Partition 1 samples the target and partition 2 the source: everything per partition is
  // swapped, and the exchange is the same as with the default roles (the streams belong to the
  // states), so the attempts file (written by the source's root) is identical.
  Files::get();
  {
    auto r = partitions();
    r->commands(thermostatted_exchange("default_roles.txt"));
    r->command("run 200");
  }
  {
    auto r = partitions();
    auto lines = thermostatted_exchange("swapped_roles.txt");
    for (auto &l : lines) {
      if (l.rfind("variable ", 0) != 0) continue;
      // swap the two values of every world variable
      std::istringstream s(l);
      std::vector<std::string> w;
      std::string word;
      while (s >> std::quoted(word)) w.push_back(word);
      l = "variable " + w[1] + " world \"" + w[4] + "\" \"" + w[3] + "\"";
    }
    lines.back() += " state ${s}";
    lines.insert(lines.begin(), "variable s world target source");
    r->commands(lines);
    r->command("run 200");
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const auto a = read_attempts("default_roles.txt"), b = read_attempts("swapped_roles.txt");
  EXPECT_GT(count_accepted(a), 0);
  expect_same_attempts(a, b, 1e-10);
}

TEST(FixFlowMapExchange, TwoRanksPerPartitionMakeTheSameExchangesAsOne)
{
  if (world_size() != 4) GTEST_SKIP() << "needs 4 MPI ranks (-partition 2x2 and 2x1)";
  Files::get();
  {
    auto r = partitions();    // 2x2
    r->commands(thermostatted_exchange("four_ranks.txt"));
    r->command("run 300");
  }
  MPI_Comm two;
  MPI_Comm_split(MPI_COMM_WORLD, world_rank() < 2 ? 0 : MPI_UNDEFINED, world_rank(), &two);
  if (two != MPI_COMM_NULL) {
    auto r = partitions(two);    // 2x1
    r->commands(thermostatted_exchange("two_ranks.txt"));
    r->command("run 300");
    r.reset();
    MPI_Comm_free(&two);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const auto four = read_attempts("four_ranks.txt"), two_ranks = read_attempts("two_ranks.txt");
  EXPECT_EQ(four.size(), 30u);
  EXPECT_GT(count_accepted(four), 0);
  expect_same_attempts(four, two_ranks, 1e-8);
}

TEST(FixFlowMapExchange, IdentityExchangeIsTheBaseline)
{
  // load identity: the exchange is the isotropic scaling between the boxes, so its log alpha
  // is the baseline column and both mean probabilities agree. With velocity keep the source
  // stream only decides: one uniform per attempt.
  Files::get();
  std::vector<double> v;
  {
    auto r = partitions();
    r->commands(system_lines("nvt"));
    r->commands({exchange("ex", 5, "load identity seed 23 velocity keep file identity.txt"),
                 "run 300"});
    v = output_vector(*r, "ex");
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const auto attempts = read_attempts("identity.txt");
  ASSERT_EQ(attempts.size(), 60u);
  expect_outputs_match_file(v, attempts);
  EXPECT_EQ(v[6], v[7]);
  flowmap::RandomStream stream(23, 0);
  for (const auto &a : attempts) {
    EXPECT_EQ(a.log_alpha, a.log_alpha_identity);
    EXPECT_EQ(a.accepted != 0, flowmap::exchange_accepted(a.log_alpha, stream.uniform()));
  }
}

namespace {

// A binary mixture, one Hamiltonian at two temperatures in the same box, the identity map,
// NVT MD and an exchange attempt every 10 steps. `minority` is a world variable's values: the
// IDs of the 5 type-2 atoms on each partition; swap_moves adds fix atom/swap to the source.
// Each partition records its pair energy every 10 steps in pe_<file>_<state>.txt.
std::vector<std::string> mixture_setup(const std::string &minority, bool swap_moves,
                                       const std::string &file,
                                       const std::string &load = "identity")
{
  const std::vector<std::string> mixture = {
      "pair_style lj/cut 2.5", "pair_coeff 1 1 1.0 1.0 2.5", "pair_coeff 1 2 1.5 0.8 2.0",
      "pair_coeff 2 2 0.5 0.88 2.2", "pair_modify shift yes"};
  const double hot = 2.0, cold = 1.5, L = box_length(0.9);
  std::vector<std::string> lines = {
      "variable T world " + number(hot) + " " + number(cold),
      "variable vseed world 4928 5131", "variable minority world " + minority,
      "variable pe world pe_" + file + "_source.txt pe_" + file + "_target.txt",
      // fix atom/swap picks atoms by their local index, which sorting reorders at every setup
      "units lj", "dimension 2", "atom_style atomic", "atom_modify map array sort 0 0.0",
      "region box block 0 " + number(L) + " 0 " + number(L) + " -0.5 0.5", "create_box 2 box"};
  for (int i = 0; i < kAtoms; ++i)
    lines.push_back("create_atoms 1 single " + number((i % kSide + 0.5) * L / kSide) + " " +
                    number((i / kSide + 0.5) * L / kSide) + " 0.0 units box");
  lines.insert(lines.end(), {"group minority id ${minority}", "set group minority type 2",
                             "mass * 1.0"});
  lines.insert(lines.end(), mixture.begin(), mixture.end());
  lines.insert(lines.end(), {"velocity all create ${T} ${vseed} dist gaussian",
                             "fix 2d all enforce2d", "timestep " + number(kTimestep), "thermo 0",
                             "fix md all nvt temp ${T} ${T} 0.2"});
  if (swap_moves)
    lines.push_back("partition yes 1 fix swap all atom/swap 5 5 29 " + number(hot) +
                    " ke yes types 1 2");
  lines.insert(lines.end(), {
      "fix ex all flowmap/exchange 10 " + number(hot) + " " + number(cold) + " source" +
          quoted(mixture) + " target" + quoted(mixture) + " load " + load + " seed 31 file " + file +
          ".txt",
      "fix energy all ave/time 10 1 10 c_thermo_pe file ${pe} format %.17g"});
  return lines;
}

// Each accepted exchange must put the other partition's configuration onto atoms of the
// species it was evaluated as: then each partition's own pair energy after the exchange is the
// energy the other partition had before it. A position put on an atom of the other species
// changes the energy. Returns the number of accepted exchanges checked.
int expect_exchanged_energies(const std::string &file, std::size_t expected_attempts,
                              double tolerance = 1e-9)
{
  const auto attempts = read_attempts(file + ".txt");
  const auto source = read_series("pe_" + file + "_source.txt"),
             target = read_series("pe_" + file + "_target.txt");
  EXPECT_EQ(attempts.size(), expected_attempts);
  int checked = 0;
  for (const auto &a : attempts) {
    if (!a.accepted) continue;
    if (!source.count(a.step) || !target.count(a.step)) {
      ADD_FAILURE() << "no energy recorded at step " << a.step;
      continue;
    }
    EXPECT_LT(relative_error(target.at(a.step), a.energy_source), tolerance) << "step " << a.step;
    EXPECT_LT(relative_error(source.at(a.step), a.energy_target), tolerance) << "step " << a.step;
    ++checked;
  }
  return checked;
}

double swaps_accepted_on_source(LammpsRunner &r)
{
  double accepted = 0.0;
  if (r.lmp()->universe->iworld == 0) {
    std::string expr = "f_swap[2]";
    accepted = r.lmp()->input->variable->compute_equal(&expr[0]);
  }
  MPI_Allreduce(MPI_IN_PLACE, &accepted, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return accepted;
}

const char *const kMinority = "\"5 10 15 20 25\" \"5 10 15 20 25\"";

}    // namespace

TEST(FixFlowMapExchange, SwapMovesKeepEachPositionWithItsSpecies)
{
  // The source partition runs swap moves (fix atom/swap), which exchange types between atoms.
  // Its frame is gathered relabelled to the recorded types, and an accepted exchange must put
  // the other partition's configuration back the same way.
  Files::get();
  double swaps = 0.0;
  {
    auto r = partitions();
    r->commands(mixture_setup(kMinority, true, "swaps"));
    r->command("run 600");
    swaps = swaps_accepted_on_source(*r);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_GT(swaps, 5.0) << "the swap moves must have exchanged types";
  EXPECT_GE(expect_exchanged_energies("swaps", 60), 10)
      << "too few accepted exchanges to test the placement";
}

TEST(FixFlowMapExchange, PartitionsWithOtherTypesByIdShareOneOrder)
{
  // The same composition, the type-2 atoms at other IDs on each partition (as after swap
  // moves in an earlier run): both partitions take the source's order and relabel within
  // species, so every exchange still puts each position on an atom of its species.
  Files::get();
  {
    auto r = partitions();
    r->commands(mixture_setup("\"5 10 15 20 25\" \"1 2 3 4 6\"", false, "reordered"));
    r->command("run 600");
  }
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_GE(expect_exchanged_energies("reordered", 60), 10)
      << "too few accepted exchanges to test the placement";
}

TEST(FixFlowMapExchange, AFlowWithSpeciesSetsTheTypeOrder)
{
  // The flow records type 2 at IDs 21-25, the partitions hold it at 5, 10, ..., 25 and the
  // source runs swap moves: both partitions feed the flow rows in its order. The untrained
  // flow is the identity map, so each partition's energy after an accepted exchange is the
  // other's before it, to the flow's round-off.
  const auto &files = Files::get();
  {
    auto r = partitions();
    r->commands(mixture_setup(kMinority, true, "flow_order", files.mixture_flow));
    r->command("run 400");
  }
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_GE(expect_exchanged_energies("flow_order", 40, 1e-7), 5)
      << "too few accepted exchanges to test the placement";

  // a flow of another composition is refused, naming both
  auto r = partitions();
  r->commands(mixture_setup("5 5", false, "flow_refused", files.mixture_flow));
  EXPECT_THAT(bare_message(r->error_of("run 10")),
              HasSubstr("the model was trained for 25 atoms: 20 of type 1, 5 of type 2; in "
                        "atom-ID order 1 (IDs 1-20), 2 (IDs 21-25); this system has 25 atoms: "
                        "24 of type 1, 1 of type 2"));
}

TEST(FixFlowMapExchange, RestartAfterSwapMovesContinuesTheExchangeExactly)
{
  // After swap moves the partitions hold their types by ID in different orders when the
  // restarted fix records them afresh; it must take one order and pair the atoms as the
  // uninterrupted run does.
  Files::get();
  {
    auto r = partitions();
    r->commands(mixture_setup(kMinority, true, "swap_full"));
    r->command("run 400");
  }
  double swaps = 0.0;
  {
    auto r = partitions();
    r->commands(mixture_setup(kMinority, true, "swap_first"));
    r->commands({"run 200", "variable rf world swap_a.restart swap_b.restart",
                 "write_restart ${rf}"});
    swaps = swaps_accepted_on_source(*r);
  }
  {
    auto r = partitions();
    // the system (types, pair style, groups, velocities) from the restart file; the
    // variables it needs and the fixes, with the same IDs, as before
    std::vector<std::string> restarted = {"variable rf world swap_a.restart swap_b.restart",
                                          "read_restart ${rf}"};
    bool fixes = false;
    for (const auto &l : mixture_setup(kMinority, true, "swap_second")) {
      fixes = fixes || l.rfind("fix 2d", 0) == 0;
      if (fixes || l.rfind("variable T ", 0) == 0 || l.rfind("variable pe ", 0) == 0)
        restarted.push_back(l);
    }
    r->commands(restarted);
    r->command("run 200");
  }
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_GT(swaps, 5.0) << "the swap moves must have exchanged types before the restart";
  const auto full = read_attempts("swap_full.txt");
  auto resumed = read_attempts("swap_first.txt");
  const auto second = read_attempts("swap_second.txt");
  ASSERT_EQ(resumed.size(), 20u);
  EXPECT_GT(count_accepted(second), 0);
  resumed.insert(resumed.end(), second.begin(), second.end());
  expect_same_attempts(full, resumed, 1e-8);
}
