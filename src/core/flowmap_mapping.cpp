/* ----------------------------------------------------------------------
   USER-FLOWMAP: mapping frames and weighing them.
------------------------------------------------------------------------- */

#include "flowmap_mapping.h"

#include "flowmap_model.h"
#include "flowmap_weights.h"

#include <cmath>
#include <stdexcept>

namespace flowmap {

double number_density(std::int64_t num_particles, const std::vector<double> &box)
{
  double volume = 1.0;
  for (double length : box) volume *= length;
  return num_particles / volume;
}

double density_scale(std::int64_t num_particles, const std::vector<double> &box, double density)
{
  return std::pow(number_density(num_particles, box) / density, 1.0 / box.size());
}

std::vector<double> box_at_density(std::int64_t num_particles, const std::vector<double> &box,
                                   double density)
{
  const double scale = density_scale(num_particles, box, density);
  std::vector<double> scaled;
  for (double length : box) scaled.push_back(length * scale);
  return scaled;
}

torch::Tensor scale_between_boxes(const torch::Tensor &frames, const std::vector<double> &from,
                                  const std::vector<double> &to)
{
  std::vector<double> ratio(from.size());
  for (std::size_t k = 0; k < from.size(); ++k) ratio[k] = to[k] / from[k];
  return frames * torch::tensor(ratio, frames.options());
}

WeighedFrames map_and_weigh(FlowModel *model, Direction direction, const StatePair &states,
                            const torch::Tensor &frames, const std::vector<double> &energy_from,
                            EnergyModel &energy_to, std::int64_t chunk_size)
{
  const auto count = frames.size(0);
  if (static_cast<std::int64_t>(energy_from.size()) != count)
    throw std::invalid_argument("map_and_weigh: one source energy per frame is needed");
  const bool forward = direction == Direction::forward;
  const auto &box_from = forward ? states.source_box : states.target_box;
  const auto &box_to = forward ? states.target_box : states.source_box;
  const double beta_from = forward ? states.beta_source : states.beta_target;
  const double beta_to = forward ? states.beta_target : states.beta_source;

  WeighedFrames out;
  out.positions = torch::empty_like(frames, torch::kFloat64);
  out.log_det.resize(count);
  out.energy_to.resize(count);
  out.log_weight.resize(count);

  torch::InferenceMode no_autograd;
  const double scaling = scaling_log_det(states.num_particles, box_from, box_to);
  for (std::int64_t lo = 0; lo < count; lo += chunk_size) {
    const auto n = std::min(chunk_size, count - lo);
    const auto x = frames.narrow(0, lo, n).to(torch::kFloat64);
    torch::Tensor mapped, log_det;
    if (model) {
      const auto reference = torch::full({n}, model->mapping_reference(), torch::kInt64);
      const auto result = forward ? model->forward(x, reference) : model->inverse(x, reference);
      mapped = result.positions.contiguous();
      log_det = result.log_det.to(torch::kFloat64).contiguous();
    } else {
      mapped = scale_between_boxes(x, box_from, box_to).contiguous();
      log_det = torch::full({n}, scaling, x.options());
    }
    out.positions.narrow(0, lo, n).copy_(mapped);
    energy_to.evaluate(mapped.data_ptr<double>(), n, box_to.data(), &out.energy_to[lo], nullptr,
                       false);
    const double *ld = log_det.data_ptr<double>();
    for (std::int64_t i = 0; i < n; ++i) {
      out.log_det[lo + i] = ld[i];
      out.log_weight[lo + i] =
          log_weight(beta_from, energy_from[lo + i], beta_to, out.energy_to[lo + i], ld[i]);
    }
  }
  return out;
}

}    // namespace flowmap
