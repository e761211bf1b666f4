/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: the basin map, a fixed map through inherent structures (doc/method.md,
   "The basin map").

   For a configuration x with inherent structure m (the local energy minimum that a minimiser
   reaches from x), T(x) = m + s (x - m). Within a basin m moves with x only by translations of
   the whole configuration, so log|det J_T| = (N d - d) log s; for harmonic vibrations about m,
   s = sqrt(T_B / T_A) carries the canonical distribution at T_A exactly onto the one at T_B.
   T is one-to-one only where the image stays in its basin, and its images never reach the
   basins' rims, so it is used in a defensive mixture with the identity: every frame gives its
   image (dropped when it left its basin) and itself, and a sample z gets the balance-heuristic
   weight
       w(z) = exp(-b_B U_B(z)) / [exp(-b_A U_A(T^-1 z) - log|det J_T|) 1[T^-1 z in z's basin]
                                  + exp(-b_A U_A(z))],
   T^-1 z = m_z + (z - m_z) / s. Then Z_B / Z_A = sum_z w(z) / n over the n frames and
   sum_z w f / sum_z w estimates <f>_B exactly, whatever share of the images is dropped.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_BASIN_MAP_H
#define FLOWMAP_BASIN_MAP_H

#include <cstdint>
#include <vector>

namespace flowmap {

// m + factor (x - m) for every particle, with x - m the minimum image of the displacement, so
// wrapped and unwrapped coordinates of x and m give the same image (up to a box vector).
std::vector<double> scale_about_minimum(const std::vector<double> &frame,
                                        const std::vector<double> &minimum,
                                        const std::vector<double> &box, double factor);

// The largest distance (minimum image) between a particle's positions in two configurations:
// two minimisations reached the same inherent structure when it is below a tolerance.
double largest_displacement(const std::vector<double> &a, const std::vector<double> &b,
                            const std::vector<double> &box);

// log|det J| of the basin map with factor s for N particles in d dimensions: (N d - d) log s.
double basin_map_log_det(std::int64_t num_particles, int dimension, double factor);

// log w(z) of the mixture above: energies of z under both Hamiltonians, and, when z's preimage
// T^-1 z stays in z's basin, its source energy (has_preimage false: the identity term alone).
// log_det is the forward map's log|det J_T|.
double basin_mixture_log_weight(double beta_source, double beta_target, double source_energy,
                                double target_energy, bool has_preimage,
                                double preimage_source_energy, double log_det);

}    // namespace flowmap

#endif
