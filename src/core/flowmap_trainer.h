/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: training the flow (doc/method.md section 10).

   Loss  L = w_KLD < beta_B U_B(F(x_A)) - log|det J_F(x_A)| >_A
           + w_NLL < beta_A U_A(F^-1(x_B)) - log|det J_F^-1(x_B)| >_B
           + w_RW  sum_i w~_i [beta_A U_A(F^-1(y_i)) - log|det J_F^-1(y_i)|],  y_i = F(x_A,i)
   where the last term (reweighted NLL) takes the batch's mapped source frames, held fixed, as
   frames of B with their self-normalised importance weights w~ ∝ w^alpha.
   with regularised energies from EnergyModels, symmetry augmentation, Adam with a step
   decay of the learning rate and gradient-norm clipping. A batch whose loss or gradient
   is not finite is skipped and counted, never applied.

   Data parallel: every process draws the same batch (same generator, same seed), evaluates
   its contiguous share, and the gradients are summed by the Reducer, so all processes
   apply the identical update and hold the identical model.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_TRAINER_H
#define FLOWMAP_TRAINER_H

#include "flowmap_energy_model.h"
#include "flowmap_frame_pool.h"
#include "flowmap_mapping.h"
#include "flowmap_model.h"
#include "flowmap_work_share.h"

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>

namespace flowmap {

struct TrainingOptions {
  std::int64_t batch_size = 256;
  double learning_rate = 1e-3;
  std::int64_t warmup_steps = 0;     // linear ramp of the learning rate over the first steps:
                                     // Adam's first updates move every parameter by about lr,
                                     // which throws an identity-initialised flow far off
  double decay_factor = 0.1;         // learning rate multiplied by this ...
  std::int64_t decay_every = 0;      // ... every this many optimizer steps (0: constant)
  double weight_kld = 1.0;
  double weight_nll = 1.0;           // used only when target frames are supplied
  // The KLD term is mode-seeking: it never sees the part of B that mapped frames of A miss,
  // which is where B's fluctuations (heat capacity) live. The reweighted NLL term fits F^-1 to
  // the mapped frames weighted towards B, a mass-covering estimate of KL(B || F A) that
  // needs no frames of B. Its weights are tempered by reweight_power in (0, 1]: 1 is the
  // unbiased estimate, whose batch is decided by one or two frames when RESS is small.
  double weight_reweighted = 0.0;
  double reweight_power = 1.0;
  double clip_norm = 10.0;           // on the total gradient norm (0: no clipping)
  // Decay of an exponential moving average of the parameters (0: none). The iterates of a
  // noisy stochastic optimisation scatter around the optimum; their running average sits
  // closer to it, and gives the validation, the saved model and the mapping.
  double average = 0.0;
  bool augment = true;               // random reference particle (of the reference species
                                     // in a mixture) and box symmetry
  std::uint64_t seed = 12345;
};

// Sums n float64 values over all training processes in place (MPI_Allreduce in LAMMPS;
// nothing to do for a single process).
using Reducer = std::function<void(double *data, std::int64_t n)>;

struct StepReport {
  bool skipped = false;
  double loss = 0.0, loss_kld = 0.0, loss_nll = 0.0, loss_reweighted = 0.0;
  // Kish effective sample size of the reweighted term's weights over the batch (0 without it)
  double batch_ess = 0.0;
  double grad_norm = 0.0;            // before clipping
  double learning_rate = 0.0;        // used for this step
  double time_energy = 0.0, time_network = 0.0, time_reduce = 0.0;    // seconds
};

struct ValidationReport {
  std::int64_t frames_forward = 0, frames_inverse = 0;
  double ress_forward = 0.0, ress_forward_identity = 0.0;
  double ress_inverse = 0.0, ress_inverse_identity = 0.0;
  // <log w_flow> - <log w_identity> over the same frames: how many nats of Kullback-Leibler
  // divergence the flow has removed. Far less noisy than RESS, which a few frames decide.
  double kl_gain_forward = 0.0, kl_gain_inverse = 0.0;
};

class Trainer {
 public:
  // The model, energies and options must outlive the trainer. rank/nranks define the share of
  // each batch this process evaluates.
  Trainer(FlowModel &model, EnergyModel &source_energy, EnergyModel &target_energy,
          const StatePair &states, const TrainingOptions &options, int rank = 0, int nranks = 1,
          Reducer reducer = {});
  ~Trainer();

  // One optimizer step. source_frames feeds the KLD and reweighted NLL terms, target_frames
  // (may be null or empty) the NLL term; a term whose weight is zero or whose pool is empty is
  // left out.
  StepReport step(const FramePool *source_frames, const FramePool *target_frames);

  // RESS of the flow and of the identity baseline on held-out frames, true energies.
  ValidationReport validate(const FramePool *source_holdout, const FramePool *target_holdout);

  // Exchanges the live parameters with their running average (nothing without averaging);
  // called in pairs, see AveragedParameters.
  void swap_average();
  bool averaging() const { return !averaged_.empty(); }

  // Changes the weights of the loss terms and the reweighted term's power between steps (a
  // schedule, e.g. the reweighted term switched on once KLD has trained); the optimizer's
  // moments carry over. Throws std::invalid_argument for a weight that is negative or not
  // finite, or a power outside (0, 1], and then changes nothing.
  void set_loss_weights(double kld, double nll, double reweighted, double reweight_power);

  std::int64_t steps() const { return steps_; }
  std::int64_t skipped() const { return skipped_; }
  double learning_rate() const;
  const TrainingOptions &options() const { return options_; }

  // Optimizer moments, generator state, counters and, with averaging, both the live and the
  // averaged parameters. The model is saved separately (with the averaged parameters, see
  // Session::write_checkpoint); read() restores the live ones into it.
  void write(torch::serialize::OutputArchive &archive) const;
  void read(torch::serialize::InputArchive &archive);

 private:
  WorkShare my_share(std::int64_t total) const;
  struct Term {
    torch::Tensor loss;          // this process's share of the batch mean, float64 scalar
    torch::Tensor log_weight;    // [batch] float64, the whole batch on every process (forward
                                 // terms asked for weights), from the training energies
    MappedConfigurations mapped; // this process's share, with its reference and symmetry
    torch::Tensor reference, symmetry;
  };
  // with_weights: also the batch's log-weights, at the cost of one more reduction
  Term loss_term(const FramePool &pool, Direction direction, bool with_weights,
                 StepReport &report);
  torch::Tensor reweighted_term(const Term &forward, StepReport &report);
  std::vector<double> distributed_log_weights(const FramePool &pool, Direction direction,
                                              bool with_flow);
  void reduce(double *data, std::int64_t n) const;

  FlowModel &model_;
  EnergyModel &source_energy_;
  EnergyModel &target_energy_;
  StatePair states_;
  TrainingOptions options_;
  int rank_, nranks_;
  Reducer reducer_;
  std::vector<torch::Tensor> parameters_;
  std::vector<torch::Tensor> averaged_;    // running average of parameters_, if averaging
  std::unique_ptr<torch::optim::Adam> optimizer_;
  torch::Tensor symmetries_;         // [G, d, d] float64
  torch::Generator generator_;
  std::int64_t steps_ = 0;
  std::int64_t skipped_ = 0;
};

// The model holds the averaged parameters while this is alive (for validation, saving,
// mapping); the live ones are back afterwards.
class AveragedParameters {
 public:
  explicit AveragedParameters(Trainer &trainer) : trainer_(trainer) { trainer_.swap_average(); }
  ~AveragedParameters() { trainer_.swap_average(); }
  AveragedParameters(const AveragedParameters &) = delete;
  AveragedParameters &operator=(const AveragedParameters &) = delete;

 private:
  Trainer &trainer_;
};

}    // namespace flowmap

#endif
