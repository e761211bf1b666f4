/* ----------------------------------------------------------------------
   USER-FLOWMAP: the basin map (see flowmap_basin_map.h).
------------------------------------------------------------------------- */

#include "flowmap_basin_map.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace flowmap {

namespace {

void check_sizes(const std::vector<double> &a, const std::vector<double> &b,
                 const std::vector<double> &box, const char *what)
{
  const std::size_t d = box.size();
  if (d == 0 || a.size() != b.size() || a.size() % d != 0)
    throw std::invalid_argument(std::string(what) + ": configurations of " +
                                std::to_string(a.size()) + " and " + std::to_string(b.size()) +
                                " coordinates do not fit a box of dimension " +
                                std::to_string(d));
}

double minimum_image(double delta, double length)
{
  return delta - length * std::nearbyint(delta / length);
}

}    // namespace

std::vector<double> scale_about_minimum(const std::vector<double> &frame,
                                        const std::vector<double> &minimum,
                                        const std::vector<double> &box, double factor)
{
  check_sizes(frame, minimum, box, "scale_about_minimum");
  const std::size_t d = box.size();
  std::vector<double> image(frame.size());
  for (std::size_t v = 0; v < frame.size(); ++v)
    image[v] = minimum[v] + factor * minimum_image(frame[v] - minimum[v], box[v % d]);
  return image;
}

double largest_displacement(const std::vector<double> &a, const std::vector<double> &b,
                            const std::vector<double> &box)
{
  check_sizes(a, b, box, "largest_displacement");
  const std::size_t d = box.size();
  double largest = 0.0;
  for (std::size_t i = 0; i < a.size(); i += d) {
    double sq = 0.0;
    for (std::size_t k = 0; k < d; ++k) {
      const double delta = minimum_image(a[i + k] - b[i + k], box[k]);
      sq += delta * delta;
    }
    // a configuration with a non-finite coordinate is never "the same" as any other
    if (!std::isfinite(sq)) return std::numeric_limits<double>::infinity();
    largest = std::max(largest, std::sqrt(sq));
  }
  return largest;
}

double basin_map_log_det(std::int64_t num_particles, int dimension, double factor)
{
  return static_cast<double>(num_particles * dimension - dimension) * std::log(factor);
}

double basin_mixture_log_weight(double beta_source, double beta_target, double source_energy,
                                double target_energy, bool has_preimage,
                                double preimage_source_energy, double log_det)
{
  const double identity = -beta_source * source_energy;
  const double mapped = has_preimage ? -beta_source * preimage_source_energy - log_det
                                     : -std::numeric_limits<double>::infinity();
  const double top = std::max(identity, mapped);
  if (!std::isfinite(top)) return std::numeric_limits<double>::quiet_NaN();
  const double log_density = top + std::log(std::exp(identity - top) + std::exp(mapped - top));
  return -beta_target * target_energy - log_density;
}

}    // namespace flowmap
