// Small analytic Hamiltonians for core tests: periodic soft disks/spheres
//   U = eps * sum_{i<j} (1 - r_ij / sigma)^2  for r_ij < sigma (minimum image),
// with exact forces. No LAMMPS needed; LAMMPS-backed energies are tested in tests/lammps.
#ifndef FLOWMAP_TESTS_ANALYTIC_ENERGY_H
#define FLOWMAP_TESTS_ANALYTIC_ENERGY_H

#include "flowmap_energy_model.h"

#include <cmath>
#include <cstdint>

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

#endif
