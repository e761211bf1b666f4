// The exchange move: its Metropolis decision, detailed balance of the rule on a finite state
// space (exact transition matrices) and on continuous states with a nonlinear map (the
// Jacobian checked against finite differences), the stationary marginals of a chain of
// exchanges and exact within-state moves against the known Gaussians (and a wrong rule that the
// same test catches), the involution through a real flow model, and the counters.
#include "flowmap_exchange.h"
#include "flowmap_random_stream.h"
#include "flowmap_weights.h"
#include "trainer_fixtures.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <vector>

using namespace flowmap;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

}    // namespace

/* ----------------------------------------------------------------------
   The decision
------------------------------------------------------------------------- */

TEST(ExchangeRule, LogAcceptanceIsTheSumOfBothLogWeightsAndNaNIsRejected)
{
  EXPECT_DOUBLE_EQ(exchange_log_acceptance(-1.25, 0.5), -0.75);
  EXPECT_EQ(exchange_log_acceptance(-kInf, 3.0), -kInf);
  EXPECT_EQ(exchange_log_acceptance(std::nan(""), 3.0), -kInf);
  EXPECT_EQ(exchange_log_acceptance(kInf, -kInf), -kInf);    // inf - inf is NaN: rejected
  EXPECT_EQ(exchange_acceptance_probability(0.3), 1.0);
  EXPECT_DOUBLE_EQ(exchange_acceptance_probability(std::log(0.25)), 0.25);
  EXPECT_EQ(exchange_acceptance_probability(-kInf), 0.0);
  EXPECT_EQ(exchange_acceptance_probability(std::nan("")), 0.0);
}

TEST(ExchangeRule, DecisionAcceptsWithProbabilityMinOneAlpha)
{
  // Over a uniform grid of u in [0, 1) the accepted fraction is min(1, alpha) to the grid step.
  constexpr int kGrid = 100000;
  for (double alpha : {0.0, 1e-3, 0.1, 0.37, 0.5, 0.999, 1.0, 2.5}) {
    const double log_alpha = alpha > 0.0 ? std::log(alpha) : -kInf;
    int accepted = 0;
    for (int i = 0; i < kGrid; ++i)
      accepted += exchange_accepted(log_alpha, (i + 0.5) / kGrid) ? 1 : 0;
    EXPECT_NEAR(static_cast<double>(accepted) / kGrid, std::min(1.0, alpha), 1.0 / kGrid)
        << "alpha " << alpha;
  }
  const double almost_one = std::nextafter(1.0, 0.0);
  EXPECT_TRUE(exchange_accepted(0.0, almost_one));
  EXPECT_TRUE(exchange_accepted(kInf, almost_one));
  EXPECT_FALSE(exchange_accepted(-kInf, 0.0));
  EXPECT_FALSE(exchange_accepted(std::nan(""), 0.0));
  EXPECT_FALSE(exchange_accepted(std::log(0.25), 0.25));
  EXPECT_TRUE(exchange_accepted(std::log(0.25), std::nextafter(0.25, 0.0)));
}

/* ----------------------------------------------------------------------
   Detailed balance on a finite state space: A and B are distributions on K states and F is a
   permutation (Jacobian 1); the exchange's transition matrix on the K^2 joint states is
   written out and checked exactly.
------------------------------------------------------------------------- */

namespace {

struct FiniteStates {
  static constexpr int K = 6;
  std::array<double, K> log_pa{}, log_pb{};
  std::array<int, K> f{}, f_inverse{};

  FiniteStates()
  {
    // Unnormalised on purpose: the rule must not need the partition functions.
    const double wa[K] = {1.0, 3.0, 0.5, 2.0, 7.0, 0.2};
    const double wb[K] = {4.0, 0.1, 1.5, 2.5, 0.7, 9.0};
    const int perm[K] = {3, 0, 5, 1, 4, 2};
    for (int i = 0; i < K; ++i) {
      log_pa[i] = std::log(wa[i]);
      log_pb[i] = std::log(wb[i]);
      f[i] = perm[i];
      f_inverse[perm[i]] = i;
    }
  }
  // With beta U = -log p: lw_fwd(i) = log p_B(F i) - log p_A(i), lw_inv(j) the other way.
  double log_alpha(int i, int j, bool wrong_rule = false) const
  {
    const double lw_fwd = log_pb[f[i]] - log_pa[i];
    const double lw_inv = log_pa[f_inverse[j]] - log_pb[j];
    return wrong_rule ? exchange_log_acceptance(lw_fwd, -lw_inv)
                      : exchange_log_acceptance(lw_fwd, lw_inv);
  }
  double joint(int i, int j) const
  {
    double za = 0.0, zb = 0.0;
    for (int k = 0; k < K; ++k) {
      za += std::exp(log_pa[k]);
      zb += std::exp(log_pb[k]);
    }
    return std::exp(log_pa[i]) / za * std::exp(log_pb[j]) / zb;
  }
  // Row-stochastic transition matrix of one exchange attempt on the states s = i * K + j.
  std::vector<double> exchange_matrix(bool wrong_rule = false) const
  {
    std::vector<double> p(K * K * K * K, 0.0);
    for (int i = 0; i < K; ++i)
      for (int j = 0; j < K; ++j) {
        const int s = i * K + j, t = f_inverse[j] * K + f[i];
        const double a = exchange_acceptance_probability(log_alpha(i, j, wrong_rule));
        p[s * K * K + t] += a;
        p[s * K * K + s] += 1.0 - a;
      }
    return p;
  }
};

}    // namespace

TEST(ExchangeDetailedBalance, FiniteStatesPairwiseBalanceAndStationarity)
{
  const FiniteStates m;
  constexpr int S = FiniteStates::K * FiniteStates::K;
  const auto p = m.exchange_matrix();
  double worst = 0.0, moved = 0.0;
  for (int s = 0; s < S; ++s)
    for (int t = 0; t < S; ++t) {
      const double flux = m.joint(s / 6, s % 6) * p[s * S + t];
      const double back = m.joint(t / 6, t % 6) * p[t * S + s];
      worst = std::max(worst, std::abs(flux - back));
      if (s != t) moved += flux;
    }
  EXPECT_LT(worst, 1e-16);
  EXPECT_GT(moved, 0.05) << "exchanges must actually happen for the test to mean anything";
  for (int t = 0; t < S; ++t) {
    double in = 0.0;
    for (int s = 0; s < S; ++s) in += m.joint(s / 6, s % 6) * p[s * S + t];
    EXPECT_NEAR(in, m.joint(t / 6, t % 6), 1e-16);
  }

  // The same check catches a rule with the inverse log-weight's sign flipped.
  const auto wrong = m.exchange_matrix(true);
  double wrong_worst = 0.0;
  for (int s = 0; s < S; ++s)
    for (int t = 0; t < S; ++t)
      wrong_worst = std::max(wrong_worst, std::abs(m.joint(s / 6, s % 6) * wrong[s * S + t] -
                                                   m.joint(t / 6, t % 6) * wrong[t * S + s]));
  EXPECT_GT(wrong_worst, 1e-3);
}

/* ----------------------------------------------------------------------
   Continuous states: A = N(0, I), B = N(mu, Sigma) in 2D, and a nonlinear bijection
   F(x) = R g(x) + c with g_k(x) = x_k + a tanh(x_k), whose Jacobian depends on x (for an affine
   map the two log-determinants cancel in log alpha and a rule without them would pass).
------------------------------------------------------------------------- */

namespace {

using Vec2 = std::array<double, 2>;

struct GaussianPair {
  const Vec2 mu{0.5, -0.3};
  const double sigma[2][2] = {{1.5, 0.6}, {0.6, 0.8}};
  const double r[2][2] = {{1.2, 0.4}, {-0.3, 0.7}};
  const Vec2 c{0.2, 0.1};
  const double a = 1.5;
  double sigma_inverse[2][2], r_inverse[2][2], chol[2][2], log_det_r;

  GaussianPair()
  {
    const double ds = sigma[0][0] * sigma[1][1] - sigma[0][1] * sigma[1][0];
    sigma_inverse[0][0] = sigma[1][1] / ds;
    sigma_inverse[1][1] = sigma[0][0] / ds;
    sigma_inverse[0][1] = sigma_inverse[1][0] = -sigma[0][1] / ds;
    const double dr = r[0][0] * r[1][1] - r[0][1] * r[1][0];
    r_inverse[0][0] = r[1][1] / dr;
    r_inverse[1][1] = r[0][0] / dr;
    r_inverse[0][1] = -r[0][1] / dr;
    r_inverse[1][0] = -r[1][0] / dr;
    log_det_r = std::log(std::abs(dr));
    chol[0][0] = std::sqrt(sigma[0][0]);
    chol[0][1] = 0.0;
    chol[1][0] = sigma[1][0] / chol[0][0];
    chol[1][1] = std::sqrt(sigma[1][1] - chol[1][0] * chol[1][0]);
  }

  // beta U of each state (beta = 1)
  double energy_a(const Vec2 &x) const { return 0.5 * (x[0] * x[0] + x[1] * x[1]); }
  double energy_b(const Vec2 &y) const
  {
    const double d0 = y[0] - mu[0], d1 = y[1] - mu[1];
    return 0.5 * (d0 * (sigma_inverse[0][0] * d0 + sigma_inverse[0][1] * d1) +
                  d1 * (sigma_inverse[1][0] * d0 + sigma_inverse[1][1] * d1));
  }
  double g(double x) const { return x + a * std::tanh(x); }
  double g_inverse(double y) const
  {
    double x = y / (1.0 + a);
    for (int it = 0; it < 100; ++it) {
      const double sech = 1.0 / std::cosh(x);
      const double step = (g(x) - y) / (1.0 + a * sech * sech);
      x -= step;
      if (std::abs(step) < 1e-15 * (1.0 + std::abs(x))) break;
    }
    return x;
  }
  double log_det_g(const Vec2 &x) const
  {
    double s = 0.0;
    for (double v : x) s += std::log1p(a / (std::cosh(v) * std::cosh(v)));
    return s;
  }
  Vec2 forward(const Vec2 &x) const
  {
    const Vec2 u{g(x[0]), g(x[1])};
    return {r[0][0] * u[0] + r[0][1] * u[1] + c[0], r[1][0] * u[0] + r[1][1] * u[1] + c[1]};
  }
  Vec2 inverse(const Vec2 &y) const
  {
    const Vec2 d{y[0] - c[0], y[1] - c[1]};
    return {g_inverse(r_inverse[0][0] * d[0] + r_inverse[0][1] * d[1]),
            g_inverse(r_inverse[1][0] * d[0] + r_inverse[1][1] * d[1])};
  }
  // The package's formula (flowmap::log_weight) with the analytic log-determinants; without
  // them (with_jacobian false) it is the wrong rule of the negative control.
  double lw_forward(const Vec2 &x, bool with_jacobian = true) const
  {
    return log_weight(1.0, energy_a(x), 1.0, energy_b(forward(x)),
                      with_jacobian ? log_det_r + log_det_g(x) : 0.0);
  }
  double lw_inverse(const Vec2 &y, bool with_jacobian = true) const
  {
    const Vec2 x = inverse(y);
    return log_weight(1.0, energy_b(y), 1.0, energy_a(x),
                      with_jacobian ? -(log_det_r + log_det_g(x)) : 0.0);
  }
  double log_alpha(const Vec2 &xa, const Vec2 &xb, bool with_jacobian = true) const
  {
    return exchange_log_acceptance(lw_forward(xa, with_jacobian), lw_inverse(xb, with_jacobian));
  }
  Vec2 sample_a(RandomStream &rng) const { return {rng.normal(), rng.normal()}; }
  Vec2 sample_b(RandomStream &rng) const
  {
    const double z0 = rng.normal(), z1 = rng.normal();
    return {mu[0] + chol[0][0] * z0, mu[1] + chol[1][0] * z0 + chol[1][1] * z1};
  }
};

}    // namespace

TEST(ExchangeDetailedBalance, ContinuousPairwiseBalanceWithTheJacobianOfTheInvolution)
{
  // p(s) min(1, alpha(s)) = p(T s) |det J_T(s)| min(1, alpha(T s)), with |det J_T| from central
  // finite differences of T on R^4, independent of the analytic log-determinants in the rule.
  const GaussianPair m;
  RandomStream rng(17, 0);
  for (int trial = 0; trial < 200; ++trial) {
    Vec2 xa{3.0 * rng.normal(), 3.0 * rng.normal()}, xb{3.0 * rng.normal(), 3.0 * rng.normal()};
    const auto T = [&](const std::array<double, 4> &s) {
      const Vec2 a2 = m.inverse({s[2], s[3]}), b2 = m.forward({s[0], s[1]});
      return std::array<double, 4>{a2[0], a2[1], b2[0], b2[1]};
    };
    const std::array<double, 4> s{xa[0], xa[1], xb[0], xb[1]};
    const auto t = T(s);
    // T is an involution
    const auto back = T(t);
    for (int k = 0; k < 4; ++k) ASSERT_NEAR(back[k], s[k], 1e-9 * (1.0 + std::abs(s[k])));

    double jac[4][4];
    for (int k = 0; k < 4; ++k) {
      const double h = 1e-5 * (1.0 + std::abs(s[k]));
      auto plus = s, minus = s;
      plus[k] += h;
      minus[k] -= h;
      const auto tp = T(plus), tm = T(minus);
      for (int l = 0; l < 4; ++l) jac[l][k] = (tp[l] - tm[l]) / (2.0 * h);
    }
    // det of the 4x4 by Gaussian elimination with partial pivoting
    double det = 1.0;
    for (int col = 0; col < 4; ++col) {
      int pivot = col;
      for (int row = col + 1; row < 4; ++row)
        if (std::abs(jac[row][col]) > std::abs(jac[pivot][col])) pivot = row;
      if (pivot != col) {
        for (int k = 0; k < 4; ++k) std::swap(jac[col][k], jac[pivot][k]);
        det = -det;
      }
      det *= jac[col][col];
      for (int row = col + 1; row < 4; ++row) {
        const double factor = jac[row][col] / jac[col][col];
        for (int k = col; k < 4; ++k) jac[row][k] -= factor * jac[col][k];
      }
    }
    const double log_jacobian_fd = std::log(std::abs(det));

    const double la = m.log_alpha(xa, xb);
    const double la_back = m.log_alpha({t[0], t[1]}, {t[2], t[3]});
    EXPECT_NEAR(la_back, -la, 1e-9 * (1.0 + std::abs(la)));
    const double log_flux = -m.energy_a(xa) - m.energy_b(xb) + std::min(0.0, la);
    const double log_back = -m.energy_a({t[0], t[1]}) - m.energy_b({t[2], t[3]}) +
        log_jacobian_fd + std::min(0.0, la_back);
    EXPECT_NEAR(log_flux, log_back, 1e-6 * (1.0 + std::abs(log_flux)));
  }
}

namespace {

// Moments of both marginals over independent chains that start from the exact product
// distribution; each step is an exchange attempt, then an exact autoregressive move within
// each state (invariant for its Gaussian but correlated, rho = 0.9, so the exchanges matter).
// Returns the largest |z| of the 10 moments (means, variances, covariances of A and B)
// against their exact values, with standard errors over the chains; rate the acceptance rate.
double largest_moment_z(const GaussianPair &m, bool with_jacobian, double &rate)
{
  constexpr int kChains = 2000, kSteps = 300;
  constexpr double rho = 0.9;
  const double kick = std::sqrt(1.0 - rho * rho);
  RandomStream rng(2024, with_jacobian ? 1 : 2);
  // per chain: time averages of x, y, x^2 - ..., in the order of `exact`
  std::vector<std::array<double, 10>> chain_mean(kChains);
  const std::array<double, 10> exact = {0.0, 0.0, 1.0, 1.0, 0.0, m.mu[0], m.mu[1],
                                        m.sigma[0][0], m.sigma[1][1], m.sigma[0][1]};
  long accepted = 0;
  for (int ch = 0; ch < kChains; ++ch) {
    Vec2 xa = m.sample_a(rng), xb = m.sample_b(rng);
    std::array<double, 10> sum{};
    for (int step = 0; step < kSteps; ++step) {
      if (exchange_accepted(m.log_alpha(xa, xb, with_jacobian), rng.uniform())) {
        const Vec2 new_a = m.inverse(xb), new_b = m.forward(xa);
        xa = new_a;
        xb = new_b;
        ++accepted;
      }
      const Vec2 za = m.sample_a(rng), zb = m.sample_b(rng);
      for (int k = 0; k < 2; ++k) {
        xa[k] = rho * xa[k] + kick * za[k];
        xb[k] = m.mu[k] + rho * (xb[k] - m.mu[k]) + kick * (zb[k] - m.mu[k]);
      }
      const double b0 = xb[0] - m.mu[0], b1 = xb[1] - m.mu[1];
      const std::array<double, 10> v = {xa[0], xa[1], xa[0] * xa[0], xa[1] * xa[1],
                                        xa[0] * xa[1], xb[0], xb[1], b0 * b0, b1 * b1, b0 * b1};
      for (int q = 0; q < 10; ++q) sum[q] += v[q];
    }
    for (int q = 0; q < 10; ++q) chain_mean[ch][q] = sum[q] / kSteps;
  }
  rate = static_cast<double>(accepted) / (static_cast<double>(kChains) * kSteps);
  double worst = 0.0;
  for (int q = 0; q < 10; ++q) {
    double mean = 0.0, sq = 0.0;
    for (const auto &c : chain_mean) mean += c[q];
    mean /= kChains;
    for (const auto &c : chain_mean) sq += (c[q] - mean) * (c[q] - mean);
    const double standard_error = std::sqrt(sq / (kChains - 1) / kChains);
    worst = std::max(worst, std::abs(mean - exact[q]) / standard_error);
  }
  return worst;
}

}    // namespace

TEST(ExchangeDetailedBalance, ChainOfExchangesKeepsBothGaussianMarginals)
{
  const GaussianPair m;
  double rate = 0.0;
  // 10 moments within 4.5 standard errors: a false alarm has probability below 1e-4 (and the
  // seeds are fixed, so the outcome is reproducible).
  const double z = largest_moment_z(m, true, rate);
  EXPECT_LT(z, 4.5);
  EXPECT_GT(rate, 0.1) << "too few exchanges for the test to be sensitive";

  // The acceptance rate of the chain equals E[min(1, alpha)] over independent samples of
  // p_A x p_B: 6e5 attempts against 1e6 independent pairs, within 5 standard errors.
  RandomStream rng(99, 0);
  constexpr int kPairs = 1000000;
  double sum = 0.0, sq = 0.0;
  for (int i = 0; i < kPairs; ++i) {
    const double p = exchange_acceptance_probability(m.log_alpha(m.sample_a(rng), m.sample_b(rng)));
    sum += p;
    sq += p * p;
  }
  const double expected = sum / kPairs;
  const double spread = std::sqrt(sq / kPairs - expected * expected);
  // chain outcomes are Bernoulli and correlated over a few steps: a generous error
  const double error = std::sqrt(rate * (1.0 - rate) / 6e5) * 3.0 + spread / std::sqrt(kPairs);
  EXPECT_NEAR(rate, expected, 5.0 * error);

  // The same test catches the rule without the log-determinants.
  double wrong_rate = 0.0;
  const double wrong_z = largest_moment_z(m, false, wrong_rate);
  EXPECT_GT(wrong_z, 10.0);
  std::printf("exchange chain: largest |z| %.2f, acceptance %.4f (independent pairs %.4f); "
              "without the log-determinants largest |z| %.1f\n", z, rate, expected, wrong_z);
}

/* ----------------------------------------------------------------------
   Through a real flow: map_and_weigh's forward and inverse log-weights make an involution,
   log alpha(T s) = -log alpha(s), with the reference-particle convention of the package and
   boxes of different densities; the same for the isotropic-scaling baseline.
------------------------------------------------------------------------- */

TEST(ExchangeRule, FlowModelExchangeIsAnInvolutionWithOppositeLogAcceptance)
{
  ToySystem toy;
  toy.target_box = {3.3, 3.3};
  auto states = toy.states();
  states.beta_source = 0.8;
  states.beta_target = 1.3;
  auto model = toy.model(torch::kFloat64, 5, "tiny");
  perturb_parameters(model, 0.05, 21);
  SoftSpheres energy_a(toy.n, toy.d, 3.0, 1.0), energy_b(toy.n, toy.d, 5.0, 1.1);

  torch::manual_seed(8);
  const auto xa = torch::rand({4, toy.n, toy.d}, torch::kFloat64) * toy.source_box[0];
  const auto xb = torch::rand({4, toy.n, toy.d}, torch::kFloat64) * toy.target_box[0];
  auto energies = [](EnergyModel &e, const torch::Tensor &x, const std::vector<double> &box) {
    std::vector<double> u(x.size(0));
    const auto c = x.contiguous();
    e.evaluate(c.data_ptr<double>(), x.size(0), box.data(), u.data(), nullptr, false);
    return u;
  };
  for (FlowModel *flow : {&model, static_cast<FlowModel *>(nullptr)}) {
    const auto fwd = map_and_weigh(flow, Direction::forward, states, xa,
                                   energies(energy_a, xa, toy.source_box), energy_b);
    const auto inv = map_and_weigh(flow, Direction::inverse, states, xb,
                                   energies(energy_b, xb, toy.target_box), energy_a);
    // T(s): A gets F^-1(x_B), B gets F(x_A)
    const auto ya = inv.positions, yb = fwd.positions;
    const auto fwd2 = map_and_weigh(flow, Direction::forward, states, ya,
                                    energies(energy_a, ya, toy.source_box), energy_b);
    const auto inv2 = map_and_weigh(flow, Direction::inverse, states, yb,
                                    energies(energy_b, yb, toy.target_box), energy_a);
    double spread = 0.0;
    for (int f = 0; f < 4; ++f) {
      const double la = exchange_log_acceptance(fwd.log_weight[f], inv.log_weight[f]);
      const double la2 = exchange_log_acceptance(fwd2.log_weight[f], inv2.log_weight[f]);
      EXPECT_NEAR(la2, -la, 1e-9 * (1.0 + std::abs(la))) << (flow ? "flow" : "identity");
      spread = std::max(spread, std::abs(la));
    }
    EXPECT_GT(spread, 0.1) << "log alpha should not vanish for the test to be meaningful";
    // and T(T(s)) = s modulo the boxes
    const auto half_a = torch::tensor(toy.source_box, torch::kFloat64) * 0.5;
    const auto back = inv2.positions;    // F^-1(F(x_A))
    const auto diff = ((back - xa) / half_a + 1.0).remainder(2.0) - 1.0;
    EXPECT_LT(diff.abs().max().item<double>(), 1e-10);
  }
}

/* ----------------------------------------------------------------------
   Counters
------------------------------------------------------------------------- */

TEST(ExchangeStatistics, CountsRatesAndMeanProbabilitiesByHand)
{
  ExchangeStatistics stats(3);
  EXPECT_EQ(stats.acceptance_rate(), 0.0);
  EXPECT_EQ(stats.recent_acceptance_rate(), 0.0);
  stats.record(0.5, true, std::log(0.5));               // p 1, baseline 0.5
  stats.record(std::log(0.25), false, -kInf);           // p 0.25, baseline 0
  stats.record(std::nan(""), true, std::log(0.1));      // non-finite: counted as rejected
  stats.record(std::log(0.75), true, 0.0);              // p 0.75, baseline 1
  EXPECT_EQ(stats.attempts(), 4);
  EXPECT_EQ(stats.accepted(), 2);
  EXPECT_EQ(stats.nonfinite(), 1);
  EXPECT_DOUBLE_EQ(stats.acceptance_rate(), 0.5);
  EXPECT_DOUBLE_EQ(stats.recent_acceptance_rate(), 1.0 / 3.0);    // last 3: no, no, yes
  EXPECT_DOUBLE_EQ(stats.mean_probability(), (1.0 + 0.25 + 0.0 + 0.75) / 4.0);
  EXPECT_DOUBLE_EQ(stats.mean_probability_baseline(), (0.5 + 0.0 + 0.1 + 1.0) / 4.0);
  EXPECT_THROW(ExchangeStatistics(0), std::invalid_argument);
}

TEST(ExchangeStatistics, StateRestoresExactlyAndIntoAnotherWindow)
{
  ExchangeStatistics stats(4);
  const bool outcomes[] = {true, false, true, true, false, false, true};
  for (bool o : outcomes) stats.record(o ? 0.1 : -1.0, o, -2.0);
  ExchangeStatistics copy(4);
  copy.restore(stats.state());
  EXPECT_EQ(copy.state(), stats.state());
  copy.record(-0.5, true, -1.0);
  stats.record(-0.5, true, -1.0);
  EXPECT_EQ(copy.state(), stats.state());

  // a smaller window keeps the most recent outcomes: of ..., false, false, true, true: 2 of 3
  ExchangeStatistics small(3);
  small.restore(stats.state());
  EXPECT_EQ(small.attempts(), 8);
  EXPECT_DOUBLE_EQ(small.recent_acceptance_rate(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(small.acceptance_rate(), stats.acceptance_rate());
  // a larger one has only what was stored
  ExchangeStatistics large(10);
  large.restore(stats.state());
  EXPECT_DOUBLE_EQ(large.recent_acceptance_rate(), 2.0 / 4.0);

  auto damaged = stats.state();
  damaged[2] = 100.0;    // more accepted than attempts
  EXPECT_THROW(copy.restore(damaged), std::invalid_argument);
  damaged = stats.state();
  damaged.pop_back();
  EXPECT_THROW(copy.restore(damaged), std::invalid_argument);
  EXPECT_THROW(copy.restore({}), std::invalid_argument);
}

/* ----------------------------------------------------------------------
   The random stream
------------------------------------------------------------------------- */

TEST(RandomStream, UniformAndNormalMomentsAndIndependentStreams)
{
  RandomStream rng(5, 0);
  constexpr int n = 1000000;
  double su = 0.0, su2 = 0.0, sn = 0.0, sn2 = 0.0, sn4 = 0.0, lo = 1.0, hi = 0.0;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform(), z = rng.normal();
    lo = std::min(lo, u);
    hi = std::max(hi, u);
    su += u;
    su2 += u * u;
    sn += z;
    sn2 += z * z;
    sn4 += z * z * z * z;
  }
  EXPECT_GE(lo, 0.0);
  EXPECT_LT(hi, 1.0);
  // 5 standard errors: var(u) = 1/12, var(u^2) = 4/45, var(z^2) = 2, var(z^4) = 96
  EXPECT_NEAR(su / n, 0.5, 5.0 * std::sqrt(1.0 / 12.0 / n));
  EXPECT_NEAR(su2 / n, 1.0 / 3.0, 5.0 * std::sqrt(4.0 / 45.0 / n));
  EXPECT_NEAR(sn / n, 0.0, 5.0 / std::sqrt(n));
  EXPECT_NEAR(sn2 / n, 1.0, 5.0 * std::sqrt(2.0 / n));
  EXPECT_NEAR(sn4 / n, 3.0, 5.0 * std::sqrt(96.0 / n));

  RandomStream a(5, 0), b(5, 0), c(5, 1), d(6, 0);
  const double first = a.uniform();
  EXPECT_EQ(first, b.uniform());
  EXPECT_NE(first, c.uniform());
  EXPECT_NE(first, d.uniform());
}

TEST(RandomStream, RestoredStateContinuesTheSameSequence)
{
  RandomStream rng(11, 3);
  for (int i = 0; i < 1000; ++i) rng.normal();
  const auto saved = rng.state();
  std::vector<double> expected;
  for (int i = 0; i < 10; ++i) expected.push_back(i % 2 ? rng.uniform() : rng.normal());
  RandomStream other(1, 1);
  other.restore(saved);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(i % 2 ? other.uniform() : other.normal(), expected[i]);
  EXPECT_THROW(other.restore("not a state"), std::invalid_argument);
  EXPECT_THROW(other.restore(saved + " 42"), std::invalid_argument);
}
