/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: one transformer encoder layer over the particles of each configuration.

   The same mathematics as torch::nn::TransformerEncoderLayer of LibTorch 1.13 (post-norm,
   ReLU, dropout 0, LayerNorm eps 1e-5), written batch-first with a fused QKV projection:
   it saves the (S, N, E) transposes and the generic multi-head path's bookkeeping, which
   bench/bench_flow measures (bench/README.md). No positional encoding: permuting the
   particles permutes the output.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_ENCODER_H
#define FLOWMAP_ENCODER_H

#include <torch/torch.h>

#include <cstdint>

namespace flowmap {

class FlowKernel;

class EncoderLayerImpl : public torch::nn::Module {
 public:
  EncoderLayerImpl(std::int64_t embedding, std::int64_t heads, std::int64_t feedforward);

  // x [B, P, E] -> [B, P, E]
  // bias [B, heads, P, P], if given, is added to the attention scores.
  torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &bias = {});

  // The attention half and the feed-forward half separately, for the benchmark's time map.
  torch::Tensor attention_block(const torch::Tensor &x, const torch::Tensor &bias = {});
  torch::Tensor feedforward_block(const torch::Tensor &x);

  // Copy the weights of a LibTorch layer of the same sizes (tests: same outputs).
  void copy_from(torch::nn::TransformerEncoderLayer &reference);

 private:
  friend class FlowKernel;
  std::int64_t heads_;
  double scale_;
  torch::nn::Linear qkv_{nullptr}, out_{nullptr}, ff1_{nullptr}, ff2_{nullptr};
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
};
TORCH_MODULE(EncoderLayer);

}    // namespace flowmap

#endif
