/* ----------------------------------------------------------------------
   USER-FLOWMAP: coupling flow.
------------------------------------------------------------------------- */

#include "flowmap_flow.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

namespace flowmap {

namespace {

std::uint64_t splitmix64(std::uint64_t &state)
{
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// The two halves S, S' of a pseudo-random partition of the particles, ascending. Written out
// rather than drawn from LibTorch's generator so that a model file rebuilds the same
// partitions with any LibTorch version: they are part of the architecture, not parameters.
std::vector<std::vector<std::int64_t>> particle_halves(std::int64_t particles, std::uint64_t stream)
{
  std::vector<std::int64_t> order(particles);
  std::iota(order.begin(), order.end(), 0);
  std::uint64_t state = stream;
  for (std::int64_t i = particles - 1; i > 0; --i)
    std::swap(order[i], order[splitmix64(state) % static_cast<std::uint64_t>(i + 1)]);
  std::vector<std::vector<std::int64_t>> halves{
      {order.begin(), order.begin() + particles / 2}, {order.begin() + particles / 2, order.end()}};
  for (auto &h : halves) std::sort(h.begin(), h.end());
  return halves;
}

}    // namespace

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
        const auto name = block + "coupling" + std::to_string(half * d + i);
        std::vector<std::pair<std::string, std::vector<std::int64_t>>> parts{{name, {}}};
        if (options_.split == CouplingSplit::particle) {
          const auto halves =
              particle_halves(options_.num_particles - 1, static_cast<std::uint64_t>(
                                                              (b * 2 + half) * d + i));
          parts = {{name + "a", halves[0]}, {name + "b", halves[1]}};
        }
        for (const auto &part : parts) {
          Step step;
          step.coupling =
              register_module(part.first, Coupling(component, options_, part.second));
          steps_.push_back(step);
          couplings_.push_back(step.coupling);
        }
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
