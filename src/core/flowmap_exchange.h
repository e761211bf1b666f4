/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: the flow-mapped replica exchange between a source and a target run.

   Two runs sample the source state A (x_A) and the target state B (x_B) side by side; the
   joint density is the product p_A(x_A) p_B(x_B), p proportional to exp(-beta U). An exchange
   proposes the deterministic map
       T(x_A, x_B) = (F^-1(x_B), F(x_A)),
   which is an involution (T(T(s)) = s) for any bijection F. For a deterministic involutive
   proposal the Metropolis-Hastings acceptance probability is min(1, alpha) with
       alpha(s) = p(T(s)) |det J_T(s)| / p(s),
   and J_T is block anti-diagonal with blocks J_F(x_A) and J_F^-1(x_B), so
       log alpha = lw_fwd(x_A) + lw_inv(x_B),
       lw_fwd(x) = -beta_B U_B(F x) + beta_A U_A(x) + log|det J_F(x)|,
       lw_inv(y) = -beta_A U_A(F^-1 y) + beta_B U_B(y) + log|det J_F^-1(y)|:
   the sum of the forward log-weight of the source configuration and the inverse log-weight
   of the target configuration, exactly the log-weights of flowmap::map_and_weigh with the
   true energies. Since alpha(T(s)) = 1 / alpha(s), p(s) min(1, alpha(s)) =
   p(T(s)) |det J_T(s)| min(1, alpha(T(s))): detailed balance, so p_A x p_B is invariant
   whatever F is; the flow only decides how often exchanges are accepted. F = identity, or
   the isotropic scaling between the boxes, is ordinary two-state replica exchange.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_EXCHANGE_H
#define FLOWMAP_EXCHANGE_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace flowmap {

// log alpha = lw_fwd + lw_inv (float64). A NaN in either term (a configuration the energy
// could not be evaluated for) gives -inf: such an exchange is rejected, never propagated.
double exchange_log_acceptance(double log_weight_forward, double log_weight_inverse);

// min(1, exp(log_alpha)): 1 for log_alpha >= 0, 0 for -inf or NaN.
double exchange_acceptance_probability(double log_alpha);

// The Metropolis decision without a random generator of its own: with uniform drawn from
// [0, 1), true with probability min(1, exp(log_alpha)) (always for log_alpha >= 0, never for
// -inf or NaN).
bool exchange_accepted(double log_alpha, double uniform);

// Counters of a sequence of exchange attempts: attempts, accepted exchanges, acceptance
// rates over all attempts and over the last `window` ones, and the mean acceptance
// probability min(1, alpha) of the exchange and of a baseline evaluated on the same pairs.
// The mean probability estimates the acceptance rate with less noise than the 0/1 outcomes,
// and for the baseline it is the acceptance rate the baseline exchange would have: the pairs
// at the attempts are samples of p_A x p_B whichever exchange is run.
class ExchangeStatistics {
 public:
  explicit ExchangeStatistics(std::size_t window = 100);

  // One attempt; a non-finite log_alpha (NaN) counts as a rejected, non-finite attempt.
  void record(double log_alpha, bool accepted, double log_alpha_baseline);

  std::int64_t attempts() const { return attempts_; }
  std::int64_t accepted() const { return accepted_; }
  std::int64_t nonfinite() const { return nonfinite_; }
  std::size_t window() const { return window_; }
  double acceptance_rate() const;           // accepted / attempts (0 before any attempt)
  double recent_acceptance_rate() const;    // over the last window attempts (or those known)
  double mean_probability() const;          // mean of min(1, alpha)
  double mean_probability_baseline() const;

  // Everything above as numbers, for restart files. restore() keeps the most recent outcomes
  // that fit when the stored window differs from this one, and throws std::invalid_argument
  // for a damaged state.
  std::vector<double> state() const;
  void restore(const std::vector<double> &state);

 private:
  std::size_t window_;
  std::int64_t attempts_ = 0, accepted_ = 0, nonfinite_ = 0;
  double sum_probability_ = 0.0, sum_probability_baseline_ = 0.0;
  std::vector<char> recent_;    // ring buffer of the last window outcomes
  std::size_t next_ = 0;        // where the next outcome goes
  std::size_t recent_count_ = 0;    // outcomes in the buffer (fewer than window at first)
  std::int64_t recent_accepted_ = 0;
};

}    // namespace flowmap

#endif
