/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: compute ress in direct mode.

   The current frame mapped by the identity, or by the isotropic scaling
   x -> s x, s = (rho_source / rho_target)^(1/d), with log|det J| = N d log s, its target
   energy evaluated through the energy bridge, its source energy from the simulation's pe or
   from source pair commands; optionally the state-point scan (compute_ress_scan.h). Or, with
   keyword basin, the basin map (flowmap_basin_map.h): two samples per frame, its image about
   its inherent structure and the frame itself, with the weights of the defensive mixture.
------------------------------------------------------------------------- */

#ifndef LMP_COMPUTE_RESS_DIRECT_H
#define LMP_COMPUTE_RESS_DIRECT_H

#include "compute_ress_source.h"
#include "flowmap_lammps_frame.h"

#include <memory>
#include <string>
#include <vector>

namespace LAMMPS_NS {

class Compute;
class FlowMapBridge;
class RESSScan;

class RESSDirectSource : public RESSSampleSource {
 public:
  RESSDirectSource(LAMMPS *lmp, const char *id, const char *t_source, const char *t_target);
  ~RESSDirectSource() override;

  int parse_keyword(int narg, char **arg) override;
  void setup() override;
  void init() override;
  std::vector<RESSSample> samples() override;
  double memory_usage() const override;
  const char *keywords() const override
  {
    return "target, source, density, scan, basin, file, bootstrap or seed";
  }
  const char *file_lines() const override
  {
    return basin_ ? "one line per sample, two per frame: its image about its inherent "
                    "structure (log_w -inf where the image left the basin), then the frame"
                  : "one line per frame";
  }

 private:
  std::string id_;
  double t_source_, t_target_;
  double beta_source_ = 0.0, beta_target_ = 0.0;
  std::vector<std::string> target_commands_, source_commands_;
  double density_ = 0.0;    // 0: identity map
  std::unique_ptr<RESSScan> scan_;
  bool basin_ = false;
  double basin_factor_ = 0.0;    // 0 with basin: auto, sqrt(T_target / T_source)

  FlowMapFrame frame_;
  std::unique_ptr<FlowMapBridge> target_, source_;
  Compute *pe_ = nullptr;

  void build_bridges();
  std::vector<RESSSample> basin_samples(const std::vector<double> &frame,
                                        const std::vector<double> &box);
};

}    // namespace LAMMPS_NS

#endif
