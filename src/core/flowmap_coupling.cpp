/* ----------------------------------------------------------------------
   USER-FLOWMAP: component coupling layer.
------------------------------------------------------------------------- */

#include "flowmap_coupling.h"

#include "flowmap_spline.h"

#include <stdexcept>
#include <vector>

namespace flowmap {

CouplingImpl::CouplingImpl(std::int64_t component, const FlowOptions &options,
                           const std::vector<std::int64_t> &transformed,
                           const torch::Tensor &species) :
    component_(component), bins_(options.bins), min_bin_size_(options.min_bin_size),
    min_derivative_(options.min_derivative)
{
  const auto d = options.dimension;
  const auto particles = options.num_particles - 1;
  if (component < 0 || component >= d)
    throw std::invalid_argument("Coupling: component outside the dimension");
  if (species.defined() && (species.dim() != 2 || species.size(0) != particles))
    throw std::invalid_argument("Coupling: species must be one-hot rows [N-1, S]");
  const auto species_inputs = species.defined() ? species.size(1) : 0;
  if (transformed.empty()) {
    if (species.defined())
      labels_ = register_buffer("species", species.to(torch::kFloat64).to(options.dtype));
    conditioner_ = register_module("conditioner", Conditioner(d - 1, options, species_inputs));
    return;
  }
  const auto f = options.frequencies;
  auto hidden = torch::ones({particles, 2 * f * d}, torch::kFloat64);
  auto flag = torch::zeros({particles, 1}, torch::kFloat64);
  for (const auto i : transformed) {
    if (i < 0 || i >= particles)
      throw std::invalid_argument("Coupling: transformed particle outside [0, N-1)");
    // features() lays out [cos of each component (F each), sin of each component]
    hidden[i].narrow(0, component * f, f).zero_();
    hidden[i].narrow(0, (d + component) * f, f).zero_();
    flag[i][0] = 1.0;
  }
  // Not a buffer: Module::to(dtype) would turn the indices into floating point.
  transformed_ = torch::tensor(transformed, torch::kInt64);
  hidden_ = register_buffer("hidden", hidden.to(options.dtype));
  if (species.defined()) flag = torch::cat({flag, species.to(torch::kFloat64)}, 1);
  labels_ = register_buffer("flag", flag.to(options.dtype));
  conditioner_ = register_module("conditioner", Conditioner(d, options, 1 + species_inputs));
}

FlowResult CouplingImpl::apply(const torch::Tensor &u, bool inverse)
{
  if (transformed_.defined()) {
    const auto index = transformed_.to(u.device());
    const auto raw = conditioner_->forward(u, hidden_, labels_, index);
    const CircularSpline spline(raw, bins_, min_bin_size_, min_derivative_);
    auto columns = u.unbind(2);
    const auto moved = columns[component_].index_select(1, index);
    const auto mapped = inverse ? spline.inverse(moved) : spline.forward(moved);
    columns[component_] = columns[component_].index_copy(1, index, mapped.y);
    return {torch::stack(columns, 2), mapped.log_derivative.sum(1)};
  }
  const auto d = u.size(2);
  std::vector<torch::Tensor> conditioning;
  for (std::int64_t j = 0; j < d; ++j)
    if (j != component_) conditioning.push_back(u.narrow(2, j, 1));
  const auto raw = conditioner_->forward(
      conditioning.size() == 1 ? conditioning.front() : torch::cat(conditioning, 2), {},
      labels_);
  const CircularSpline spline(raw, bins_, min_bin_size_, min_derivative_);
  auto columns = u.unbind(2);
  const auto mapped = inverse ? spline.inverse(columns[component_])
                              : spline.forward(columns[component_]);
  columns[component_] = mapped.y;
  return {torch::stack(columns, 2), mapped.log_derivative.sum(1)};
}

FlowResult CouplingImpl::forward(const torch::Tensor &u)
{
  return apply(u, false);
}

FlowResult CouplingImpl::inverse(const torch::Tensor &u)
{
  return apply(u, true);
}

}    // namespace flowmap
