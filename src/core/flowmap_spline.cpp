/* ----------------------------------------------------------------------
   USER-FLOWMAP: circular rational-quadratic spline.

   The formulas are those of Durkan et al. (2019), rearranged so that the identity
   parameters (equal bins, all slopes 1) reproduce x bit for bit with log-derivative exactly
   0: a deep stack of fresh couplings is then the identity in float32 too, instead of
   accumulating an ulp per coupling in the positions and a biased ulp per particle and
   coupling in log|det J|.
------------------------------------------------------------------------- */

#include "flowmap_spline.h"

#include "flowmap_coordinates.h"

#include <stdexcept>
#include <string>

namespace flowmap {

namespace {

// Knot slopes from raw values: 1 + (1 - min) (f(r) - 1) with f(r) = (r + sqrt(r^2 + 4)) / 2,
// a smooth softplus-like positive function with f(0) = 1 exactly (softplus with an offset
// is only 1 to within rounding). Range (min, inf); written without cancellation for r < 0.
torch::Tensor knot_slopes(const torch::Tensor &raw, double min_derivative)
{
  const auto r = raw.clamp(-1e6, 1e6);    // keeps r^2 finite in float32
  const auto q = torch::sqrt(r * r + 4.0);
  const auto f = torch::where(r >= 0.0, 0.5 * (r + q), 2.0 / (q - r));
  return 1.0 + (1.0 - min_derivative) * (f - 1.0);
}

}    // namespace

CircularSpline::CircularSpline(const torch::Tensor &raw, std::int64_t bins, double min_bin_size,
                               double min_derivative, SplineKernel kernel) :
    shape_{bins, min_bin_size, min_derivative}
{
  if (!raw.defined() || raw.dim() < 1 || raw.size(-1) != 3 * bins || bins < 2)
    throw std::invalid_argument("CircularSpline: raw parameters must end in 3 * bins = " +
                                std::to_string(3 * bins) + " with at least 2 bins");
  const auto r = raw.reshape({-1, 3 * bins});
  count_ = r.size(0);
  fused_ = kernel == SplineKernel::fused ||
      (kernel == SplineKernel::automatic && raw.device().is_cpu());
  if (fused_) {
    raw_ = r;
    return;
  }
  // Widths and heights in one softmax so that equal raw values give bitwise equal bins.
  const auto sizes = min_bin_size + (2.0 - bins * min_bin_size) *
                                        torch::softmax(r.narrow(1, 0, 2 * bins).view({-1, 2, bins}), 2);
  // Knots at -1 and 1 are set, not summed, so the bins tile the circle exactly.
  const auto inner = torch::cumsum(sizes, 2).narrow(2, 0, bins - 1) - 1.0;
  const auto lower = torch::cat({torch::full({count_, 2, 1}, -1.0, r.options()), inner}, 2);
  const auto upper = torch::cat({inner, torch::full({count_, 2, 1}, 1.0, r.options())}, 2);
  const auto size = upper - lower;
  const auto slopes = knot_slopes(r.narrow(1, 2 * bins, bins), min_derivative);
  // The slope at the right end of the last bin is the one at the left end of the first:
  // the circle closes with a continuous derivative.
  bin_table_ = torch::stack({lower.select(1, 0), size.select(1, 0), lower.select(1, 1),
                             size.select(1, 1), slopes, torch::roll(slopes, -1, 1)},
                            2);
  knots_x_ = lower.select(1, 0).narrow(1, 1, bins - 1);
  knots_y_ = lower.select(1, 1).narrow(1, 1, bins - 1);
}

torch::Tensor CircularSpline::gather_bin(const torch::Tensor &knots, const torch::Tensor &v) const
{
  const auto index = (v.unsqueeze(1) >= knots).sum(1, false, torch::kInt64);
  return bin_table_
      .gather(1, index.view({count_, 1, 1}).expand({count_, 1, bin_table_.size(2)}))
      .squeeze(1);
}

SplineResult CircularSpline::fused(const torch::Tensor &v, bool inverse) const
{
  const auto r = fused_circular_spline(raw_, v.reshape({count_}), shape_, inverse);
  return {r[0].view(v.sizes()), r[1].view(v.sizes())};
}

SplineResult CircularSpline::forward(const torch::Tensor &x_in) const
{
  if (x_in.numel() != count_)
    throw std::invalid_argument("CircularSpline::forward: input does not match the parameters");
  if (fused_) return fused(x_in, false);
  const auto x = wrap_unit(x_in).reshape({count_});
  const auto p = gather_bin(knots_x_, x).unbind(1);
  const auto &xk = p[0], &w = p[1], &yk = p[2], &h = p[3], &d0 = p[4], &d1 = p[5];
  const auto xi = ((x - xk) / w).clamp(0.0, 1.0);
  const auto s = h / w;
  const auto t = xi * (1.0 - xi);
  // s (1 - 2t) + (d0 + d1) t with t <= 1/4: strictly positive.
  const auto den = s + (d0 + d1 - 2.0 * s) * t;
  // g = (s xi^2 + d0 t) / den, the position within the bin's height.
  const auto g = (s * xi + (d0 - s) * t) / den;
  // y = yk + h g, written as x plus terms that vanish for the identity parameters.
  const auto y = x + (yk - xk) + h * (g - xi) + (h - w) * xi;
  // d1 xi^2 + 2 s t + d0 (1 - xi)^2, written so that it is exactly s when d0 = d1 = s.
  const auto slope_mix = s + (d1 - s) * xi.square() + (d0 - s) * (1.0 - xi).square();
  const auto log_derivative = 2.0 * torch::log(s) + torch::log(slope_mix) - 2.0 * torch::log(den);
  return {wrap_unit(y).view(x_in.sizes()), log_derivative.view(x_in.sizes())};
}

SplineResult CircularSpline::inverse(const torch::Tensor &y_in) const
{
  if (y_in.numel() != count_)
    throw std::invalid_argument("CircularSpline::inverse: input does not match the parameters");
  if (fused_) return fused(y_in, true);
  const auto y = wrap_unit(y_in).reshape({count_});
  const auto p = gather_bin(knots_y_, y).unbind(1);
  const auto &xk = p[0], &w = p[1], &yk = p[2], &h = p[3], &d0 = p[4], &d1 = p[5];
  const auto s = h / w;
  const auto dy = y - yk;
  const auto delta = d0 + d1 - 2.0 * s;
  // a xi^2 + b xi + c = 0 for xi in [0, 1] (Durkan et al. 2019, appendix A).
  const auto a = h * (s - d0) + dy * delta;
  const auto b = h * d0 - dy * delta;
  const auto c = -s * dy;
  const auto disc = b * b - 4.0 * a * c;
  const auto positive = disc > 0.0;
  // sqrt only of positive values, so neither it nor its gradient can become NaN.
  const auto root = torch::where(positive, torch::sqrt(torch::where(positive, disc, 1.0)), 0.0);
  // Cancellation-free root: 2c / (-b - root) for b >= 0, (-b + root) / 2a for b < 0 (where
  // a > h s > 0). The denominators are guarded so the branch not taken stays finite.
  const auto den_pos = -b - root;
  const auto xi_pos = 2.0 * c / torch::where(den_pos < 0.0, den_pos, -1.0);
  const auto den_neg = 2.0 * a;
  const auto xi_neg = (root - b) / torch::where(den_neg > 0.0, den_neg, 1.0);
  const auto xi = torch::where(b >= 0.0, xi_pos, xi_neg).clamp(0.0, 1.0);
  // x = xk + w xi, written as y plus terms that vanish for the identity parameters (where
  // xi equals dy / h bit for bit).
  const auto eta = dy / h;
  const auto x = y + (xk - yk) + w * (xi - eta) + (w - h) * eta;
  const auto t = xi * (1.0 - xi);
  const auto den = s + delta * t;
  const auto slope_mix = s + (d1 - s) * xi.square() + (d0 - s) * (1.0 - xi).square();
  const auto log_derivative = 2.0 * torch::log(den) - 2.0 * torch::log(s) - torch::log(slope_mix);
  return {wrap_unit(x).view(y_in.sizes()), log_derivative.view(y_in.sizes())};
}

}    // namespace flowmap
