// Shared helpers of the flow-core tests: circular distances and randomised flows, so that
// invertibility and Jacobian tests do not pass trivially at the identity initialisation.
#ifndef FLOWMAP_FLOW_TEST_HELPERS_H
#define FLOWMAP_FLOW_TEST_HELPERS_H

#include "flowmap_coordinates.h"
#include "flowmap_flow.h"

#include <torch/torch.h>

namespace flowmap_test {

// Largest distance on the circle [-1, 1) between corresponding elements.
inline double max_circular_distance(const torch::Tensor &a, const torch::Tensor &b)
{
  return flowmap::wrap_unit(a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max()
      .item<double>();
}

// Largest distance between positions modulo a periodic box [d].
inline double max_periodic_distance(const torch::Tensor &a, const torch::Tensor &b,
                                    const torch::Tensor &box)
{
  const auto half = box.to(torch::kFloat64) * 0.5;
  return (flowmap::wrap_unit((a - b).to(torch::kFloat64) / half) * half).abs().max()
      .item<double>();
}

// Moves every conditioner head and shift away from zero (the rest is already random), so
// the flow is a non-trivial map. scale sets the size of the raw spline parameters.
inline void randomize_flow(flowmap::Flow &flow, double scale, std::uint64_t seed)
{
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto &item : flow->named_parameters()) {
    const auto &name = item.key();
    auto &p = item.value();
    if (name.find("shift") != std::string::npos)
      p.uniform_(-1.0, 1.0);
    else if (name.find("head") != std::string::npos)
      p.normal_(0.0, scale / std::sqrt(static_cast<double>(p.dim() == 2 ? p.size(1) : 1)));
  }
}

// Uniform points on the torus [B, P, d] plus points exactly on and just inside the edges.
inline torch::Tensor torus_points(std::int64_t batch, std::int64_t particles, std::int64_t d,
                                  torch::Dtype dtype, std::uint64_t seed)
{
  torch::manual_seed(seed);
  auto u = torch::rand({batch, particles, d}, torch::kFloat64) * 2.0 - 1.0;
  const double eps = dtype == torch::kFloat32 ? 6e-8 : 1e-16;
  const double edges[] = {-1.0, 1.0 - eps, -1.0 + eps, 0.0};
  // The first configurations get every particle's components from the edge values.
  auto a = u.accessor<double, 3>();
  for (std::int64_t b = 0; b < std::min<std::int64_t>(batch, 4); ++b)
    for (std::int64_t i = 0; i < particles; ++i)
      for (std::int64_t k = 0; k < d; ++k) a[b][i][k] = edges[(b + i + k) % 4];
  return u.to(dtype);
}

}    // namespace flowmap_test

#endif
