/* ----------------------------------------------------------------------
   USER-FLOWMAP: Cartesian flow model between a source and a target box.
------------------------------------------------------------------------- */

#include "flowmap_model.h"

#include "flowmap_coordinates.h"
#include "flowmap_weights.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace flowmap {

namespace {

void check_box(const std::vector<double> &box, std::int64_t dimension, const char *name)
{
  bool ok = static_cast<std::int64_t>(box.size()) == dimension;
  for (double l : box) ok = ok && l > 0.0 && std::isfinite(l);
  if (!ok)
    throw std::invalid_argument(std::string("FlowModel: ") + name + " must be " +
                                std::to_string(dimension) + " positive box lengths");
}

}    // namespace

FlowModel::FlowModel(const FlowOptions &options, const ModelMetadata &metadata,
                     const Species &species) :
    options_(options), metadata_(metadata), species_(species)
{
  options_.validate();
  check_box(metadata_.source_box, options_.dimension, "source_box");
  check_box(metadata_.target_box, options_.dimension, "target_box");
  if (species_.recorded() && species_.num_atoms() != options_.num_particles)
    throw std::invalid_argument("FlowModel: species recorded for " +
                                std::to_string(species_.num_atoms()) + " atoms, the flow has " +
                                std::to_string(options_.num_particles));
  flow_ = Flow(options_, species_.internal());
  reference_atoms_ =
      torch::tensor(species_.reference_atoms(options_.num_particles), torch::kInt64);
  const auto grouped = species_.grouped_order();
  if (!grouped.empty()) {
    grouped_ = torch::tensor(grouped, torch::kInt64);
    row_of_atom_ = torch::argsort(grouped_);
    is_reference_ = torch::zeros({options_.num_particles}, torch::kBool);
    is_reference_.index_fill_(0, reference_atoms_, true);
  }
}

void FlowModel::to_device(torch::Device device)
{
  options_.device = device;
  flow_->to_device(device);
}

MappedConfigurations FlowModel::map(const torch::Tensor &x, const torch::Tensor &reference,
                                    const torch::Tensor &symmetry, bool inverse)
{
  if (!x.defined() || x.dim() != 3 || x.size(1) != options_.num_particles ||
      x.size(2) != options_.dimension)
    throw std::invalid_argument("FlowModel: positions must have shape [B, " +
                                std::to_string(options_.num_particles) + ", " +
                                std::to_string(options_.dimension) + "]");
  const auto &from = inverse ? metadata_.target_box : metadata_.source_box;
  const auto &to = inverse ? metadata_.source_box : metadata_.target_box;
  check_box(from, options_.dimension, "box");
  check_box(to, options_.dimension, "box");
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(x.device());
  const auto box_from = torch::tensor(from, f64), box_to = torch::tensor(to, f64);
  // A mixture is mapped in the grouped order, so each row of the flow keeps its species
  // whichever reference atom is removed; a single species needs no reordering.
  auto atoms = x.to(torch::kFloat64);
  auto ref = reference;
  if (grouped_.defined()) {
    if (!reference.defined() || reference.dim() != 1 || reference.scalar_type() != torch::kInt64)
      throw std::invalid_argument("FlowModel: reference must be an int64 tensor of shape [B]");
    const auto atom = reference.to(torch::kCPU);
    if (atom.numel() > 0 && (atom.min().item<std::int64_t>() < 0 ||
                             atom.max().item<std::int64_t>() >= options_.num_particles ||
                             !is_reference_.index_select(0, atom).all().item<bool>()))
      throw std::invalid_argument(
          "FlowModel: the reference particle must be an atom of type " +
          std::to_string(species_.type_map()[species_.reference_species()]) +
          ", the reference species of this mixture");
    atoms = atoms.index_select(1, grouped_.to(x.device()));
    ref = row_of_atom_.index_select(0, atom).to(reference.device());
  }
  const auto c = to_internal(atoms, box_from, ref, symmetry);
  const auto u = c.u.to(options_.device, options_.dtype);
  const auto r = inverse ? flow_->inverse(u) : flow_->forward(u);
  // Apply the flow as a float64 displacement of the float64 input: a float32 network then
  // moves particles only as far as it actually maps them, instead of also rounding every
  // position to float32 (the identity stays exact, and so does the scaling baseline).
  const auto displacement = wrap_unit(r.u.to(f64) - u.to(f64));
  InternalCoordinates mapped{c.u + displacement, c.origin * (box_to / box_from)};
  auto positions = to_cartesian(mapped, box_to, ref, symmetry);
  if (grouped_.defined()) positions = positions.index_select(1, row_of_atom_.to(x.device()));
  return {positions, r.log_det.to(f64) + scaling_log_det(options_.num_particles, from, to)};
}

MappedConfigurations FlowModel::forward(const torch::Tensor &x_source,
                                        const torch::Tensor &reference,
                                        const torch::Tensor &symmetry)
{
  return map(x_source, reference, symmetry, false);
}

MappedConfigurations FlowModel::inverse(const torch::Tensor &x_target,
                                        const torch::Tensor &reference,
                                        const torch::Tensor &symmetry)
{
  return map(x_target, reference, symmetry, true);
}

}    // namespace flowmap
