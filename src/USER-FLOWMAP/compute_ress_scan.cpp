/* ----------------------------------------------------------------------
   USER-FLOWMAP: compute ress's state-point scan (see compute_ress_scan.h).
------------------------------------------------------------------------- */

#include "compute_ress_scan.h"

#include "flowmap_collective.h"

#include "comm.h"
#include "error.h"
#include "force.h"

#include <cstdio>
#include <stdexcept>

using namespace LAMMPS_NS;

namespace {

// n values from lo to hi inclusive.
std::vector<double> grid(double lo, double hi, int n)
{
  std::vector<double> values(n, lo);
  for (int i = 1; i < n; ++i) values[i] = lo + (hi - lo) * i / (n - 1);
  return values;
}

}    // namespace

RESSScan::RESSScan(LAMMPS *lmp, const std::string &id, char **arg) : Pointers(lmp), id_(id)
{
  const double rho_lo = utils::numeric(FLERR, arg[0], false, lmp);
  const double rho_hi = utils::numeric(FLERR, arg[1], false, lmp);
  const int nrho = utils::inumeric(FLERR, arg[2], false, lmp);
  const double t_lo = utils::numeric(FLERR, arg[3], false, lmp);
  const double t_hi = utils::numeric(FLERR, arg[4], false, lmp);
  const int nt = utils::inumeric(FLERR, arg[5], false, lmp);
  if (!(rho_lo > 0.0) || rho_hi < rho_lo)
    error->all(FLERR, "Illegal compute ress command: scan densities {} {} must satisfy "
                      "0 < rho_lo <= rho_hi", arg[0], arg[1]);
  if (!(t_lo > 0.0) || t_hi < t_lo)
    error->all(FLERR, "Illegal compute ress command: scan temperatures {} {} must satisfy "
                      "0 < T_lo <= T_hi", arg[3], arg[4]);
  if (nrho < 1 || nt < 1)
    error->all(FLERR, "Illegal compute ress command: scan grid sizes {} {} must be >= 1",
               arg[2], arg[5]);
  densities_ = grid(rho_lo, rho_hi, nrho);
  temperatures_ = grid(t_lo, t_hi, nt);
  file_ = arg[6];
  ress_.assign(static_cast<std::size_t>(nrho) * nt, flowmap::StreamingRess());
}

void RESSScan::add(double beta_source, double source_energy,
                   const std::vector<double> &target_energies,
                   const std::vector<double> &log_dets)
{
  const std::size_t nt = temperatures_.size();
  for (std::size_t k = 0; k < densities_.size(); ++k)
    for (std::size_t j = 0; j < nt; ++j)
      ress_[k * nt + j].add(flowmap::log_weight(beta_source, source_energy,
                                                1.0 / (force->boltz * temperatures_[j]),
                                                target_energies[k], log_dets[k]));
  ++frames_;
}

void RESSScan::write(double source_temperature, double source_density, bigint natoms) const
{
  // Rank 0 writes; a failure (a missing directory, a full disk) reaches every rank as a named
  // error rather than an abort from rank 0 alone.
  try {
    flowmap::run_collectively(world, [&] {
      if (comm->me != 0) return;
      const std::string tmp = file_ + ".tmp";
      FILE *fp = fopen(tmp.c_str(), "w");
      if (!fp) throw std::runtime_error(tmp + ": " + utils::getsyserror());
      fmt::print(fp, "# compute ress {} state-point scan: identity-baseline RESS (isotropic "
                     "scaling of the source frames) after {} frames\n", id_, frames_);
      fmt::print(fp, "# source: T {} density {} N {}\n", source_temperature, source_density,
                 natoms);
      fmt::print(fp, "# rho T ress frames free_energy\n");
      const std::size_t nt = temperatures_.size();
      for (std::size_t k = 0; k < densities_.size(); ++k)
        for (std::size_t j = 0; j < nt; ++j) {
          const auto &acc = ress_[k * nt + j];
          fprintf(fp, "%.12g %.12g %.12g %zu %.12g\n", densities_[k], temperatures_[j],
                  acc.ress(), acc.count(), acc.free_energy_difference());
        }
      const bool written = fclose(fp) == 0;
      if (!written || std::rename(tmp.c_str(), file_.c_str()) != 0)
        throw std::runtime_error(file_ + ": " + utils::getsyserror());
    });
  } catch (flowmap::CollectiveError &e) {
    error->all(FLERR, "Compute ress {}: cannot write scan table {}", id_, e.what());
  }
}

std::string RESSScan::describe() const
{
  return fmt::format("{} densities in [{}, {}] x {} temperatures in [{}, {}] -> {}",
                     densities_.size(), densities_.front(), densities_.back(),
                     temperatures_.size(), temperatures_.front(), temperatures_.back(), file_);
}

double RESSScan::memory_usage() const
{
  return static_cast<double>(ress_.size()) * sizeof(flowmap::StreamingRess);
}
