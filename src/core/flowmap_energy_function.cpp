/* ----------------------------------------------------------------------
   USER-FLOWMAP: potential energies inside the autograd graph.
------------------------------------------------------------------------- */

#include "flowmap_energy_function.h"

#include <stdexcept>
#include <string>

namespace flowmap {

namespace {

class PotentialEnergy : public torch::autograd::Function<PotentialEnergy> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext *ctx, torch::Tensor positions,
                               EnergyModel *model, const std::vector<double> *box,
                               bool regularised)
  {
    auto x = positions.detach().to(torch::kCPU, torch::kFloat64).contiguous();
    const auto nconf = x.size(0);
    auto energies = torch::empty({nconf}, x.options());
    const bool need_forces = positions.requires_grad();
    auto forces = need_forces ? torch::empty_like(x) : torch::Tensor();
    model->evaluate(x.data_ptr<double>(), nconf, box->data(), energies.data_ptr<double>(),
                    need_forces ? forces.data_ptr<double>() : nullptr, regularised);
    if (need_forces) ctx->save_for_backward({forces.to(positions.device())});
    return energies.to(positions.device());
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext *ctx,
                                               torch::autograd::tensor_list grad_outputs)
  {
    const auto forces = ctx->get_saved_variables()[0];
    auto grad = -forces * grad_outputs[0].view({-1, 1, 1});
    return {grad, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}    // namespace

torch::Tensor potential_energy(EnergyModel &model, const torch::Tensor &positions,
                               const std::vector<double> &box_lengths, bool regularised)
{
  if (positions.dim() != 3 || positions.size(1) != model.num_particles() ||
      positions.size(2) != model.dimension())
    throw std::invalid_argument("potential_energy: positions must be [batch, " +
                                std::to_string(model.num_particles()) + ", " +
                                std::to_string(model.dimension()) + "], got " +
                                c10::str(positions.sizes()));
  if (static_cast<std::int64_t>(box_lengths.size()) != model.dimension())
    throw std::invalid_argument("potential_energy: box must have one length per dimension");
  return PotentialEnergy::apply(positions, &model, &box_lengths, regularised);
}

}    // namespace flowmap
