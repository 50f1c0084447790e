// Bucket-class budgets with a fake clock: each class with limits of its own is paced, learns and
// pauses on its own; everything else shares the default bucket.
#include "scheduler/budgets.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using briefd::ratelimit::rate_info;
using briefd::scheduler::bucket_limits;
using briefd::scheduler::budgets;
using clk = budgets::clock;

namespace {

// Layers' standard tier: read-light 120/min by default, write-light 60/min, long-running 20/min
// and 10,000 a day.
budgets layers_tier() {
    return budgets({120, 60s, 0},
                   {{"write-light", {60, 60s, 0}}, {"long-running", {20, 60s, 10000}}});
}

// Sends n requests of bucket b at `now`, as the host does (reserve, then departure).
std::size_t send(budgets& b, std::size_t bucket, std::size_t n, clk::time_point now) {
    std::size_t sent = 0;
    for (; sent < n && b.try_reserve(bucket, now); ++sent) b.sent(bucket, now);
    return sent;
}

const clk::time_point t0 = clk::time_point{} + 1000h;

}  // namespace

TEST_CASE("budgets: classes with limits get their own bucket; others draw from the default") {
    auto b = layers_tier();
    CHECK(b.size() == 3);
    CHECK(b.index_of("") == 0);
    CHECK(b.index_of("read-light") == 0);  // not configured: the default bucket
    auto w = b.index_of("write-light"), l = b.index_of("long-running");
    CHECK(w != 0);
    CHECK(l != 0);
    CHECK(w != l);
    CHECK(b.name(w) == "write-light");
    CHECK(b.name(0).empty());
    CHECK(b.limit(l) == 20);
    CHECK(b.index_of("something-new") == 0);
}

TEST_CASE("budgets: each class is paced by its own window, independently of the others") {
    auto b = layers_tier();
    auto l = b.index_of("long-running");
    CHECK(send(b, l, 25, t0) == 20);      // 20 starts a minute, not 120
    CHECK(b.earliest(l, t0) > t0 + 59s);  // the 21st waits for the window
    CHECK(b.available(l, t0) == 0);
    CHECK(send(b, 0, 120, t0) == 120);  // reads are untouched by the spent start budget
    CHECK(b.available(0, t0) == 0);
    auto w = b.index_of("write-light");
    CHECK(b.available(w, t0) == 60);
    CHECK(send(b, l, 1, t0 + 61s) == 1);  // a full window later the class has room again
}

TEST_CASE("budgets: a 429 pauses the bucket it names and no other") {
    auto b = layers_tier();
    auto l = b.index_of("long-running"), w = b.index_of("write-light");
    rate_info info;
    info.retry_after = 30s;
    auto until = b.on_429(b.response_bucket("long-running", 0), info, t0, 5s);
    CHECK(until == t0 + 30s);
    CHECK(b.earliest(l, t0) == t0 + 30s);
    CHECK(b.earliest(0, t0) == t0);  // reads (job polls) go on
    CHECK(b.earliest(w, t0) == t0);
    CHECK(b.available(0, t0 + 1s) == 120);
    CHECK(b.earliest(l, t0 + 31s) == t0 + 31s);
}

TEST_CASE("budgets: responses teach the bucket their class header names") {
    auto b = layers_tier();
    auto l = b.index_of("long-running");
    SUBCASE("the header names the class: its bucket learns, whatever the request's") {
        CHECK(b.response_bucket("long-running", 0) == l);
        rate_info info;
        info.limit = 20;
        info.remaining = 0;
        info.reset = 12s;
        b.observe(l, info, t0);
        CHECK(b.earliest(l, t0) >= t0 + 12s);  // nothing left: no start before the reset
        CHECK(b.available(l, t0 + 11s) == 0);
        CHECK(b.earliest(0, t0) == t0);
    }
    SUBCASE("another client's starts: a lower Remaining is counted as sends") {
        rate_info info;
        info.limit = 20;
        info.remaining = 5;
        b.observe(l, info, t0);
        CHECK(b.available(l, t0) == 5);
        CHECK(b.available(0, t0) == 120);
    }
    SUBCASE("no header: the request's own bucket") {
        CHECK(b.response_bucket("", l) == l);
        CHECK(b.response_bucket("", 99) == 0);  // out of range: the default, never a crash
    }
    SUBCASE("a class without limits of its own: the default bucket") {
        CHECK(b.response_bucket("read-light", l) == 0);
    }
}

TEST_CASE("budgets: a class's daily cap is its own") {
    budgets b({1000, 60s, 0}, {{"long-running", {1000, 60s, 3}}});
    auto l = b.index_of("long-running");
    CHECK(send(b, l, 5, t0) == 3);
    CHECK(b.earliest(l, t0) >= t0 + 24h);
    CHECK(b.available(l, t0 + 1h) == 0);
    CHECK(send(b, 0, 5, t0) == 5);
}

TEST_CASE("budgets: a reservation counts until it is sent or given back") {
    auto b = layers_tier();
    auto l = b.index_of("long-running");
    for (int i = 0; i < 20; ++i) REQUIRE(b.try_reserve(l, t0));
    CHECK_FALSE(b.try_reserve(l, t0));
    CHECK(b.earliest(l, t0) == clk::time_point::max());  // until one leaves or is given back
    b.unreserve(l);
    CHECK(b.try_reserve(l, t0));
}

TEST_CASE("budgets: a reload changes limits and classes without opening a burst") {
    auto b = layers_tier();
    auto l = b.index_of("long-running");
    CHECK(send(b, l, 20, t0) == 20);
    b.set_limits({120, 60s, 0}, {{"long-running", {40, 60s, 0}}, {"bulk", {5, 60s, 0}}});
    CHECK(b.index_of("long-running") == l);  // same bucket, its send log kept
    CHECK(b.available(l, t0) == 20);         // 40 - the 20 already sent
    CHECK(b.index_of("write-light") == 0);   // no longer configured: the default for new requests
    auto k = b.index_of("bulk");
    CHECK(k != 0);
    CHECK(b.limit(k) == 5);
}
