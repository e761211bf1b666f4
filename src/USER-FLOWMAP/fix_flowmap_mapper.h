/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: fix flowmap's map mode, the LAMMPS side of the distributed mapper.

   Frames are buffered (every rank holds every frame) and mapped a batch at a time by
   flowmap::map_distributed (src/parallel), which splits them over the ranks. The weighed
   frames are kept in order for compute ress; the image of the last frame of each batch,
   wrapped into the other box, is the fix's per-atom output.
------------------------------------------------------------------------- */

#ifndef LMP_FIX_FLOWMAP_MAPPER_H
#define LMP_FIX_FLOWMAP_MAPPER_H

#include "pointers.h"

#include <cstdint>
#include <vector>

namespace flowmap {
class Session;
}

namespace LAMMPS_NS {

class FlowMapBridge;

// One frame mapped in inference, as compute ress (fix mode) reads it.
struct FlowMapWeighedFrame {
  bigint step;
  double energy_from;            // the simulated frame's energy in its own Hamiltonian
  double energy_to;              // true energy of the flow-mapped frame in the other one
  double log_weight;             // flow
  double energy_to_identity;     // the same for the identity / isotropic-scaling baseline
  double log_weight_identity;
};

class FlowMapMapper : protected Pointers {
 public:
  // forward: the simulation samples the source (from: source, to: target).
  FlowMapMapper(LAMMPS *lmp, flowmap::Session &session, bool forward, FlowMapBridge &from,
                FlowMapBridge &to);

  // Buffers the frame of the current step; returns how many frames are waiting. relabelling:
  // the atom index (ID - 1) of each row of the frame, empty when rows are atoms by ID
  // (FlowMapFrame::relabelling()).
  std::size_t add(const std::vector<double> &frame, const std::vector<std::int64_t> &relabelling);
  // Maps the buffered frames (collective: every rank calls it at the same point), appends
  // them to frames() (a NaN or +inf log-weight becomes weight 0, counted and warned) and
  // writes the image of the last one into mapped (nlocal x 3, the
  // per-atom output). The number of frames mapped; error->all if mapping failed anywhere.
  std::int64_t flush(double **mapped);

  const std::vector<FlowMapWeighedFrame> &frames() const { return weighed_; }

 private:
  flowmap::Session &session_;
  bool forward_;
  FlowMapBridge &from_, &to_;
  std::vector<double> buffer_;    // frames waiting to be mapped in one batch
  std::vector<bigint> steps_;
  std::vector<std::int64_t> last_relabelling_;    // of the last buffered frame
  std::vector<FlowMapWeighedFrame> weighed_;
  std::int64_t nonfinite_ = 0;    // frames given weight 0 for a NaN or +inf log-weight

  void write_image(const std::vector<double> &image, double **mapped);
};

}    // namespace LAMMPS_NS

#endif
