/* ----------------------------------------------------------------------
   USER-FLOWMAP: one training session.
------------------------------------------------------------------------- */

#include "flowmap_session.h"

#include "flowmap_model_file.h"

#include <algorithm>
#include <stdexcept>

namespace flowmap {

namespace {
const char *const kTrainingKey = "training";
const char *const kPoolKeys[2] = {"source_pool", "target_pool"};
const char *const kHoldoutKeys[2] = {"source_holdout", "target_holdout"};
}    // namespace

Session::Session(const FlowModel &model, EnergyModel &source_energy, EnergyModel &target_energy,
                 const StatePair &states, const SessionOptions &options, int rank, int nranks,
                 Reducer reducer) :
    model_(model), states_(states), options_(options)
{
  if (options_.pool_capacity < 1 || options_.holdout_capacity < 1)
    throw std::invalid_argument("pool and hold-out sizes must be positive");
  if (options_.min_pool <= 0) options_.min_pool = options_.training.batch_size;
  trainer_ = std::make_unique<Trainer>(model_, source_energy, target_energy, states_,
                                       options_.training, rank, nranks, std::move(reducer));
  for (int e = 0; e < 2; ++e) {
    pools_[e] = std::make_unique<FramePool>(options_.pool_capacity, states_.num_particles,
                                            states_.dimension);
    holdouts_[e] = std::make_unique<FramePool>(options_.holdout_capacity, states_.num_particles,
                                               states_.dimension);
  }
}

void Session::add_frame(Ensemble ensemble, const double *positions, double energy)
{
  // The first frames fill the hold-out set: validation then always uses the same frames, so
  // RESS values along a run are comparable (RESS estimated from a growing set drifts).
  const int e = index(ensemble);
  auto &holdout = *holdouts_[e];
  (holdout.size() < holdout.capacity() ? holdout : *pools_[e]).add(positions, energy);
}

const FramePool *Session::ready_pool(Ensemble e, double weight) const
{
  const auto &pool = *pools_[index(e)];
  return weight > 0.0 && pool.size() >= options_.min_pool ? &pool : nullptr;
}

double Session::source_weight() const
{
  return std::max(options_.training.weight_kld, options_.training.weight_reweighted);
}

bool Session::can_train() const
{
  // Every weighted term must be ready: steps on one term alone while the other's pool fills
  // (the first frames of a run go to the hold-out set) would train a different loss.
  const bool kld = source_weight() <= 0.0 || ready_pool(Ensemble::source, 1.0);
  const bool nll = options_.training.weight_nll <= 0.0 || ready_pool(Ensemble::target, 1.0);
  return kld && nll;
}

void Session::set_loss_weights(double kld, double nll, double reweighted, double reweight_power)
{
  trainer_->set_loss_weights(kld, nll, reweighted, reweight_power);
  auto &t = options_.training;
  t.weight_kld = kld;
  t.weight_nll = nll;
  t.weight_reweighted = reweighted;
  t.reweight_power = reweight_power;
}

StepReport Session::train_step()
{
  auto report = trainer_->step(ready_pool(Ensemble::source, source_weight()),
                               ready_pool(Ensemble::target, options_.training.weight_nll));
  model_.metadata().training_steps = trainer_->steps();
  return report;
}

ValidationReport Session::validate()
{
  return trainer_->validate(holdouts_[0].get(), holdouts_[1].get());
}

void Session::write_checkpoint(torch::serialize::OutputArchive &archive)
{
  {
    // A checkpoint is also a model file: loaded as one it maps with what validation measured.
    AveragedParameters averaged(*trainer_);
    write_model(archive, model_);
  }
  torch::serialize::OutputArchive training;
  trainer_->write(training);
  for (int e = 0; e < 2; ++e) {
    torch::serialize::OutputArchive pool, holdout;
    pools_[e]->write(pool);
    holdouts_[e]->write(holdout);
    training.write(kPoolKeys[e], pool);
    training.write(kHoldoutKeys[e], holdout);
  }
  archive.write(kTrainingKey, training);
}

bool Session::read_training_state(torch::serialize::InputArchive &archive)
{
  torch::serialize::InputArchive training;
  if (!archive.try_read(kTrainingKey, training)) return false;
  trainer_->read(training);
  for (int e = 0; e < 2; ++e) {
    torch::serialize::InputArchive pool, holdout;
    training.read(kPoolKeys[e], pool);
    training.read(kHoldoutKeys[e], holdout);
    pools_[e]->read(pool);
    holdouts_[e]->read(holdout);
  }
  return true;
}

}    // namespace flowmap
