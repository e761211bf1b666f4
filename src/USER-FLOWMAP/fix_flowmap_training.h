/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: fix flowmap's train mode, the LAMMPS side of the session.

   Frames of the simulated state (every partition's, in world order) and of the frames files
   go into the session; each frame adds `steps` optimizer steps, taken once the pools hold a
   batch; every `validate` steps the hold-out sets are weighed, every `print` steps a progress
   line is logged, and the model file and checkpoint are written by the first process of the
   universe.
------------------------------------------------------------------------- */

#ifndef LMP_FIX_FLOWMAP_TRAINING_H
#define LMP_FIX_FLOWMAP_TRAINING_H

#include "pointers.h"

#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace flowmap {
class Session;
class Species;
}

namespace LAMMPS_NS {

class FlowMapBridge;
struct FlowMapSettings;

// Seconds spent in each part of the fix's work (its outputs 14 to 17).
struct FlowMapTimes {
  double md = 0.0, energy = 0.0, network = 0.0, reduce = 0.0;
};

class FlowMapTraining : protected Pointers {
 public:
  // settings: the fix's, read at every use (fix_modify changes steps).
  FlowMapTraining(LAMMPS *lmp, flowmap::Session &session, const FlowMapSettings &settings,
                  FlowMapTimes &times);

  // One frame of the simulated state with its own energy: every partition's frame of this
  // step enters the session, then the optimizer steps now due are taken. Collective over the
  // universe.
  void add_frame(const std::vector<double> &frame, double energy);
  // The frames files (keyword frames): read, relabelled to the system's species where a swap
  // run exchanged types (refused with other counts), their energies evaluated with bridge
  // over world.
  void add_frames_from_files(FlowMapBridge &bridge, const flowmap::Species &species);
  // Refuses frames files too few for the pool of their loss term, now that it has a weight.
  void check_file_frames() const;
  // Validation on the hold-out sets and a progress line (the end of a run).
  void report();
  // The model file and the checkpoint (universe rank 0; collective over the universe).
  void save();

  // The model holds the averaged parameters (mapping with a flow trained in this run).
  void use_average(bool averaged);
  // The session's checkpoint and this schedule's counters (entry kScheduleKey), so that a
  // resumed run takes its optimizer steps at the same frames as an uninterrupted one;
  // restore() takes the counters back.
  static constexpr const char *kScheduleKey = "fix_state";
  void write_checkpoint(torch::serialize::OutputArchive &archive);
  void restore(const torch::Tensor &schedule);

  double loss(int term) const { return loss_[term]; }      // total, KLD, NLL, reweighted NLL
  double batch_ess() const { return batch_ess_; }    // of the reweighted term's last batch
  double ress(int which) const { return ress_[which]; }    // flow/identity A->B, B->A
  double kl_gain(int direction) const { return kl_gain_[direction]; }
  std::int64_t frames() const { return frames_collected_; }

 private:
  flowmap::Session &session_;
  const FlowMapSettings &settings_;
  FlowMapTimes &times_;
  bool averaged_in_ = false;
  double steps_due_ = 0.0;
  std::int64_t frames_collected_ = 0;
  double loss_[4] = {0.0, 0.0, 0.0, 0.0};
  double batch_ess_ = 0.0;
  double ress_[4] = {0.0, 0.0, 0.0, 0.0};
  double kl_gain_[2] = {0.0, 0.0};

  void train_due_steps();
  void validate();
  void log_progress();
  std::string reweighted_progress() const;    // empty without the reweighted term
};

}    // namespace LAMMPS_NS

#endif
