// Same Hamiltonian, different temperature, for a binary Lennard-Jones mixture: the identity
// baseline is plain temperature reweighting, log w = (beta_A - beta_B) U exactly; a small
// type-aware flow trained on Metropolis frames of both temperatures beats it on held-out
// frames (RESS from hot to cold, mean log-weight both ways).
#include "analytic_energy.h"
#include "flowmap_mapping.h"
#include "flowmap_session.h"
#include "flowmap_weights.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <random>
#include <vector>

using namespace flowmap;

namespace {

// 12 particles in 2D, 8 of species A (type 1) and 4 of B (type 2), interleaved in atom-ID
// order so that the flow's grouped order differs from the atom order.
const std::vector<std::int64_t> kTypes = {1, 2, 1, 1, 2, 1, 1, 2, 1, 1, 2, 1};
constexpr std::int64_t kN = 12, kD = 2;
// Box 3.46: the largest cutoff, 1.6 sigma_AA, stays below half of it (minimum image).
constexpr double kDensity = 1.0, kHot = 2.0, kCold = 1.0, kCut = 1.6;

std::vector<int> species_of(const std::vector<std::int64_t> &types)
{
  std::vector<int> s;
  for (auto t : types) s.push_back(static_cast<int>(t - 1));
  return s;
}

struct Frames {
  std::vector<double> positions;    // count * N * d
  std::vector<double> energies;
};

// Metropolis Monte Carlo of single-particle moves at inverse temperature beta, one frame every
// `sweeps` sweeps after 200 sweeps of equilibration from a square lattice.
Frames sample(EnergyModel &energy, double beta, double box, std::int64_t count, int sweeps,
              std::uint64_t seed)
{
  std::mt19937_64 engine(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<double> x(kN * kD);
  const int side = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(kN))));
  for (std::int64_t i = 0; i < kN; ++i) {
    x[i * kD] = (i % side + 0.5) * box / side;
    x[i * kD + 1] = (i / side + 0.5) * box / side;
  }
  const double lengths[2] = {box, box};
  double u = 0.0;
  energy.evaluate(x.data(), 1, lengths, &u, nullptr, false);
  Frames out;
  const int total = 200 + static_cast<int>(count) * sweeps;
  for (int sweep = 1; sweep <= total; ++sweep) {
    for (std::int64_t move = 0; move < kN; ++move) {
      const auto i = static_cast<std::int64_t>(uniform(engine) * kN);
      const double old[2] = {x[i * kD], x[i * kD + 1]};
      for (int k = 0; k < 2; ++k) x[i * kD + k] += 0.25 * (2.0 * uniform(engine) - 1.0);
      double trial = 0.0;
      energy.evaluate(x.data(), 1, lengths, &trial, nullptr, false);
      if (uniform(engine) < std::exp(-beta * (trial - u))) {
        u = trial;
      } else {
        x[i * kD] = old[0];
        x[i * kD + 1] = old[1];
      }
    }
    if (sweep > 200 && (sweep - 200) % sweeps == 0) {
      out.positions.insert(out.positions.end(), x.begin(), x.end());
      out.energies.push_back(u);
    }
  }
  return out;
}

StatePair states(double box)
{
  StatePair s;
  s.num_particles = kN;
  s.dimension = kD;
  s.source_box = {box, box};
  s.target_box = {box, box};
  s.beta_source = 1.0 / kHot;
  s.beta_target = 1.0 / kCold;
  return s;
}

}    // namespace

TEST(SameHamiltonian, IdentityLogWeightIsTemperatureReweighting)
{
  const double box = std::sqrt(kN / kDensity);
  BinaryLennardJones lj(species_of(kTypes), kD, kCut);
  auto frames = sample(lj, 0.5, box, 50, 2, 1);
  auto pair = states(box);
  // Powers of two: (beta_A - beta_B) U is then computed without rounding either way.
  pair.beta_source = 0.5;
  pair.beta_target = 1.0;
  const auto x = torch::from_blob(frames.positions.data(), {50, kN, kD}, torch::kFloat64);
  for (auto direction : {Direction::forward, Direction::inverse}) {
    const auto weighed = map_and_weigh(nullptr, direction, pair, x, frames.energies, lj);
    const double beta_from = direction == Direction::forward ? 0.5 : 1.0;
    const double beta_to = direction == Direction::forward ? 1.0 : 0.5;
    EXPECT_TRUE(torch::equal(weighed.positions, x)) << "same box: the identity map";
    for (std::size_t f = 0; f < frames.energies.size(); ++f) {
      EXPECT_EQ(weighed.energy_to[f], frames.energies[f]);
      EXPECT_EQ(weighed.log_det[f], 0.0);
      EXPECT_EQ(weighed.log_weight[f], (beta_from - beta_to) * frames.energies[f]);
    }
  }
}

TEST(SameHamiltonian, TypeAwareFlowBeatsTemperatureReweightingOnHeldOutFrames)
{
  // OpenMP spin-waiting makes a second thread a loss for tensors of this size.
  torch::set_num_threads(1);
  const double box = std::sqrt(kN / kDensity);
  BinaryLennardJones source(species_of(kTypes), kD, kCut), target(species_of(kTypes), kD, kCut);
  const auto hot = sample(source, 1.0 / kHot, box, 6000, 10, 2);
  const auto cold = sample(target, 1.0 / kCold, box, 6000, 10, 3);

  torch::manual_seed(4);
  // The default network with one block and half the widths: per CPU second the smallest
  // particle-split flow learned fastest here (one block, embedding 16: 0.19 nats in 800 steps,
  // two blocks of embedding 32: 0.13 in 500 steps at three times the cost).
  auto options = FlowOptions::preset("default", kN, kD);
  options.blocks = 1;
  options.embedding = 16;
  options.feedforward = 32;
  ModelMetadata meta;
  meta.source_box = {box, box};
  meta.target_box = {box, box};
  meta.source_temperature = kHot;
  meta.target_temperature = kCold;
  SessionOptions session_options;
  session_options.pool_capacity = 3000;
  session_options.holdout_capacity = 3000;    // the first frames: never trained on
  session_options.training.batch_size = 64;
  session_options.training.learning_rate = 3e-3;
  session_options.training.warmup_steps = 20;
  session_options.training.average = 0.95;
  Session session(FlowModel(options, meta, Species(kTypes)), source, target, states(box),
                  session_options);
  ASSERT_EQ(session.model().species().num_species(), 2);
  for (std::size_t f = 0; f < hot.energies.size(); ++f) {
    session.add_frame(Ensemble::source, &hot.positions[f * kN * kD], hot.energies[f]);
    session.add_frame(Ensemble::target, &cold.positions[f * kN * kD], cold.energies[f]);
  }

  const auto before = session.validate();
  const auto start = std::chrono::steady_clock::now();
  const int steps = 800;
  for (int step = 0; step < steps; ++step) session.train_step();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto after = session.validate();
  std::printf("temperature reweighting RESS %.4f (A->B) %.4f (B->A); flow after %d steps in "
              "%.1f s: %.4f %.4f, KL gain %.3f %.3f nats\n",
              after.ress_forward_identity, after.ress_inverse_identity, steps, seconds,
              after.ress_forward, after.ress_inverse, after.kl_gain_forward,
              after.kl_gain_inverse);
  // the fresh flow is the identity: the baseline of the same 3000 + 3000 frames
  EXPECT_NEAR(before.ress_forward, before.ress_forward_identity, 1e-9);
  EXPECT_NEAR(before.ress_inverse, before.ress_inverse_identity, 1e-9);
  EXPECT_EQ(session.trainer().skipped(), 0);
  // Measured (one thread, 39 s of CPU): KL gains 0.23 and 0.16 nats, RESS A->B 0.173 against
  // 0.136, B->A 0.061 against 0.014. The B->A RESS is printed, not asserted: temperature
  // reweighting of cold frames weights each by exp((beta_B - beta_A) U), so the few
  // highest-energy cold frames of the 3000 decide it (identity: about 40 effective frames),
  // and in trial runs with other cutoffs and learning rates it moved either way while the
  // mean log-weight gain stayed at 0.14 to 0.16 nats.
  EXPECT_GT(after.kl_gain_forward, 0.05);
  EXPECT_GT(after.kl_gain_inverse, 0.05);
  EXPECT_GT(after.ress_forward, 1.1 * after.ress_forward_identity);
}
