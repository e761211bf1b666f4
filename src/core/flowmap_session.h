/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: one training session, everything fix flowmap keeps between steps.

   The flow, the trainer, the streamed pools of source and target frames and their held-out
   validation sets, and their serialisation as a checkpoint: restoring a checkpoint and
   continuing gives the same model as an uninterrupted run fed the same frames.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_SESSION_H
#define FLOWMAP_SESSION_H

#include "flowmap_frame_pool.h"
#include "flowmap_model.h"
#include "flowmap_trainer.h"

#include <array>
#include <cstdint>
#include <memory>

namespace flowmap {

enum class Ensemble { source = 0, target = 1 };

struct SessionOptions {
  std::int64_t pool_capacity = 20000;      // frames per ensemble kept for training
  std::int64_t holdout_capacity = 1000;    // the first frames of each ensemble, for validation
  std::int64_t min_pool = 0;               // train once a pool holds this many (0: a batch)
  TrainingOptions training;
};

class Session {
 public:
  Session(const FlowModel &model, EnergyModel &source_energy, EnergyModel &target_energy,
          const StatePair &states, const SessionOptions &options, int rank = 0, int nranks = 1,
          Reducer reducer = {});

  // A frame of the given ensemble with its energy in that ensemble's own Hamiltonian.
  void add_frame(Ensemble ensemble, const double *positions, double energy);

  // Whether every loss term with non-zero weight has a pool of at least min_pool frames.
  bool can_train() const;
  // The largest weight of a loss term on frames of A (KLD, reweighted NLL).
  double source_weight() const;
  StepReport train_step();
  // See Trainer::set_loss_weights; the session's options follow, so that can_train() and
  // source_weight() see the new weights.
  void set_loss_weights(double kld, double nll, double reweighted, double reweight_power);
  ValidationReport validate();

  FlowModel &model() { return model_; }
  const Trainer &trainer() const { return *trainer_; }
  Trainer &trainer() { return *trainer_; }
  const FramePool &pool(Ensemble e) const { return *pools_[index(e)]; }
  const FramePool &holdout(Ensemble e) const { return *holdouts_[index(e)]; }
  const StatePair &states() const { return states_; }
  const SessionOptions &options() const { return options_; }

  // Checkpoint: the model (as in a model file, with averaged parameters when averaging) plus
  // trainer state, pools and hold-outs.
  void write_checkpoint(torch::serialize::OutputArchive &archive);
  // Restores what write_checkpoint() stored beside the model; the model itself is read with
  // read_model() before the session is built. False if the archive holds a model only.
  bool read_training_state(torch::serialize::InputArchive &archive);

 private:
  static int index(Ensemble e) { return static_cast<int>(e); }
  const FramePool *ready_pool(Ensemble e, double weight) const;

  FlowModel model_;
  StatePair states_;
  SessionOptions options_;
  std::unique_ptr<Trainer> trainer_;
  std::array<std::unique_ptr<FramePool>, 2> pools_, holdouts_;
};

}    // namespace flowmap

#endif
