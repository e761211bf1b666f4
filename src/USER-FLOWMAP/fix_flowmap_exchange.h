/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: fix flowmap/exchange

   Flow-mapped replica exchange between two LAMMPS partitions, one sampling the source state A
   and one the target state B: every N steps the partitions propose to swap their
   configurations through a fixed flow F (x_A -> F(x_A) into B, x_B -> F^-1(x_B) into A) and
   accept with the Metropolis rule of flowmap_exchange.h, so each partition's trajectory
   samples its own state exactly whatever the flow's quality. The flow is loaded from a model
   file (or is the identity / isotropic scaling: ordinary two-state replica exchange). The
   rule and the counters live in the flow core; this class parses, talks to the other
   partition, and moves the atoms.
------------------------------------------------------------------------- */

#ifdef FIX_CLASS
// clang-format off
FixStyle(flowmap/exchange,FixFlowMapExchange);
// clang-format on
#else

#ifndef LMP_FIX_FLOWMAP_EXCHANGE_H
#define LMP_FIX_FLOWMAP_EXCHANGE_H

#include "fix.h"

#include "flowmap_mapping.h"

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace flowmap {
class ExchangeStatistics;
class FlowModel;
class RandomStream;
}    // namespace flowmap

namespace LAMMPS_NS {

class FlowMapBridge;
class FlowMapFrame;
class Irregular;

class FixFlowMapExchange : public Fix {
 public:
  FixFlowMapExchange(class LAMMPS *, int, char **);
  ~FixFlowMapExchange() override;
  int setmask() override;
  void setup(int) override;
  void pre_exchange() override;
  double compute_vector(int) override;
  void write_restart(FILE *) override;
  void restart(char *) override;

 private:
  enum Role { SOURCE = 0, TARGET = 1 };

  void parse(int narg, char **arg);
  void prepare();
  std::string describe() const;
  void handshake();
  void adopt_common_types(const std::vector<std::string> (&field)[2], const int (&role)[2],
                          const std::string (&name)[2]);
  void build_bridges();
  void check_own_energy();
  void attempt();
  void evaluate_side(const std::vector<double> &frame, std::vector<double> &side);
  void place(const double *positions);
  void redraw_velocities();
  void fail_together(const std::string &failure);
  std::string partition_name(int world, int role) const;

  Role role_;
  int other_root_ = -1;                       // universe rank of the other partition's root
  double temperature_[2] = {0.0, 0.0};        // source, target
  std::vector<std::string> pair_commands_[2];
  std::string load_;                          // model file, or "identity"
  int seed_ = 0;
  bool redraw_ = true;                        // velocities after an accepted exchange
  int window_ = 100;
  std::string file_name_;
  FILE *fp_ = nullptr;

  bool prepared_ = false;
  std::string pending_failure_;    // from restart(), raised at setup by both partitions
  std::vector<int> model_types_;    // the flow's recorded types by atom ID; empty: none
  std::unique_ptr<FlowMapFrame> frame_;
  std::unique_ptr<flowmap::FlowModel> model_;            // partition root only; none: identity
  std::int64_t fingerprint_ = 0;                         // of the flow, for the handshake
  std::unique_ptr<FlowMapBridge> bridges_[2];            // partition root only
  std::vector<double> bridge_boxes_[2];
  flowmap::StatePair states_;
  std::unique_ptr<flowmap::ExchangeStatistics> statistics_;
  std::unique_ptr<flowmap::RandomStream> random_;
  std::unique_ptr<Irregular> irregular_;

  // the last attempt, for the output vector
  double log_weight_[2] = {0.0, 0.0};    // lw_fwd, lw_inv
  double log_alpha_ = 0.0, log_alpha_identity_ = 0.0;
  bool swapped_ = false;
  double seconds_ = 0.0;
};

}    // namespace LAMMPS_NS

#endif
#endif
