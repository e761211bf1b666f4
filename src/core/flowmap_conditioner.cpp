/* ----------------------------------------------------------------------
   USER-FLOWMAP: equivariant transformer conditioner.
------------------------------------------------------------------------- */

#include "flowmap_conditioner.h"

#include <cmath>
#include <string>

namespace flowmap {

ConditionerImpl::ConditionerImpl(std::int64_t inputs, const FlowOptions &options,
                                 std::int64_t labels) :
    frequencies_(options.frequencies)
{
  embed_ = register_module(
      "embed", torch::nn::Linear(2 * options.frequencies * inputs + labels, options.embedding));
  for (std::int64_t i = 0; i < options.layers; ++i)
    layers_.push_back(register_module(
        "layer" + std::to_string(i),
        EncoderLayer(options.embedding, options.heads, options.feedforward)));
  head_ = register_module("head",
                          torch::nn::Linear(options.embedding, options.spline_parameters()));
  torch::NoGradGuard no_grad;
  torch::nn::init::zeros_(head_->weight);
  torch::nn::init::zeros_(head_->bias);
}

torch::Tensor ConditionerImpl::features(const torch::Tensor &u) const
{
  // pi k u for k = 1..F, per component: [B, P, inputs * F]
  const auto k = torch::arange(1, frequencies_ + 1, u.options()) * M_PI;
  const auto phase = (u.unsqueeze(-1) * k).flatten(-2);
  return torch::cat({torch::cos(phase), torch::sin(phase)}, -1);
}

torch::Tensor ConditionerImpl::forward(const torch::Tensor &u, const torch::Tensor &hidden,
                                       const torch::Tensor &labels, const torch::Tensor &outputs)
{
  auto f = features(u);
  if (hidden.defined()) f = f * hidden;
  if (labels.defined()) f = torch::cat({f, labels.expand({u.size(0), -1, -1})}, -1);
  auto h = embed_->forward(f);
  for (auto &layer : layers_) h = layer->forward(h);
  // The head is per particle: selecting first skips the rows nobody reads.
  return head_->forward(outputs.defined() ? h.index_select(1, outputs) : h);
}

}    // namespace flowmap
