// Exact Boltzmann samples of the reference systems (doc/method.md section 7) without LAMMPS:
// the cut-and-shifted Lennard-Jones pair potential in a periodic orthogonal box (epsilon =
// sigma = 1; WCA is the same cut at 2^(1/6)) as an EnergyModel, and a single-particle
// Metropolis sampler of it. Used by the core tests that need typical configurations of the
// shipped flows' states; a Metropolis chain has no integrator's time-step bias, which free
// energies from MD frames carry (doc/design.md section 9).
#ifndef FLOWMAP_TESTS_LENNARD_JONES_DISKS_H
#define FLOWMAP_TESTS_LENNARD_JONES_DISKS_H

#include "flowmap_energy_model.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

namespace flowmap_test {

constexpr double kWcaCutoff = 1.122462048309373;    // 2^(1/6), the potential's minimum
constexpr double kLjCutoff = 2.5;

// u(r) = 4 (r^-12 - r^-6) - u(r_c) for r < r_c, else 0 (pair_style lj/cut, pair_modify
// shift yes); minimum images, so the cutoff must be below half of every box length.
class CutShiftedLennardJones : public flowmap::EnergyModel {
 public:
  CutShiftedLennardJones(std::int64_t n, std::int64_t d, double cutoff) :
      n_(n), d_(d), cutoff_sq_(cutoff * cutoff), shift_(raw(cutoff * cutoff))
  {
  }
  std::int64_t num_particles() const override { return n_; }
  std::int64_t dimension() const override { return d_; }

  // Minimum-image separation of a and b (d values each) into delta; returns r^2.
  double separation(const double *a, const double *b, const double *box, double *delta) const
  {
    double r2 = 0.0;
    for (std::int64_t k = 0; k < d_; ++k) {
      delta[k] = a[k] - b[k];
      delta[k] -= box[k] * std::nearbyint(delta[k] / box[k]);
      r2 += delta[k] * delta[k];
    }
    return r2;
  }

  double pair(double r2) const { return r2 < cutoff_sq_ ? raw(r2) - shift_ : 0.0; }

  // Energy of particle i at position xi with every other particle of x.
  double particle_energy(const double *x, const double *box, std::int64_t i,
                         const double *xi) const
  {
    double delta[3], u = 0.0;
    for (std::int64_t j = 0; j < n_; ++j)
      if (j != i) u += pair(separation(xi, x + j * d_, box, delta));
    return u;
  }

  void evaluate(const double *x, std::int64_t nconf, const double *box, double *energy,
                double *force, bool) override
  {
    for (std::int64_t c = 0; c < nconf; ++c) {
      const double *xc = x + c * n_ * d_;
      double *fc = force ? force + c * n_ * d_ : nullptr;
      if (fc) std::fill(fc, fc + n_ * d_, 0.0);
      double u = 0.0, delta[3];
      for (std::int64_t i = 0; i < n_; ++i)
        for (std::int64_t j = i + 1; j < n_; ++j) {
          const double r2 = separation(xc + i * d_, xc + j * d_, box, delta);
          if (r2 >= cutoff_sq_) continue;
          u += pair(r2);
          if (!fc) continue;
          const double s6 = 1.0 / (r2 * r2 * r2);
          const double f_over_r = 24.0 * (2.0 * s6 * s6 - s6) / r2;    // -du/dr / r
          for (std::int64_t k = 0; k < d_; ++k) {
            fc[i * d_ + k] += f_over_r * delta[k];
            fc[j * d_ + k] -= f_over_r * delta[k];
          }
        }
      energy[c] = u;
    }
  }

 private:
  static double raw(double r2)
  {
    const double s6 = 1.0 / (r2 * r2 * r2);
    return 4.0 * (s6 * s6 - s6);
  }
  std::int64_t n_, d_;
  double cutoff_sq_, shift_;
};

// Metropolis sampling of exp(-U / T) with single-particle moves, uniform in a cube of side
// 2 step around the old position: symmetric proposals, so the chain is exact at any step.
// Starts from the first N sites of a simple square (cubic) lattice filling the box.
class Metropolis {
 public:
  Metropolis(const CutShiftedLennardJones &model, std::vector<double> box, double temperature,
             std::uint64_t seed) :
      model_(model), box_(std::move(box)), temperature_(temperature), random_(seed)
  {
    const auto n = model_.num_particles(), d = model_.dimension();
    if (static_cast<std::int64_t>(box_.size()) != d || !(temperature > 0.0))
      throw std::invalid_argument("Metropolis: box must have d lengths and T must be positive");
    std::int64_t side = 1;
    while (static_cast<std::int64_t>(std::pow(side, d) + 0.5) < n) ++side;
    x_.resize(n * d);
    for (std::int64_t i = 0; i < n; ++i) {
      std::int64_t site = i;
      for (std::int64_t k = 0; k < d; ++k, site /= side)
        x_[i * d + k] = (static_cast<double>(site % side) + 0.5) * box_[k] / side;
    }
    step_ = 0.1 * *std::min_element(box_.begin(), box_.end()) / side;
  }

  // sweeps of N trial moves each; returns the fraction accepted.
  double sweep(std::int64_t sweeps)
  {
    const auto n = model_.num_particles(), d = model_.dimension();
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    std::int64_t accepted = 0;
    double trial[3];
    for (std::int64_t t = 0; t < sweeps * n; ++t) {
      const auto i = std::min(n - 1, static_cast<std::int64_t>(uniform(random_) * n));
      double *xi = &x_[i * d];
      for (std::int64_t k = 0; k < d; ++k)
        trial[k] = xi[k] + step_ * (2.0 * uniform(random_) - 1.0);
      const double du = model_.particle_energy(x_.data(), box_.data(), i, trial) -
          model_.particle_energy(x_.data(), box_.data(), i, xi);
      if (du <= 0.0 || uniform(random_) < std::exp(-du / temperature_)) {
        for (std::int64_t k = 0; k < d; ++k)
          xi[k] = trial[k] - box_[k] * std::floor(trial[k] / box_[k]);
        ++accepted;
      }
    }
    return static_cast<double>(accepted) / static_cast<double>(sweeps * n);
  }

  // Melts the lattice and sets the step for about 40 % acceptance (rounds of 50 sweeps).
  // The step is fixed afterwards, so the sampling that follows is a plain Metropolis chain.
  void equilibrate(std::int64_t rounds)
  {
    const double largest = 0.25 * *std::min_element(box_.begin(), box_.end());
    for (std::int64_t r = 0; r < rounds; ++r)
      step_ = std::min(largest, step_ * std::clamp(sweep(50) / 0.4, 0.5, 2.0));
  }

  const std::vector<double> &positions() const { return x_; }
  double step() const { return step_; }

 private:
  const CutShiftedLennardJones &model_;
  std::vector<double> box_;
  double temperature_;
  std::mt19937_64 random_;
  std::vector<double> x_;
  double step_;
};

}    // namespace flowmap_test

#endif
