// Shared set-up for the mapping and trainer tests: a small 2D system, random source frames
// (ideal gas) and a soft-sphere target, and a way to give a flow non-trivial parameters.
#ifndef FLOWMAP_TESTS_TRAINER_FIXTURES_H
#define FLOWMAP_TESTS_TRAINER_FIXTURES_H

#include "analytic_energy.h"
#include "flowmap_frame_pool.h"
#include "flowmap_mapping.h"
#include "flowmap_model.h"
#include "flowmap_trainer.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <limits>
#include <memory>
#include <mutex>
#include <string>

struct ToySystem {
  static constexpr std::int64_t n = 6, d = 2;
  std::vector<double> source_box{3.0, 3.0}, target_box{3.0, 3.0};
  SoftSpheres ideal_gas{n, d, 0.0, 1.0};
  SoftSpheres soft{n, d, 4.0, 1.2};

  flowmap::StatePair states() const
  {
    flowmap::StatePair s;
    s.num_particles = n;
    s.dimension = d;
    s.source_box = source_box;
    s.target_box = target_box;
    s.beta_source = 1.0;
    s.beta_target = 1.0;
    return s;
  }

  flowmap::FlowModel model(torch::Dtype dtype = torch::kFloat32, std::uint64_t seed = 5,
                           const std::string &preset = "small") const
  {
    torch::manual_seed(seed);
    auto options = flowmap::FlowOptions::preset(preset, n, d);
    options.dtype = dtype;
    flowmap::ModelMetadata meta;
    meta.source_box = source_box;
    meta.target_box = target_box;
    return flowmap::FlowModel(options, meta);
  }

  // Uniform frames with their (zero) ideal-gas energy.
  void fill(flowmap::FramePool &pool, std::int64_t count, std::uint64_t seed)
  {
    torch::manual_seed(seed);
    auto frames = torch::rand({count, n, d}, torch::kFloat64) * source_box[0];
    for (std::int64_t f = 0; f < count; ++f) pool.add(frames[f].contiguous().data_ptr<double>(), 0.0);
  }
};

// KLD alone on batches of 32, quick to step.
inline flowmap::TrainingOptions small_batches()
{
  flowmap::TrainingOptions o;
  o.batch_size = 32;
  o.learning_rate = 3e-3;
  o.weight_nll = 0.0;
  o.seed = 99;
  return o;
}

// An energy that is not finite (for the first frame of each call) whenever armed.
class Poisoned : public SoftSpheres {
 public:
  using SoftSpheres::SoftSpheres;
  bool armed = false;
  void evaluate(const double *x, std::int64_t nconf, const double *box, double *energy,
                double *force, bool regularised) override
  {
    SoftSpheres::evaluate(x, nconf, box, energy, force, regularised);
    if (armed) energy[0] = std::numeric_limits<double>::quiet_NaN();
  }
};

// Ideal gas -> dense soft disks (identity RESS about 0.13) with the tiny flow: a training
// task a few hundred steps visibly improve on.
struct DenseDiskTraining {
  ToySystem toy;
  SoftSpheres dense{ToySystem::n, ToySystem::d, 8.0, 1.0};
  flowmap::FramePool pool{4000, ToySystem::n, ToySystem::d};
  flowmap::FramePool holdout{2000, ToySystem::n, ToySystem::d};
  flowmap::FlowModel model = toy.model(torch::kFloat32, 5, "tiny");

  DenseDiskTraining()
  {
    toy.fill(pool, 4000, 1);
    toy.fill(holdout, 2000, 2);
  }
};

// A smooth, translation-invariant periodic pair energy (no cutoff kink), for finite-difference
// checks: U = eps sum_{i<j} sum_k cos(2 pi dx_k / L_k).
class CosinePairs : public flowmap::EnergyModel {
 public:
  CosinePairs(std::int64_t n, std::int64_t d, double eps) : n_(n), d_(d), eps_(eps) {}
  std::int64_t num_particles() const override { return n_; }
  std::int64_t dimension() const override { return d_; }
  void evaluate(const double *x, std::int64_t nconf, const double *box, double *energy,
                double *force, bool) override
  {
    const double two_pi = 2.0 * std::acos(-1.0);
    for (std::int64_t c = 0; c < nconf; ++c) {
      const double *xc = x + c * n_ * d_;
      double *fc = force ? force + c * n_ * d_ : nullptr;
      if (fc) std::fill(fc, fc + n_ * d_, 0.0);
      double u = 0.0;
      for (std::int64_t i = 0; i < n_; ++i)
        for (std::int64_t j = i + 1; j < n_; ++j)
          for (std::int64_t k = 0; k < d_; ++k) {
            const double q = two_pi / box[k], dx = xc[i * d_ + k] - xc[j * d_ + k];
            u += eps_ * std::cos(q * dx);
            if (fc) {
              fc[i * d_ + k] += eps_ * q * std::sin(q * dx);
              fc[j * d_ + k] -= eps_ * q * std::sin(q * dx);
            }
          }
      energy[c] = u;
    }
  }

 private:
  std::int64_t n_, d_;
  double eps_;
};

// Moves a flow away from the identity so tests of mapped quantities are not vacuous.
inline void perturb_parameters(flowmap::FlowModel &model, double scale, std::uint64_t seed)
{
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto &p : model.flow()->parameters()) p.add_(torch::randn_like(p) * scale);
}

inline torch::Tensor flat_parameters(const flowmap::FlowModel &model)
{
  std::vector<torch::Tensor> flat;
  for (const auto &p : model.flow()->parameters()) flat.push_back(p.detach().reshape({-1}).to(torch::kFloat64));
  return torch::cat(flat);
}

// A reducer for threads standing in for MPI ranks: sums every rank's buffer.
class ThreadReducer {
 public:
  explicit ThreadReducer(int nranks) : nranks_(nranks), buffers_(nranks) {}
  flowmap::Reducer for_rank(int rank)
  {
    return [this, rank](double *data, std::int64_t n) {
      std::unique_lock<std::mutex> lock(mutex_);
      buffers_[rank].assign(data, data + n);
      const auto generation = generation_;
      if (++arrived_ == nranks_) {
        sum_.assign(n, 0.0);
        for (const auto &b : buffers_)
          for (std::int64_t i = 0; i < n; ++i) sum_[i] += b[i];
        arrived_ = 0;
        ++generation_;
        cv_.notify_all();
      } else {
        cv_.wait(lock, [&] { return generation_ != generation; });
      }
      std::copy(sum_.begin(), sum_.end(), data);
    };
  }

 private:
  int nranks_;
  std::vector<std::vector<double>> buffers_;
  std::vector<double> sum_;
  int arrived_ = 0;
  long generation_ = 0;
  std::mutex mutex_;
  std::condition_variable cv_;
};

#endif
