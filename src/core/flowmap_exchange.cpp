/* ----------------------------------------------------------------------
   USER-FLOWMAP: the flow-mapped replica exchange.
------------------------------------------------------------------------- */

#include "flowmap_exchange.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace flowmap {

double exchange_log_acceptance(double log_weight_forward, double log_weight_inverse)
{
  const double log_alpha = log_weight_forward + log_weight_inverse;
  return std::isnan(log_alpha) ? -std::numeric_limits<double>::infinity() : log_alpha;
}

double exchange_acceptance_probability(double log_alpha)
{
  if (std::isnan(log_alpha)) return 0.0;
  return log_alpha >= 0.0 ? 1.0 : std::exp(log_alpha);
}

bool exchange_accepted(double log_alpha, double uniform)
{
  // uniform < 1 always, so min(1, alpha) = 1 accepts without exp(); exp(-inf) = 0 never does.
  return uniform < exchange_acceptance_probability(log_alpha);
}

ExchangeStatistics::ExchangeStatistics(std::size_t window) : window_(window), recent_(window, 0)
{
  if (window == 0) throw std::invalid_argument("ExchangeStatistics: the window must be > 0");
}

void ExchangeStatistics::record(double log_alpha, bool accepted, double log_alpha_baseline)
{
  ++attempts_;
  if (std::isnan(log_alpha)) {
    ++nonfinite_;
    accepted = false;
  }
  if (accepted) ++accepted_;
  sum_probability_ += exchange_acceptance_probability(log_alpha);
  sum_probability_baseline_ += exchange_acceptance_probability(log_alpha_baseline);
  recent_accepted_ += (accepted ? 1 : 0) - recent_[next_];
  recent_[next_] = accepted ? 1 : 0;
  next_ = (next_ + 1) % window_;
  recent_count_ = std::min(recent_count_ + 1, window_);
}

double ExchangeStatistics::acceptance_rate() const
{
  return attempts_ > 0 ? static_cast<double>(accepted_) / attempts_ : 0.0;
}

double ExchangeStatistics::recent_acceptance_rate() const
{
  return recent_count_ > 0 ? static_cast<double>(recent_accepted_) / recent_count_ : 0.0;
}

double ExchangeStatistics::mean_probability() const
{
  return attempts_ > 0 ? sum_probability_ / attempts_ : 0.0;
}

double ExchangeStatistics::mean_probability_baseline() const
{
  return attempts_ > 0 ? sum_probability_baseline_ / attempts_ : 0.0;
}

std::vector<double> ExchangeStatistics::state() const
{
  // Counters below 2^53 are exact as doubles.
  std::vector<double> s = {static_cast<double>(window_),
                           static_cast<double>(attempts_),
                           static_cast<double>(accepted_),
                           static_cast<double>(nonfinite_),
                           sum_probability_,
                           sum_probability_baseline_,
                           static_cast<double>(next_),
                           static_cast<double>(recent_count_)};
  for (char r : recent_) s.push_back(r);
  return s;
}

void ExchangeStatistics::restore(const std::vector<double> &s)
{
  constexpr std::size_t kHeader = 8;
  const auto damaged = [] { return std::invalid_argument("damaged exchange statistics"); };
  if (s.size() < kHeader + 1 || s[0] < 1.0 || s[0] != std::floor(s[0])) throw damaged();
  const auto window = static_cast<std::size_t>(s[0]);
  const auto attempts = static_cast<std::int64_t>(s[1]);
  const auto accepted = static_cast<std::int64_t>(s[2]);
  const auto nonfinite = static_cast<std::int64_t>(s[3]);
  const auto next = static_cast<std::size_t>(s[6]);
  const auto count = static_cast<std::size_t>(s[7]);
  if (s.size() != kHeader + window || attempts < 0 || accepted < 0 || accepted > attempts ||
      nonfinite < 0 || nonfinite > attempts || next >= window || count > window ||
      static_cast<std::int64_t>(count) > attempts)
    throw damaged();
  std::vector<char> stored(window);
  for (std::size_t i = 0; i < window; ++i) {
    if (s[kHeader + i] != 0.0 && s[kHeader + i] != 1.0) throw damaged();
    stored[i] = s[kHeader + i] != 0.0 ? 1 : 0;
  }

  attempts_ = attempts;
  accepted_ = accepted;
  nonfinite_ = nonfinite;
  sum_probability_ = s[4];
  sum_probability_baseline_ = s[5];
  if (window == window_) {
    recent_ = stored;
    next_ = next;
    recent_count_ = count;
  } else {
    // Another window size: the most recent stored outcomes that fit, oldest first.
    std::fill(recent_.begin(), recent_.end(), 0);
    next_ = 0;
    recent_count_ = std::min(count, window_);
    for (std::size_t age = recent_count_; age >= 1; --age) {
      recent_[next_] = stored[(next + window - age) % window];
      next_ = (next_ + 1) % window_;
    }
  }
  recent_accepted_ = 0;
  for (char r : recent_) recent_accepted_ += r;
}

}    // namespace flowmap
