// The hand-written encoder layer computes what LibTorch's TransformerEncoderLayer computes,
// values and gradients; its attention core matches the textbook formula.
#include "flowmap_attention.h"
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
  const auto x_ours = x.clone().requires_grad_(true), x_theirs = x.clone().requires_grad_(true);
  const auto ours = layer->forward(x_ours);
  // LibTorch's layer is sequence-first: [S, N, E]
  const auto theirs = reference->forward(x_theirs.transpose(0, 1)).transpose(0, 1);
  EXPECT_LT((ours - theirs).abs().max().item<double>(), 1e-12);
  EXPECT_GT((ours - x).abs().max().item<double>(), 0.1);
  // The same gradients, for the input and for the attention's projection weights
  const auto probe = torch::randn_like(x);
  (ours * probe).sum().backward();
  (theirs * probe).sum().backward();
  EXPECT_LT((x_ours.grad() - x_theirs.grad()).abs().max().item<double>(), 1e-12);
  const auto &in_proj = reference->self_attn->in_proj_weight.grad();
  const auto qkv_grad = layer->named_parameters()["qkv.weight"].grad();
  EXPECT_LT((qkv_grad - in_proj).abs().max().item<double>(), 1e-12);
  EXPECT_GT(in_proj.abs().max().item<double>(), 1e-3);
}

namespace {

// softmax(scale q k^T + bias) v per head, with the heads cut out of [B, P, 3E] by plain
// indexing.
torch::Tensor textbook_attention(const torch::Tensor &qkv, std::int64_t heads, double scale,
                                 const torch::Tensor &bias = {})
{
  const auto e = qkv.size(2) / 3, dh = e / heads;
  std::vector<torch::Tensor> outputs;
  for (std::int64_t h = 0; h < heads; ++h) {
    const auto q = qkv.narrow(2, h * dh, dh), k = qkv.narrow(2, e + h * dh, dh);
    const auto v = qkv.narrow(2, 2 * e + h * dh, dh);
    auto scores = torch::matmul(q, k.transpose(1, 2)) * scale;
    if (bias.defined()) scores = scores + bias.select(1, h);
    const auto weights = torch::softmax(scores, -1);
    outputs.push_back(torch::matmul(weights, v));
  }
  return torch::cat(outputs, 2);
}

}    // namespace

TEST(Attention, MatchesTheTextbookFormulaWithGradients)
{
  // Both ways of taking the batched products (direct BLAS calls on strided operands, and
  // LibTorch's matmul, what runs without a BLAS library), for one head and several, tokens
  // fewer and more than the head width: values and gradients, float64 and float32.
  ASSERT_TRUE(attention_uses_blas()) << "the BLAS path under test is not available";
  struct Case {
    std::int64_t batch, tokens, heads, head_width;
  };
  for (auto products : {AttentionProducts::blas, AttentionProducts::libtorch})
  for (const auto &c : {Case{3, 7, 1, 5}, Case{4, 5, 2, 3}, Case{2, 31, 4, 8}}) {
    for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
      torch::manual_seed(c.tokens);
      const auto e = c.heads * c.head_width;
      const auto qkv = torch::randn({c.batch, c.tokens, 3 * e}, dtype);
      const auto a = qkv.clone().requires_grad_(true), b = qkv.clone().requires_grad_(true);
      const double scale = 0.7;
      const auto ours = attention(a, c.heads, scale, products);
      const auto reference = textbook_attention(b, c.heads, scale);
      const double tol = dtype == torch::kFloat64 ? 1e-12 : 1e-5;
      const bool blas = products == AttentionProducts::blas;
      EXPECT_LT((ours - reference).abs().max().item<double>(), tol) << "blas " << blas;
      const auto probe = torch::randn_like(ours);
      (ours * probe).sum().backward();
      (reference * probe).sum().backward();
      EXPECT_LT((a.grad() - b.grad()).abs().max().item<double>(), 10 * tol) << "blas " << blas;
      // every block (queries, keys, values) receives a gradient
      for (std::int64_t part = 0; part < 3; ++part)
        EXPECT_GT(a.grad().narrow(2, part * e, e).abs().max().item<double>(), 1e-3);
    }
  }
}

TEST(Attention, AddsABiasToTheScoresWithItsGradient)
{
  for (auto products : {AttentionProducts::blas, AttentionProducts::libtorch}) {
    torch::manual_seed(3);
    const std::int64_t batch = 3, tokens = 6, heads = 2, e = 8;
    const auto qkv = torch::randn({batch, tokens, 3 * e}, torch::kFloat64);
    const auto bias = torch::randn({batch, heads, tokens, tokens}, torch::kFloat64) * 2;
    const auto a = qkv.clone().requires_grad_(true), b = qkv.clone().requires_grad_(true);
    const auto bias_a = bias.clone().requires_grad_(true);
    const auto bias_b = bias.clone().requires_grad_(true);
    const auto ours = attention(a, heads, 0.5, products, bias_a);
    const auto reference = textbook_attention(b, heads, 0.5, bias_b);
    EXPECT_LT((ours - reference).abs().max().item<double>(), 1e-12);
    // the bias matters: without it the output differs
    EXPECT_GT((ours - attention(qkv, heads, 0.5, products)).abs().max().item<double>(), 1e-2);
    const auto probe = torch::randn_like(ours);
    (ours * probe).sum().backward();
    (reference * probe).sum().backward();
    EXPECT_LT((a.grad() - b.grad()).abs().max().item<double>(), 1e-11);
    EXPECT_LT((bias_a.grad() - bias_b.grad()).abs().max().item<double>(), 1e-11);
    EXPECT_GT(bias_a.grad().abs().max().item<double>(), 1e-3);
  }
  EXPECT_THROW(attention(torch::zeros({2, 3, 12}), 2, 1.0, AttentionProducts::automatic,
                         torch::zeros({2, 2, 3, 2})),
               std::invalid_argument);
}

TEST(Attention, RejectsAProjectionThatDoesNotSplitIntoHeads)
{
  EXPECT_THROW(attention(torch::zeros({2, 3, 10}), 2, 1.0), std::invalid_argument);
  EXPECT_THROW(attention(torch::zeros({2, 3, 12}), 0, 1.0), std::invalid_argument);
  EXPECT_THROW(attention(torch::zeros({3, 12}), 2, 1.0), std::invalid_argument);
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
