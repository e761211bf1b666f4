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

}    // namespace

std::vector<std::string> FlowOptions::preset_names()
{
  return {"published", "default", "small", "tiny"};
}

FlowOptions FlowOptions::preset(const std::string &name, std::int64_t num_particles,
                                std::int64_t dimension)
{
  FlowOptions o;
  o.num_particles = num_particles;
  o.dimension = dimension;
  if (name == "published") {
    o.split = CouplingSplit::component;
    o.blocks = 8;
    o.bins = 16;
    o.frequencies = 8;
    o.embedding = 128;
    o.heads = 2;
    o.layers = 1;
    o.feedforward = 512;
  } else if (name == "default") {
    // the member initialisers are the default preset
  } else if (name == "small") {
    o.split = CouplingSplit::component;
    o.blocks = 2;
    o.bins = 8;
    o.frequencies = 4;
    o.embedding = 32;
    o.heads = 2;
    o.layers = 1;
    o.feedforward = 64;
  } else if (name == "tiny") {
    o.split = CouplingSplit::component;
    o.blocks = 1;
    o.bins = 6;
    o.frequencies = 2;
    o.embedding = 8;
    o.heads = 2;
    o.layers = 1;
    o.feedforward = 16;
  } else {
    std::string valid;
    for (const auto &n : preset_names()) valid += (valid.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown flow preset '" + name + "'; valid presets: " + valid);
  }
  return o;
}

void FlowOptions::validate() const
{
  require(num_particles >= 2, "num_particles", "at least 2", num_particles);
  require(dimension == 2 || dimension == 3, "dimension", "2 or 3", dimension);
  require(split != CouplingSplit::particle || num_particles >= 3, "num_particles",
          "at least 3 for the particle split", num_particles);
  require(blocks >= 1, "blocks", "at least 1", blocks);
  require(bins >= 2, "bins", "at least 2", bins);
  require(frequencies >= 1, "frequencies", "at least 1", frequencies);
  require(heads >= 1, "heads", "at least 1", heads);
  require(embedding >= 1 && embedding % heads == 0, "embedding",
          "positive and a multiple of heads (" + std::to_string(heads) + ")", embedding);
  require(layers >= 0, "layers", "0 or more", layers);
  require(feedforward >= 1, "feedforward", "at least 1", feedforward);
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
  s << "N=" << num_particles << " d=" << dimension << " blocks=" << blocks << " bins=" << bins
    << " frequencies=" << frequencies << " embedding=" << embedding << " heads=" << heads
    << " layers=" << layers << " feedforward=" << feedforward << " ";
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

}    // namespace flowmap
