/* ----------------------------------------------------------------------
   USER-FLOWMAP: coupling flow.
------------------------------------------------------------------------- */

#include "flowmap_flow.h"

#include "flowmap_flow_kernel.h"

#include <algorithm>
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

// The two halves S, S' of a pseudo-random partition of the particles, ascending, each species
// split in halves (species: of each particle; empty: one species). Written out rather than
// drawn from LibTorch's generator so that a model file rebuilds the same partitions with any
// LibTorch version: they are part of the architecture, not parameters. A species of odd size
// gives its extra particle to S' and S in turn, starting with S', so that a single species
// gets the partition of the type-blind flow.
std::vector<std::vector<std::int64_t>> particle_halves(std::int64_t particles,
                                                       const InternalSpecies &species,
                                                       std::uint64_t stream)
{
  std::vector<std::vector<std::int64_t>> members(species.count);
  for (std::int64_t i = 0; i < particles; ++i)
    members[species.of_row.empty() ? 0 : species.of_row[i]].push_back(i);
  std::vector<std::vector<std::int64_t>> halves(2);
  std::uint64_t state = stream;
  bool extra_to_second = true;
  for (auto &order : members) {
    const auto m = static_cast<std::int64_t>(order.size());
    for (std::int64_t i = m - 1; i > 0; --i)
      std::swap(order[i], order[splitmix64(state) % static_cast<std::uint64_t>(i + 1)]);
    auto first = m / 2;
    if (m % 2 == 1) {
      if (!extra_to_second) ++first;
      extra_to_second = !extra_to_second;
    }
    halves[0].insert(halves[0].end(), order.begin(), order.begin() + first);
    halves[1].insert(halves[1].end(), order.begin() + first, order.end());
  }
  for (auto &h : halves) {
    // An empty half would turn its coupling into a component split.
    if (h.empty()) throw std::invalid_argument("Flow: the particle split needs two particles");
    std::sort(h.begin(), h.end());
  }
  return halves;
}

}    // namespace

FlowImpl::FlowImpl(const FlowOptions &options, const InternalSpecies &species) :
    options_(options), species_(species)
{
  options_.validate();
  const auto d = options_.dimension;
  const auto particles = options_.num_particles - 1;
  if (species_.count < 1)
    throw std::invalid_argument("Flow: the number of species must be at least 1");
  torch::Tensor one_hot;
  if (species_.count > 1) {
    if (static_cast<std::int64_t>(species_.of_row.size()) != particles)
      throw std::invalid_argument("Flow: " + std::to_string(species_.of_row.size()) +
                                  " species given for the " + std::to_string(particles) +
                                  " particles besides the reference");
    one_hot = torch::zeros({particles, species_.count}, torch::kFloat64);
    for (std::int64_t i = 0; i < particles; ++i) {
      const auto s = species_.of_row[i];
      if (s < 0 || s >= species_.count)
        throw std::invalid_argument("Flow: species index outside [0, count)");
      one_hot[i][s] = 1.0;
    }
  } else {
    species_.of_row.clear();
  }
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
          const auto halves = particle_halves(
              particles, species_, static_cast<std::uint64_t>((b * 2 + half) * d + i));
          parts = {{name + "a", halves[0]}, {name + "b", halves[1]}};
        }
        for (const auto &part : parts) {
          Step step;
          step.coupling =
              register_module(part.first, Coupling(component, options_, part.second, one_hot));
          steps_.push_back(step);
          couplings_.push_back(step.coupling);
        }
      }
    }
  }
  to(options_.device, options_.dtype);
}

void FlowImpl::to_device(torch::Device device)
{
  options_.device = device;
  to(device);
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
  if (FlowKernel::applies(*this, u_in)) return FlowKernel::run(*this, u_in, false);
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
  if (FlowKernel::applies(*this, u_in)) return FlowKernel::run(*this, u_in, true);
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
