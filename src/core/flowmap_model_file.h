/* -*- c++ -*- ----------------------------------------------------------
   USER-FLOWMAP: model files (one LibTorch archive per trained map).

   A model file holds the parameters and everything needed to use them safely: the format
   name and version, the package version that wrote it, every FlowOptions size and all
   ModelMetadata (units, both boxes, both temperatures, training steps, description).
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
// Version 1: component-split flows; version 2 adds options/split (particle-split flows).
// Component-split flows are still written as version 1, so that older builds read them.
constexpr std::int64_t kModelFormatVersion = 2;

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
// lengths compare with relative tolerance rel_tol.
void check_model_matches(const FlowModel &model, std::int64_t num_particles,
                         std::int64_t dimension, const std::vector<double> &source_box,
                         const std::vector<double> &target_box, double rel_tol = 1e-6);

}    // namespace flowmap

#endif
