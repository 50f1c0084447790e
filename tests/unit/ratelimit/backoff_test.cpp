// Capped exponential backoff with full jitter, driven by a seeded engine.
#include "ratelimit/backoff.hpp"

#include <limits>

using briefd::ratelimit::backoff_ceiling;
using briefd::ratelimit::backoff_delay;
using briefd::ratelimit::backoff_policy;
using namespace std::chrono_literals;
using duration = backoff_policy::clock::duration;

TEST_CASE("the ceiling doubles from base and stops at cap") {
    const backoff_policy p{};  // 500 ms, 60 s
    CHECK(backoff_ceiling(p, 0) == 500ms);
    CHECK(backoff_ceiling(p, 1) == 1s);
    CHECK(backoff_ceiling(p, 2) == 2s);
    CHECK(backoff_ceiling(p, 6) == 32s);
    CHECK(backoff_ceiling(p, 7) == 60s);
    CHECK(backoff_ceiling(p, 100) == 60s);
    CHECK(backoff_ceiling(p, std::numeric_limits<unsigned>::max()) == 60s);
}

TEST_CASE("the ceiling never overflows, even with huge base and cap") {
    const backoff_policy huge{duration::max() / 3, duration::max()};
    CHECK(backoff_ceiling(huge, 0) == duration::max() / 3);
    CHECK(backoff_ceiling(huge, 1) == duration::max() / 3 * 2);
    CHECK(backoff_ceiling(huge, 2) == duration::max());
    CHECK(backoff_ceiling(huge, 1000) == duration::max());
    const backoff_policy base_over_cap{10s, 1s};
    CHECK(backoff_ceiling(base_over_cap, 0) == 1s);
    const backoff_policy zero{0s, 60s};
    CHECK(backoff_ceiling(zero, 5) == 0s);
}

TEST_CASE("delays stay within [0, ceiling] for attempts 0..100") {
    std::mt19937_64 rng(42);
    const backoff_policy p{};
    for (unsigned attempt = 0; attempt <= 100; ++attempt) {
        CAPTURE(attempt);
        const auto ceiling = backoff_ceiling(p, attempt);
        for (int i = 0; i < 200; ++i) {
            const auto d = backoff_delay(p, attempt, rng);
            REQUIRE(d >= 0s);
            REQUIRE(d <= ceiling);
            REQUIRE(d <= p.cap);
        }
    }
}

TEST_CASE("the mean delay grows with the attempt until the cap") {
    std::mt19937 rng(7);
    const backoff_policy p{};
    const auto mean = [&](unsigned attempt) {
        double sum = 0;
        const int samples = 4000;
        for (int i = 0; i < samples; ++i) {
            sum += std::chrono::duration<double>(backoff_delay(p, attempt, rng)).count();
        }
        return sum / samples;
    };
    double previous = -1;
    for (unsigned attempt = 0; attempt <= 7; ++attempt) {
        const double m = mean(attempt);
        CAPTURE(attempt);
        CHECK(m > previous);
        // Full jitter: the mean is about half the ceiling.
        const double half = std::chrono::duration<double>(backoff_ceiling(p, attempt)).count() / 2;
        CHECK(m == doctest::Approx(half).epsilon(0.1));
        previous = m;
    }
    // Past the cap the distribution stops growing but keeps its spread.
    CHECK(mean(50) == doctest::Approx(30.0).epsilon(0.1));
}

TEST_CASE("full jitter uses the whole interval, including short delays") {
    std::mt19937 rng(99);
    const backoff_policy p{};
    std::size_t under_a_tenth = 0;
    std::size_t over_nine_tenths = 0;
    for (int i = 0; i < 2000; ++i) {
        const auto d = backoff_delay(p, 30, rng);
        under_a_tenth += d < 6s ? 1 : 0;
        over_nine_tenths += d > 54s ? 1 : 0;
    }
    CHECK(under_a_tenth > 100);
    CHECK(over_nine_tenths > 100);
}

TEST_CASE("the same seed gives the same delays") {
    std::mt19937 a(5);
    std::mt19937 b(5);
    const backoff_policy p{};
    for (unsigned attempt = 0; attempt < 20; ++attempt) {
        CHECK(backoff_delay(p, attempt, a) == backoff_delay(p, attempt, b));
    }
}

TEST_CASE("a zero policy yields zero delays") {
    std::mt19937 rng(1);
    CHECK(backoff_delay(backoff_policy{0s, 0s}, 3, rng) == 0s);
}
