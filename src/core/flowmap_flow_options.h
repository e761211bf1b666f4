/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: every size of the flow in one struct (doc/method.md section 9).

   The model file stores all of these, so a loaded flow is rebuilt with exactly the
   architecture it was trained with.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_FLOW_OPTIONS_H
#define FLOWMAP_FLOW_OPTIONS_H

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace flowmap {

// How a coupling splits the coordinates (doc/method.md section 9 and doc/design.md section 4).
//   component: C(c | rest) transforms component c of every particle, conditioned on the other
//     components of all particles (the published layout). No coupling sees the distance
//     between two particles along c, so pair structure is learnt only through depth.
//   particle: each such coupling is two, C(c of S | rest) and C(c of S' | rest), for a fixed
//     partition S, S' of the particles; the conditioner sees every coordinate but the ones
//     being transformed, so a particle's spline knows where its untransformed neighbours are.
enum class CouplingSplit { component, particle };

struct FlowOptions {
  std::int64_t num_particles = 32;    // N including the reference particle
  std::int64_t dimension = 2;         // 2 or 3
  // The member defaults are the "default" preset (the CPU default, see bench/README.md).
  std::int64_t blocks = 2;            // each block: 2 shifts and 2d couplings (4d when split
                                      // by particle)
  std::int64_t bins = 16;             // K, bins of the circular spline
  std::int64_t frequencies = 8;       // F, circular features cos/sin(k pi u), k = 1..F
  std::int64_t embedding = 32;        // width of the transformer
  std::int64_t heads = 2;
  std::int64_t layers = 1;            // transformer encoder layers per conditioner
  std::int64_t feedforward = 64;      // hidden width of the encoder's feed-forward part
  // Kp, frequencies of the attention's pair bias (0: none): each head adds
  // sum over components a and k <= Kp of w_hak cos(k pi (u_ia - u_ja)) to the score of
  // particles i and j, so attention can pick out near neighbours from the first step
  // (bench/README.md, "Scaling with N"). Model files before format 4 have none (read as 0).
  std::int64_t pair_frequencies = 1;
  CouplingSplit split = CouplingSplit::particle;
  // Floors that keep every spline bin and knot slope away from zero, so the inverse and the
  // log-derivative stay finite whatever the conditioner outputs. Bin sizes are in internal
  // units, where the circle [-1, 1) has length 2.
  double min_bin_size = 1e-3;
  double min_derivative = 1e-3;
  torch::Dtype dtype = torch::kFloat32;
  torch::Device device = torch::kCPU;

  // The integer sizes of the network, in the order model files and describe() list them. This
  // table is the one list of them: presets, the model file's writer and reader, fix flowmap's
  // keywords of the same names and bench_flow's flags all go through it.
  struct Size {
    const char *name;                     // model file entry, fix flowmap keyword, flag
    std::int64_t FlowOptions::*member;
    std::int64_t minimum;                 // smallest value validate() accepts
    // First model file format with the entry. A later size is written, and named by
    // describe(), only when it is not 0, so files and checksums without it stay as they were.
    std::int64_t since_format = 1;
  };
  static const std::vector<Size> &sizes();
  // The size of that name; std::invalid_argument naming the valid ones for any other name.
  std::int64_t &size(const std::string &name);
  std::int64_t size(const std::string &name) const;

  // "published" (doc/method.md section 9, component split, about 6.6 M parameters in 2D with
  // N = 32), "default" (particle split, 0.18 M), and the cheap "small" and "tiny" (component
  // split) for tests. Unknown name: std::invalid_argument.
  static FlowOptions preset(const std::string &name, std::int64_t num_particles,
                            std::int64_t dimension);
  static std::vector<std::string> preset_names();

  // std::invalid_argument naming the first bad field and what it must be.
  void validate() const;

  // 2D block: [shift, C(x|y), C(y|x), shift, C(y|x), C(x|y)]; 3D: 2 shifts and 6 couplings;
  // twice as many with the particle split.
  std::int64_t couplings_per_block() const
  {
    return 2 * dimension * (split == CouplingSplit::particle ? 2 : 1);
  }
  std::int64_t spline_parameters() const { return 3 * bins; }
  std::string describe() const;    // one line, for logs
};

// "component" / "particle"; std::invalid_argument for anything else.
std::string split_name(CouplingSplit split);
CouplingSplit split_from_name(const std::string &name);

// "float32" / "float64"; std::invalid_argument for anything else.
std::string dtype_name(torch::Dtype dtype);
torch::Dtype dtype_from_name(const std::string &name);

// "cpu", or "cuda" / "cuda:K" where this LibTorch has CUDA and sees that GPU;
// std::invalid_argument saying why otherwise (a CPU-only LibTorch, no GPU, a bad index).
torch::Device device_from_name(const std::string &name);

}    // namespace flowmap

#endif
