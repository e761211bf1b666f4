/* ----------------------------------------------------------------------
   USER-FLOWMAP: training the flow.
------------------------------------------------------------------------- */

#include "flowmap_trainer.h"

#include "flowmap_coordinates.h"
#include "flowmap_energy_function.h"
#include "flowmap_model.h"
#include "flowmap_weights.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

namespace flowmap {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool all_equal(const std::vector<double> &v)
{
  for (double x : v)
    if (x != v.front()) return false;
  return true;
}

void check_loss_weights(const TrainingOptions &o)
{
  if (!(o.weight_kld >= 0.0 && o.weight_nll >= 0.0 && o.weight_reweighted >= 0.0) ||
      !std::isfinite(o.weight_kld + o.weight_nll + o.weight_reweighted))
    throw std::invalid_argument("the weights of the loss terms must be finite and >= 0");
  if (!(o.reweight_power > 0.0 && o.reweight_power <= 1.0))
    throw std::invalid_argument("the reweighted NLL term needs a power in (0, 1]");
}

}    // namespace

Trainer::Trainer(FlowModel &model, EnergyModel &source_energy, EnergyModel &target_energy,
                 const StatePair &states, const TrainingOptions &options, int rank, int nranks,
                 Reducer reducer) :
    model_(model), source_energy_(source_energy), target_energy_(target_energy), states_(states),
    options_(options), rank_(rank), nranks_(nranks), reducer_(std::move(reducer))
{
  if (options_.batch_size < 1) throw std::invalid_argument("batch size must be at least 1");
  if (options_.learning_rate <= 0.0) throw std::invalid_argument("learning rate must be > 0");
  if (nranks_ < 1 || rank_ < 0 || rank_ >= nranks_)
    throw std::invalid_argument("rank must lie in [0, nranks)");
  if (options_.average < 0.0 || options_.average >= 1.0)
    throw std::invalid_argument("parameter averaging decay must lie in [0, 1)");
  check_loss_weights(options_);
  parameters_ = model_.flow()->parameters();
  if (options_.average > 0.0)
    for (const auto &p : parameters_) averaged_.push_back(p.detach().clone());
  optimizer_ = std::make_unique<torch::optim::Adam>(
      parameters_, torch::optim::AdamOptions(options_.learning_rate));
  // Rotations are symmetries of both ensembles only if both boxes are cubic; reflections
  // always are.
  const bool cubic = all_equal(states_.source_box) && all_equal(states_.target_box);
  symmetries_ = symmetry_group(states_.dimension, cubic);
  generator_ = at::make_generator<at::CPUGeneratorImpl>(options_.seed);
}

Trainer::~Trainer() = default;

void Trainer::set_loss_weights(double kld, double nll, double reweighted, double reweight_power)
{
  auto changed = options_;
  changed.weight_kld = kld;
  changed.weight_nll = nll;
  changed.weight_reweighted = reweighted;
  changed.reweight_power = reweight_power;
  check_loss_weights(changed);
  options_ = changed;
}

double Trainer::learning_rate() const
{
  double lr = options_.learning_rate;
  if (steps_ < options_.warmup_steps)
    lr *= static_cast<double>(steps_ + 1) / static_cast<double>(options_.warmup_steps);
  if (options_.decay_every > 0)
    lr *= std::pow(options_.decay_factor, static_cast<double>(steps_ / options_.decay_every));
  return lr;
}

WorkShare Trainer::my_share(std::int64_t total) const
{
  return work_share(total, rank_, nranks_);
}

void Trainer::reduce(double *data, std::int64_t n) const
{
  if (nranks_ > 1 && reducer_) reducer_(data, n);
}

Trainer::Term Trainer::loss_term(const FramePool &pool, Direction direction,
                                 bool with_weights, StepReport &report)
{
  const auto batch = options_.batch_size;
  // Every process draws the whole batch, so the generators stay in step across processes.
  const auto indices = torch::randint(pool.size(), {batch}, generator_, torch::kInt64);
  torch::Tensor reference = torch::full({batch}, model_.mapping_reference(), torch::kInt64);
  torch::Tensor symmetry;
  if (options_.augment) {
    // In a mixture only atoms of the reference species may be the reference particle (all
    // atoms for a single species, the same draws as a type-blind flow).
    const auto &atoms = model_.reference_atoms();
    reference = atoms.index_select(
        0, torch::randint(atoms.size(0), {batch}, generator_, torch::kInt64));
    const auto element = torch::randint(symmetries_.size(0), {batch}, generator_, torch::kInt64);
    symmetry = symmetries_.index_select(0, element);
  }
  const bool forward = direction == Direction::forward;
  Term term;
  term.loss = torch::zeros({}, torch::kFloat64);
  with_weights = with_weights && forward;
  if (with_weights) term.log_weight = torch::zeros({batch}, torch::kFloat64);
  const auto share = my_share(batch);
  if (share.count > 0) {
    const auto mine = indices.narrow(0, share.begin, share.count);
    const auto x = pool.gather(mine);
    term.reference = reference.narrow(0, share.begin, share.count);
    if (symmetry.defined()) term.symmetry = symmetry.narrow(0, share.begin, share.count);

    auto start = std::chrono::steady_clock::now();
    term.mapped = forward ? model_.forward(x, term.reference, term.symmetry)
                          : model_.inverse(x, term.reference, term.symmetry);
    report.time_network += seconds_since(start);

    start = std::chrono::steady_clock::now();
    auto &energy_model = forward ? target_energy_ : source_energy_;
    const auto &box = forward ? states_.target_box : states_.source_box;
    const double beta = forward ? states_.beta_target : states_.beta_source;
    const auto energy = potential_energy(energy_model, term.mapped.positions, box, true);
    report.time_energy += seconds_since(start);

    const auto per_frame = beta * energy - term.mapped.log_det;
    term.loss = per_frame.sum() / static_cast<double>(batch);
    if (with_weights)
      term.log_weight.narrow(0, share.begin, share.count)
          .copy_(states_.beta_source * pool.energies().index_select(0, mine) -
                 per_frame.detach());
  }
  if (with_weights) reduce(term.log_weight.data_ptr<double>(), batch);
  return term;
}

torch::Tensor Trainer::reweighted_term(const Term &forward, StepReport &report)
{
  const auto tempered = options_.reweight_power * forward.log_weight;
  // A non-finite weight poisons the whole term on every process (the weights are the same
  // everywhere), and step() then skips the batch on all of them.
  const auto weights = torch::softmax(tempered, 0);
  report.batch_ess = 1.0 / weights.square().sum().item<double>();
  if (!forward.mapped.positions.defined()) return torch::zeros({}, torch::kFloat64);
  const auto share = my_share(options_.batch_size);
  const auto y = forward.mapped.positions.detach();

  auto start = std::chrono::steady_clock::now();
  const auto back = model_.inverse(y, forward.reference, forward.symmetry);
  report.time_network += seconds_since(start);

  start = std::chrono::steady_clock::now();
  const auto energy = potential_energy(source_energy_, back.positions, states_.source_box, true);
  report.time_energy += seconds_since(start);

  return (weights.narrow(0, share.begin, share.count) *
          (states_.beta_source * energy - back.log_det))
      .sum();
}

StepReport Trainer::step(const FramePool *source_frames, const FramePool *target_frames)
{
  const bool have_source = source_frames && !source_frames->empty();
  const bool use_kld = options_.weight_kld > 0.0 && have_source;
  const bool use_reweighted = options_.weight_reweighted > 0.0 && have_source;
  const bool use_nll = options_.weight_nll > 0.0 && target_frames && !target_frames->empty();
  if (!use_kld && !use_nll && !use_reweighted)
    throw std::logic_error("a training step needs frames for a loss term with non-zero weight");

  StepReport report;
  report.learning_rate = learning_rate();
  optimizer_->zero_grad();

  torch::Tensor kld = torch::zeros({}, torch::kFloat64), nll = kld, reweighted = kld;
  if (use_kld || use_reweighted) {
    const auto forward = loss_term(*source_frames, Direction::forward, use_reweighted, report);
    if (use_kld) kld = forward.loss;
    if (use_reweighted) reweighted = reweighted_term(forward, report);
  }
  if (use_nll) nll = loss_term(*target_frames, Direction::inverse, false, report).loss;
  const auto loss = options_.weight_kld * kld + options_.weight_nll * nll +
      options_.weight_reweighted * reweighted;

  auto start = std::chrono::steady_clock::now();
  const bool finite_here = std::isfinite(loss.item<double>());
  if (finite_here && loss.requires_grad()) loss.backward();
  report.time_network += seconds_since(start);

  // One reduction carries the gradients, both loss terms and the non-finite flag, so every
  // process takes the same decision and applies the same update.
  start = std::chrono::steady_clock::now();
  std::vector<torch::Tensor> flat;
  flat.reserve(parameters_.size() + 1);
  for (const auto &p : parameters_)
    flat.push_back(p.grad().defined() && finite_here
                       ? p.grad().detach().to(torch::kCPU, torch::kFloat64).reshape({-1})
                       : torch::zeros({p.numel()}, torch::kFloat64));
  flat.push_back(torch::tensor({finite_here ? kld.item<double>() : 0.0,
                                finite_here ? nll.item<double>() : 0.0,
                                finite_here ? reweighted.item<double>() : 0.0,
                                finite_here ? 0.0 : 1.0},
                               torch::kFloat64));
  auto buffer = torch::cat(flat).contiguous();
  reduce(buffer.data_ptr<double>(), buffer.numel());
  report.time_reduce = seconds_since(start);

  const auto count = buffer.numel();
  const double *tail = buffer.data_ptr<double>() + count - 4;
  report.loss_kld = tail[0];
  report.loss_nll = tail[1];
  report.loss_reweighted = tail[2];
  report.loss = options_.weight_kld * tail[0] + options_.weight_nll * tail[1] +
      options_.weight_reweighted * tail[2];
  auto gradient = buffer.narrow(0, 0, count - 4);
  report.grad_norm = gradient.norm().item<double>();
  if (tail[3] > 0.0 || !std::isfinite(report.loss) || !std::isfinite(report.grad_norm)) {
    report.skipped = true;
    ++skipped_;
    optimizer_->zero_grad();
    return report;
  }

  start = std::chrono::steady_clock::now();
  if (options_.clip_norm > 0.0 && report.grad_norm > options_.clip_norm)
    gradient.mul_(options_.clip_norm / report.grad_norm);
  std::int64_t offset = 0;
  for (auto &p : parameters_) {
    const auto n = p.numel();
    p.mutable_grad() =
        gradient.narrow(0, offset, n).view(p.sizes()).to(p.device(), p.scalar_type()).clone();
    offset += n;
  }
  for (auto &group : optimizer_->param_groups())
    static_cast<torch::optim::AdamOptions &>(group.options()).lr(report.learning_rate);
  optimizer_->step();
  ++steps_;
  if (averaging()) {
    // The decay ramps up over the first steps (as TensorFlow's ExponentialMovingAverage with
    // num_updates), so the average does not drag the identity start along for 1/(1-decay)
    // steps.
    const double decay = std::min(options_.average, (1.0 + steps_) / (10.0 + steps_));
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < parameters_.size(); ++i)
      averaged_[i].mul_(decay).add_(parameters_[i].detach(), 1.0 - decay);
  }
  report.time_network += seconds_since(start);
  return report;
}

std::vector<double> Trainer::distributed_log_weights(const FramePool &pool, Direction direction,
                                                     bool with_flow)
{
  const auto total = pool.size();
  const auto share = my_share(total);
  auto log_weights = torch::zeros({total}, torch::kFloat64);
  if (share.count > 0) {
    const auto frames = pool.positions().narrow(0, share.begin, share.count);
    const auto energies = pool.energies().narrow(0, share.begin, share.count).contiguous();
    const std::vector<double> energy_from(energies.data_ptr<double>(),
                                          energies.data_ptr<double>() + share.count);
    auto &energy_to = direction == Direction::forward ? target_energy_ : source_energy_;
    const auto weighed = map_and_weigh(with_flow ? &model_ : nullptr, direction, states_, frames,
                                       energy_from, energy_to);
    std::copy(weighed.log_weight.begin(), weighed.log_weight.end(),
              log_weights.data_ptr<double>() + share.begin);
  }
  reduce(log_weights.data_ptr<double>(), total);
  return std::vector<double>(log_weights.data_ptr<double>(),
                             log_weights.data_ptr<double>() + total);
}

void Trainer::swap_average()
{
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < averaged_.size(); ++i) {
    auto live = parameters_[i].detach().clone();
    parameters_[i].detach().copy_(averaged_[i]);
    averaged_[i].copy_(live);
  }
}

ValidationReport Trainer::validate(const FramePool *source_holdout,
                                   const FramePool *target_holdout)
{
  AveragedParameters averaged(*this);
  ValidationReport report;
  auto mean = [](const std::vector<double> &v) {
    double sum = 0.0;
    for (double x : v) sum += x;
    return v.empty() ? 0.0 : sum / static_cast<double>(v.size());
  };
  auto measure = [&](const FramePool &holdout, Direction direction, double &ress,
                     double &ress_identity, double &kl_gain) {
    const auto flow = distributed_log_weights(holdout, direction, true);
    const auto identity = distributed_log_weights(holdout, direction, false);
    ress = kish_ress(flow);
    ress_identity = kish_ress(identity);
    kl_gain = mean(flow) - mean(identity);
  };
  if (source_holdout && !source_holdout->empty()) {
    report.frames_forward = source_holdout->size();
    measure(*source_holdout, Direction::forward, report.ress_forward,
            report.ress_forward_identity, report.kl_gain_forward);
  }
  if (target_holdout && !target_holdout->empty()) {
    report.frames_inverse = target_holdout->size();
    measure(*target_holdout, Direction::inverse, report.ress_inverse,
            report.ress_inverse_identity, report.kl_gain_inverse);
  }
  return report;
}

void Trainer::write(torch::serialize::OutputArchive &archive) const
{
  torch::serialize::OutputArchive optimizer;
  optimizer_->save(optimizer);
  archive.write("optimizer", optimizer);
  archive.write("generator", generator_.get_state());
  archive.write("counters", torch::tensor({steps_, skipped_}, torch::kInt64));
  // With averaging the model beside this state holds the average (what was validated), so the
  // live parameters are kept here.
  for (std::size_t i = 0; i < averaged_.size(); ++i) {
    // copies, for the reason given in write_model()
    archive.write("averaged" + std::to_string(i), averaged_[i].to(torch::kCPU, false, true));
    archive.write("live" + std::to_string(i),
                  parameters_[i].detach().to(torch::kCPU, false, true));
  }
}

void Trainer::read(torch::serialize::InputArchive &archive)
{
  torch::serialize::InputArchive optimizer;
  archive.read("optimizer", optimizer);
  optimizer_->load(optimizer);
  // The moments come back on the device they were saved from; the step needs them beside
  // their parameters (a state written by a CPU run resumed with device cuda, or back).
  for (const auto &p : parameters_) {
    // keyed as LibTorch keys it, by the address of the parameter's implementation
    const auto found = optimizer_->state().find(c10::guts::to_string(p.unsafeGetTensorImpl()));
    if (found == optimizer_->state().end()) continue;
    auto &moments = static_cast<torch::optim::AdamParamState &>(*found->second);
    moments.exp_avg(moments.exp_avg().to(p.device()));
    moments.exp_avg_sq(moments.exp_avg_sq().to(p.device()));
    if (moments.max_exp_avg_sq().defined())
      moments.max_exp_avg_sq(moments.max_exp_avg_sq().to(p.device()));
  }
  torch::Tensor state, counters;
  archive.read("generator", state);
  generator_.set_state(state);
  archive.read("counters", counters);
  steps_ = counters[0].item<std::int64_t>();
  skipped_ = counters[1].item<std::int64_t>();
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < averaged_.size(); ++i) {
    torch::Tensor average, live;
    // A state saved without averaging starts the average at the current parameters.
    if (archive.try_read("averaged" + std::to_string(i), average) &&
        archive.try_read("live" + std::to_string(i), live)) {
      averaged_[i].copy_(average);
      parameters_[i].detach().copy_(live);
    } else {
      averaged_[i].copy_(parameters_[i].detach());
    }
  }
}

}    // namespace flowmap
