// The hand-written encoder layer computes what LibTorch's TransformerEncoderLayer computes.
#include "flowmap_encoder.h"

#include <gtest/gtest.h>

using namespace flowmap;

TEST(Encoder, MatchesLibTorchTransformerEncoderLayer)
{
  torch::manual_seed(1);
  const std::int64_t batch = 5, particles = 7, embedding = 16, heads = 2, ff = 24;
  torch::nn::TransformerEncoderLayer reference(
      torch::nn::TransformerEncoderLayerOptions(embedding, heads).dim_feedforward(ff).dropout(0.0));
  EncoderLayer layer(embedding, heads, ff);
  reference->to(torch::kFloat64);
  layer->to(torch::kFloat64);
  {
    // non-trivial LayerNorm parameters too
    torch::NoGradGuard no_grad;
    for (auto &p : reference->parameters()) p.add_(torch::randn_like(p) * 0.1);
  }
  layer->copy_from(reference);
  const auto x = torch::randn({batch, particles, embedding}, torch::kFloat64);
  const auto ours = layer->forward(x);
  // LibTorch's layer is sequence-first: [S, N, E]
  const auto theirs = reference->forward(x.transpose(0, 1)).transpose(0, 1);
  EXPECT_LT((ours - theirs).abs().max().item<double>(), 1e-12);
  EXPECT_GT((ours - x).abs().max().item<double>(), 0.1);
}

TEST(Encoder, PermutationEquivariant)
{
  torch::manual_seed(2);
  EncoderLayer layer(8, 2, 12);
  layer->to(torch::kFloat64);
  const auto x = torch::randn({3, 9, 8}, torch::kFloat64);
  const auto perm = torch::randperm(9, torch::kInt64);
  const auto a = layer->forward(x).index_select(1, perm);
  const auto b = layer->forward(x.index_select(1, perm));
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-13);
}
