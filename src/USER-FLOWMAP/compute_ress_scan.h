/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: compute ress's state-point scan.

   Identity-baseline RESS of the simulated frames over a grid of target (density,
   temperature): each frame is scaled isotropically to every density of the grid, its target
   energy evaluated once per density, and the weights for every temperature accumulated in
   constant memory (StreamingRess). The table is rewritten after every frame.
------------------------------------------------------------------------- */

#ifndef LMP_COMPUTE_RESS_SCAN_H
#define LMP_COMPUTE_RESS_SCAN_H

#include "pointers.h"

#include "flowmap_weights.h"

#include <string>
#include <vector>

namespace LAMMPS_NS {

class RESSScan : protected Pointers {
 public:
  // arg[0..6] = rho_lo rho_hi nrho T_lo T_hi nT file; id names the compute in messages.
  RESSScan(LAMMPS *lmp, const std::string &id, char **arg);

  const std::vector<double> &densities() const { return densities_; }
  // One frame: its source energy at beta_source and the target energies and log-determinants
  // of its images at densities() (the same order).
  void add(double beta_source, double source_energy, const std::vector<double> &target_energies,
           const std::vector<double> &log_dets);
  // The table, by rank 0 through a temporary file renamed into place, so a reader never sees
  // half a table.
  void write(double source_temperature, double source_density, bigint natoms) const;
  std::string describe() const;    // for the log
  double memory_usage() const;

 private:
  std::string id_, file_;
  std::vector<double> densities_, temperatures_;
  std::vector<flowmap::StreamingRess> ress_;    // densities x temperatures
  bigint frames_ = 0;
};

}    // namespace LAMMPS_NS

#endif
