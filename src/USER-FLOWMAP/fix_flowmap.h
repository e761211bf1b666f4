/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: fix flowmap

   Streams decorrelated frames of the running simulation into a normalizing flow, trains it
   on the fly to map the source ensemble onto the target ensemble (energies through real
   LAMMPS pair styles), and maps frames for inference with their importance weights.
   The math lives in the flow core (flowmap_*.h); this class parses, wires and reports.
------------------------------------------------------------------------- */

#ifdef FIX_CLASS
// clang-format off
FixStyle(flowmap,FixFlowMap);
// clang-format on
#else

#ifndef LMP_FIX_FLOWMAP_H
#define LMP_FIX_FLOWMAP_H

#include "fix.h"

#include <torch/serialize/archive.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace flowmap {
class Session;
struct SessionOptions;
struct StepReport;
struct ValidationReport;
}    // namespace flowmap

namespace LAMMPS_NS {

class FlowMapBridge;
class FlowMapFrame;

// One frame mapped in inference, as compute ress (fix mode) reads it.
struct FlowMapWeighedFrame {
  bigint step;
  double energy_from;            // the simulated frame's energy in its own Hamiltonian
  double energy_to;              // true energy of the flow-mapped frame in the other one
  double log_weight;             // flow
  double energy_to_identity;     // the same for the identity / isotropic-scaling baseline
  double log_weight_identity;
};

class FixFlowMap : public Fix {
 public:
  FixFlowMap(class LAMMPS *, int, char **);
  ~FixFlowMap() override;
  int setmask() override;
  void init() override;
  void setup(int) override;
  void end_of_step() override;
  void post_run() override;
  double compute_vector(int) override;
  int modify_param(int, char **) override;
  void write_restart(FILE *) override;
  void restart(char *) override;
  void grow_arrays(int) override;
  void copy_arrays(int, int, int) override;
  double memory_usage() override;

  // For compute ress: every frame mapped so far, in order, after mapping any frames still
  // waiting for their batch (collective).
  const std::vector<FlowMapWeighedFrame> &weighed_frames();
  bool mapping() const { return mode_ == Mode::map; }

 private:
  enum class Mode { train, map };
  struct Settings;

  void parse(int narg, char **arg);
  void build();
  void load_frames();
  void take_frame();
  void collect(const std::vector<double> &frame);
  void train_due_steps();
  void buffer_frame(const std::vector<double> &frame);
  void map_buffered();
  void validate();
  void save();
  void write_checkpoint(torch::serialize::OutputArchive &archive);
  void check_decorrelation();
  void log_progress();
  double own_energy(const std::vector<double> &frame);

  std::unique_ptr<Settings> settings_;
  Mode mode_;
  bool built_ = false;
  bool resumed_ = false;    // training state restored from a restart or checkpoint
  bool averaged_in_ = false;    // the model holds the averaged parameters (mapping after training)
  std::string restart_bytes_;    // a read_restart state, applied when the session is built

  std::unique_ptr<FlowMapFrame> frame_;
  std::unique_ptr<FlowMapBridge> source_bridge_, target_bridge_;
  std::unique_ptr<flowmap::Session> session_;

  // progress, exposed through compute_vector
  double steps_due_ = 0.0;
  std::int64_t frames_collected_ = 0;
  double last_loss_[3] = {0.0, 0.0, 0.0};    // total, KLD, NLL
  double ress_[4] = {0.0, 0.0, 0.0, 0.0};    // flow/identity forward, flow/identity inverse
  double kl_gain_[2] = {0.0, 0.0};           // forward, inverse
  double time_md_ = 0.0, time_energy_ = 0.0, time_network_ = 0.0, time_reduce_ = 0.0;
  double inefficiency_ = 1.0;    // of energy_series_, the simulated state's energy per frame
  std::size_t next_decorrelation_estimate_ = 512;
  bool warned_correlated_ = false;
  std::vector<double> energy_series_;
  std::chrono::steady_clock::time_point left_fix_;
  bool timing_ = false;

  bigint last_frame_step_ = -1;
  std::vector<double> map_buffer_;    // frames waiting to be mapped in one batch
  std::vector<bigint> map_steps_;
  std::vector<FlowMapWeighedFrame> weighed_;
  double **mapped_ = nullptr;    // per-atom mapped positions (array_atom)
};

}    // namespace LAMMPS_NS

#endif
#endif
