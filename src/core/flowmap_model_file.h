/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: model files (one LibTorch archive per trained map).

   A model file holds the parameters and everything needed to use them safely: the format
   name and version, the package version that wrote it, every FlowOptions size, all
   ModelMetadata (units, both boxes, both temperatures, training steps, description) and the
   species: the LAMMPS type of every atom in atom-ID order, as runs.
   Reading checks all of it and throws ModelFileError with a message that names the file
   and the problem; nothing half-read is ever returned.
------------------------------------------------------------------------- */

#ifndef FLOWMAP_MODEL_FILE_H
#define FLOWMAP_MODEL_FILE_H

#include "flowmap_model.h"

#include <torch/torch.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace flowmap {

class ModelFileError : public std::runtime_error {
 public:
  using runtime_error::runtime_error;
};

constexpr const char *kModelFormatName = "flowmap-model";
// Version 1: component-split flows; version 2 adds options/split (particle-split flows);
// version 3 adds metadata/type_runs (the species) and always writes options/split; version 4
// adds options/pair_frequencies (the attention's pair bias), with type_runs where there are
// species. Each file
// is written with the lowest version that holds it (a type-blind component-split flow as
// version 1), so that older builds read what they can use.
constexpr std::int64_t kModelFormatVersion = 4;

// Parameters (as CPU tensors) + all metadata + format name, format version, package version
// + a checksum over parameters and metadata (LibTorch does not verify its zip CRCs).
void write_model(torch::serialize::OutputArchive &archive, const FlowModel &model);
// origin names the source in messages, e.g. "model file 'ab.pt'". The model is on the CPU.
FlowModel read_model(torch::serialize::InputArchive &archive, const std::string &origin);

// Atomic: written to a temporary file next to path, synced, then renamed over it.
// ModelFileError naming the path and the system's reason if anything fails.
void save_model(const FlowModel &model, const std::string &path);
// The same for any archive (a training checkpoint); what names it in messages.
void save_archive(torch::serialize::OutputArchive &archive, const std::string &path,
                  const std::string &what);
// ModelFileError: missing or unreadable file, not a model archive, corrupt or incomplete
// contents, a format version this build does not read.
FlowModel load_model(const std::string &path);
// The archive of a model or checkpoint file (or of its bytes, e.g. from a restart file; origin
// names them in messages), with load_model's refusals, for reading the model and any
// training state from it.
torch::serialize::InputArchive load_archive(const std::string &path);
torch::serialize::InputArchive load_archive_bytes(const std::string &bytes,
                                                  const std::string &origin);

// The checksum a model file stores: equal for models with the same parameters, architecture
// and metadata, so two processes can check that they hold the same flow.
std::int64_t model_fingerprint(const FlowModel &model);

// ModelFileError naming the first mismatch between what the model was trained for and the
// system at hand, e.g. "model was trained for N = 32 particles, this system has 64". Box
// lengths compare with relative tolerance rel_tol. The species are checked separately
// (check_model_species).
void check_model_matches(const FlowModel &model, std::int64_t num_particles,
                         std::int64_t dimension, const std::vector<double> &source_box,
                         const std::vector<double> &target_box, double rel_tol = 1e-6);

// ModelFileError naming both compositions when the model's recorded species (count of each
// type, or their order by atom ID) differ from the system's; a model without recorded
// species (format 1 and 2) is type-blind and passes.
void check_model_species(const FlowModel &model, const Species &system);

}    // namespace flowmap

#endif
