/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: from settings to a session.

   fix flowmap's keywords describe a network (a preset, size overrides, split, precision) and
   a session (pools, training options); the run supplies the two states (boxes, temperatures,
   units) and the energies. This builds the Session: a new identity flow, or the flow of a
   model file, checkpoint or restart archive checked against the run, with its training state
   restored on request. No LAMMPS and no MPI: the caller passes rank, rank count and reducer.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_SESSION_FACTORY_H
#define FLOWMAP_SESSION_FACTORY_H

#include "flowmap_session.h"

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace flowmap {

// The network of a new flow.
struct FlowRecipe {
  std::string arch = "default";    // a FlowOptions preset
  // FlowOptions::sizes() overrides by name, applied in order
  std::vector<std::pair<std::string, std::int64_t>> sizes;
  std::string split;               // "component" or "particle"; empty: the preset's
  std::string precision = "float32";
  std::string device = "cpu";      // of the network, for a new and for a loaded flow
};

// The FlowOptions of a recipe for N particles in d dimensions, validated;
// std::invalid_argument naming the bad setting.
FlowOptions flow_options(const FlowRecipe &recipe, std::int64_t num_particles,
                         std::int64_t dimension);

// Everything a session needs but the energies.
struct SessionPlan {
  FlowRecipe flow;                 // used for a new flow only
  SessionOptions session;
  StatePair states;
  // The system's atom types by ID: a new flow is built for them, a loaded one must record the
  // same composition in the same order (or none: type-blind, with a warning on a mixture).
  Species species;
  std::string units = "lj";        // of the run: a loaded model must have been trained in them
  double source_temperature = 1.0, target_temperature = 1.0;
  int rank = 0, nranks = 1;
  Reducer reducer;
};

struct SessionStart {
  std::unique_ptr<Session> session;
  bool resumed = false;                 // training state restored from the archive
  std::vector<std::string> warnings;    // for the log: usable, but worth a look
};

// Bytes each process holds for the pools and hold-out sets of both states:
// 2 x (pool + hold-out) x (N d + 1) x 8.
double pool_bytes(const SessionOptions &options, std::int64_t num_particles,
                  std::int64_t dimension);

// A new identity flow from plan.flow, its random initialisation seeded with the training
// seed (the same on every process). std::invalid_argument for bad sizes.
SessionStart new_session(const SessionPlan &plan, EnergyModel &source, EnergyModel &target);

// The flow stored in archive (a model file, checkpoint or restart state; origin names it in
// messages), after checking it against the run: ModelFileError for another N, dimension,
// box, density, units or composition. With restore_training, the training state the archive holds (a
// checkpoint's) is restored too.
SessionStart load_session(torch::serialize::InputArchive &archive, const std::string &origin,
                          bool restore_training, const SessionPlan &plan, EnergyModel &source,
                          EnergyModel &target);

}    // namespace flowmap

#endif
