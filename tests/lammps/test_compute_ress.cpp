// compute ress in direct mode: weights, RESS and free energies against values computed by
// hand from LAMMPS's own energies, the per-frame file and the scan table, and every bad input.
#include "flowmap_lammps_bridge.h"
#include "flowmap_weight_accumulator.h"
#include "flowmap_weights.h"
#include "lammps_fixture.h"
#include "input_text.h"
#include "output_files.h"

#include "library.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace LAMMPS_NS;
using flowmap_test::LammpsRunner;
using flowmap_test::LammpsTest;
using flowmap_test::world_rank;
using flowmap_test::number;

namespace {

const std::string kWCA = "\"pair_style lj/cut 1.122462048309373\" \"pair_coeff * * 1.0 1.0\" "
                         "\"pair_modify shift yes\"";
const std::string kLJ = "\"pair_style lj/cut 2.5\" \"pair_coeff * * 1.0 1.0 2.5\" "
                        "\"pair_modify shift yes\"";
const std::vector<std::string> kWCACommands = {"pair_style lj/cut 1.122462048309373",
                                               "pair_coeff * * 1.0 1.0", "pair_modify shift yes"};
const std::vector<std::string> kLJCommands = {"pair_style lj/cut 2.5", "pair_coeff * * 1.0 1.0 2.5",
                                              "pair_modify shift yes"};
constexpr int kN = 32;

// 32 WCA disks at density 0.735 (doc/method.md section 7), box 4 x 8 lattice cells.
std::vector<std::string> wca_system(const std::string &boundary = "p p p")
{
  return {"units lj",
          "dimension 2",
          "boundary " + boundary,
          "atom_style atomic",
          "atom_modify map array",
          "lattice sq 0.735",
          "region box block 0 4 0 8 -0.5 0.5",
          "create_box 1 box",
          "create_atoms 1 box",
          "mass 1 1.0",
          "pair_style lj/cut 1.122462048309373",
          "pair_coeff * * 1.0 1.0",
          "pair_modify shift yes",
          "velocity all create 2.0 4928 loop geom",
          "fix thermostat all langevin 2.0 2.0 0.5 1234",
          "fix integrate all nve",
          "fix plane all enforce2d",
          "timestep 0.005",
          "thermo_modify norm no"};
}

class ComputeRESSTest : public LammpsTest {
 protected:
  // The expression itself, not an equal-style variable: LAMMPS passes a referenced variable's
  // value through a "%.15g" string.
  double evaluate(std::string expression)
  {
    return lmp()->input->variable->compute_equal(&expression[0]);
  }
  double element(const std::string &compute, int i)
  {
    return evaluate("c_" + compute + "[" + std::to_string(i) + "]");
  }
  double pe() { return evaluate("c_thermo_pe"); }
};

}    // namespace

/* ---------------------------------------------------------------------- */

TEST_F(ComputeRESSTest, SameHamiltonianAndTemperatureGiveRessOne)
{
  commands(wca_system());
  command("compute r all ress 2.0 2.0 target " + kWCA);
  command("thermo_style custom step pe c_r[1] c_r[4] c_r[6]");
  command("thermo 50");
  command("run 500");
  EXPECT_NEAR(element("r", 1), 1.0, 1e-12);
  EXPECT_NEAR(element("r", 2), 0.0, 1e-12);
  EXPECT_EQ(element("r", 3), 11.0);
  EXPECT_NEAR(element("r", 4), 0.0, 1e-12);
  EXPECT_NEAR(element("r", 6), 0.0, 1e-12);
  EXPECT_NEAR(element("r", 7), pe(), 1e-12 * std::max(1.0, std::fabs(pe())));
  EXPECT_GT(pe(), 0.0);    // the frames are not trivially energy-free
}

TEST_F(ComputeRESSTest, TemperatureChangeReproducesWeightsFromThermoEnergy)
{
  commands(wca_system());
  command("compute r all ress 2.0 1.0 target " + kWCA + " bootstrap 50 seed 77");
  command("thermo_style custom step pe c_r[1] c_r[6]");
  command("thermo 100");
  // A second invoker on the same steps must not count frames twice.
  command("fix twice all ave/time 100 1 100 c_r[1]");
  std::vector<double> log_weights, energies;
  command("run 0");
  for (int block = 0; block <= 8; ++block) {
    if (block > 0) command("run 100");
    const double u = pe();
    energies.push_back(u);
    log_weights.push_back(flowmap::log_weight(0.5, u, 1.0, u, 0.0));
    EXPECT_NEAR(element("r", 6), log_weights.back(), 1e-12 * std::max(1.0, std::fabs(u)));
    EXPECT_NEAR(element("r", 7), u, 1e-12 * std::max(1.0, std::fabs(u)));
  }
  EXPECT_EQ(element("r", 3), 9.0);
  EXPECT_LT(element("r", 1), 0.999);
  EXPECT_NEAR(element("r", 1), flowmap::kish_ress(log_weights), 1e-12);
  EXPECT_NEAR(element("r", 4), flowmap::free_energy_difference(log_weights), 1e-10);
  EXPECT_NEAR(element("r", 8), flowmap::reweighted_mean(log_weights, energies), 1e-10);
  flowmap::WeightAccumulator reference(50, 77);
  for (std::size_t i = 0; i < log_weights.size(); ++i)
    reference.add(log_weights[i], energies[i]);
  EXPECT_NEAR(element("r", 2), reference.ress().error, 1e-12);
  EXPECT_NEAR(element("r", 5), reference.free_energy_difference().error, 1e-10);
  EXPECT_GT(element("r", 5), 0.0);
}

TEST_F(ComputeRESSTest, DensityScalingMatchesIndependentEvaluationOfTheScaledFrame)
{
  commands(wca_system());
  const double rho_target = 0.70;
  command("compute r all ress 2.0 1.0 target " + kLJ + " density 0.70");
  command("thermo_style custom step pe c_r[6] c_r[7]");
  command("thermo 100");
  for (int block = 0; block < 3; ++block) {
    command("run 100");
    const double u_source = pe();
    std::vector<double> x(3 * kN);
    lammps_gather_atoms(lmp(), const_cast<char *>("x"), 1, 3, x.data());
    const double *lo = static_cast<double *>(lammps_extract_global(lmp(), "boxlo"));
    const double *hi = static_cast<double *>(lammps_extract_global(lmp(), "boxhi"));
    const double length_x = hi[0] - lo[0], length_y = hi[1] - lo[1];
    const double s = std::sqrt((kN / (length_x * length_y)) / rho_target);

    LammpsRunner target;
    target.commands({"units lj", "dimension 2", "atom_style atomic", "atom_modify map array",
                     "region box block 0 " + number(s * length_x) + " 0 " +
                         number(s * length_y) + " -0.5 0.5",
                     "create_box 1 box", "mass 1 1.0"});
    // Atoms between reneighborings may sit just outside the box: wrap them in.
    std::vector<double> y(3 * kN, 0.0);
    std::vector<int> types(kN, 1);
    for (int i = 0; i < kN; ++i) {
      for (int k = 0; k < 2; ++k) {
        const double box = k == 0 ? length_x : length_y;
        double frac = (x[3 * i + k] - lo[k]) / box;
        frac -= std::floor(frac);
        y[3 * i + k] = s * frac * box;
      }
    }
    lammps_create_atoms(target.lmp(), kN, nullptr, types.data(), y.data(), nullptr, nullptr, 0);
    target.commands(kLJCommands);
    target.commands({"thermo_modify norm no", "run 0 post no", "variable e equal pe"});
    const double u_target = target.equal_variable("e");
    EXPECT_NEAR(element("r", 7), u_target, 1e-10 * std::fabs(u_target));
    const double expected = -u_target / 1.0 + u_source / 2.0 + kN * 2 * std::log(s);
    EXPECT_NEAR(element("r", 6), expected, 1e-10 * std::fabs(u_target));
  }
}

// Frames from a dump, so the expected numbers do not depend on the number of ranks: the same
// values on 1 and 2 ranks, against the bridge evaluated here frame by frame.
class ComputeRESSRerunTest : public ComputeRESSTest {
 protected:
  static constexpr int kFrames = 6;
  std::vector<std::vector<double>> frames_;

  void write_dump(const std::string &path)
  {
    // The 4 x 8 lattice of the MD system, perturbed.
    const double a = 1.0 / std::sqrt(0.735);
    std::mt19937_64 engine(99);
    std::uniform_real_distribution<double> jitter(-0.09, 0.09);
    for (int f = 0; f < kFrames; ++f) {
      std::vector<double> x;
      for (int i = 0; i < kN; ++i) {
        x.push_back((i % 4 + 0.5) * a + jitter(engine));
        x.push_back((i / 4 + 0.5) * a + jitter(engine));
      }
      frames_.push_back(x);
    }
    write_frames(path);
  }

  // frames_ as a dump (box of the 4 x 8 lattice, type 1, z = 0).
  void write_frames(const std::string &path)
  {
    const double a = 1.0 / std::sqrt(0.735);
    if (world_rank() == 0) {
      FILE *fp = fopen(path.c_str(), "w");
      for (int f = 0; f < kFrames; ++f) {
        fprintf(fp, "ITEM: TIMESTEP\n%d\nITEM: NUMBER OF ATOMS\n%d\n", 100 * f, kN);
        fprintf(fp, "ITEM: BOX BOUNDS pp pp pp\n0 %.17g\n0 %.17g\n-0.5 0.5\n", 4 * a, 8 * a);
        fprintf(fp, "ITEM: ATOMS id type x y z\n");
        for (int i = 0; i < kN; ++i)
          fprintf(fp, "%d 1 %.17g %.17g 0\n", i + 1, frames_[f][2 * i], frames_[f][2 * i + 1]);
      }
      fclose(fp);
    }
    MPI_Barrier(MPI_COMM_WORLD);
  }

  // A bridge for the frames' box, scaled by scale.
  static FlowMapBridgeSetup lattice_setup(const std::vector<std::string> &commands,
                                          double scale = 1.0)
  {
    const double a = 1.0 / std::sqrt(0.735);
    FlowMapBridgeSetup setup;
    setup.dimension = 2;
    setup.types.assign(kN, 1);
    setup.box_lengths = {4 * a * scale, 8 * a * scale};
    setup.pair_commands = commands;
    return setup;
  }

  std::vector<double> energies(const std::vector<std::string> &commands, double scale)
  {
    const FlowMapBridgeSetup setup = lattice_setup(commands, scale);
    FlowMapBridge bridge(setup);
    std::vector<double> e;
    for (const auto &frame : frames_) {
      std::vector<double> x(frame);
      for (auto &v : x) v *= scale;
      double u = 0.0;
      bridge.evaluate(x.data(), 1, setup.box_lengths.data(), &u, nullptr, false);
      e.push_back(u);
    }
    return e;
  }
};

TEST_F(ComputeRESSRerunTest, RerunOfDumpAndFrameFile)
{
  write_dump("frames.dump");
  commands(wca_system());
  command("compute r all ress 2.0 1.0 target " + kLJ + " file frames.ress seed 5");
  command("thermo_style custom step pe c_r[1] c_r[6]");
  command("thermo 100");
  command("rerun frames.dump dump x y");

  const auto u_source = energies(kWCACommands, 1.0);
  const auto u_target = energies(kLJCommands, 1.0);
  std::vector<double> lw;
  for (int f = 0; f < kFrames; ++f) lw.push_back(-u_target[f] + 0.5 * u_source[f]);
  EXPECT_EQ(element("r", 3), kFrames);
  EXPECT_NEAR(element("r", 1), flowmap::kish_ress(lw), 1e-10);
  EXPECT_NEAR(element("r", 4), flowmap::free_energy_difference(lw), 1e-9);
  EXPECT_NEAR(element("r", 6), lw.back(), 1e-9);
  EXPECT_NEAR(element("r", 8), flowmap::reweighted_mean(lw, u_target), 1e-9);
  flowmap::WeightAccumulator reference(100, 5);
  for (int f = 0; f < kFrames; ++f) reference.add(lw[f], u_target[f]);
  EXPECT_NEAR(element("r", 2), reference.ress().error, 1e-10);
  EXPECT_GT(element("r", 2), 0.0);

  const double ress_now = element("r", 1);
  const double last_log_weight = element("r", 6);
  runner_.reset();    // closes the file
  if (world_rank() == 0) {
    const auto rows = flowmap_test::read_rows("frames.ress");
    ASSERT_EQ(rows.size(), static_cast<std::size_t>(kFrames));
    for (int f = 0; f < kFrames; ++f) {
      ASSERT_EQ(rows[f].size(), 4u);
      EXPECT_EQ(rows[f][0], 100 * f);
      EXPECT_NEAR(rows[f][1], u_source[f], 1e-9 * std::max(1.0, std::fabs(u_source[f])));
      EXPECT_NEAR(rows[f][2], u_target[f], 1e-9 * std::fabs(u_target[f]));
      EXPECT_NEAR(rows[f][3], lw[f], 1e-9 * std::fabs(lw[f]));
    }
    EXPECT_EQ(rows.back()[3], last_log_weight);
    std::vector<double> from_file;
    for (const auto &row : rows) from_file.push_back(row[3]);
    EXPECT_NEAR(flowmap::kish_ress(from_file), ress_now, 1e-12);
  }
}

// The basin map: two samples per frame, the image about the frame's inherent structure and the
// frame itself, weighed as by hand from the bridge's own minima and energies.
TEST_F(ComputeRESSRerunTest, BasinMapSamplesMatchTheBridgeByHand)
{
  const double t_a = 0.5, t_b = 0.4, s = std::sqrt(t_b / t_a);
  FlowMapBridge bridge(lattice_setup(kLJCommands));
  const std::vector<double> box = bridge.setup().box_lengths;
  auto energy = [&](const std::vector<double> &x) {
    double u = 0.0;
    bridge.evaluate(x.data(), 1, box.data(), &u, nullptr, false);
    return u;
  };
  auto minimum_of = [&](const std::vector<double> &x) {
    std::vector<double> m(x.size());
    bridge.inherent_structure(x.data(), box.data(), m.data(), 1e-10);
    return m;
  };
  auto about = [&](const std::vector<double> &x, const std::vector<double> &m, double f) {
    std::vector<double> y(x.size());
    for (std::size_t v = 0; v < x.size(); ++v) {
      const double length = box[v % 2], dx = x[v] - m[v];
      y[v] = m[v] + f * (dx - length * std::nearbyint(dx / length));
    }
    return y;
  };
  // Frames that vibrate about one inherent structure of LJ (the lattice itself is not one),
  // so that most contracted images stay in their basin.
  write_dump("lattice.dump");
  const auto centre = minimum_of(frames_[0]);
  std::mt19937_64 engine(7);
  std::normal_distribution<double> vibration(0.0, 0.05);
  for (auto &frame : frames_)
    for (std::size_t v = 0; v < frame.size(); ++v) {
      const double length = box[v % 2];
      frame[v] = centre[v] + vibration(engine);
      frame[v] -= length * std::floor(frame[v] / length);
    }
  write_frames("frames.dump");
  commands(wca_system());
  command("compute r all ress 0.5 0.4 source " + kLJ + " target " + kLJ +
          " basin auto file basin.ress seed 5");
  command("thermo_style custom step pe c_r[1] c_r[6]");
  command("thermo 100");
  command("rerun frames.dump dump x y");

  auto same = [&](const std::vector<double> &p, const std::vector<double> &q) {
    for (std::size_t v = 0; v < p.size(); v += 2) {
      double sq = 0.0;
      for (int k = 0; k < 2; ++k) {
        const double d = p[v + k] - q[v + k];
        sq += std::pow(d - box[k] * std::nearbyint(d / box[k]), 2);
      }
      if (sq > 1e-12) return false;
    }
    return true;
  };
  const double log_det = (2 * kN - 2) * std::log(s);
  std::vector<double> lw, u_target;
  int kept = 0;
  for (const auto &x : frames_) {
    const auto m = minimum_of(x);
    const auto y = about(x, m, s), preimage = about(x, m, 1.0 / s);
    const bool image_kept = same(minimum_of(y), m), has_preimage = same(minimum_of(preimage), m);
    const double ux = energy(x), uy = energy(y), up = energy(preimage);
    kept += image_kept;
    lw.push_back(image_kept ? -uy / t_b - std::log(std::exp(-ux / t_a - log_det) +
                                                   std::exp(-uy / t_a)) + std::log(2.0)
                            : -std::numeric_limits<double>::infinity());
    u_target.push_back(uy);
    lw.push_back(-ux / t_b -
                 std::log((has_preimage ? std::exp(-up / t_a - log_det) : 0.0) +
                          std::exp(-ux / t_a)) + std::log(2.0));
    u_target.push_back(ux);
    EXPECT_GT(ux - energy(m), 0.5) << "the frames must not already be minima";
  }
  EXPECT_GT(kept, kFrames / 2) << "too few images stayed in their basin for a useful test";
  EXPECT_EQ(element("r", 3), 2 * kFrames);
  EXPECT_NEAR(element("r", 6), lw.back(), 1e-8 * std::fabs(lw.back()));
  EXPECT_NEAR(element("r", 7), u_target.back(), 1e-9 * std::fabs(u_target.back()));
  EXPECT_NEAR(element("r", 1), flowmap::kish_ress(lw), 1e-8);
  EXPECT_NEAR(element("r", 4), flowmap::free_energy_difference(lw), 1e-7);
  EXPECT_NEAR(element("r", 8), flowmap::reweighted_mean(lw, u_target), 1e-8);

  runner_.reset();    // closes the file
  if (world_rank() == 0) {
    std::ifstream header("basin.ress");
    std::string first;
    std::getline(header, first);
    EXPECT_NE(first.find("one line per sample, two per frame"), std::string::npos) << first;
    const auto lines = flowmap_test::data_lines("basin.ress");
    ASSERT_EQ(lines.size(), 2u * kFrames);
    for (std::size_t i = 0; i < lines.size(); ++i) {
      std::istringstream fields(lines[i]);
      double step, u_from, u_to;
      std::string log_weight;
      fields >> step >> u_from >> u_to >> log_weight;
      EXPECT_EQ(step, 100 * static_cast<int>(i / 2));
      EXPECT_NEAR(u_to, u_target[i], 1e-9 * std::fabs(u_target[i]));
      if (std::isinf(lw[i]))
        EXPECT_EQ(log_weight, "-inf");
      else
        EXPECT_NEAR(std::stod(log_weight), lw[i], 1e-8 * std::fabs(lw[i]));
    }
  }
}

TEST_F(ComputeRESSRerunTest, SourcePairCommandsAndScanTable)
{
  write_dump("scan.dump");
  commands(wca_system());
  // Source re-evaluated through a bridge instead of pe: the same numbers.
  command("compute r all ress 2.0 1.0 target " + kLJ + " source " + kWCA +
          " scan 0.70 0.75 2 0.8 1.0 3 scan.table");
  command("thermo_style custom step c_r[1]");
  command("thermo 100");
  command("rerun scan.dump dump x y");

  const auto u_source = energies(kWCACommands, 1.0);
  const auto u_target = energies(kLJCommands, 1.0);
  std::vector<double> lw;
  for (int f = 0; f < kFrames; ++f) lw.push_back(-u_target[f] + 0.5 * u_source[f]);
  EXPECT_NEAR(element("r", 1), flowmap::kish_ress(lw), 1e-10);

  MPI_Barrier(MPI_COMM_WORLD);
  if (world_rank() != 0) return;
  const auto rows = flowmap_test::read_rows("scan.table");
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_FALSE(std::ifstream("scan.table.tmp").good());
  std::size_t row = 0;
  for (double rho : {0.70, 0.75}) {
    const double s = std::sqrt(0.735 / rho);
    const auto u_scaled = energies(kLJCommands, s);
    for (double t : {0.8, 0.9, 1.0}) {
      std::vector<double> w;
      for (int f = 0; f < kFrames; ++f)
        w.push_back(-u_scaled[f] / t + 0.5 * u_source[f] + kN * 2 * std::log(s));
      SCOPED_TRACE("rho " + std::to_string(rho) + " T " + std::to_string(t));
      ASSERT_EQ(rows[row].size(), 5u);
      EXPECT_NEAR(rows[row][0], rho, 1e-12);
      EXPECT_NEAR(rows[row][1], t, 1e-12);
      EXPECT_NEAR(rows[row][2], flowmap::kish_ress(w), 1e-8 * flowmap::kish_ress(w));
      EXPECT_EQ(rows[row][3], kFrames);
      EXPECT_NEAR(rows[row][4], flowmap::free_energy_difference(w), 1e-7);
      ++row;
    }
  }
}

/* ---------------------------------------------------------------------- */
// Bad input

TEST_F(ComputeRESSTest, SyntaxErrors)
{
  commands(wca_system());
  const std::string ok = "compute r all ress 2.0 1.0 target " + kLJ;
  EXPECT_LAMMPS_ERROR(error_of(ok + " colour blue"), "unknown keyword 'colour'");
  EXPECT_LAMMPS_ERROR(error_of(ok + " file"), "keyword file needs a value");
  EXPECT_LAMMPS_ERROR(error_of(ok + " bootstrap"), "keyword bootstrap needs a value");
  EXPECT_LAMMPS_ERROR(error_of(ok + " bootstrap 1"), "bootstrap 1 must be 0");
  EXPECT_LAMMPS_ERROR(error_of(ok + " seed 0"), "seed 0 must be > 0");
  EXPECT_LAMMPS_ERROR(error_of(ok + " density"), "density needs a value");
  EXPECT_LAMMPS_ERROR(error_of(ok + " scan 0.6 0.75 50 0.6 1.0"), "scan needs 7 values");
  EXPECT_LAMMPS_ERROR(error_of(ok + " scan 0.8 0.75 5 0.6 1.0 5 t.dat"),
                      "scan densities 0.8 0.75 must satisfy 0 < rho_lo <= rho_hi");
  EXPECT_LAMMPS_ERROR(error_of(ok + " scan 0.6 0.75 5 0 1.0 5 t.dat"),
                      "scan temperatures 0 1.0 must satisfy");
  EXPECT_LAMMPS_ERROR(error_of(ok + " scan 0.6 0.75 0 0.6 1.0 5 t.dat"),
                      "scan grid sizes 0 5 must be >= 1");
  EXPECT_LAMMPS_ERROR(error_of("compute r all ress 2.0"), "expected compute ID all ress");
  EXPECT_LAMMPS_ERROR(error_of("compute r all ress 2.0 1.0 target bootstrap 10"),
                      "target needs one or more quoted pair commands.*got 'bootstrap'");
  EXPECT_LAMMPS_ERROR(error_of(ok + " source"), "source needs one or more quoted pair commands");
  EXPECT_LAMMPS_ERROR(error_of("compute r all ress 2.0 1.0 bootstrap 10"),
                      "missing target keyword");
  EXPECT_LAMMPS_ERROR(error_of("compute r all ress two 1.0 target " + kLJ),
                      "Expected floating point parameter");
  EXPECT_LAMMPS_ERROR(error_of(ok + " basin"), "basin needs a value: auto or the factor s > 0");
  EXPECT_LAMMPS_ERROR(error_of(ok + " source " + kLJ + " basin -0.5"),
                      "basin factor -0.5 must be auto or > 0");
  EXPECT_LAMMPS_ERROR(error_of(ok + " basin auto"),
                      "basin needs the source Hamiltonian as pair commands");
  EXPECT_LAMMPS_ERROR(error_of(ok + " source " + kLJ + " basin auto density 0.7"),
                      "basin cannot be combined with density");
  EXPECT_LAMMPS_ERROR(
      error_of(ok + " source " + kLJ + " basin 0.9 scan 0.6 0.75 5 0.6 1.0 5 t.dat"),
      "basin cannot be combined with scan");
}

TEST_F(ComputeRESSTest, NonPositiveTemperatureOrDensity)
{
  commands(wca_system());
  EXPECT_LAMMPS_ERROR(error_of("compute r all ress 0 1.0 target " + kLJ),
                      "source temperature 0 must be > 0");
  EXPECT_LAMMPS_ERROR(error_of("compute r all ress 2.0 -1 target " + kLJ),
                      "target temperature -1 must be > 0");
  EXPECT_LAMMPS_ERROR(error_of("compute r all ress 2.0 1.0 target " + kLJ + " density 0"),
                      "target density 0 must be > 0");
  EXPECT_LAMMPS_ERROR(error_of("compute r all ress 2.0 1.0 target " + kLJ + " density -0.7"),
                      "target density -0.7 must be > 0");
}

TEST_F(ComputeRESSTest, InvalidTargetPairCommands)
{
  commands(wca_system());
  EXPECT_LAMMPS_ERROR(
      error_of("compute r all ress 2.0 1.0 target \"pair_style lj/nonsense 2.5\""),
      "pair command 'pair_style lj/nonsense 2.5'.*Unrecognized pair style");
  EXPECT_LAMMPS_ERROR(error_of("compute r all ress 2.0 1.0 target \"pair_style lj/cut 2.5\""),
                      "incomplete or inconsistent.*All pair coeffs are not set");
  EXPECT_LAMMPS_ERROR(error_of("compute r all ress 2.0 1.0 target \"pair_style lj/cut 2.5\" "
                               "\"pair_coeff * * 1.0 x\""),
                      "pair command 'pair_coeff \\* \\* 1.0 x'.*Expected floating point");
  EXPECT_LAMMPS_ERROR(error_of("compute r all ress 2.0 1.0 target " + kLJ +
                               " source \"pair_style morse\""),
                      "pair command 'pair_style morse'.*Illegal pair_style command");
  // 2D: LAMMPS's tail correction is a 3D formula and LAMMPS refuses it.
  EXPECT_LAMMPS_ERROR(error_of("compute r all ress 2.0 1.0 target \"pair_style lj/cut 2.5\" "
                               "\"pair_coeff * * 1.0 1.0\" \"pair_modify tail yes\""),
                      "Cannot use pair tail corrections with 2d simulations");
}

TEST_F(ComputeRESSTest, BoxMustBePeriodicAndOrthogonal)
{
  commands(wca_system("p f p"));
  EXPECT_LAMMPS_ERROR(error_of("compute r all ress 2.0 1.0 target " + kLJ),
                      "box must be periodic in every direction");
}

TEST_F(ComputeRESSTest, TriclinicBoxIsRefused)
{
  std::vector<std::string> setup = wca_system();
  setup[6] = "region box prism 0 4 0 8 -0.5 0.5 0.5 0 0";
  commands(setup);
  EXPECT_LAMMPS_ERROR(error_of("compute r all ress 2.0 1.0 target " + kLJ),
                      "triclinic boxes are not supported");
}

TEST_F(ComputeRESSTest, PeriodicityChangedAfterDefinition)
{
  commands(wca_system());
  command("compute r all ress 2.0 1.0 target " + kLJ);
  command("thermo_style custom step c_r[1]");
  command("change_box all boundary p f p");
  EXPECT_LAMMPS_ERROR(error_of("run 10"), "box must be periodic in every direction");
}

TEST_F(ComputeRESSTest, GroupMustBeAll)
{
  commands(wca_system());
  command("group half id 1:16");
  EXPECT_LAMMPS_ERROR(error_of("compute r half ress 2.0 1.0 target " + kLJ),
                      "group half is not all");
}

TEST_F(ComputeRESSTest, AtomCountChangeBetweenRunsIsAnError)
{
  commands(wca_system());
  command("compute r all ress 2.0 1.0 target " + kLJ);
  command("thermo_style custom step c_r[1]");
  command("thermo 50");
  command("run 100");
  EXPECT_EQ(element("r", 3), 3.0);
  command("group first id 1");
  command("delete_atoms group first");
  EXPECT_LAMMPS_ERROR(error_of("run 100"),
                      "number of atoms changed from 32 to 31 after 3 frames");
}

TEST_F(ComputeRESSTest, AtomsCreatedAfterTheComputeBeforeTheFirstFrameAreFine)
{
  std::vector<std::string> setup = wca_system();
  std::vector<std::string> before(setup.begin(), setup.begin() + 8);    // up to create_box
  std::vector<std::string> after(setup.begin() + 8, setup.end());
  commands(before);
  command("compute r all ress 2.0 2.0 target " + kWCA);
  commands(after);
  command("thermo_style custom step c_r[1]");
  command("run 0");
  EXPECT_EQ(element("r", 3), 1.0);
  EXPECT_NEAR(element("r", 1), 1.0, 1e-12);
}

// Destroying a compute destroys its helper LAMMPS instances, and LAMMPS (29Sep2021) unloads
// every plugin whenever any instance is destroyed: the plugin must stay mapped and usable.
TEST_F(ComputeRESSTest, UncomputeKeepsThePluginUsable)
{
  commands(wca_system());
  command("compute r all ress 2.0 2.0 target " + kWCA);
  command("thermo_style custom step c_r[1]");
  command("run 0");
  command("thermo_style custom step pe");
  command("uncompute r");
  command("compute again all ress 2.0 2.0 target " + kWCA);
  command("thermo_style custom step c_again[1]");
  command("run 10");
  EXPECT_EQ(element("again", 3), 2.0);
  EXPECT_NEAR(element("again", 1), 1.0, 1e-12);
}
