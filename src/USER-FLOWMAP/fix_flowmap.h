/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: fix flowmap

   Streams decorrelated frames of the running simulation into a normalizing flow, trains it
   on the fly to map the source ensemble onto the target ensemble (energies through real
   LAMMPS pair styles), and maps frames for inference with their importance weights.
   This class is the fix's lifecycle: the keywords are fix_flowmap_settings, the session is
   built by the core's session factory, frames are gathered by FlowMapFrame, energies and
   mapping over the ranks are the parallel layer's (src/parallel).
------------------------------------------------------------------------- */

#ifdef FIX_CLASS
// clang-format off
FixStyle(flowmap,FixFlowMap);
// clang-format on
#else

#ifndef LMP_FIX_FLOWMAP_H
#define LMP_FIX_FLOWMAP_H

#include "fix.h"

#include "fix_flowmap_mapper.h"
#include "fix_flowmap_settings.h"
#include "fix_flowmap_training.h"
#include "flowmap_autocorrelation.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace flowmap {
class Session;
}    // namespace flowmap

namespace LAMMPS_NS {

class FlowMapBridge;
class FlowMapFrame;

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
  bool mapping() const { return settings_.mode == FlowMapSettings::Mode::map; }
  // Different for every fix flowmap created in the process: after unfix and a new fix with the
  // same ID (which may even reuse the old one's address), compute ress knows it is another.
  std::uint64_t serial() const { return serial_; }

 private:
  using Mode = FlowMapSettings::Mode;

  void build();
  void adopt_restart_types();
  void check_other_fixes();
  void check_memory(int natoms, int dimension);
  void check_hamiltonian();
  void make_bridges(const std::vector<double> (&boxes)[2]);
  void set_threads();
  void check_files();
  void make_session(const std::vector<double> (&boxes)[2]);
  void take_frame();
  void collect(const std::vector<double> &frame);
  void map_buffered();
  void track_decorrelation(const std::vector<double> &energies);
  double own_energy(const std::vector<double> &frame);

  FlowMapSettings settings_;
  std::uint64_t serial_;
  bool built_ = false;
  bool hamiltonian_checked_ = false;
  bool resumed_ = false;        // training state restored from a restart or checkpoint
  std::string restart_bytes_;    // a read_restart state, applied when the session is built

  std::unique_ptr<FlowMapFrame> frame_;
  std::unique_ptr<FlowMapBridge> source_bridge_, target_bridge_;
  std::unique_ptr<flowmap::Session> session_;
  std::unique_ptr<FlowMapTraining> training_;
  std::unique_ptr<FlowMapMapper> mapper_;

  FlowMapTimes times_;
  flowmap::InefficiencyTracker decorrelation_;    // of the simulated state's energy per frame
  bool warned_correlated_ = false;
  std::chrono::steady_clock::time_point left_fix_;
  bool timing_ = false;

  bigint last_frame_step_ = -1;
  double **mapped_ = nullptr;    // per-atom mapped positions (array_atom)
};

}    // namespace LAMMPS_NS

#endif
#endif
