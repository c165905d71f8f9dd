// core/ordered_prefetch.hpp: items in order whatever thread made them, at most `window` ahead, and a
// producer's exception delivered in order (after the items before it).
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "cadence/core/ordered_prefetch.hpp"
#include "support.hpp"

TEST_CASE("ordered prefetch: items arrive in order from any number of threads, however long each takes") {
  for (int threads : {1, 3, 8}) {
    cadence::OrderedPrefetch<int> ahead(40, threads, 4, [](std::size_t i) {
      std::this_thread::sleep_for(std::chrono::microseconds((i * 7919) % 13 * 100));  // later items often finish first
      return static_cast<int>(i) * 10;
    });
    int expected = 0;
    while (auto v = ahead.next()) {
      CHECK(*v == expected * 10);
      ++expected;
    }
    CHECK(expected == 40);
    CHECK_FALSE(ahead.next().has_value());  // and stays at the end
  }
}

TEST_CASE("ordered prefetch: no more than `window` items are made ahead of the consumer") {
  std::atomic<int> made{0};
  cadence::OrderedPrefetch<int> ahead(100, 4, 3, [&](std::size_t i) {
    ++made;
    return static_cast<int>(i);
  });
  // wait (on a loaded machine, as long as it takes) until the window is full, then give the workers time
  // to run past it if they could
  auto settle = [&](int at_least) {
    for (int i = 0; i < 500 && made.load() < at_least; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  };
  settle(3);
  CHECK(made.load() == 3);
  for (int k = 0; k < 5; ++k) REQUIRE(ahead.next().has_value());
  settle(8);
  CHECK(made.load() == 8);  // 5 consumed + the window of 3
}

TEST_CASE("ordered prefetch: a producer's exception comes out for its own item, after the items before it") {
  cadence::OrderedPrefetch<int> ahead(10, 3, 4, [](std::size_t i) {
    if (i == 6) throw std::runtime_error("item 6 is bad");
    return static_cast<int>(i);
  });
  for (int k = 0; k < 6; ++k) {
    const auto v = ahead.next();
    REQUIRE(v.has_value());
    CHECK(*v == k);
  }
  CHECK_THROWS_WITH_AS(ahead.next(), "item 6 is bad", std::runtime_error);
  CHECK(ahead.next().value() == 7);  // the items after it are still there
}

TEST_CASE("ordered prefetch: destroyed early, it stops its workers without waiting for the rest") {
  std::atomic<int> made{0};
  {
    cadence::OrderedPrefetch<int> ahead(1000000, 2, 2, [&](std::size_t i) {
      ++made;
      return static_cast<int>(i);
    });
    CHECK(ahead.next().value() == 0);
  }
  CHECK(made.load() < 10);
}
