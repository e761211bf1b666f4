/* ----------------------------------------------------------------------
   USER-FLOWMAP: component coupling layer.
------------------------------------------------------------------------- */

#include "flowmap_coupling.h"

#include "flowmap_spline.h"

#include <stdexcept>
#include <vector>

namespace flowmap {

CouplingImpl::CouplingImpl(std::int64_t component, const FlowOptions &options) :
    component_(component), bins_(options.bins), min_bin_size_(options.min_bin_size),
    min_derivative_(options.min_derivative)
{
  if (component < 0 || component >= options.dimension)
    throw std::invalid_argument("Coupling: component outside the dimension");
  conditioner_ = register_module("conditioner", Conditioner(options.dimension - 1, options));
}

FlowResult CouplingImpl::apply(const torch::Tensor &u, bool inverse)
{
  const auto d = u.size(2);
  std::vector<torch::Tensor> conditioning;
  for (std::int64_t j = 0; j < d; ++j)
    if (j != component_) conditioning.push_back(u.narrow(2, j, 1));
  const auto raw = conditioner_->forward(
      conditioning.size() == 1 ? conditioning.front() : torch::cat(conditioning, 2));
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
