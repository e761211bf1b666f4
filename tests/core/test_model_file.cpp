// Model files: bit-identical round trip with all metadata, atomic writes, and refusal of
// missing, corrupt, foreign, future and mismatched files with messages that say why.
#include "flow_test_helpers.h"
#include "flowmap_coordinates.h"
#include "flowmap_model_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

using namespace flowmap;
using ::testing::HasSubstr;

namespace {

FlowModel make_model(torch::Dtype dtype, CouplingSplit split = CouplingSplit::component,
                     const Species &species = {})
{
  auto o = FlowOptions::preset("small", 12, 2);
  o.dtype = dtype;
  o.split = split;
  ModelMetadata m;
  m.units = "lj";
  m.source_box = {4.0, 4.5};
  m.target_box = {4.2, 4.7};
  m.source_temperature = 2.0;
  m.target_temperature = 1.0;
  m.training_steps = 1234;
  m.description = "test model";
  FlowModel model(o, m, species);
  flowmap_test::randomize_flow(model.flow(), 0.1, 1);
  return model;
}

std::string fresh_path(const std::string &name)
{
  std::filesystem::remove(name);
  return name;
}

std::vector<char> read_bytes(const std::string &path)
{
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string &path, const std::vector<char> &bytes)
{
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string load_error(const std::string &path)
{
  try {
    load_model(path);
  } catch (const ModelFileError &e) {
    return e.what();
  }
  return "(loaded without error)";
}

}    // namespace

TEST(ModelFile, SaveAndLoadGiveBitIdenticalOutputs)
{
  for (auto split : {CouplingSplit::component, CouplingSplit::particle})
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    auto model = make_model(dtype, split);
    const auto path = fresh_path("roundtrip.pt");
    save_model(model, path);
    auto loaded = load_model(path);
    const auto &a = model.options(), &b = loaded.options();
    EXPECT_EQ(b.describe(), a.describe());
    EXPECT_EQ(b.split, split);
    EXPECT_EQ(b.min_bin_size, a.min_bin_size);
    EXPECT_EQ(b.min_derivative, a.min_derivative);
    const auto &m = loaded.metadata();
    EXPECT_EQ(m.units, "lj");
    EXPECT_EQ(m.source_box, (std::vector<double>{4.0, 4.5}));
    EXPECT_EQ(m.target_box, (std::vector<double>{4.2, 4.7}));
    EXPECT_EQ(m.source_temperature, 2.0);
    EXPECT_EQ(m.target_temperature, 1.0);
    EXPECT_EQ(m.training_steps, 1234);
    EXPECT_EQ(m.description, "test model");
    torch::manual_seed(2);
    const auto x = torch::rand({20, 12, 2}, torch::kFloat64) * 4.0;
    const auto ref = torch::randint(0, 12, {20}, torch::kInt64);
    torch::NoGradGuard no_grad;
    for (bool inverse : {false, true}) {
      const auto p = inverse ? model.inverse(x, ref) : model.forward(x, ref);
      const auto q = inverse ? loaded.inverse(x, ref) : loaded.forward(x, ref);
      EXPECT_TRUE(torch::equal(p.positions, q.positions));
      EXPECT_TRUE(torch::equal(p.log_det, q.log_det));
    }
    // the loaded model is a copy, not the same parameters
    EXPECT_NE(model.flow()->parameters()[0].data_ptr(), loaded.flow()->parameters()[0].data_ptr());
  }
}

TEST(ModelFile, SaveIsAtomicAndReplacesAnOldFile)
{
  const auto path = fresh_path("atomic.pt");
  write_bytes(path, {'o', 'l', 'd'});
  save_model(make_model(torch::kFloat32), path);
  EXPECT_NO_THROW(load_model(path));
  for (const auto &entry : std::filesystem::directory_iterator("."))
    EXPECT_EQ(entry.path().filename().string().find("atomic.pt.tmp"), std::string::npos)
        << "temporary file left behind: " << entry.path();
}

TEST(ModelFile, UnwritableAndMissingPathsNameThePathAndTheReason)
{
  try {
    save_model(make_model(torch::kFloat32), "no_such_dir/model.pt");
    FAIL() << "saved into a missing directory";
  } catch (const ModelFileError &e) {
    EXPECT_THAT(e.what(), HasSubstr("no_such_dir/model.pt"));
    EXPECT_THAT(e.what(), HasSubstr("No such file or directory"));
  }
  const auto msg = load_error("missing.pt");
  EXPECT_THAT(msg, HasSubstr("missing.pt"));
  EXPECT_THAT(msg, HasSubstr("No such file or directory"));
}

TEST(ModelFile, TruncatedAndRandomFilesAreRefused)
{
  const auto path = fresh_path("good.pt");
  save_model(make_model(torch::kFloat32), path);
  const auto bytes = read_bytes(path);
  ASSERT_GT(bytes.size(), 1000u);
  for (double fraction : {0.0, 0.1, 0.5, 0.9, 0.999}) {
    const auto cut = fresh_path("truncated.pt");
    write_bytes(cut, std::vector<char>(bytes.begin(), bytes.begin() + bytes.size() * fraction));
    const auto msg = load_error(cut);
    EXPECT_THAT(msg, HasSubstr("truncated.pt")) << fraction;
    EXPECT_THAT(msg, HasSubstr("not a readable model archive")) << fraction;
  }
  std::mt19937 engine(3);
  std::vector<char> noise(bytes.size());
  for (auto &c : noise) c = static_cast<char>(engine());
  const auto random = fresh_path("random.pt");
  write_bytes(random, noise);
  EXPECT_THAT(load_error(random), HasSubstr("not a readable model archive"));
}

TEST(ModelFile, CorruptedBytesInsideNeverGiveADifferentModel)
{
  // A flipped byte anywhere in the archive (headers, tensor data, metadata) is refused, or
  // it hit bytes with no meaning (zip alignment padding, timestamps) and the model is the same.
  auto model = make_model(torch::kFloat32);
  const auto path = fresh_path("good.pt");
  save_model(model, path);
  const auto bytes = read_bytes(path);
  torch::manual_seed(5);
  const auto x = torch::rand({4, 12, 2}, torch::kFloat64) * 4.0;
  const auto ref = torch::randint(0, 12, {4}, torch::kInt64);
  torch::NoGradGuard no_grad;
  const auto expected = model.forward(x, ref);
  std::mt19937 engine(4);
  int refused = 0;
  for (int trial = 0; trial < 40; ++trial) {
    auto corrupted = bytes;
    const auto at = std::uniform_int_distribution<std::size_t>(0, bytes.size() - 1)(engine);
    corrupted[at] = static_cast<char>(corrupted[at] ^ 0x5a);
    const auto bad = fresh_path("corrupt.pt");
    write_bytes(bad, corrupted);
    try {
      auto loaded = load_model(bad);
      const auto out = loaded.forward(x, ref);
      EXPECT_TRUE(torch::equal(out.positions, expected.positions)) << "byte " << at;
      EXPECT_EQ(loaded.metadata().source_box, model.metadata().source_box) << "byte " << at;
    } catch (const ModelFileError &e) {
      EXPECT_THAT(e.what(), HasSubstr("corrupt.pt")) << "byte " << at;
      ++refused;
    }
  }
  // nearly all of the file is tensor data, so most flips must have been caught
  EXPECT_GE(refused, 30);
}

TEST(ModelFile, ForeignArchiveIsNotAModel)
{
  torch::serialize::OutputArchive archive;
  archive.write("weights", torch::ones({3, 3}));
  const auto path = fresh_path("foreign.pt");
  archive.save_to(path);
  EXPECT_THAT(load_error(path), HasSubstr("not a flowmap model file"));
}

TEST(ModelFile, FutureFormatVersionIsRefusedNamingBothVersions)
{
  torch::serialize::OutputArchive archive;
  write_model(archive, make_model(torch::kFloat32));
  archive.write("format_version", kModelFormatVersion + 1);
  const auto path = fresh_path("future.pt");
  archive.save_to(path);
  const auto msg = load_error(path);
  EXPECT_THAT(msg, HasSubstr("format version " + std::to_string(kModelFormatVersion + 1)));
  EXPECT_THAT(msg, HasSubstr("reads format versions 1 to " + std::to_string(kModelFormatVersion)));
}

TEST(ModelFile, ComponentSplitIsWrittenAsVersion1ForOlderBuildsParticleSplitAsVersion2)
{
  for (auto split : {CouplingSplit::component, CouplingSplit::particle}) {
    const auto path = fresh_path("versions.pt");
    save_model(make_model(torch::kFloat32, split), path);
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    c10::IValue version, options_split;
    ASSERT_TRUE(archive.try_read("format_version", version));
    torch::serialize::InputArchive options;
    ASSERT_TRUE(archive.try_read("options", options));
    const bool has_split = options.try_read("split", options_split);
    if (split == CouplingSplit::component) {
      // exactly the layout that builds before the split existed read
      EXPECT_EQ(version.toInt(), 1);
      EXPECT_FALSE(has_split);
    } else {
      EXPECT_EQ(version.toInt(), 2);
      ASSERT_TRUE(has_split);
      EXPECT_EQ(options_split.toStringRef(), "particle");
    }
  }
}

namespace {

// A model archive laid out by hand (format 1), so that single entries can be broken.
void write_layout(torch::serialize::OutputArchive &archive, const FlowModel &model,
                  torch::serialize::OutputArchive &options,
                  torch::serialize::OutputArchive &parameters, std::int64_t version = 1,
                  const std::vector<std::int64_t> &type_runs = {})
{
  archive.write("format", std::string(kModelFormatName));
  archive.write("format_version", version);
  archive.write("package_version", std::string("test"));
  torch::serialize::OutputArchive metadata;
  const auto &m = model.metadata();
  metadata.write("units", m.units);
  metadata.write("source_box", c10::IValue(m.source_box));
  metadata.write("target_box", c10::IValue(m.target_box));
  metadata.write("source_temperature", m.source_temperature);
  metadata.write("target_temperature", m.target_temperature);
  metadata.write("training_steps", m.training_steps);
  metadata.write("description", m.description);
  if (!type_runs.empty()) metadata.write("type_runs", c10::IValue(type_runs));
  archive.write("options", options);
  archive.write("metadata", metadata);
  archive.write("parameters", parameters);
}

void write_options(torch::serialize::OutputArchive &a, const FlowOptions &o)
{
  a.write("num_particles", o.num_particles);
  a.write("dimension", o.dimension);
  for (const auto &size : FlowOptions::sizes()) a.write(size.name, o.*size.member);
  a.write("min_bin_size", o.min_bin_size);
  a.write("min_derivative", o.min_derivative);
  a.write("dtype", std::string("float32"));
}

}    // namespace

TEST(ModelFile, TheHandWrittenLayoutLoadsOnlyWithTheRightChecksum)
{
  // guards the layout the next tests break: complete, it fails only on the checksum
  auto model = make_model(torch::kFloat32);
  torch::serialize::OutputArchive archive, options, parameters;
  write_options(options, model.options());
  for (const auto &item : model.flow()->named_parameters())
    parameters.write(item.key(), item.value().detach());
  write_layout(archive, model, options, parameters);
  archive.write("checksum", std::int64_t{12345});
  archive.save_to(fresh_path("layout.pt"));
  EXPECT_THAT(load_error("layout.pt"), HasSubstr("checksum"));
}

TEST(ModelFile, MissingOrMisshapenParametersAreRefused)
{
  auto model = make_model(torch::kFloat32);
  const auto named = model.flow()->named_parameters();
  const auto victim = named.keys().front();
  {
    torch::serialize::OutputArchive archive, options, parameters;
    write_options(options, model.options());
    for (const auto &item : named)
      if (item.key() != victim) parameters.write(item.key(), item.value().detach());
    parameters.write("unrelated", torch::zeros({1}));
    write_layout(archive, model, options, parameters);
    archive.save_to(fresh_path("missing_parameter.pt"));
    EXPECT_THAT(load_error("missing_parameter.pt"), HasSubstr(victim));
  }
  {
    torch::serialize::OutputArchive archive, options, parameters;
    write_options(options, model.options());
    for (const auto &item : named)
      parameters.write(item.key(), item.key() == victim ? torch::zeros({7}) : item.value().detach());
    write_layout(archive, model, options, parameters);
    archive.save_to(fresh_path("misshapen.pt"));
    const auto msg = load_error("misshapen.pt");
    EXPECT_THAT(msg, HasSubstr(victim));
    EXPECT_THAT(msg, HasSubstr("shape"));
  }
  {
    torch::serialize::OutputArchive archive, options, parameters;
    options.write("num_particles", std::int64_t{12});
    write_layout(archive, model, options, parameters);
    archive.save_to(fresh_path("no_options.pt"));
    EXPECT_THAT(load_error("no_options.pt"), HasSubstr("options/dimension"));
  }
}

TEST(ModelFile, Version2WithoutOrWithAnUnknownSplitIsRefused)
{
  auto model = make_model(torch::kFloat32, CouplingSplit::particle);
  for (const std::string split : {"", "diagonal"}) {
    torch::serialize::OutputArchive archive, options, parameters;
    write_options(options, model.options());
    if (!split.empty()) options.write("split", split);
    for (const auto &item : model.flow()->named_parameters())
      parameters.write(item.key(), item.value().detach());
    write_layout(archive, model, options, parameters, 2);
    archive.save_to(fresh_path("split.pt"));
    const auto msg = load_error("split.pt");
    if (split.empty()) {
      EXPECT_THAT(msg, HasSubstr("options/split"));
    } else {
      EXPECT_THAT(msg, HasSubstr("unknown coupling split 'diagonal'"));
      EXPECT_THAT(msg, HasSubstr("component, particle"));
    }
  }
}

TEST(ModelFile, MismatchedSystemsAreNamed)
{
  const auto model = make_model(torch::kFloat32);
  const std::vector<double> a = {4.0, 4.5}, b = {4.2, 4.7};
  EXPECT_NO_THROW(check_model_matches(model, 12, 2, a, b));
  EXPECT_NO_THROW(check_model_matches(model, 12, 2, {4.0 * (1 + 1e-9), 4.5}, b));
  auto message = [&](std::int64_t n, std::int64_t d, const std::vector<double> &sa,
                     const std::vector<double> &sb) -> std::string {
    try {
      check_model_matches(model, n, d, sa, sb);
    } catch (const ModelFileError &e) {
      return e.what();
    }
    return "(accepted)";
  };
  EXPECT_EQ(message(64, 2, a, b), "model was trained for N = 12 particles, this system has 64");
  EXPECT_EQ(message(12, 3, {4, 4.5, 4}, {4.2, 4.7, 4}),
            "model was trained in 2D, this system is 3D");
  EXPECT_THAT(message(12, 2, {4.1, 4.5}, b), HasSubstr("source box 4 x 4.5"));
  EXPECT_THAT(message(12, 2, {4.1, 4.5}, b), HasSubstr("4.1 x 4.5"));
  EXPECT_THAT(message(12, 2, a, {4.2, 4.8}), HasSubstr("target box 4.2 x 4.7"));
}

namespace {

// 12 atoms of three types in atom-ID order; type 1 (5 atoms) is the reference species.
const std::vector<std::int64_t> kMixture = {1, 1, 2, 1, 3, 3, 1, 2, 2, 1, 3, 2};

std::int64_t stored_version(const std::string &path)
{
  torch::serialize::InputArchive archive;
  archive.load_from(path);
  c10::IValue version;
  return archive.try_read("format_version", version) ? version.toInt() : -1;
}

}    // namespace

TEST(ModelFile, SpeciesAreRecordedAsVersion3AndReloadBitIdentically)
{
  for (auto split : {CouplingSplit::component, CouplingSplit::particle}) {
    auto model = make_model(torch::kFloat32, split, Species(kMixture));
    const auto path = fresh_path("mixture.pt");
    save_model(model, path);
    EXPECT_EQ(stored_version(path), 3);
    const auto loaded = load_model(path);
    EXPECT_EQ(loaded.species(), Species(kMixture));
    EXPECT_EQ(loaded.options().split, split);
    torch::manual_seed(2);
    const auto x = torch::rand({10, 12, 2}, torch::kFloat64) * 4.0;
    const auto ref = model.reference_atoms().index_select(0, torch::randint(0, 5, {10}));
    torch::NoGradGuard no_grad;
    auto copy = loaded;
    for (bool inverse : {false, true}) {
      const auto p = inverse ? model.inverse(x, ref) : model.forward(x, ref);
      const auto q = inverse ? copy.inverse(x, ref) : copy.forward(x, ref);
      EXPECT_TRUE(torch::equal(p.positions, q.positions));
      EXPECT_TRUE(torch::equal(p.log_det, q.log_det));
    }
  }
  // One recorded type is recorded too (so a system of another type is refused), still as 3;
  // type-blind models keep the versions that older builds read.
  save_model(make_model(torch::kFloat32, CouplingSplit::component,
                        Species(std::vector<std::int64_t>(12, 1))),
             fresh_path("one_type.pt"));
  EXPECT_EQ(stored_version("one_type.pt"), 3);
  EXPECT_EQ(load_model("one_type.pt").species().runs(), (std::vector<std::int64_t>{1, 12}));
  save_model(make_model(torch::kFloat32), fresh_path("blind.pt"));
  EXPECT_EQ(stored_version("blind.pt"), 1);
  EXPECT_FALSE(load_model("blind.pt").species().recorded());
}

TEST(ModelFile, ThePairBiasIsRecordedAsVersion4WithOrWithoutSpecies)
{
  for (const auto &species : {Species(), Species(kMixture)}) {
    auto model = make_model(torch::kFloat32, CouplingSplit::particle, species);
    auto o = model.options();
    o.pair_frequencies = 2;
    FlowModel biased(o, model.metadata(), species);
    flowmap_test::randomize_flow(biased.flow(), 0.1, 4);
    const auto path = fresh_path("pair_bias.pt");
    save_model(biased, path);
    EXPECT_EQ(stored_version(path), 4);
    const auto loaded = load_model(path);
    EXPECT_EQ(loaded.options().pair_frequencies, 2);
    EXPECT_EQ(loaded.species(), species);
    torch::manual_seed(5);
    const auto x = torch::rand({6, 12, 2}, torch::kFloat64) * 4.0;
    const auto ref = biased.reference_atoms().index_select(0, torch::randint(0, 5, {6}));
    torch::NoGradGuard no_grad;
    auto copy = loaded;
    const auto p = biased.forward(x, ref), q = copy.forward(x, ref);
    EXPECT_TRUE(torch::equal(p.positions, q.positions));
    EXPECT_TRUE(torch::equal(p.log_det, q.log_det));
    // the bias is part of the map: without it the same file's other weights map elsewhere
    FlowModel unbiased(model.options(), model.metadata(), species);
    auto unbiased_params = unbiased.flow()->named_parameters();
    for (const auto &item : biased.flow()->named_parameters())
      if (unbiased_params.contains(item.key())) unbiased_params[item.key()].copy_(item.value());
    EXPECT_GT((unbiased.forward(x, ref).log_det - p.log_det).abs().max().item<double>(), 1e-4);
  }
  // without the bias nothing changes: the entry is not written and the version stays
  save_model(make_model(torch::kFloat32, CouplingSplit::particle), fresh_path("no_bias.pt"));
  EXPECT_EQ(stored_version("no_bias.pt"), 2);
  EXPECT_EQ(load_model("no_bias.pt").options().pair_frequencies, 0);
}

TEST(ModelFile, ASystemOfOtherCompositionOrTypeOrderIsRefusedNamingBoth)
{
  const auto model = make_model(torch::kFloat32, CouplingSplit::particle, Species(kMixture));
  auto refusal = [&](const std::vector<std::int64_t> &types) -> std::string {
    try {
      check_model_species(model, Species(types));
    } catch (const ModelFileError &e) {
      return e.what();
    }
    return "(accepted)";
  };
  EXPECT_EQ(refusal(kMixture), "(accepted)");
  auto composition = kMixture;
  composition[11] = 3;    // one type-2 atom becomes type 3
  const auto counts = refusal(composition);
  EXPECT_THAT(counts, HasSubstr("trained for 12 atoms: 5 of type 1, 4 of type 2, 3 of type 3"));
  EXPECT_THAT(counts, HasSubstr("this system has 12 atoms: 5 of type 1, 3 of type 2, 4 of type 3"));
  auto order = kMixture;
  std::swap(order[0], order[2]);    // same counts, types 1 and 2 exchanged between atoms 1 and 3
  const auto swapped = refusal(order);
  EXPECT_THAT(swapped, HasSubstr("in atom-ID order 1 (IDs 1-2), 2 (IDs 3)"));
  EXPECT_THAT(swapped, HasSubstr("in atom-ID order 2 (IDs 1), 1 (IDs 2-4)"));
  EXPECT_THAT(swapped, HasSubstr("first difference at atom ID 1: type 1 in the model, 2 here"));
  // a one-type model refuses a one-type system of another type
  const auto one = make_model(torch::kFloat32, CouplingSplit::component,
                              Species(std::vector<std::int64_t>(12, 1)));
  EXPECT_THROW(check_model_species(one, Species(std::vector<std::int64_t>(12, 2))),
               ModelFileError);
  // a type-blind model (format 1 and 2) accepts any system: the caller warns for mixtures
  EXPECT_NO_THROW(check_model_species(make_model(torch::kFloat32), Species(kMixture)));
}

TEST(ModelFile, Version3NeedsValidTypeRuns)
{
  auto model = make_model(torch::kFloat32, CouplingSplit::component, Species(kMixture));
  for (const auto &runs : {std::vector<std::int64_t>{}, std::vector<std::int64_t>{1, 12, 2},
                           std::vector<std::int64_t>{1, 12, 2, 0}}) {
    torch::serialize::OutputArchive archive, options, parameters;
    write_options(options, model.options());
    options.write("split", std::string("component"));
    for (const auto &item : model.flow()->named_parameters())
      parameters.write(item.key(), item.value().detach());
    write_layout(archive, model, options, parameters, 3, runs);
    archive.save_to(fresh_path("runs.pt"));
    const auto msg = load_error("runs.pt");
    if (runs.empty()) {
      EXPECT_THAT(msg, HasSubstr("metadata/type_runs"));
    } else {
      EXPECT_THAT(msg, HasSubstr("corrupt model: species"));
    }
  }
}
