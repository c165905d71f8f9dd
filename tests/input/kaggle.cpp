#include "cadence/data/kaggle.hpp"

#include <sstream>

#include "cadence/data/csv.hpp"
#include "support.hpp"

using cadence::Split;

TEST_CASE("kaggle: opens the synthetic dataset's three splits") {
  test::TempDir dir("kaggle");
  test::small_dataset(dir.path, 12, 5, 7);
  const auto train = cadence::open_split(dir.path, Split::train);
  const auto test = cadence::open_split(dir.path, Split::test);
  const auto old = cadence::open_split(dir.path, Split::old);
  CHECK(train.size() == 12);
  CHECK(test.size() == 5);
  CHECK(old.size() == 7);
  for (const auto& e : test.entries) CHECK(e.target == -1.0f);
  for (const auto& e : train.entries) {
    CHECK((e.target == 0.0f || e.target == 1.0f));
    CHECK(e.file == dir.path / "train" / std::string(1, e.id[0]) / (e.id + ".npy"));
  }
  CHECK(old.entries[0].file.parent_path().parent_path() == dir.path / "old_leaky_data" / "train_old");
}

TEST_CASE("kaggle: bad layouts are refused with the file or id named") {
  test::TempDir dir("kagglebad");
  test::check_error([&] { cadence::open_split(dir / "nowhere", Split::train); }, "nowhere", "does not exist");
  test::check_error([&] { cadence::open_split(dir.path, Split::train); }, "train_labels.csv", "cannot open");

  auto labels = [&](const std::string& text) {
    test::write_file(dir / "train_labels.csv", text);
    return [&] { cadence::open_split(dir.path, Split::train); };
  };
  test::check_error(labels("id,target\n"), "train_labels.csv", "no rows");
  test::check_error(labels(""), "train_labels.csv", "empty file");
  test::check_error(labels("name,label\na,1\n"), "train_labels.csv:1", "header");
  test::check_error(labels("id,target\nabc,0\nabd,1\nabc,1\n"), "train_labels.csv:4", "duplicate id `abc`", "line 2");
  test::check_error(labels("id,target\n../etc,0\n"), "train_labels.csv:2", "invalid id `../etc`");
  test::check_error(labels("id,target\na/b,0\n"), "train_labels.csv:2", "invalid id `a/b`");
  test::check_error(labels("id,target\nabc,maybe\n"), "train_labels.csv:2", "abc", "not a number");
  test::check_error(labels("id,target\nabc,2\n"), "train_labels.csv:2", "not a number in [0, 1]");
  test::check_error(labels("id,target\nabc\n"), "train_labels.csv:2", "expected `id,target`");
  // headers and values exactly as Kaggle writes them: no look-alikes
  test::check_error(labels("id,targets\nabc,1\n"), "train_labels.csv:1", "expected the header `id,target`");
  test::check_error(labels("id,target,extra\nabc,1\n"), "train_labels.csv:1", "expected the header");
  for (const char* v : {"0x1", "inf", "nan", "-0", "+1", " 1", "1e", ".", "1.5e-1x"})
    test::check_error(labels(std::string("id,target\nabc,") + v + "\n"), "train_labels.csv:2",
                      "not a number in [0, 1]");
  test::check_error(labels("id,target\nabc,0.5\n"), "train_labels.csv:2", "not a label (0 or 1)");
  test::check_error(labels("id,target\r\nabc,1\r\n"), (dir / "train" / "a" / "abc.npy").string(),
                    "missing file for id `abc`");
  // a byte-order mark (a spreadsheet's "CSV UTF-8") is read past, as pandas does: it used to give
  // "expected the header `id,target`, got `id,target`", the mark invisible
  test::check_error(labels("\xEF\xBB\xBFid,target\nabc,1\n"), (dir / "train" / "a" / "abc.npy").string(),
                    "missing file for id `abc`");
}

TEST_CASE("csv: a truth file's byte-order mark is read past, one inside a row is not") {
  test::TempDir dir("csvbom");
  test::write_file(dir / "t.csv", "\xEF\xBB\xBFid,target,snr,drift\nabc,1,12.5,0.1\n");
  const auto rows = cadence::csv::read_truth(dir / "t.csv");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].id == "abc");
  std::istringstream in(
      "id,target\n\xEF\xBB\xBF"
      "abc,1\n");  // split: \xBFabc would be one escape
  test::check_error([&] { cadence::csv::parse_labels(in, "x.csv", cadence::csv::Column::label); }, "x.csv:2",
                    "invalid id");
}

TEST_CASE("csv: ids are checked so that they can only name a file inside the split") {
  CHECK(cadence::csv::valid_id("0000799a2b2c42d"));
  CHECK(cadence::csv::valid_id("a_b-C9"));
  for (const char* bad : {"", "..", "a/b", "a\\b", "a.b", "a b", "/abs"}) CHECK_FALSE(cadence::csv::valid_id(bad));
}
