/* ----------------------------------------------------------------------
   USER-FLOWMAP: coupling flow.
------------------------------------------------------------------------- */

#include "flowmap_flow.h"

#include <stdexcept>
#include <string>

namespace flowmap {

FlowImpl::FlowImpl(const FlowOptions &options) : options_(options)
{
  options_.validate();
  const auto d = options_.dimension;
  for (std::int64_t b = 0; b < options_.blocks; ++b) {
    const std::string block = "block" + std::to_string(b) + "_";
    for (int half = 0; half < 2; ++half) {
      Step shift;
      shift.shift = register_module(block + "shift" + std::to_string(half), Shift(d));
      steps_.push_back(shift);
      for (std::int64_t i = 0; i < d; ++i) {
        const auto component = half == 0 ? i : d - 1 - i;
        Step step;
        step.coupling = register_module(
            block + "coupling" + std::to_string(half * d + i), Coupling(component, options_));
        steps_.push_back(step);
        couplings_.push_back(step.coupling);
      }
    }
  }
  to(options_.device, options_.dtype);
}

torch::Tensor FlowImpl::prepare(const torch::Tensor &u) const
{
  if (!u.defined() || u.dim() != 3 || u.size(1) != options_.num_particles - 1 ||
      u.size(2) != options_.dimension)
    throw std::invalid_argument("Flow: input must have shape [B, " +
                                std::to_string(options_.num_particles - 1) + ", " +
                                std::to_string(options_.dimension) + "]");
  return u.to(options_.device, options_.dtype).contiguous();
}

FlowResult FlowImpl::forward(const torch::Tensor &u_in)
{
  auto u = prepare(u_in);
  auto log_det = torch::zeros({u.size(0)}, u.options());
  for (auto &step : steps_) {
    if (step.shift) {
      u = step.shift->forward(u);
    } else {
      auto r = step.coupling->forward(u);
      u = r.u;
      log_det = log_det + r.log_det;
    }
  }
  return {u, log_det};
}

FlowResult FlowImpl::inverse(const torch::Tensor &u_in)
{
  auto u = prepare(u_in);
  auto log_det = torch::zeros({u.size(0)}, u.options());
  for (auto step = steps_.rbegin(); step != steps_.rend(); ++step) {
    if (step->shift) {
      u = step->shift->inverse(u);
    } else {
      auto r = step->coupling->inverse(u);
      u = r.u;
      log_det = log_det + r.log_det;
    }
  }
  return {u, log_det};
}

}    // namespace flowmap
