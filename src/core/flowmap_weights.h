/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: importance weights, RESS and free energies (doc/method.md sections 2 to 4).

   Everything is float64 and normalised with log-sum-exp. This file is the single
   implementation used by the flow core, compute ress and fix flowmap.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_WEIGHTS_H
#define FLOWMAP_WEIGHTS_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace flowmap {

// log w for a sample x drawn from state "from" and mapped to y = M(x) in state "to":
//   log w = -beta_to U_to(y) + beta_from U_from(x) + log|det J_M(x)|.
// Forward (A -> B) and inverse (B -> A) directions are the same formula with the roles swapped.
inline double log_weight(double beta_from, double energy_from, double beta_to, double energy_to,
                         double log_det_jacobian)
{
  return -beta_to * energy_to + beta_from * energy_from + log_det_jacobian;
}

// log|det J| of the isotropic (per-axis) scaling x -> x * L_to / L_from of all N particles of a
// periodic configuration: N * sum_k log(L_to,k / L_from,k). Together with the reference
// particle's translation this is the exact Jacobian of the identity baseline between densities.
double scaling_log_det(std::int64_t num_particles, const std::vector<double> &box_from,
                       const std::vector<double> &box_to);

// log(sum_i exp(v_i)); -inf entries contribute zero weight, an empty or all -inf input gives -inf.
double log_sum_exp(const double *values, std::size_t n);
inline double log_sum_exp(const std::vector<double> &values)
{
  return log_sum_exp(values.data(), values.size());
}

// Kish relative effective sample size (sum w)^2 / (n sum w^2), in [1/n, 1]; 0 for no samples.
double kish_ress(const std::vector<double> &log_weights);

// Reduced free-energy difference -log(mean w) (beta_to F_to - beta_from F_from when the
// log-determinant includes the volume change); +inf when every weight is zero.
double free_energy_difference(const std::vector<double> &log_weights);

// sum_i w_i O_i / sum_i w_i. Sizes must match; NaN for no samples.
double reweighted_mean(const std::vector<double> &log_weights, const std::vector<double> &values);

struct BootstrapEstimate {
  double value = 0.0;    // statistic on the full sample
  double error = 0.0;    // standard deviation over the resamples
};

// Bootstrap of the frames: resamples n frames with replacement nresample times and evaluates
// the statistic on each, the weights recomputed from the resampled log-weights.
struct WeightSummary {
  std::size_t frames = 0;
  BootstrapEstimate ress;
  BootstrapEstimate free_energy;
};
WeightSummary summarize_weights(const std::vector<double> &log_weights, int nresample,
                                std::uint64_t seed);

// Mean and standard error of independent estimates (the study's "10 sets of 5e4" protocol).
BootstrapEstimate mean_and_standard_error(const std::vector<double> &values);

// Constant-memory RESS for many weight sets at once (the state-point scan): keeps
// log sum w and log sum w^2 with a running maximum so no sample needs to be stored.
class StreamingRess {
 public:
  void add(double log_weight);
  std::size_t count() const { return count_; }
  double ress() const;
  double free_energy_difference() const;

 private:
  std::size_t count_ = 0;
  double max_ = 0.0;        // largest log-weight seen; the sums below are relative to it
  double sum_w_ = 0.0;      // sum exp(lw - max)
  double sum_w2_ = 0.0;     // sum exp(2 (lw - max))
};

}    // namespace flowmap

#endif
