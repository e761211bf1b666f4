/* ----------------------------------------------------------------------
   USER-FLOWMAP: Cartesian flow model between a source and a target box.
------------------------------------------------------------------------- */

#include "flowmap_model.h"

#include "flowmap_coordinates.h"
#include "flowmap_weights.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace flowmap {

namespace {

void check_box(const std::vector<double> &box, std::int64_t dimension, const char *name)
{
  bool ok = static_cast<std::int64_t>(box.size()) == dimension;
  for (double l : box) ok = ok && l > 0.0 && std::isfinite(l);
  if (!ok)
    throw std::invalid_argument(std::string("FlowModel: ") + name + " must be " +
                                std::to_string(dimension) + " positive box lengths");
}

}    // namespace

FlowModel::FlowModel(const FlowOptions &options, const ModelMetadata &metadata) :
    options_(options), metadata_(metadata)
{
  options_.validate();
  check_box(metadata_.source_box, options_.dimension, "source_box");
  check_box(metadata_.target_box, options_.dimension, "target_box");
  flow_ = Flow(options_);
}

MappedConfigurations FlowModel::map(const torch::Tensor &x, const torch::Tensor &reference,
                                    const torch::Tensor &symmetry, bool inverse)
{
  if (!x.defined() || x.dim() != 3 || x.size(1) != options_.num_particles ||
      x.size(2) != options_.dimension)
    throw std::invalid_argument("FlowModel: positions must have shape [B, " +
                                std::to_string(options_.num_particles) + ", " +
                                std::to_string(options_.dimension) + "]");
  const auto &from = inverse ? metadata_.target_box : metadata_.source_box;
  const auto &to = inverse ? metadata_.source_box : metadata_.target_box;
  check_box(from, options_.dimension, "box");
  check_box(to, options_.dimension, "box");
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(x.device());
  const auto box_from = torch::tensor(from, f64), box_to = torch::tensor(to, f64);
  const auto c = to_internal(x.to(torch::kFloat64), box_from, reference, symmetry);
  const auto u = c.u.to(options_.device, options_.dtype);
  const auto r = inverse ? flow_->inverse(u) : flow_->forward(u);
  // Apply the flow as a float64 displacement of the float64 input: a float32 network then
  // moves particles only as far as it actually maps them, instead of also rounding every
  // position to float32 (the identity stays exact, and so does the scaling baseline).
  const auto displacement = wrap_unit(r.u.to(f64) - u.to(f64));
  InternalCoordinates mapped{c.u + displacement, c.origin * (box_to / box_from)};
  return {to_cartesian(mapped, box_to, reference, symmetry),
          r.log_det.to(f64) + scaling_log_det(options_.num_particles, from, to)};
}

MappedConfigurations FlowModel::forward(const torch::Tensor &x_source,
                                        const torch::Tensor &reference,
                                        const torch::Tensor &symmetry)
{
  return map(x_source, reference, symmetry, false);
}

MappedConfigurations FlowModel::inverse(const torch::Tensor &x_target,
                                        const torch::Tensor &reference,
                                        const torch::Tensor &symmetry)
{
  return map(x_target, reference, symmetry, true);
}

}    // namespace flowmap
