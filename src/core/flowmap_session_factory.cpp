/* ----------------------------------------------------------------------
   USER-FLOWMAP: from settings to a session (see flowmap_session_factory.h).
------------------------------------------------------------------------- */

#include "flowmap_session_factory.h"

#include "flowmap_model_file.h"

#include <algorithm>
#include <sstream>

namespace flowmap {

namespace {

ModelMetadata metadata_of(const SessionPlan &plan)
{
  ModelMetadata meta;
  meta.units = plan.units;
  meta.source_box = plan.states.source_box;
  meta.target_box = plan.states.target_box;
  meta.source_temperature = plan.source_temperature;
  meta.target_temperature = plan.target_temperature;
  return meta;
}

std::unique_ptr<Session> make_session(const FlowModel &model, const SessionPlan &plan,
                                      EnergyModel &source, EnergyModel &target)
{
  return std::make_unique<Session>(model, source, target, plan.states, plan.session, plan.rank,
                                   plan.nranks, plan.reducer);
}

}    // namespace

FlowOptions flow_options(const FlowRecipe &recipe, std::int64_t num_particles,
                         std::int64_t dimension)
{
  auto options = FlowOptions::preset(recipe.arch, num_particles, dimension);
  for (const auto &size : recipe.sizes) options.size(size.first) = size.second;
  // A conditioner without encoder layers has no attention to bias: the preset's bias is
  // dropped with it, while one asked for by name is refused by validate().
  const bool bias_asked = std::any_of(recipe.sizes.begin(), recipe.sizes.end(),
                                      [](const auto &s) { return s.first == "pair_frequencies"; });
  if (options.layers == 0 && !bias_asked) options.pair_frequencies = 0;
  options.dtype = dtype_from_name(recipe.precision);
  options.device = device_from_name(recipe.device);
  if (!recipe.split.empty()) options.split = split_from_name(recipe.split);
  options.validate();
  return options;
}

double pool_bytes(const SessionOptions &options, std::int64_t num_particles,
                  std::int64_t dimension)
{
  const double frames = static_cast<double>(options.pool_capacity) +
      static_cast<double>(options.holdout_capacity);
  return 2.0 * frames * (static_cast<double>(num_particles) * dimension + 1.0) * sizeof(double);
}

SessionStart new_session(const SessionPlan &plan, EnergyModel &source, EnergyModel &target)
{
  const auto &states = plan.states;
  const auto options = flow_options(plan.flow, states.num_particles, states.dimension);
  // The same random initialisation on every process and partition.
  torch::manual_seed(plan.session.training.seed);
  SessionStart start;
  start.session = make_session(FlowModel(options, metadata_of(plan), plan.species), plan, source, target);
  return start;
}

SessionStart load_session(torch::serialize::InputArchive &archive, const std::string &origin,
                          bool restore_training, const SessionPlan &plan, EnergyModel &source,
                          EnergyModel &target)
{
  const auto &states = plan.states;
  auto model = read_model(archive, origin);
  check_model_matches(model, states.num_particles, states.dimension, states.source_box,
                      states.target_box);
  try {
    check_model_species(model, plan.species);
  } catch (ModelFileError &e) {
    throw ModelFileError(origin + " does not fit this system: " + e.what() +
                         " (types exchanged during a run are relabelled, but the system must "
                         "start with the model's types by atom ID)");
  }
  const auto &meta = model.metadata();
  if (meta.units != plan.units)
    throw ModelFileError(origin + " holds a model trained in units " + meta.units +
                         ", this simulation uses units " + plan.units);

  SessionStart start;
  if (meta.source_temperature != plan.source_temperature ||
      meta.target_temperature != plan.target_temperature) {
    std::ostringstream msg;
    msg << "the model was trained for Tsource = " << meta.source_temperature
        << ", Ttarget = " << meta.target_temperature << "; weights use the temperatures of "
        << "this run (" << plan.source_temperature << ", " << plan.target_temperature << ")";
    start.warnings.push_back(msg.str());
  }
  if (!model.species().recorded() && plan.species.num_species() > 1)
    start.warnings.push_back(origin + " records no atom types (written before USER-FLOWMAP "
                             "recorded them), so its flow is type-blind on this mixture (" +
                             plan.species.describe() + "); the weights stay exact, but it was "
                             "not trained for this mixture");
  // Before the session: its optimizer takes the parameters where they are.
  model.to_device(device_from_name(plan.flow.device));
  start.session = make_session(model, plan, source, target);
  if (restore_training) start.resumed = start.session->read_training_state(archive);
  return start;
}

}    // namespace flowmap
