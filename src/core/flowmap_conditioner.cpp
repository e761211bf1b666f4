/* ----------------------------------------------------------------------
   USER-FLOWMAP: equivariant transformer conditioner.
------------------------------------------------------------------------- */

#include "flowmap_conditioner.h"

#include "flowmap_pair_bias.h"

#include <cmath>
#include <string>

namespace flowmap {

ConditionerImpl::ConditionerImpl(std::int64_t inputs, const FlowOptions &options,
                                 std::int64_t labels) :
    frequencies_(options.frequencies), inputs_(inputs),
    pair_frequencies_(options.pair_frequencies)
{
  if (options.pair_frequencies > 0 && options.layers > 0) {
    // 2 per component and frequency: along each component the particle itself scores 2 and
    // one half a box away -2 (k = 1), so from the first step attention prefers near
    // neighbours instead of averaging over the box, the plateau a type-blind start sits on
    // in 3D and at large N. Each head then learns its own range.
    pair_weights_ = register_parameter(
        "pair_weights", torch::full({options.heads, inputs * options.pair_frequencies}, 2.0));
  }
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
  torch::Tensor bias;
  if (pair_weights_.defined()) {
    // sum over components a and k <= Kp of w_hak cos(k pi (u_ia - u_ja)) as
    // cos cos + sin sin of the features after hiding: a hidden component adds nothing, so
    // the bias cannot see a coordinate being transformed.
    // [cos of each component, sin of each component], F each, cut to the first Kp: [B, P, 2C]
    const auto y = f.narrow(-1, 0, 2 * inputs_ * frequencies_)
                       .unflatten(-1, {2 * inputs_, frequencies_})
                       .narrow(-1, 0, pair_frequencies_)
                       .flatten(-2);
    bias = pair_bias(y, torch::cat({pair_weights_, pair_weights_}, -1));    // [B, H, P, P]
  }
  auto h = embed_->forward(f);
  for (auto &layer : layers_) h = layer->forward(h, bias);
  // The head is per particle: selecting first skips the rows nobody reads.
  return head_->forward(outputs.defined() ? h.index_select(1, outputs) : h);
}

}    // namespace flowmap
