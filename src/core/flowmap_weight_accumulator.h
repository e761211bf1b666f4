/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: running importance-weight statistics with online bootstrap error bars.

   compute ress adds one log-weight per frame for runs of any length and reports after every
   frame. Re-running the stored-sample bootstrap of flowmap_weights.h after each frame would
   cost O(resamples x frames) per frame, O(frames^2) per run. Here every statistic is a running
   sum (constant work and memory per frame) and the bootstrap is the online Poisson bootstrap:
   each replicate counts each frame a Poisson(1) number of times, the streaming equivalent of
   resampling n frames with replacement (Oza and Russell 2001; Hanley and MacGibbon 2006).
   Point estimates equal kish_ress, free_energy_difference and reweighted_mean of the same
   log-weights.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_WEIGHT_ACCUMULATOR_H
#define FLOWMAP_WEIGHT_ACCUMULATOR_H

#include "flowmap_weights.h"

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace flowmap {

class WeightAccumulator {
 public:
  // nresample bootstrap replicates (0 or 1: no error bars) drawn from seed.
  explicit WeightAccumulator(int nresample = 100, std::uint64_t seed = 5489u);

  // One sample: its log-weight and an observable to reweight (e.g. the target energy). An
  // observable of a zero-weight sample is ignored, so an infinite energy with log w = -inf
  // does not turn the mean into NaN.
  void add(double log_weight, double observable);

  std::size_t count() const { return count_; }
  // Value on all samples, error = standard deviation over the bootstrap replicates.
  BootstrapEstimate ress() const;
  BootstrapEstimate free_energy_difference() const;
  // sum w O / sum w; NaN without samples of nonzero weight.
  double reweighted_mean() const;

 private:
  // Sums of multiplicity-weighted w, w^2, w O relative to the largest log-weight seen.
  struct Sums {
    double count = 0.0;
    double max = 0.0;
    double sum_w = 0.0;
    double sum_w2 = 0.0;
    double sum_wo = 0.0;
    bool any_weight = false;

    void add(double log_weight, double observable, double multiplicity);
    double ress() const;
    double free_energy_difference() const;
  };

  std::size_t count_ = 0;
  Sums all_;
  std::vector<Sums> replicates_;
  std::mt19937_64 engine_;
  std::poisson_distribution<int> multiplicity_{1.0};
};

}    // namespace flowmap

#endif
