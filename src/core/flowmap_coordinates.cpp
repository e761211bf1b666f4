/* ----------------------------------------------------------------------
   USER-FLOWMAP: internal coordinates, wrapping and the box symmetry group.
------------------------------------------------------------------------- */

#include "flowmap_coordinates.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace flowmap {

namespace {

void check_configuration(const torch::Tensor &x, const torch::Tensor &box,
                         const torch::Tensor &reference, const torch::Tensor &symmetry,
                         std::int64_t num_particles, const char *what)
{
  const std::string where = std::string(what) + ": ";
  if (!x.defined() || x.dim() != 3)
    throw std::invalid_argument(where + "positions must have shape [B, N, d]");
  const auto batch = x.size(0), d = x.size(2);
  if (!box.defined() || box.dim() != 1 || box.size(0) != d)
    throw std::invalid_argument(where + "box must have shape [d] with d = " + std::to_string(d));
  if (!reference.defined() || reference.dim() != 1 || reference.size(0) != batch ||
      reference.scalar_type() != torch::kInt64)
    throw std::invalid_argument(where + "reference must be an int64 tensor of shape [B]");
  if (batch > 0) {
    const auto lo = reference.min().item<std::int64_t>();
    const auto hi = reference.max().item<std::int64_t>();
    if (lo < 0 || hi >= num_particles)
      throw std::invalid_argument(where + "reference index outside [0, " +
                                  std::to_string(num_particles) + ")");
  }
  if (!symmetry.defined()) return;
  if (symmetry.dim() != 3 || symmetry.size(0) != batch || symmetry.size(1) != d ||
      symmetry.size(2) != d)
    throw std::invalid_argument(where + "symmetry must have shape [B, d, d]");
  const double lmin = box.min().item<double>(), lmax = box.max().item<double>();
  if (lmax - lmin > 1e-12 * lmax) {
    const auto off_diagonal = symmetry - torch::diag_embed(symmetry.diagonal(0, 1, 2));
    if (batch > 0 && off_diagonal.abs().max().item<double>() > 0.0)
      throw std::invalid_argument(where + "a symmetry that permutes axes needs a cubic box");
  }
}

// Index of particle j of the reduced (reference-free) list in the full list: j, or j + 1
// once j has reached the reference. [B, N-1].
torch::Tensor others_index(const torch::Tensor &reference, std::int64_t num_particles)
{
  auto j = torch::arange(num_particles - 1, reference.options()).unsqueeze(0);
  return j + (j >= reference.unsqueeze(1)).to(torch::kInt64);
}

}    // namespace

torch::Tensor wrap_unit(const torch::Tensor &u)
{
  // Values already on the circle pass bit for bit: (u + 1) / 2 rounds up to 1 for u just
  // below 1, which would move them by a full period minus an ulp.
  const auto inside = (u >= -1.0) & (u < 1.0);
  auto w = u - 2.0 * torch::floor((u + 1.0) * 0.5).detach();
  // Just below -1 (or an odd integer) the subtraction can round to exactly 1.
  w = torch::where(w >= 1.0, w - 2.0, w);
  return torch::where(inside, u, w);
}

torch::Tensor symmetry_group(std::int64_t dimension, bool cubic)
{
  if (dimension < 1) throw std::invalid_argument("symmetry_group: dimension must be positive");
  std::vector<std::int64_t> perm(dimension);
  std::iota(perm.begin(), perm.end(), 0);
  std::vector<torch::Tensor> elements;
  do {
    for (std::int64_t signs = 0; signs < (std::int64_t{1} << dimension); ++signs) {
      auto m = torch::zeros({dimension, dimension}, torch::kFloat64);
      auto a = m.accessor<double, 2>();
      for (std::int64_t i = 0; i < dimension; ++i) a[i][perm[i]] = (signs >> i) & 1 ? -1.0 : 1.0;
      elements.push_back(m);
    }
  } while (cubic && std::next_permutation(perm.begin(), perm.end()));
  return torch::stack(elements);
}

InternalCoordinates to_internal(const torch::Tensor &x, const torch::Tensor &box,
                                const torch::Tensor &reference, const torch::Tensor &symmetry)
{
  check_configuration(x, box, reference, symmetry, x.defined() ? x.size(1) : 0, "to_internal");
  const auto batch = x.size(0), n = x.size(1), d = x.size(2);
  const auto ref = reference.to(x.device());
  InternalCoordinates c;
  c.origin = x.gather(1, ref.view({batch, 1, 1}).expand({batch, 1, d})).squeeze(1);
  const auto idx = others_index(ref, n).unsqueeze(2).expand({batch, n - 1, d});
  auto rel = x.gather(1, idx) - c.origin.unsqueeze(1);
  // Row vectors: (R r)^T = r^T R^T. A signed permutation maps the periodic lattice onto
  // itself, so rotating before wrapping equals wrapping before rotating.
  if (symmetry.defined()) rel = torch::matmul(rel, symmetry.to(x.options()).transpose(1, 2));
  c.u = wrap_unit(rel * (2.0 / box.to(x.options())));
  return c;
}

torch::Tensor to_cartesian(const InternalCoordinates &c, const torch::Tensor &box,
                           const torch::Tensor &reference, const torch::Tensor &symmetry)
{
  if (!c.u.defined() || c.u.dim() != 3 || !c.origin.defined() || c.origin.dim() != 2 ||
      c.origin.size(0) != c.u.size(0) || c.origin.size(1) != c.u.size(2))
    throw std::invalid_argument("to_cartesian: u must be [B, N-1, d] and origin [B, d]");
  const auto batch = c.u.size(0), n = c.u.size(1) + 1, d = c.u.size(2);
  check_configuration(c.u, box, reference, symmetry, n, "to_cartesian");
  auto rel = c.u * (box.to(c.u.options()) * 0.5);
  if (symmetry.defined()) rel = torch::matmul(rel, symmetry.to(c.u.options()));
  const auto origin = c.origin.to(c.u.options()).unsqueeze(1);
  // Append the reference after the others, then gather every particle back to its index.
  const auto all = torch::cat({origin + rel, origin}, 1);
  const auto ref = reference.to(c.u.device()).unsqueeze(1);
  auto j = torch::arange(n, ref.options()).unsqueeze(0);
  auto idx = torch::where(j < ref, j, torch::where(j == ref, torch::full_like(j, n - 1), j - 1));
  return all.gather(1, idx.unsqueeze(2).expand({batch, n, d}));
}

}    // namespace flowmap
