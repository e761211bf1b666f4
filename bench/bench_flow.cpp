// Flow-core speed (bench/README.md, "Flow core"): configurations per second for F and F^-1,
// milliseconds per training step (F on a source batch + F^-1 on a target batch, log-dets,
// a stand-in loss, backward, Adam; no energies), and where the time goes.
//
// usage: bench_flow [--preset NAME]... [--blocks B] [--embedding E] [--feedforward W]
//                   [--bins K] [--frequencies F] [--layers L] [--heads H] [--particles N]
//                   [--dimension D] [--batch B] [--threads T] [--repeat R] [--no-train]
//                   [--no-breakdown] [--no-cache] [--blas-threads T] [--split S]
// --threads sets LibTorch's threads and, unless --blas-threads says otherwise, OpenBLAS's.
// Size options override every preset given. Each figure is the best of R timed calls after
// one warm-up call (medians are printed next to the headline figures).
#include "flowmap_blas_check.h"
#include "flowmap_coordinates.h"
#include "flowmap_model.h"
#include "flowmap_pair_bias.h"
#include "flowmap_spline.h"
#include "flowmap_flow_kernel.h"
#include "flowmap_tensor_cache.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

using namespace flowmap;

namespace {

struct Args {
  std::vector<std::string> presets;
  std::map<std::string, std::int64_t> sizes;
  std::int64_t particles = 32, dimension = 2, batch = 512, threads = 2, repeat = 5;
  std::int64_t blas_threads = 0;    // 0: same as threads
  bool train = true, breakdown = true, cache = true;
  std::string split;    // empty: the preset's
};

Args parse(int argc, char **argv)
{
  Args a;
  std::vector<std::string> size_flags;
  for (const auto &size : FlowOptions::sizes()) size_flags.emplace_back(size.name);
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_flow: %s needs a value\n", flag.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    const std::string name = flag.rfind("--", 0) == 0 ? flag.substr(2) : flag;
    if (name == "preset") a.presets.push_back(value());
    else if (std::find(size_flags.begin(), size_flags.end(), name) != size_flags.end())
      a.sizes[name] = std::stoll(value());
    else if (name == "particles") a.particles = std::stoll(value());
    else if (name == "dimension") a.dimension = std::stoll(value());
    else if (name == "batch") a.batch = std::stoll(value());
    else if (name == "threads") a.threads = std::stoll(value());
    else if (name == "blas-threads") a.blas_threads = std::stoll(value());
    else if (name == "repeat") a.repeat = std::stoll(value());
    else if (name == "no-train") a.train = false;
    else if (name == "no-breakdown") a.breakdown = false;
    else if (name == "no-cache") a.cache = false;
    else if (name == "split") a.split = value();
    else {
      std::fprintf(stderr, "bench_flow: unknown option %s\n", flag.c_str());
      std::exit(2);
    }
  }
  if (a.presets.empty()) a.presets = {"default", "published"};
  return a;
}

FlowOptions make_options(const Args &a, const std::string &preset)
{
  auto o = FlowOptions::preset(preset, a.particles, a.dimension);
  for (const auto &[name, v] : a.sizes) o.size(name) = v;
  if (!a.split.empty()) o.split = split_from_name(a.split);
  o.validate();
  return o;
}

// Wall time of one call in ms, after a warm-up call: the best of `repeat` calls. The
// machine is shared, so the best call is the one least disturbed; the median is printed next
// to the headline figures to show how much the others were.
struct Timing {
  double best = 0, median = 0;
};

Timing timing(const std::function<void()> &f, std::int64_t repeat)
{
  f();
  std::vector<double> t;
  for (std::int64_t r = 0; r < repeat; ++r) {
    const auto start = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count());
  }
  std::sort(t.begin(), t.end());
  return {t.front(), t[t.size() / 2]};
}

double time_ms(const std::function<void()> &f, std::int64_t repeat)
{
  return timing(f, repeat).best;
}

std::int64_t parameter_count(FlowModel &model)
{
  std::int64_t n = 0;
  for (const auto &p : model.flow()->parameters()) n += p.numel();
  return n;
}

struct Inputs {
  torch::Tensor x_source, x_target, reference, symmetry;
};

Inputs make_inputs(const FlowOptions &o, const ModelMetadata &m, std::int64_t batch)
{
  Inputs in;
  const auto box_a = torch::tensor(m.source_box, torch::kFloat64);
  const auto box_b = torch::tensor(m.target_box, torch::kFloat64);
  in.x_source = torch::rand({batch, o.num_particles, o.dimension}, torch::kFloat64) * box_a;
  in.x_target = torch::rand({batch, o.num_particles, o.dimension}, torch::kFloat64) * box_b;
  in.reference = torch::randint(0, o.num_particles, {batch}, torch::kInt64);
  const auto group = symmetry_group(o.dimension, true);
  in.symmetry = group.index_select(0, torch::randint(0, group.size(0), {batch}));
  return in;
}

// Time of each piece of one coupling at the network's shapes, in ms, for one direction.
struct Pieces {
  double embed = 0, attention = 0, feedforward = 0, head = 0, spline = 0;
  double sum() const { return embed + attention + feedforward + head + spline; }
};

Pieces time_pieces(const FlowOptions &o, std::int64_t batch, bool train, bool inverse,
                   std::int64_t repeat)
{
  Conditioner conditioner(o.dimension - 1, o);
  conditioner->to(o.dtype);
  const auto p = o.num_particles - 1;
  const auto opts = torch::TensorOptions().dtype(o.dtype);
  const auto u = torch::rand({batch, p, o.dimension - 1}, opts) * 2 - 1;
  const auto h = torch::randn({batch, p, o.embedding}, opts);
  // a component-split coupling moves one component of every particle, a particle-split one
  // that of half of them
  const auto moved = o.split == CouplingSplit::particle ? (p + 1) / 2 : p;
  const auto raw = torch::randn({batch, moved, o.spline_parameters()}, opts) * 0.1;
  const auto x = torch::rand({batch, moved}, opts) * 2 - 1;
  // each piece: forward, and in training also backward with a unit upstream gradient and
  // requires_grad inputs, as inside the flow
  auto run = [&](const std::function<std::vector<torch::Tensor>(const torch::Tensor &)> &piece,
                 const torch::Tensor &input) {
    return time_ms(
        [&]() {
          if (train) {
            const auto in = input.detach().requires_grad_(true);
            auto out = piece(in);
            torch::Tensor total = out[0].sum();
            for (std::size_t i = 1; i < out.size(); ++i) total = total + out[i].sum();
            total.backward();
          } else {
            torch::InferenceMode guard;
            piece(input);
          }
        },
        repeat);
  };
  Pieces t;
  t.embed = run([&](const torch::Tensor &v) {
    return std::vector<torch::Tensor>{conditioner->embed()->forward(conditioner->features(v))};
  }, u);
  for (auto layer : conditioner->layers()) {
    t.attention += run([&](const torch::Tensor &v) {
      return std::vector<torch::Tensor>{layer->attention_block(v)};
    }, h);
    t.feedforward += run([&](const torch::Tensor &v) {
      return std::vector<torch::Tensor>{layer->feedforward_block(v)};
    }, h);
  }
  t.head = run([&](const torch::Tensor &v) {
    return std::vector<torch::Tensor>{conditioner->head()->forward(v)};
  }, h);
  t.spline = time_ms(
      [&]() {
        if (train) {
          const auto r = raw.detach().requires_grad_(true);
          const auto in = x.detach().requires_grad_(true);
          const CircularSpline s(r, o.bins, o.min_bin_size, o.min_derivative);
          const auto out = inverse ? s.inverse(in) : s.forward(in);
          (out.y.sum() + out.log_derivative.sum()).backward();
        } else {
          torch::InferenceMode guard;
          const CircularSpline s(raw, o.bins, o.min_bin_size, o.min_derivative);
          inverse ? s.inverse(x) : s.forward(x);
        }
      },
      repeat);
  return t;
}

// The fused spline kernel against the tensor formulation on one coupling's elements (the
// baseline in the same run for the fused kernel; forward, and forward and backward).
void compare_splines(const FlowOptions &o, std::int64_t batch, std::int64_t repeat)
{
  const auto p = o.num_particles - 1;
  const auto moved = o.split == CouplingSplit::particle ? (p + 1) / 2 : p;
  const auto opts = torch::TensorOptions().dtype(o.dtype);
  const auto raw = torch::randn({batch, moved, o.spline_parameters()}, opts) * 0.1;
  const auto x = torch::rand({batch, moved}, opts) * 2 - 1;
  for (bool train : {false, true}) {
    auto go = [&](SplineKernel kernel) {
      return time_ms(
          [&]() {
            for (bool inverse : {false, true}) {
              if (train) {
                const auto r = raw.detach().requires_grad_(true);
                const auto in = x.detach().requires_grad_(true);
                const CircularSpline s(r, o.bins, o.min_bin_size, o.min_derivative, kernel);
                const auto out = inverse ? s.inverse(in) : s.forward(in);
                (out.y.sum() + out.log_derivative.sum()).backward();
              } else {
                torch::InferenceMode guard;
                const CircularSpline s(raw, o.bins, o.min_bin_size, o.min_derivative, kernel);
                inverse ? s.inverse(x) : s.forward(x);
              }
            }
          },
          repeat);
    };
    const double fused = go(SplineKernel::fused), tensor = go(SplineKernel::tensor);
    std::printf("  spline F + F^-1 of one coupling (%lld elements) %s: fused %.3f ms, tensor "
                "formulation %.3f ms (x%.1f)\n",
                static_cast<long long>(batch * moved), train ? "forward+backward" : "forward",
                fused, tensor, tensor / fused);
  }
}

// The conditioner's pair bias at the network's shapes, as one node against LibTorch's broadcast
// product and bmm (forward and backward with a unit upstream gradient): justifies the node.
void compare_pair_bias(const FlowOptions &o, std::int64_t batch, std::int64_t repeat)
{
  if (o.pair_frequencies == 0 || o.layers == 0) return;
  const auto p = o.num_particles - 1;
  // the conditioner's inputs: every component in a particle split, the other ones otherwise
  const auto inputs = o.split == CouplingSplit::particle ? o.dimension : o.dimension - 1;
  const auto features = 2 * inputs * o.pair_frequencies;
  const auto opts = torch::TensorOptions().dtype(o.dtype);
  const auto y = torch::rand({batch, p, features}, opts) * 2 - 1;
  const auto w = torch::full({o.heads, features}, 2.0, opts);
  auto go = [&](const std::function<torch::Tensor(const torch::Tensor &, const torch::Tensor &)> &f) {
    return time_ms(
        [&]() {
          f(y.detach().requires_grad_(true), w.detach().requires_grad_(true)).sum().backward();
        },
        repeat);
  };
  const double node = go(pair_bias), reference = go(pair_bias_reference);
  std::printf("  pair bias of one coupling (%lld x %lld features) forward+backward: one node "
              "%.3f ms, broadcast product and bmm %.3f ms (x%.1f)\n",
              static_cast<long long>(batch * p), static_cast<long long>(features), node,
              reference, reference / node);
}

// LibTorch's own encoder layer at the same shapes, against ours (forward, or forward and
// backward): justifies the hand-written one.
void compare_encoders(const FlowOptions &o, std::int64_t batch, std::int64_t repeat)
{
  const auto p = o.num_particles - 1;
  torch::nn::TransformerEncoderLayer theirs(torch::nn::TransformerEncoderLayerOptions(
                                                o.embedding, o.heads)
                                                .dim_feedforward(o.feedforward)
                                                .dropout(0.0));
  EncoderLayer ours(o.embedding, o.heads, o.feedforward);
  const auto h = torch::randn({batch, p, o.embedding});
  for (bool train : {false, true}) {
    auto go = [&](const std::function<torch::Tensor(const torch::Tensor &)> &f) {
      return time_ms(
          [&]() {
            if (train) {
              f(h.detach().requires_grad_(true)).sum().backward();
            } else {
              torch::InferenceMode guard;
              f(h);
            }
          },
          repeat);
    };
    const double a = go([&](const torch::Tensor &v) { return ours->forward(v); });
    const double b = go([&](const torch::Tensor &v) {
      return theirs->forward(v.transpose(0, 1)).transpose(0, 1);
    });
    std::printf("  encoder layer %s: hand-written %.2f ms, torch::nn::TransformerEncoderLayer "
                "%.2f ms (x%.2f)\n",
                train ? "forward+backward" : "forward", a, b, b / a);
  }
}

void bench(const Args &a, const std::string &preset)
{
  const auto o = make_options(a, preset);
  ModelMetadata m;
  m.source_box.assign(o.dimension, std::pow(o.num_particles / 0.735, 1.0 / o.dimension));
  m.target_box.assign(o.dimension, std::pow(o.num_particles / 0.704, 1.0 / o.dimension));
  FlowModel model(o, m);
  // away from the identity, so the spline does its general work
  {
    torch::NoGradGuard no_grad;
    for (auto &item : model.flow()->named_parameters())
      if (item.key().find("head") != std::string::npos) item.value().normal_(0.0, 0.01);
  }
  const auto in = make_inputs(o, m, a.batch);
  const auto couplings = o.blocks * o.couplings_per_block();
  std::printf("\n%s: %s, %lld parameters, batch %lld, %lld threads\n", preset.c_str(),
              o.describe().c_str(), static_cast<long long>(parameter_count(model)),
              static_cast<long long>(a.batch), static_cast<long long>(a.threads));

  // Forward and inverse mapping of one batch each, without gradients.
  const auto map_timings = [&]() {
    return std::make_pair(timing([&]() {
      torch::InferenceMode guard;
      model.forward(in.x_source, in.reference, in.symmetry);
    }, a.repeat), timing([&]() {
      torch::InferenceMode guard;
      model.inverse(in.x_target, in.reference, in.symmetry);
    }, a.repeat));
  };
  const auto [fwd_t, inv_t] = map_timings();
  const double fwd = fwd_t.best, inv = inv_t.best;
  const double fwd_nograd = time_ms([&]() {
    torch::NoGradGuard guard;
    model.forward(in.x_source, in.reference, in.symmetry);
  }, a.repeat);
  std::printf("  mapping: forward %.0f conf/s (%.1f ms, median %.1f), inverse %.0f conf/s "
              "(%.1f ms, median %.1f); forward under NoGradGuard instead of InferenceMode "
              "%.1f ms\n",
              a.batch / fwd * 1e3, fwd, fwd_t.median, a.batch / inv * 1e3, inv, inv_t.median,
              fwd_nograd);
  if (a.batch <= FlowKernel::kMaxBatch) {
    // The same maps through LibTorch's operations: what the small-batch kernel replaces.
    const bool previous = FlowKernel::enable(false);
    const auto [fwd_ops, inv_ops] = map_timings();
    FlowKernel::enable(previous);
    std::printf("  small-batch kernel: forward %.2f ms against %.2f ms through LibTorch's "
                "operations (x%.2f; medians %.2f, %.2f), inverse %.2f against %.2f (x%.2f; "
                "medians %.2f, %.2f)\n",
                fwd, fwd_ops.best, fwd_ops.best / fwd, fwd_t.median, fwd_ops.median, inv,
                inv_ops.best, inv_ops.best / inv, inv_t.median, inv_ops.median);
  }

  double step = 0.0;
  if (a.train) {
    torch::optim::Adam optimizer(model.flow()->parameters(), torch::optim::AdamOptions(1e-4));
    const auto step_t = timing([&]() {
      const auto f = model.forward(in.x_source, in.reference, in.symmetry);
      const auto g = model.inverse(in.x_target, in.reference, in.symmetry);
      // stand-in for the energies: cheap, depends on every mapped position
      const auto loss = 1e-3 * (f.positions.square().mean() + g.positions.square().mean()) -
                        f.log_det.mean() - g.log_det.mean();
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
    }, a.repeat);
    step = step_t.best;
    const double adam = time_ms([&]() { optimizer.step(); }, a.repeat);
    std::printf("  training step (F + F^-1, backward, Adam): %.0f ms (median %.0f); of which "
                "Adam %.1f ms\n",
                step, step_t.median, adam);
  }

  if (!a.breakdown) return;
  auto report = [&](const char *what, double total, const Pieces &p1, const Pieces &p2) {
    const double scale = static_cast<double>(couplings);
    const double attention = (p1.attention + p2.attention) * scale;
    const double ff = (p1.feedforward + p2.feedforward) * scale;
    const double spline = (p1.spline + p2.spline) * scale;
    const double linear = (p1.embed + p1.head + p2.embed + p2.head) * scale;
    const double rest = total - attention - ff - spline - linear;
    std::printf("  %s %.0f ms: attention %.0f%%, feed-forward %.0f%%, spline %.0f%%, "
                "embedding+head %.0f%%, rest %.0f%%\n",
                what, total, 100 * attention / total, 100 * ff / total, 100 * spline / total,
                100 * linear / total, 100 * rest / total);
  };
  // forward and inverse mapping of one batch each = both directions once
  report("mapping F + F^-1", fwd + inv, time_pieces(o, a.batch, false, false, a.repeat),
         time_pieces(o, a.batch, false, true, a.repeat));
  if (a.train)
    report("training step", step, time_pieces(o, a.batch, true, false, a.repeat),
           time_pieces(o, a.batch, true, true, a.repeat));
  compare_splines(o, a.batch, a.repeat);
  compare_pair_bias(o, a.batch, a.repeat);
  compare_encoders(o, a.batch, a.repeat);
}

}    // namespace

int main(int argc, char **argv)
{
  const auto args = parse(argc, argv);
  torch::set_num_threads(static_cast<int>(args.threads));
  set_blas_threads(static_cast<int>(args.blas_threads > 0 ? args.blas_threads : args.threads));
  torch::manual_seed(1);
  if (args.cache) enable_tensor_cache();
  std::printf("tensor cache %s\n", args.cache ? "on" : "off");
  std::printf("%s\n", check_blas().summary.c_str());
  for (const auto &preset : args.presets) bench(args, preset);
  return 0;
}
