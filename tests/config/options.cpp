#include "cadence/config/options.hpp"

#include "cadence/config/overrides.hpp"
#include "cadence/config/pipeline_config.hpp"
#include "cadence/data/load.hpp"
#include "cadence/nn/efficientnet_v2.hpp"
#include "cadence/nn/model.hpp"
#include "cadence/nn/small_cnn.hpp"
#include "cadence/recipes/options.hpp"
#include "support.hpp"

using cadence::config::json;

namespace {
struct Inner {
  double p = 0.5;
  int blur = 7;
  template <class V>
  void fields(V& v) {
    v("p", p, cadence::config::probability());
    v("blur", blur, cadence::config::at_least(3), cadence::config::odd());
  }
};
struct Outer {
  int folds = 4;
  std::string name = "x";
  cadence::PanelLayout layout = cadence::PanelLayout::on_stacked;
  std::vector<int> sizes{1, 2};
  Inner inner;
  template <class V>
  void fields(V& v) {
    v("folds", folds, cadence::config::at_least(2));
    v("name", name);
    v("layout", layout);
    v("sizes", sizes);
    v("inner", inner);
  }
};
}  // namespace

TEST_CASE("config: absent keys keep defaults, present keys are read") {
  auto o = cadence::config::parse<Outer>(json::parse(R"({"folds": 5, "layout": "channels", "inner": {"p": 0.25}})"));
  CHECK(o.folds == 5);
  CHECK(o.layout == cadence::PanelLayout::channels);
  CHECK(o.inner.p == 0.25);
  CHECK(o.inner.blur == 7);
  CHECK(o.name == "x");
}

TEST_CASE("config: errors name the JSON path") {
  auto parse = [](const char* text) { return [text] { cadence::config::parse<Outer>(json::parse(text)); }; };
  test::check_error(parse(R"({"inner": {"colour": 1}})"), "/inner/colour", "unknown key", "known keys: blur, p");
  test::check_error(parse(R"({"folds": "four"})"), "/folds", "expected an integer", "string");
  test::check_error(parse(R"({"folds": 2.5})"), "/folds", "expected an integer");
  test::check_error(parse(R"({"folds": 1})"), "/folds", "below the minimum 2");
  test::check_error(parse(R"({"inner": {"p": -0.1}})"), "/inner/p", "outside [0, 1]");
  test::check_error(parse(R"({"inner": {"blur": 4}})"), "/inner/blur", "must be odd");
  test::check_error(parse(R"({"layout": "sideways"})"), "/layout", "on_stacked, all_stacked, channels");
  test::check_error(parse(R"({"sizes": [1, "2"]})"), "/sizes/1", "expected an integer");
  test::check_error(parse(R"({"inner": 3})"), "/inner", "expected an object");
  test::check_error(parse(R"([1])"), "/", "expected an object");
  // a directory cadence would make: refused when no file system could hold it, quoting a piece of it
  auto run_dir = [](const std::string& dir) {
    return [dir] { cadence::config::parse<cadence::RunOptions>(json{{"dir", dir}}); };
  };
  const auto message = test::error_of(run_dir(std::string(5000, 'x') + "/y"));
  CHECK(message.find("/dir: a path of 5002 characters (`xxxx") != std::string::npos);
  CHECK(message.size() < 200);  // it quoted the 5,000 characters whole
  test::check_error(run_dir("runs/" + std::string(3000, 'x')), "/dir: `xxxx",
                    "is a name of 3000 characters; a file system allows 255");
  std::string deep;  // 17 names of 250 characters: each allowed, the path (4,266 characters) not
  for (int i = 0; i < 17; ++i) deep += (i ? "/" : "") + std::string(250, static_cast<char>('a' + i));
  test::check_error(run_dir(deep), "/dir: a path of 4266 characters", "at most 4095");
  test::check_error(run_dir(""), "/dir", "must not be empty");
  CHECK(test::error_of(run_dir("runs/" + std::string(255, 'n'))).empty());
}

TEST_CASE("config: write gives the resolved options, and reading them back is the identity") {
  Outer o;
  o.folds = 9;
  o.inner.blur = 5;
  const json j = cadence::config::write(o);
  CHECK(j["folds"] == 9);
  CHECK(j["layout"] == "on_stacked");
  CHECK(j["inner"]["blur"] == 5);
  CHECK(j["inner"]["p"] == 0.5);
  const Outer back = j.get<Outer>();  // nlohmann's ADL hooks
  CHECK(cadence::config::write(back) == j);
}

TEST_CASE("config: a pipeline's config has one section per stage plus the recipe's") {
  auto p = cadence::Load{} | cadence::Model<cadence::SmallCnnArch>{};
  cadence::CompetitionConfig recipe;  // the holdout and competition recipes read the same sections
  cadence::config::read_config(
      json::parse(R"({"load": {"threads": 3}, "model": {"arch": "small_cnn", "width": 8, "head": "bce"},
                                               "train": {"epochs": 2}})"),
      p, recipe);
  CHECK(p.get<cadence::Load>().options.threads == 3);
  CHECK(p.get<cadence::Model<cadence::SmallCnnArch>>().options.width == 8);
  CHECK(p.get<cadence::Model<cadence::SmallCnnArch>>().options.head == cadence::Head::bce);
  CHECK(recipe.train.epochs == 2);
  const json resolved = cadence::config::write_config(p, recipe);
  CHECK(resolved["model"]["depth"] == 4);
  CHECK(resolved["load"]["layout"] == "on_stacked");
  CHECK(resolved["run"]["seed"] == 42);

  auto read = [&](const char* text) {
    return [&p, &recipe, text] { cadence::config::read_config(json::parse(text), p, recipe); };
  };
  test::check_error(read(R"({"modle": {}})"), "/modle", "unknown key");
  test::check_error(read(R"({"train": {"holdout": 1.5}})"), "/train/holdout");
  test::check_error(read(R"({"load": {"nonfinite": "ignore"}})"), "/load/nonfinite", "error, zero");
  test::check_error(read(R"({"train": {"batch_size": 0}})"), "/train/batch_size", "outside [1, 65536]");
  // the architecture has no default, and only the Model's own are accepted
  test::check_error(read(R"({"load": {}})"), "/model/arch", "missing (required", "small_cnn");
  test::check_error(read(R"({"model": {}})"), "/model/arch", "missing (required", "small_cnn");
  test::check_error(read(R"({"model": {"arch": "efficientnetv2_s"}})"), "/model/arch",
                    "unknown value \"efficientnetv2_s\"", "\"small_cnn\"");
  auto effnet = cadence::Load{} | cadence::Model<cadence::EffNetV2S>{};
  cadence::config::read_config(json::parse(R"({"model": {"arch": "tf_efficientnetv2_s"}})"), effnet, recipe);
  CHECK(effnet.get<cadence::Model<cadence::EffNetV2S>>().arch() == "tf_efficientnetv2_s");
  test::check_error(
      [&] {
        cadence::config::read_config(json::parse(R"({"model": {"arch": "tf_efficientnetv2_m"}})"), effnet, recipe);
      },
      "/model/arch", "efficientnetv2_s\", \"tf_efficientnetv2_s\"");
}

TEST_CASE("config: --set overrides and --flag lists") {
  json j = json::parse(R"({"train": {"epochs": 4}})");
  cadence::config::apply_override(j, "train.epochs=2");
  cadence::config::apply_override(j, "run.device=cuda:1");
  cadence::config::apply_override(j, "load.standardize=false");
  CHECK(j["train"]["epochs"] == 2);
  CHECK(j["run"]["device"] == "cuda:1");
  CHECK(j["load"]["standardize"] == false);
  test::check_error([&] { cadence::config::apply_override(j, "train.epochs"); }, "key.path=value");
  test::check_error([&] { cadence::config::apply_override(j, "train.epochs.x=1"); }, "not an object");
  const json f = cadence::config::flags_to_json({"--positive-rate", "0.2", "--root", "/tmp/x"});
  CHECK(f["positive_rate"] == 0.2);
  CHECK(f["root"] == "/tmp/x");
  test::check_error([] { cadence::config::flags_to_json({"--train"}); }, "missing its value");
}

TEST_CASE("config: load_file names the file on a syntax error") {
  test::TempDir dir("cfg");
  test::write_file(dir / "bad.json", "{\"a\": ");
  test::check_error([&] { cadence::config::load_file(dir / "bad.json"); }, "bad.json", "invalid JSON");
  test::check_error([&] { cadence::config::load_file(dir / "none.json"); }, "none.json", "cannot open");
}

TEST_CASE("config: an error line quotes at most a short piece of hostile input") {
  const std::string big(100000, 'x');
  for (const auto& j : {json{{"layout", big}}, json{{big, 1}}, json{{"threads", json::array({big, big})}}}) {
    const auto msg = test::error_of([&] { cadence::config::parse<cadence::LoadOptions>(j); });
    CHECK_FALSE(msg.empty());
    CHECK(msg.size() < 400);
  }
  json j;
  const auto msg = test::error_of([&] { cadence::config::apply_override(j, big); });
  CHECK(msg.size() < 400);
}
