// Small analytic Hamiltonians for core tests: periodic soft disks/spheres
//   U = eps * sum_{i<j} (1 - r_ij / sigma)^2  for r_ij < sigma (minimum image),
// and a binary Lennard-Jones mixture, with exact forces. No LAMMPS needed; LAMMPS-backed
// energies are tested in tests/lammps.
#ifndef FLOWMAP_TESTS_ANALYTIC_ENERGY_H
#define FLOWMAP_TESTS_ANALYTIC_ENERGY_H

#include "flowmap_energy_model.h"

#include <cmath>
#include <cstdint>
#include <vector>

class SoftSpheres : public flowmap::EnergyModel {
 public:
  SoftSpheres(std::int64_t n, std::int64_t d, double eps, double sigma) :
      n_(n), d_(d), eps_(eps), sigma_(sigma)
  {
  }
  std::int64_t num_particles() const override { return n_; }
  std::int64_t dimension() const override { return d_; }
  int calls = 0;
  bool last_regularised = false;

  void evaluate(const double *x, std::int64_t nconf, const double *box, double *energy,
                double *force, bool regularised) override
  {
    ++calls;
    last_regularised = regularised;
    for (std::int64_t c = 0; c < nconf; ++c) {
      const double *xc = x + c * n_ * d_;
      double *fc = force ? force + c * n_ * d_ : nullptr;
      if (fc)
        for (std::int64_t k = 0; k < n_ * d_; ++k) fc[k] = 0.0;
      double u = 0.0;
      for (std::int64_t i = 0; i < n_; ++i)
        for (std::int64_t j = i + 1; j < n_; ++j) {
          double dr[3] = {0, 0, 0}, r2 = 0.0;
          for (std::int64_t k = 0; k < d_; ++k) {
            dr[k] = xc[i * d_ + k] - xc[j * d_ + k];
            dr[k] -= box[k] * std::round(dr[k] / box[k]);
            r2 += dr[k] * dr[k];
          }
          const double r = std::sqrt(r2);
          if (r >= sigma_ || r == 0.0) continue;
          const double s = 1.0 - r / sigma_;
          u += eps_ * s * s;
          if (fc) {
            const double f_over_r = 2.0 * eps_ * s / (sigma_ * r);    // -dU/dr / r
            for (std::int64_t k = 0; k < d_; ++k) {
              fc[i * d_ + k] += f_over_r * dr[k];
              fc[j * d_ + k] -= f_over_r * dr[k];
            }
          }
        }
      energy[c] = u;
    }
  }

 private:
  std::int64_t n_, d_;
  double eps_, sigma_;
};

// Kob-Andersen-type binary Lennard-Jones mixture (species 0 and 1 per particle), each pair
// truncated at cut * sigma_ij and shifted to zero there (minimum image: cut * sigma_ij must
// stay below half the box). With regularised = true every pair inside 0.8 sigma_ij continues
// linearly from there, as the LAMMPS energy bridge does for fix flowmap's default core.
class BinaryLennardJones : public flowmap::EnergyModel {
 public:
  BinaryLennardJones(std::vector<int> species, std::int64_t d, double cut) :
      species_(std::move(species)), d_(d), cut_(cut)
  {
  }
  std::int64_t num_particles() const override { return static_cast<std::int64_t>(species_.size()); }
  std::int64_t dimension() const override { return d_; }
  static constexpr double kEpsilon[2][2] = {{1.0, 1.5}, {1.5, 0.5}};
  static constexpr double kSigma[2][2] = {{1.0, 0.8}, {0.8, 0.88}};
  static constexpr double kCore = 0.8;    // in units of sigma_ij

  // Pair energy and -du/dr / r at squared distance rsq, no truncation or core.
  static double lj(int a, int b, double rsq, double &f_over_r)
  {
    const double s2 = kSigma[a][b] * kSigma[a][b] / rsq, s6 = s2 * s2 * s2;
    f_over_r = 24.0 * kEpsilon[a][b] * s6 * (2.0 * s6 - 1.0) / rsq;
    return 4.0 * kEpsilon[a][b] * s6 * (s6 - 1.0);
  }

  void evaluate(const double *x, std::int64_t nconf, const double *box, double *energy,
                double *force, bool regularised) override
  {
    const std::int64_t n = num_particles();
    for (std::int64_t c = 0; c < nconf; ++c) {
      const double *xc = x + c * n * d_;
      double *fc = force ? force + c * n * d_ : nullptr;
      if (fc)
        for (std::int64_t k = 0; k < n * d_; ++k) fc[k] = 0.0;
      double u = 0.0;
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = i + 1; j < n; ++j) {
          const int a = species_[i], b = species_[j];
          double dr[3] = {0, 0, 0}, r2 = 0.0;
          for (std::int64_t k = 0; k < d_; ++k) {
            dr[k] = xc[i * d_ + k] - xc[j * d_ + k];
            dr[k] -= box[k] * std::round(dr[k] / box[k]);
            r2 += dr[k] * dr[k];
          }
          const double rcut = cut_ * kSigma[a][b];
          if (r2 >= rcut * rcut) continue;
          double f_cut;
          const double shift = lj(a, b, rcut * rcut, f_cut);
          double f_over_r, e;
          const double rc = kCore * kSigma[a][b];
          if (regularised && r2 < rc * rc) {
            double f_rc;
            const double e_rc = lj(a, b, rc * rc, f_rc);
            const double slope = -f_rc * rc, r = std::sqrt(r2);
            e = e_rc + slope * (r - rc);
            f_over_r = r > 0.0 ? -slope / r : 0.0;
          } else {
            e = lj(a, b, r2, f_over_r);
          }
          u += e - shift;
          if (fc)
            for (std::int64_t k = 0; k < d_; ++k) {
              fc[i * d_ + k] += f_over_r * dr[k];
              fc[j * d_ + k] -= f_over_r * dr[k];
            }
        }
      energy[c] = u;
    }
  }

 private:
  std::vector<int> species_;
  std::int64_t d_;
  double cut_;
};

#endif
