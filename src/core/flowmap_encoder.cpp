/* ----------------------------------------------------------------------
   USER-FLOWMAP: transformer encoder layer.
------------------------------------------------------------------------- */

#include "flowmap_encoder.h"

#include "flowmap_attention.h"

#include <cmath>
#include <stdexcept>

namespace flowmap {

EncoderLayerImpl::EncoderLayerImpl(std::int64_t embedding, std::int64_t heads,
                                   std::int64_t feedforward) :
    heads_(heads), scale_(1.0 / std::sqrt(static_cast<double>(embedding / heads)))
{
  if (heads < 1 || embedding % heads != 0)
    throw std::invalid_argument("EncoderLayer: embedding must be a multiple of heads");
  qkv_ = register_module("qkv", torch::nn::Linear(embedding, 3 * embedding));
  out_ = register_module("out", torch::nn::Linear(embedding, embedding));
  ff1_ = register_module("ff1", torch::nn::Linear(embedding, feedforward));
  ff2_ = register_module("ff2", torch::nn::Linear(feedforward, embedding));
  norm1_ = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({embedding})));
  norm2_ = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({embedding})));
  // torch::nn::MultiheadAttention's initialisation: Xavier-uniform fused input projection,
  // zero biases, so the layer starts like the LibTorch one.
  torch::NoGradGuard no_grad;
  torch::nn::init::xavier_uniform_(qkv_->weight);
  torch::nn::init::zeros_(qkv_->bias);
  torch::nn::init::zeros_(out_->bias);
}

torch::Tensor EncoderLayerImpl::attention_block(const torch::Tensor &x, const torch::Tensor &bias)
{
  const auto mixed = attention(qkv_->forward(x), heads_, scale_, AttentionProducts::automatic, bias);
  return norm1_->forward(x + out_->forward(mixed));
}

torch::Tensor EncoderLayerImpl::feedforward_block(const torch::Tensor &x)
{
  return norm2_->forward(x + ff2_->forward(torch::relu(ff1_->forward(x))));
}

torch::Tensor EncoderLayerImpl::forward(const torch::Tensor &x, const torch::Tensor &bias)
{
  return feedforward_block(attention_block(x, bias));
}

void EncoderLayerImpl::copy_from(torch::nn::TransformerEncoderLayer &reference)
{
  torch::NoGradGuard no_grad;
  qkv_->weight.copy_(reference->self_attn->in_proj_weight);
  qkv_->bias.copy_(reference->self_attn->in_proj_bias);
  out_->weight.copy_(reference->self_attn->out_proj->weight);
  out_->bias.copy_(reference->self_attn->out_proj->bias);
  ff1_->weight.copy_(reference->linear1->weight);
  ff1_->bias.copy_(reference->linear1->bias);
  ff2_->weight.copy_(reference->linear2->weight);
  ff2_->bias.copy_(reference->linear2->bias);
  norm1_->weight.copy_(reference->norm1->weight);
  norm1_->bias.copy_(reference->norm1->bias);
  norm2_->weight.copy_(reference->norm2->weight);
  norm2_->bias.copy_(reference->norm2->bias);
}

}    // namespace flowmap
