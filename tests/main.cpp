// The unit suite's main: doctest's, plus one rule for the ctest entries (one per test case, run as
// `cadence_tests --test-case=<name>`): a filter that matches no test case is a failure, not a pass, so an
// entry whose name no longer matches its case (a renamed case, a name the registration mangled) cannot
// pass without running anything.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

namespace {
struct RanNothing : doctest::IReporter {
  static inline bool nothing = false;
  explicit RanNothing(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& s) override { nothing = s.numTestCasesPassingFilters == 0; }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};
REGISTER_LISTENER("ran_nothing", 1, RanNothing);
}  // namespace

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int status = context.run();
  if (context.shouldExit()) return status;  // --help, --list-test-cases, ...
  if (status == 0 && RanNothing::nothing) {
    std::fputs("cadence_tests: no test case matches the filter: nothing ran\n", stderr);
    return 1;
  }
  return status;
}
