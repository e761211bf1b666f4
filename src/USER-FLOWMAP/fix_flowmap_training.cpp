/* ----------------------------------------------------------------------
   USER-FLOWMAP: fix flowmap's train mode (see fix_flowmap_training.h).
------------------------------------------------------------------------- */

#include "fix_flowmap_training.h"

#include "fix_flowmap_settings.h"
#include "flowmap_collective.h"
#include "flowmap_distributed_energy.h"
#include "flowmap_dump_reader.h"
#include "flowmap_lammps_bridge.h"
#include "flowmap_lammps_compat.h"
#include "flowmap_model_file.h"
#include "flowmap_session.h"

#include "comm.h"
#include "error.h"
#include "universe.h"

#include <chrono>

using namespace LAMMPS_NS;
using flowmap::Ensemble;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string first_line(const std::string &text)
{
  return text.substr(0, text.find('\n'));
}

}    // namespace

FlowMapTraining::FlowMapTraining(LAMMPS *lmp, flowmap::Session &session,
                                 const FlowMapSettings &settings, FlowMapTimes &times) :
    Pointers(lmp), session_(session), settings_(settings), times_(times)
{
}

void FlowMapTraining::add_frame(const std::vector<double> &frame, double energy)
{
  // Independent walkers (partitions) feed one shared model: every process receives every
  // world's frame, in world order, so every process adds the same frames in the same order.
  const auto ensemble = settings_.forward ? Ensemble::source : Ensemble::target;
  if (universe->nworlds == 1) {
    session_.add_frame(ensemble, frame.data(), energy);
  } else {
    std::vector<double> mine(frame);
    mine.push_back(energy);
    const auto all = flowmap::allgather(mine, universe->uworld);
    for (int w = 0; w < universe->nworlds; ++w) {
      const double *f = &all[static_cast<std::size_t>(universe->root_proc[w]) * mine.size()];
      session_.add_frame(ensemble, f, f[frame.size()]);
    }
  }
  frames_collected_ += universe->nworlds;
  steps_due_ += settings_.steps_per_frame * universe->nworlds;
  train_due_steps();
}

void FlowMapTraining::add_frames_from_files(FlowMapBridge &bridge,
                                            const flowmap::Species &species)
{
  const auto &s = settings_;
  if (s.frame_files.empty()) return;
  const auto ensemble = s.forward ? Ensemble::target : Ensemble::source;
  const auto &states = session_.states();
  const auto &box = s.forward ? states.target_box : states.source_box;
  const auto per_frame = states.num_particles * states.dimension;
  const std::string files = flowmap_compat::join(s.frame_files, " ");

  // A frame of a mixture must have the system's type at every atom ID, or the flow would learn
  // one species' positions as another's; frames of swap runs are relabelled (species.h).
  std::vector<double> positions;
  std::vector<std::string> untyped;
  try {
    positions = flowmap::read_frames(s.frame_files, static_cast<int>(states.dimension),
                                     states.num_particles, box,
                                     s.forward ? "the target ensemble's box"
                                               : "the source ensemble's box",
                                     species, &untyped);
  } catch (flowmap::DumpFormatError &err) {
    error->all(FLERR, "Fix flowmap: {}", err.what());
  }
  if (!untyped.empty() && species.num_species() > 1 && comm->me == 0)
    error->warning(FLERR, "Fix flowmap: dump file {} has no numeric type column; its atoms "
                   "are taken to have this system's types by atom ID",
                   flowmap_compat::join(untyped, ", "));
  const std::int64_t count = positions.size() / per_frame;
  if (count == 0) error->all(FLERR, "Fix flowmap: the frames files hold no frames");
  std::vector<double> energies(count);
  try {
    flowmap::evaluate_distributed(bridge, world, positions.data(), count, box.data(), 0,
                                  energies.data(), nullptr, false);
  } catch (flowmap::CollectiveError &err) {
    error->all(FLERR, "Fix flowmap could not evaluate the frames of {}: {}", files, err.what());
  }
  for (std::int64_t f = 0; f < count; ++f)
    session_.add_frame(ensemble, &positions[f * per_frame], energies[f]);
  if (comm->me == 0)
    utils::logmesg(lmp, "fix flowmap: {} {} frames read from {} file(s)\n", count,
                   s.forward ? "target" : "source", s.frame_files.size());
  check_file_frames();
}

void FlowMapTraining::check_file_frames() const
{
  const auto &s = settings_;
  if (s.frame_files.empty()) return;
  // These frames are all their loss term will ever get: too few and training would wait
  // forever for its pool.
  const auto ensemble = s.forward ? Ensemble::target : Ensemble::source;
  const auto &pool = session_.pool(ensemble);
  const auto &holdout = session_.holdout(ensemble);
  const auto needed = session_.options().min_pool;
  const auto weight = s.forward ? s.session.training.weight_nll : session_.source_weight();
  if (weight > 0.0 && pool.size() < needed)
    error->all(FLERR, "Fix flowmap: the frames files hold {} frames; the hold-out set takes "
               "the first {} and training needs {} more (keywords holdout and batch)",
               pool.size() + holdout.size(), holdout.size(), needed);
}

void FlowMapTraining::train_due_steps()
{
  const auto &s = settings_;
  if (!session_.can_train()) {
    steps_due_ = 0.0;    // no burst of steps once the pool is ready
    return;
  }
  while (steps_due_ >= 1.0) {
    steps_due_ -= 1.0;
    flowmap::StepReport report;
    try {
      report = session_.train_step();
    } catch (std::exception &err) {
      // One rank's failure: the others may be waiting in the gradient reduction.
      error->one(FLERR, "Fix flowmap training step failed: {}", first_line(err.what()));
    }
    times_.energy += report.time_energy;
    times_.network += report.time_network;
    times_.reduce += report.time_reduce;
    if (report.skipped) continue;
    loss_[0] = report.loss;
    loss_[1] = report.loss_kld;
    loss_[2] = report.loss_nll;
    loss_[3] = report.loss_reweighted;
    batch_ess_ = report.batch_ess;
    const auto steps = session_.trainer().steps();
    if (steps % s.validate_every == 0) validate();
    if (steps % s.print_every == 0) log_progress();
    if (s.checkpoint_every > 0 && steps % s.checkpoint_every == 0) save();
  }
}

void FlowMapTraining::validate()
{
  const auto start = std::chrono::steady_clock::now();
  flowmap::ValidationReport report;
  try {
    report = session_.validate();
  } catch (std::exception &err) {
    // The validation reduces over all processes: one process's failure must end them all.
    error->one(FLERR, "Fix flowmap validation failed: {}", first_line(err.what()));
  }
  ress_[0] = report.ress_forward;
  ress_[1] = report.ress_forward_identity;
  ress_[2] = report.ress_inverse;
  ress_[3] = report.ress_inverse_identity;
  kl_gain_[0] = report.kl_gain_forward;
  kl_gain_[1] = report.kl_gain_inverse;
  times_.network += seconds_since(start);
}

void FlowMapTraining::log_progress()
{
  if (comm->me != 0) return;
  const auto &trainer = session_.trainer();
  auto ratio = [](double flow, double identity) {
    return identity > 0.0 ? fmt::format(" ({:.2f}x)", flow / identity) : std::string();
  };
  utils::logmesg(lmp,
                 "fix flowmap: step {} loss {:.6g} (kld {:.6g} nll {:.6g}{}) lr {:.3g} skipped {} | "
                 "RESS A->B {:.4g} id {:.4g}{} B->A {:.4g} id {:.4g}{} | KL gain {:.3f} {:.3f} | "
                 "pool {} + {} | time md {:.1f} energy {:.1f} net {:.1f} comm {:.1f} s\n",
                 trainer.steps(), loss_[0], loss_[1], loss_[2], reweighted_progress(),
                 trainer.learning_rate(),
                 trainer.skipped(), ress_[0], ress_[1], ratio(ress_[0], ress_[1]), ress_[2],
                 ress_[3], ratio(ress_[2], ress_[3]), kl_gain_[0], kl_gain_[1],
                 session_.pool(Ensemble::source).size(), session_.pool(Ensemble::target).size(),
                 times_.md, times_.energy, times_.network, times_.reduce);
}

std::string FlowMapTraining::reweighted_progress() const
{
  if (settings_.session.training.weight_reweighted <= 0.0) return {};
  return fmt::format(" reweighted {:.6g} batch ESS {:.1f}", loss_[3], batch_ess_);
}

void FlowMapTraining::report()
{
  validate();
  log_progress();
}

void FlowMapTraining::use_average(bool averaged)
{
  if (averaged == averaged_in_) return;
  session_.trainer().swap_average();
  averaged_in_ = averaged;
}

void FlowMapTraining::write_checkpoint(torch::serialize::OutputArchive &archive)
{
  // The checkpoint holds the live parameters and their average separately.
  if (averaged_in_) session_.trainer().swap_average();
  session_.write_checkpoint(archive);
  if (averaged_in_) session_.trainer().swap_average();
  archive.write(kScheduleKey, torch::tensor({steps_due_, static_cast<double>(frames_collected_)},
                                            torch::kFloat64));
}

void FlowMapTraining::restore(const torch::Tensor &schedule)
{
  steps_due_ = schedule[0].item<double>();
  frames_collected_ = static_cast<std::int64_t>(schedule[1].item<double>());
}

void FlowMapTraining::save()
{
  const auto &s = settings_;
  // Every partition holds the same model: the first process of the universe writes it, and
  // a failure reaches every process so that none waits for the others.
  try {
    flowmap::run_collectively(universe->uworld, [&] {
      if (universe->me != 0) return;
      if (!s.save.empty()) {
        // The model file holds what validation measured: the averaged parameters.
        std::unique_ptr<flowmap::AveragedParameters> averaged;
        if (!averaged_in_)
          averaged = std::make_unique<flowmap::AveragedParameters>(session_.trainer());
        flowmap::save_model(session_.model(), s.save);
      }
      if (!s.checkpoint_file.empty()) {
        torch::serialize::OutputArchive archive;
        write_checkpoint(archive);
        flowmap::save_archive(archive, s.checkpoint_file, "checkpoint");
      }
    });
  } catch (flowmap::CollectiveError &err) {
    error->all(FLERR, "Fix flowmap could not save: {}", err.what());
  }
}
