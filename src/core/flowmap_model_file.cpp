/* ----------------------------------------------------------------------
   USER-FLOWMAP: model files.
------------------------------------------------------------------------- */

#include "flowmap_model_file.h"

#include "flowmap_version.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <sstream>
#include <utility>
#include <unistd.h>

namespace flowmap {

namespace {

using torch::serialize::InputArchive;
using torch::serialize::OutputArchive;

std::string system_error(int err)
{
  return std::strerror(err);
}

// c10 messages carry a C++ backtrace; the first line is the reason.
std::string first_line(const std::string &s)
{
  return s.substr(0, s.find('\n'));
}

std::string shape(const torch::Tensor &t)
{
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

std::string box_text(const std::vector<double> &box, int precision = 10)
{
  std::ostringstream s;
  s.precision(precision);
  for (std::size_t i = 0; i < box.size(); ++i) s << (i ? " x " : "") << box[i];
  return s.str();
}

// FNV-1a over the canonical text of every option and metadata entry and the bytes of every
// parameter in module order. LibTorch's zip reader does not verify its CRC-32 records, so
// without this a flipped byte in tensor data or in a box length would load silently.
class Checksum {
 public:
  void add(const void *data, std::size_t size)
  {
    const auto *p = static_cast<const unsigned char *>(data);
    for (std::size_t i = 0; i < size; ++i) hash_ = (hash_ ^ p[i]) * 0x100000001b3ULL;
  }
  void add(const std::string &s) { add(s.data(), s.size() + 1); }
  void add(const torch::Tensor &t)
  {
    const auto c = t.detach().to(torch::kCPU).contiguous();
    add(c.data_ptr(), c.numel() * c.element_size());
  }
  std::int64_t value() const { return static_cast<std::int64_t>(hash_); }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

std::string canonical(const FlowOptions &options, const ModelMetadata &m)
{
  // A model file has no device: the same flow trained on a GPU or on the CPU has the same text.
  auto o = options;
  o.device = torch::kCPU;
  std::ostringstream s;
  s.precision(17);
  s << o.describe() << ' ' << o.min_bin_size << ' ' << o.min_derivative << '|' << m.units << '|'
    << box_text(m.source_box, 17) << '|' << box_text(m.target_box, 17) << '|' << m.source_temperature
    << ' ' << m.target_temperature << ' ' << m.training_steps << '|' << m.description;
  return s.str();
}

// Only recorded species are part of the text, so the checksums of older files still verify.
std::string canonical(const FlowModel &model)
{
  auto text = canonical(model.options(), model.metadata());
  if (model.species().recorded()) {
    text += "|types";
    for (const auto v : model.species().runs()) text += ' ' + std::to_string(v);
  }
  return text;
}

std::int64_t model_checksum(const FlowModel &model)
{
  Checksum sum;
  sum.add(canonical(model));
  for (const auto &item : model.flow()->named_parameters()) {
    sum.add(item.key());
    sum.add(item.value());
  }
  return sum.value();
}

class Reader {
 public:
  Reader(InputArchive &archive, std::string origin, std::string section) :
      archive_(archive), origin_(std::move(origin)), section_(std::move(section))
  {
  }

  [[noreturn]] void fail(const std::string &what) const
  {
    throw ModelFileError(origin_ + ": " + what);
  }

  bool has(const std::string &key) const
  {
    c10::IValue v;
    return archive_.try_read(key, v);
  }
  c10::IValue entry(const std::string &key) const
  {
    c10::IValue v;
    if (!archive_.try_read(key, v)) fail("corrupt or incomplete model: no entry '" + name(key) + "'");
    return v;
  }
  std::int64_t integer(const std::string &key) const
  {
    const auto v = entry(key);
    if (!v.isInt()) fail("corrupt model: entry '" + name(key) + "' is not an integer");
    return v.toInt();
  }
  double real(const std::string &key) const
  {
    const auto v = entry(key);
    if (!v.isDouble()) fail("corrupt model: entry '" + name(key) + "' is not a number");
    return v.toDouble();
  }
  std::string text(const std::string &key) const
  {
    const auto v = entry(key);
    if (!v.isString()) fail("corrupt model: entry '" + name(key) + "' is not a string");
    return v.toStringRef();
  }
  std::vector<std::int64_t> integers(const std::string &key) const
  {
    const auto v = entry(key);
    if (!v.isIntList()) fail("corrupt model: entry '" + name(key) + "' is not a list of integers");
    return v.toIntVector();
  }
  std::vector<double> reals(const std::string &key) const
  {
    const auto v = entry(key);
    if (!v.isDoubleList()) fail("corrupt model: entry '" + name(key) + "' is not a list of numbers");
    return v.toDoubleVector();
  }
  InputArchive nested(const std::string &key) const
  {
    InputArchive inner;
    if (!archive_.try_read(key, inner)) fail("corrupt or incomplete model: no section '" + key + "'");
    return inner;
  }

 private:
  InputArchive &archive_;
  std::string origin_, section_;

  std::string name(const std::string &key) const
  {
    return section_.empty() ? key : section_ + "/" + key;
  }
};

void write_options(OutputArchive &a, const FlowOptions &o, std::int64_t version)
{
  a.write("num_particles", o.num_particles);
  a.write("dimension", o.dimension);
  for (const auto &size : FlowOptions::sizes())
    if (version >= size.since_format) a.write(size.name, o.*size.member);
  a.write("min_bin_size", o.min_bin_size);
  a.write("min_derivative", o.min_derivative);
  a.write("dtype", dtype_name(o.dtype));
  if (version >= 2) a.write("split", split_name(o.split));
}

std::int64_t format_version(const FlowModel &model)
{
  if (model.options().pair_frequencies > 0) return 4;
  if (model.species().recorded()) return 3;
  return model.options().split == CouplingSplit::component ? 1 : 2;
}

FlowOptions read_options(const Reader &r, std::int64_t version)
{
  FlowOptions o;
  o.num_particles = r.integer("num_particles");
  o.dimension = r.integer("dimension");
  for (const auto &size : FlowOptions::sizes())
    o.*size.member = version >= size.since_format ? r.integer(size.name) : 0;
  o.min_bin_size = r.real("min_bin_size");
  o.min_derivative = r.real("min_derivative");
  const auto dtype = r.text("dtype");
  const auto split = version >= 2 ? r.text("split") : split_name(CouplingSplit::component);
  try {
    o.dtype = dtype_from_name(dtype);
    o.split = split_from_name(split);
    o.validate();
  } catch (const std::invalid_argument &e) {
    r.fail(std::string("corrupt model: ") + e.what());
  }
  return o;
}

void write_metadata(OutputArchive &a, const ModelMetadata &m)
{
  a.write("units", m.units);
  a.write("source_box", c10::IValue(m.source_box));
  a.write("target_box", c10::IValue(m.target_box));
  a.write("source_temperature", m.source_temperature);
  a.write("target_temperature", m.target_temperature);
  a.write("training_steps", m.training_steps);
  a.write("description", m.description);
}

void write_species(OutputArchive &a, const Species &species)
{
  if (species.recorded()) a.write("type_runs", c10::IValue(species.runs()));
}

Species read_species(const Reader &r, std::int64_t version)
{
  // From version 4 on a type-blind flow has no entry (version 3 meant species).
  if (version < 3 || (version >= 4 && !r.has("type_runs"))) return {};
  try {
    return Species::from_runs(r.integers("type_runs"));
  } catch (const std::invalid_argument &e) {
    r.fail(std::string("corrupt model: ") + e.what());
  }
}

ModelMetadata read_metadata(const Reader &r)
{
  ModelMetadata m;
  m.units = r.text("units");
  m.source_box = r.reals("source_box");
  m.target_box = r.reals("target_box");
  m.source_temperature = r.real("source_temperature");
  m.target_temperature = r.real("target_temperature");
  m.training_steps = r.integer("training_steps");
  m.description = r.text("description");
  return m;
}

FlowModel read_checked(InputArchive &archive, const std::string &origin)
{
  const Reader top(archive, origin, "");
  c10::IValue format;
  if (!archive.try_read("format", format) || !format.isString() ||
      format.toStringRef() != kModelFormatName)
    top.fail("not a flowmap model file (no format entry '" + std::string(kModelFormatName) + "')");
  const auto version = top.integer("format_version");
  if (version < 1 || version > kModelFormatVersion) {
    // Other versions may lay out everything else differently: only the writer's name is
    // worth reading, and only if present.
    c10::IValue writer;
    const bool named = archive.try_read("package_version", writer) && writer.isString();
    top.fail("model file format version " + std::to_string(version) + " (written by " +
             (named ? "USER-FLOWMAP " + writer.toStringRef() : "an unknown version") +
             "); this build (USER-FLOWMAP " + FLOWMAP_VERSION + ") reads format versions 1 to " +
             std::to_string(kModelFormatVersion));
  }
  auto options_archive = top.nested("options");
  auto metadata_archive = top.nested("metadata");
  auto parameter_archive = top.nested("parameters");
  const auto options = read_options(Reader(options_archive, origin, "options"), version);
  const Reader metadata_reader(metadata_archive, origin, "metadata");
  const auto metadata = read_metadata(metadata_reader);
  const auto species = read_species(metadata_reader, version);
  std::optional<FlowModel> model;
  try {
    model.emplace(options, metadata, species);
  } catch (const std::invalid_argument &e) {
    top.fail(std::string("corrupt model: ") + e.what());
  }
  const auto parameters = model->flow()->named_parameters();
  if (parameter_archive.keys().size() != parameters.size())
    top.fail("corrupt model: " + std::to_string(parameter_archive.keys().size()) +
             " parameter tensors, the architecture has " + std::to_string(parameters.size()));
  torch::NoGradGuard no_grad;
  for (const auto &item : parameters) {
    torch::Tensor stored;
    if (!parameter_archive.try_read(item.key(), stored))
      top.fail("corrupt model: parameter '" + item.key() + "' is missing");
    if (!stored.sizes().equals(item.value().sizes()))
      top.fail("corrupt model: parameter '" + item.key() + "' has shape " + shape(stored) +
               ", the architecture needs " + shape(item.value()));
    if (stored.scalar_type() != options.dtype)
      top.fail("corrupt model: parameter '" + item.key() + "' is not " + dtype_name(options.dtype));
    if (!torch::isfinite(stored).all().item<bool>())
      top.fail("corrupt model: parameter '" + item.key() + "' has non-finite values");
    item.value().copy_(stored);
  }
  if (top.integer("checksum") != model_checksum(*model))
    top.fail("corrupt model: the checksum of its parameters and metadata does not match");
  return std::move(*model);
}

}    // namespace

std::int64_t model_fingerprint(const FlowModel &model)
{
  return model_checksum(model);
}

void write_model(OutputArchive &archive, const FlowModel &model)
{
  archive.write("format", std::string(kModelFormatName));
  const auto version = format_version(model);
  archive.write("format_version", version);
  archive.write("package_version", std::string(FLOWMAP_VERSION));
  OutputArchive options, metadata, parameters;
  write_options(options, model.options(), version);
  write_metadata(metadata, model.metadata());
  write_species(metadata, model.species());
  // Copies: an archive holds its tensors by reference until it is saved, and training (or a
  // swap of averaged parameters) may change the parameters in place before that.
  for (const auto &item : model.flow()->named_parameters())
    parameters.write(item.key(), item.value().detach().to(torch::kCPU).clone());
  archive.write("options", options);
  archive.write("metadata", metadata);
  archive.write("parameters", parameters);
  archive.write("checksum", model_checksum(model));
}

FlowModel read_model(InputArchive &archive, const std::string &origin)
{
  try {
    return read_checked(archive, origin);
  } catch (const ModelFileError &) {
    throw;
  } catch (const c10::Error &e) {
    throw ModelFileError(origin + ": corrupt model: " + first_line(e.what_without_backtrace()));
  } catch (const std::exception &e) {
    throw ModelFileError(origin + ": corrupt model: " + first_line(e.what()));
  }
}

void save_archive(OutputArchive &archive, const std::string &path, const std::string &what)
{
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  std::FILE *file = std::fopen(tmp.c_str(), "wb");
  if (!file) throw ModelFileError("cannot write " + what + " '" + path + "': " + system_error(errno));
  int err = 0;
  try {
    archive.save_to([&](const void *data, std::size_t size) -> std::size_t {
      const auto written = std::fwrite(data, 1, size, file);
      if (written != size && !err) err = errno ? errno : EIO;
      return written;
    });
  } catch (const c10::Error &) {
    if (!err) err = EIO;
  }
  if (!err && std::fflush(file) != 0) err = errno;
  if (!err && ::fsync(::fileno(file)) != 0) err = errno;
  if (std::fclose(file) != 0 && !err) err = errno;
  if (!err && std::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err) {
    std::remove(tmp.c_str());
    throw ModelFileError("cannot write " + what + " '" + path + "': " + system_error(err));
  }
}

namespace {

template <typename Load> void read_archive(Load load, const std::string &origin)
{
  try {
    load();
  } catch (const c10::Error &e) {
    throw ModelFileError(origin + ": not a readable model archive (truncated, corrupt or not " +
                         "a LibTorch archive): " + first_line(e.what_without_backtrace()));
  } catch (const std::exception &e) {
    // TorchScript's parser reports damaged archive code with its own exception types
    throw ModelFileError(origin + ": not a readable model archive (truncated, corrupt or not " +
                         "a LibTorch archive): " + first_line(e.what()));
  }
}

}    // namespace

void save_model(const FlowModel &model, const std::string &path)
{
  OutputArchive archive;
  write_model(archive, model);
  save_archive(archive, path, "model file");
}

// Every archive is read onto the CPU, wherever its tensors were: a file written by a run with
// the network on a GPU reads on a machine without one, and the reader moves what it needs.
InputArchive load_archive(const std::string &path)
{
  std::FILE *file = std::fopen(path.c_str(), "rb");
  if (!file) throw ModelFileError("cannot open model file '" + path + "': " + system_error(errno));
  std::fclose(file);
  InputArchive archive;
  read_archive([&] { archive.load_from(path, torch::Device(torch::kCPU)); }, "model file '" + path + "'");
  return archive;
}

InputArchive load_archive_bytes(const std::string &bytes, const std::string &origin)
{
  std::istringstream stream(bytes);
  InputArchive archive;
  read_archive([&] { archive.load_from(stream, torch::Device(torch::kCPU)); }, origin);
  return archive;
}

FlowModel load_model(const std::string &path)
{
  auto archive = load_archive(path);
  return read_model(archive, "model file '" + path + "'");
}

void check_model_matches(const FlowModel &model, std::int64_t num_particles,
                         std::int64_t dimension, const std::vector<double> &source_box,
                         const std::vector<double> &target_box, double rel_tol)
{
  const auto &o = model.options();
  if (o.num_particles != num_particles)
    throw ModelFileError("model was trained for N = " + std::to_string(o.num_particles) +
                         " particles, this system has " + std::to_string(num_particles));
  if (o.dimension != dimension)
    throw ModelFileError("model was trained in " + std::to_string(o.dimension) +
                         "D, this system is " + std::to_string(dimension) + "D");
  auto same = [&](const std::vector<double> &a, const std::vector<double> &b) {
    if (a.size() != b.size()) return false;
    for (std::size_t k = 0; k < a.size(); ++k)
      if (!(std::abs(a[k] - b[k]) <= rel_tol * std::abs(b[k]))) return false;
    return true;
  };
  const auto &m = model.metadata();
  if (!same(m.source_box, source_box))
    throw ModelFileError("model was trained with source box " + box_text(m.source_box) +
                         ", this system's source box is " + box_text(source_box));
  if (!same(m.target_box, target_box))
    throw ModelFileError("model was trained with target box " + box_text(m.target_box) +
                         ", this system's target box is " + box_text(target_box));
}

void check_model_species(const FlowModel &model, const Species &system)
{
  const auto why = species_mismatch(model.species(), system);
  if (!why.empty()) throw ModelFileError(why);
}

}    // namespace flowmap
