/* ----------------------------------------------------------------------
   USER-FLOWMAP: the simulation's pair energy (see flowmap_lammps_energy_check.h).
------------------------------------------------------------------------- */

#include "flowmap_lammps_energy_check.h"

#include "domain.h"
#include "force.h"
#include "pair.h"
#include "update.h"

#include <algorithm>
#include <cmath>

using namespace LAMMPS_NS;

bool LAMMPS_NS::simulated_pair_energy(LAMMPS *lmp, double &energy)
{
  Pair *pair = lmp->force->pair;
  if (!pair || lmp->update->eflag_global != lmp->update->ntimestep) return false;
  double local = pair->eng_vdwl + pair->eng_coul;
  MPI_Allreduce(&local, &energy, 1, MPI_DOUBLE, MPI_SUM, lmp->world);
  if (pair->tail_flag) {
    double volume = 1.0;
    for (int k = 0; k < lmp->domain->dimension; ++k) volume *= lmp->domain->prd[k];
    energy += pair->etail / volume;
  }
  return true;
}

bool LAMMPS_NS::same_pair_energy(double simulated, double bridge)
{
  return std::fabs(bridge - simulated) <= 1e-8 * std::max(1.0, std::fabs(bridge));
}
