/* ----------------------------------------------------------------------
   USER-FLOWMAP: flow sizes, presets and their validation.
------------------------------------------------------------------------- */

#include "flowmap_flow_options.h"

#include <sstream>
#include <stdexcept>

namespace flowmap {

namespace {

void require(bool ok, const std::string &field, const std::string &expected, double value)
{
  if (ok) return;
  std::ostringstream msg;
  msg << "flow option '" << field << "' must be " << expected << ", got " << value;
  throw std::invalid_argument(msg.str());
}

// Presets as rows of the sizes() table, in its order. "default" is the member initialisers.
struct Preset {
  const char *name;
  CouplingSplit split;
  std::vector<std::int64_t> sizes;    // empty: FlowOptions' member initialisers
};

const std::vector<Preset> &presets()
{
  // The study's architecture has no pair bias; "small" and "tiny" keep none so that they stay
  // the fixtures the tests and bench_flow have always timed.
  //                                         blocks bins freq embed heads layers ff pair
  static const std::vector<Preset> table = {
      {"published", CouplingSplit::component, {8, 16, 8, 128, 2, 1, 512, 0}},
      {"default", FlowOptions().split, {}},
      {"small", CouplingSplit::component, {2, 8, 4, 32, 2, 1, 64, 0}},
      {"tiny", CouplingSplit::component, {1, 6, 2, 8, 2, 1, 16, 0}},
  };
  return table;
}

}    // namespace

const std::vector<FlowOptions::Size> &FlowOptions::sizes()
{
  static const std::vector<Size> table = {
      {"blocks", &FlowOptions::blocks, 1},       {"bins", &FlowOptions::bins, 2},
      {"frequencies", &FlowOptions::frequencies, 1}, {"embedding", &FlowOptions::embedding, 1},
      {"heads", &FlowOptions::heads, 1},         {"layers", &FlowOptions::layers, 0},
      {"feedforward", &FlowOptions::feedforward, 1},
      {"pair_frequencies", &FlowOptions::pair_frequencies, 0, 4}};
  return table;
}

std::int64_t &FlowOptions::size(const std::string &name)
{
  for (const auto &s : sizes())
    if (name == s.name) return this->*s.member;
  std::string valid;
  for (const auto &s : sizes()) valid += (valid.empty() ? "" : ", ") + std::string(s.name);
  throw std::invalid_argument("unknown flow size '" + name + "'; valid: " + valid);
}

std::int64_t FlowOptions::size(const std::string &name) const
{
  return const_cast<FlowOptions *>(this)->size(name);
}

std::vector<std::string> FlowOptions::preset_names()
{
  std::vector<std::string> names;
  for (const auto &p : presets()) names.emplace_back(p.name);
  return names;
}

FlowOptions FlowOptions::preset(const std::string &name, std::int64_t num_particles,
                                std::int64_t dimension)
{
  FlowOptions o;
  o.num_particles = num_particles;
  o.dimension = dimension;
  for (const auto &p : presets()) {
    if (name != p.name) continue;
    o.split = p.split;
    for (std::size_t i = 0; i < p.sizes.size(); ++i) o.*(sizes()[i].member) = p.sizes[i];
    return o;
  }
  std::string valid;
  for (const auto &n : preset_names()) valid += (valid.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown flow preset '" + name + "'; valid presets: " + valid);
}

void FlowOptions::validate() const
{
  require(num_particles >= 2, "num_particles", "at least 2", num_particles);
  require(dimension == 2 || dimension == 3, "dimension", "2 or 3", dimension);
  require(split != CouplingSplit::particle || num_particles >= 3, "num_particles",
          "at least 3 for the particle split", num_particles);
  for (const auto &s : sizes()) {
    const std::int64_t value = this->*s.member;
    require(value >= s.minimum, s.name,
            s.minimum == 0 ? "0 or more" : "at least " + std::to_string(s.minimum), value);
  }
  require(pair_frequencies <= frequencies, "pair_frequencies",
          "at most frequencies (" + std::to_string(frequencies) + ")", pair_frequencies);
  // The bias acts on attention scores; without encoder layers there are none, and a
  // keyword that silently does nothing would be mistaken for a measured setting.
  require(pair_frequencies == 0 || layers > 0, "pair_frequencies",
          "0 when layers is 0 (it biases the attention of the encoder layers)", pair_frequencies);
  require(embedding % heads == 0, "embedding",
          "positive and a multiple of heads (" + std::to_string(heads) + ")", embedding);
  require(min_bin_size > 0.0 && bins * min_bin_size < 2.0, "min_bin_size",
          "positive with bins * min_bin_size < 2", min_bin_size);
  require(min_derivative > 0.0 && min_derivative < 1.0, "min_derivative", "in (0, 1)",
          min_derivative);
  if (dtype != torch::kFloat32 && dtype != torch::kFloat64)
    throw std::invalid_argument("flow option 'dtype' must be float32 or float64");
}

std::string FlowOptions::describe() const
{
  std::ostringstream s;
  s << "N=" << num_particles << " d=" << dimension;
  for (const auto &size : sizes())
    if (size.since_format == 1 || this->*size.member != 0)
      s << " " << size.name << "=" << this->*size.member;
  s << " ";
  // Only the particle split is named: the text of a component-split flow is what it was
  // before the split existed, so the checksums of those model files still verify.
  if (split == CouplingSplit::particle) s << "split=particle ";
  s << dtype_name(dtype) << " "
    << device.str();
  return s.str();
}

std::string split_name(CouplingSplit split)
{
  return split == CouplingSplit::particle ? "particle" : "component";
}

CouplingSplit split_from_name(const std::string &name)
{
  if (name == "component") return CouplingSplit::component;
  if (name == "particle") return CouplingSplit::particle;
  throw std::invalid_argument("unknown coupling split '" + name + "'; valid: component, particle");
}

std::string dtype_name(torch::Dtype dtype)
{
  if (dtype == torch::kFloat32) return "float32";
  if (dtype == torch::kFloat64) return "float64";
  throw std::invalid_argument("flow dtype must be float32 or float64");
}

torch::Dtype dtype_from_name(const std::string &name)
{
  if (name == "float32") return torch::kFloat32;
  if (name == "float64") return torch::kFloat64;
  throw std::invalid_argument("unknown dtype '" + name + "'; valid: float32, float64");
}

torch::Device device_from_name(const std::string &name)
{
  if (name == "cpu") return torch::kCPU;
  if (name.rfind("cuda", 0) != 0)
    throw std::invalid_argument("unknown device '" + name + "'; valid: cpu, cuda, cuda:K");
  std::int64_t index = 0;
  if (name.size() > 4) {
    const auto digits = name.substr(5);
    if (name[4] != ':' || digits.empty() ||
        digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 4)
      throw std::invalid_argument("unknown device '" + name + "'; valid: cpu, cuda, cuda:K");
    index = std::stoll(digits);
  }
  if (!torch::cuda::is_available())
    throw std::invalid_argument("device " + name + " needs a LibTorch built with CUDA and a "
                                "visible NVIDIA GPU; the LibTorch of this build has no usable "
                                "CUDA device (use device cpu, the default, or rebuild against a "
                                "CUDA LibTorch as doc/install.md describes)");
  const auto count = static_cast<std::int64_t>(torch::cuda::device_count());
  if (index >= count)
    throw std::invalid_argument("device " + name + ": this process sees " +
                                std::to_string(count) + " CUDA device(s), numbered from 0");
  return {torch::kCUDA, static_cast<c10::DeviceIndex>(index)};
}

}    // namespace flowmap
