// The concurrent-jobs gate with a fake clock: never more than the cap, a refusal holds starts
// until one of our jobs ends (or Retry-After when none is ours), and the learned cap recovers.
#include "scheduler/job_gate.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using briefd::scheduler::job_gate;
using clk = job_gate::clock;

namespace {
const clk::time_point t0 = clk::time_point{} + 1000h;

// Takes places while the gate allows; returns how many.
std::size_t fill(job_gate& g, clk::time_point now, std::size_t most = 100) {
    std::size_t n = 0;
    while (n < most && g.can_start(now)) {
        g.take();
        ++n;
    }
    return n;
}
}  // namespace

TEST_CASE("job gate: without a cap every start may go") {
    job_gate g;
    CHECK_FALSE(g.enabled());
    for (int i = 0; i < 50; ++i) g.take();
    CHECK(g.can_start(t0));
}

TEST_CASE("job gate: never more than the cap; each end frees one place") {
    job_gate g(10);
    CHECK(fill(g, t0) == 10);
    CHECK_FALSE(g.can_start(t0));
    CHECK(g.next_chance(t0) == clk::time_point::max());  // only an end opens it
    g.finished();
    CHECK(g.can_start(t0));
    CHECK(fill(g, t0) == 1);
    CHECK(g.running() == 10);
}

TEST_CASE("job gate: a start that created nothing gives its place back") {
    job_gate g(2);
    CHECK(fill(g, t0) == 2);
    g.give_back();
    CHECK(g.running() == 1);
    CHECK(g.can_start(t0));
    g.give_back();
    g.give_back();  // never below zero
    CHECK(g.running() == 0);
}

TEST_CASE("job gate: recovered runs count before any new start") {
    job_gate g(3);
    g.take();  // tracked again after a restart
    g.take();
    CHECK(fill(g, t0) == 1);
}

TEST_CASE("job gate: a refusal holds starts until one of our jobs ends, not until a timer") {
    job_gate g(10);
    CHECK(fill(g, t0, 7) == 7);
    g.take();            // the 8th start leaves...
    g.refused(t0, 30s);  // ...and the server says the org runs too many (others hold the rest)
    CHECK(g.running() == 7);
    CHECK(g.effective_cap(t0) == 7);
    CHECK_FALSE(g.can_start(t0));
    CHECK_FALSE(g.can_start(t0 + 31s));  // the hold ended, but 7 of the 7 we may have run
    CHECK(g.next_chance(t0 + 31s) == t0 + job_gate::relearn);
    g.finished();  // one of ours ends: exactly its place comes free, so no second refusal
    CHECK(fill(g, t0 + 1s) == 1);
    CHECK_FALSE(g.can_start(t0 + 1s));
    g.finished();
    g.finished();
    CHECK(fill(g, t0 + 2s) == 2);
    CHECK(g.running() == 7);
}

TEST_CASE("job gate: with none of ours running a refusal holds until Retry-After") {
    job_gate g(10);
    g.take();
    g.refused(t0, 20s);
    CHECK(g.running() == 0);
    CHECK(g.effective_cap(t0) == 1);
    CHECK_FALSE(g.can_start(t0 + 19s));
    CHECK(g.next_chance(t0) == t0 + 20s);
    CHECK(g.can_start(t0 + 20s));
    CHECK(fill(g, t0 + 20s) == 1);  // one at a time while the learned cap holds
}

TEST_CASE("job gate: the hold is clamped to [1 s, 15 min]") {
    job_gate g(5);
    g.take();
    g.refused(t0, 0s);
    CHECK_FALSE(g.can_start(t0));
    CHECK(g.can_start(t0 + 1s));
    g.take();
    g.refused(t0, 48h);
    CHECK(g.next_chance(t0) == t0 + 15min);
}

TEST_CASE("job gate: a learned cap is forgotten a while after the last refusal") {
    job_gate g(4);
    CHECK(fill(g, t0) == 4);
    g.refused(t0, 5s);  // one of the four was refused: the org has room for 3 of ours
    CHECK(g.effective_cap(t0) == 3);
    CHECK(g.effective_cap(t0 + job_gate::relearn - 1s) == 3);
    CHECK(g.effective_cap(t0 + job_gate::relearn) == 4);
    CHECK(fill(g, t0 + job_gate::relearn) == 1);  // one probe of the room others may have freed
    CHECK(g.running() == 4);
    CHECK_FALSE(g.can_start(t0 + 1h));
}

TEST_CASE("job gate: a reload sets a new cap and forgets what refusals taught") {
    job_gate g(10);
    CHECK(fill(g, t0, 3) == 3);
    g.take();
    g.refused(t0, 5s);
    CHECK(g.effective_cap(t0) == 3);
    g.set_cap(4);
    CHECK(g.effective_cap(t0) == 4);
    g.set_cap(0);
    CHECK(g.can_start(t0));
}
