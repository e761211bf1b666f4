// Energy-bridge throughput against LAMMPS `rerun` of the same frames, measured in one process:
// 32-particle 2D Lennard-Jones (cut 2.5, shifted) at density 0.735 in a square box.
//
//   bench_lammps_bridge [frames (default 20000)] [repeats (default 3)]
//
// Writes frames.dump and rerun.pe in the current folder. The bridge works on positions in
// memory (as compute ress and the trainer do); rerun reads them back from the dump, which is
// what the bridge replaces. Rerun is timed in its cheapest form (forces only, no output, box
// not re-read) and as typically used (box re-read, per-frame energy written out); the
// reported ratio uses the cheapest.
#include "flowmap_dump_reader.h"
#include "flowmap_lammps_bridge.h"

#include "input.h"
#include "lammps.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace LAMMPS_NS;

namespace {

const std::vector<std::string> kPair = {"pair_style lj/cut 2.5", "pair_coeff * * 1.0 1.0 2.5",
                                        "pair_modify shift yes"};

std::unique_ptr<LAMMPS> make_lammps()
{
  const char *args[] = {"bench", "-log", "none", "-screen", "none", "-nocite"};
  return std::make_unique<LAMMPS>(6, const_cast<char **>(args), MPI_COMM_WORLD);
}

void commands(LAMMPS *lmp, const std::vector<std::string> &lines)
{
  for (const auto &line : lines) lmp->input->one(line);
}

std::vector<std::string> system_lines()
{
  std::vector<std::string> lines = {"units lj",
                                    "dimension 2",
                                    "atom_style atomic",
                                    "atom_modify map array",
                                    "variable L equal sqrt(32/0.735)",
                                    "lattice sq $(36/v_L^2)",
                                    "region box block 0 $(v_L) 0 $(v_L) -0.5 0.5 units box",
                                    "create_box 1 box",
                                    "create_atoms 1 box",
                                    "group extra id 33:36",
                                    "delete_atoms group extra",
                                    "mass 1 1.0"};
  lines.insert(lines.end(), kPair.begin(), kPair.end());
  return lines;
}

double seconds_since(std::chrono::steady_clock::time_point start)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}    // namespace

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  const int nframes = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  const int every = 20;

  // Source frames: LJ liquid at T 1 (Langevin), one frame every 20 steps.
  {
    auto lmp = make_lammps();
    commands(lmp.get(), system_lines());
    commands(lmp.get(), {"neigh_modify delay 0 every 1 check yes",
                         "velocity all create 1.0 8812 loop geom",
                         "fix thermostat all langevin 1.0 1.0 0.5 991", "fix integrate all nve",
                         "fix plane all enforce2d", "timestep 0.005", "run 5000",
                         "reset_timestep 0",
                         "dump frames all custom " + std::to_string(every) +
                             " frames.dump id type x y z",
                         "dump_modify frames sort id format float %.17g",
                         "run " + std::to_string((nframes - 1) * every)});
  }

  std::vector<double> positions, box;
  {
    flowmap::DumpReader reader("frames.dump", 2);
    flowmap::DumpFrame frame;
    while (reader.next(frame)) {
      positions.insert(positions.end(), frame.positions.begin(), frame.positions.end());
      box = {frame.box_hi[0] - frame.box_lo[0], frame.box_hi[1] - frame.box_lo[1]};
    }
  }
  const int n = 32;
  const std::int64_t count = static_cast<std::int64_t>(positions.size()) / (2 * n);

  FlowMapBridgeSetup setup;
  setup.dimension = 2;
  setup.types.assign(n, 1);
  setup.box_lengths = box;
  setup.pair_commands = kPair;
  FlowMapBridge bridge(setup);
  // The same bridge forced onto LAMMPS's neighbor-list path, for the record.
  setup.direct_sum = false;
  FlowMapBridge neighbor_bridge(setup);
  std::vector<double> energies(count), forces(positions.size()), neighbor_energies(count);
  double bridge_energy = 1e30, bridge_forces = 1e30, neighbor_energy = 1e30;
  for (int r = 0; r < repeats; ++r) {
    auto start = std::chrono::steady_clock::now();
    bridge.evaluate(positions.data(), count, box.data(), energies.data(), nullptr, false);
    bridge_energy = std::min(bridge_energy, seconds_since(start));
    start = std::chrono::steady_clock::now();
    bridge.evaluate(positions.data(), count, box.data(), energies.data(), forces.data(), false);
    bridge_forces = std::min(bridge_forces, seconds_since(start));
    start = std::chrono::steady_clock::now();
    neighbor_bridge.evaluate(positions.data(), count, box.data(), neighbor_energies.data(),
                             nullptr, false);
    neighbor_energy = std::min(neighbor_energy, seconds_since(start));
  }

  // Rerun in a fresh instance each time, as a user would; set-up excluded from the timing.
  double rerun_plain = 1e30, rerun_pe = 1e30;
  for (int r = 0; r < repeats; ++r) {
    for (int with_pe = 0; with_pe < 2; ++with_pe) {
      auto lmp = make_lammps();
      commands(lmp.get(), system_lines());
      commands(lmp.get(), {"thermo 0"});
      if (with_pe)
        commands(lmp.get(), {"fix energy all ave/time " + std::to_string(every) + " 1 " +
                             std::to_string(every) + " c_thermo_pe file rerun.pe format %.17g"});
      // The box never changes: the cheapest rerun does not read it (box no).
      const std::string rerun = with_pe ? "rerun frames.dump dump x y"
                                        : "rerun frames.dump dump x y box no";
      const auto start = std::chrono::steady_clock::now();
      commands(lmp.get(), {rerun});
      const double t = seconds_since(start);
      (with_pe ? rerun_pe : rerun_plain) = std::min(with_pe ? rerun_pe : rerun_plain, t);
    }
  }

  // Same work: the rerun energies must equal the bridge's, on both of its paths.
  double largest_difference = 0.0;
  for (std::int64_t f = 0; f < count; ++f)
    largest_difference = std::max(largest_difference, std::fabs(neighbor_energies[f] - energies[f]) /
                                                          std::max(1.0, std::fabs(energies[f])));
  std::int64_t compared = 0;
  {
    std::ifstream in("rerun.pe");
    std::string line;
    while (std::getline(in, line) && compared < count) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream fields(line);
      long step;
      double pe;
      fields >> step >> pe;
      largest_difference = std::max(largest_difference, std::fabs(pe - energies[compared]) /
                                                            std::max(1.0, std::fabs(pe)));
      ++compared;
    }
  }

  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) {
    const double cps_energy = count / bridge_energy, cps_forces = count / bridge_forces;
    const double cps_rerun = count / rerun_plain, cps_rerun_pe = count / rerun_pe;
    printf("frames: %lld configurations of 32 particles, 2D LJ cut 2.5 shifted, rho 0.735\n",
           static_cast<long long>(count));
    printf("bridge (%s), energy only:  %10.0f configurations/s\n",
           bridge.uses_direct_sum() ? "direct sum" : "neighbor lists", cps_energy);
    printf("bridge, energy and forces:     %10.0f configurations/s\n", cps_forces);
    printf("bridge, neighbor-list path:    %10.0f configurations/s\n", count / neighbor_energy);
    printf("rerun, box no, forces only:    %10.0f configurations/s\n", cps_rerun);
    printf("rerun, box yes, pe per frame:  %10.0f configurations/s\n", cps_rerun_pe);
    printf("largest relative energy difference bridge vs rerun: %.2e over %lld frames\n",
           largest_difference, static_cast<long long>(compared));
    printf("RESULT bridge_energy_cps=%.0f bridge_forces_cps=%.0f neighbor_path_cps=%.0f "
           "rerun_cps=%.0f speedup_energy=%.2f speedup_forces=%.2f speedup_neighbor_path=%.2f\n",
           cps_energy, cps_forces, count / neighbor_energy, cps_rerun, cps_energy / cps_rerun,
           cps_forces / cps_rerun, count / neighbor_energy / cps_rerun);
  }
  const bool same = compared == count && largest_difference < 1e-10;
  MPI_Finalize();
  return same ? 0 : 1;
}
