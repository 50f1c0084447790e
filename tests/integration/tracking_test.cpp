// Tracking runs: SSE when it works, and every way it can fail (dropped, stalled, refused) still
// ends with the brief done, through reconnects or the wait/poll fallback; the modes forced by
// config.
#include "integration/helpers.hpp"

#include <doctest/doctest.h>

namespace briefd::it {

namespace {

constexpr const char* stream_route = "GET /v1/runs/{id}/stream";
constexpr const char* poll_route = "GET /v1/runs/{id}";
constexpr const char* wait_route = "GET /v1/runs/{id}/wait";

/// Drops a 3-item brief and requires it to be done with every output intact.
void run_three(rig& r) {
    r.d->drop("track.json", content_brief("track", 3));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"track.json"});
    CHECK(r.d->manifest("track").at("status").as_string() == "completed");
    CHECK(check_outputs(*r.d, "track") >= 3);
    CHECK(r.stat("runs_created") == 3);
    // Tracking of any kind stays within the budget briefsim enforces.
    CHECK(r.stat("responses_429") == 0);
    CHECK(r.stat("over_limit") == 0);
}

}  // namespace

TEST_CASE("SSE: runs are tracked over their streams, no polling needed") {
    rig r;
    RIG_CONTEXT(r);
    run_three(r);
    CHECK(r.route_count(stream_route) >= 3);
    CHECK(r.stat("sse_events") > 0);
    CHECK(r.route_count(poll_route) == 0);
    CHECK(r.route_count(wait_route) == 0);
}

TEST_CASE("SSE dropped mid-stream: reconnects or falls back, and completes") {
    rig_options o;
    o.sim_args = {"--sse-drop-after", "1"};
    rig r(o);
    RIG_CONTEXT(r);
    run_three(r);
    // Every stream was cut after one event, so each run needed more than one look.
    CHECK(r.route_count(stream_route) + r.route_count(poll_route) + r.route_count(wait_route) > 3);
}

TEST_CASE("SSE stalled (headers, then silence): the idle timeout ends it and tracking falls back") {
    rig_options o;
    o.sim_args = {"--sse-stall"};
    o.daemon.sse_idle_timeout_ms = 1000;
    rig r(o);
    RIG_CONTEXT(r);
    run_three(r);
    CHECK(r.route_count(poll_route) + r.route_count(wait_route) >= 3);
}

TEST_CASE("SSE trickling (a byte at a time, never a line): cut at the idle deadline like a silent one") {
    // Every byte used to restart the idle timer, so a trickling peer held the run forever; now a
    // stream must complete a line within the deadline.
    rig_options o;
    o.sim_args = {"--sse-trickle"};
    o.daemon.sse_idle_timeout_ms = 1000;
    rig r(o);
    RIG_CONTEXT(r);
    run_three(r);
    CHECK(r.route_count(poll_route) + r.route_count(wait_route) >= 3);
    CHECK(r.stat("sse_events") == 0);
}

TEST_CASE("SSE refused: falls back without hammering the stream endpoint") {
    for (const char* how : {"404", "204", "ctype"}) {
        CAPTURE(how);
        rig_options o;
        o.sim_args = {"--sse-refuse", how};
        rig r(o);
        RIG_CONTEXT(r);
        run_three(r);
        CHECK(r.route_count(poll_route) + r.route_count(wait_route) >= 3);
        // "no stream for this run": one refusal per run is enough to stop asking.
        CHECK(r.route_count(stream_route) <= 3);
    }
}

TEST_CASE("tracking mode poll: only GET /v1/runs/{id}") {
    rig_options o;
    o.daemon.tracking_mode = "poll";
    rig r(o);
    RIG_CONTEXT(r);
    run_three(r);
    CHECK(r.route_count(poll_route) >= 3);
    CHECK(r.route_count(stream_route) == 0);
    CHECK(r.route_count(wait_route) == 0);
}

TEST_CASE("tracking mode wait: long-polls GET /v1/runs/{id}/wait") {
    rig_options o;
    o.daemon.tracking_mode = "wait";
    rig r(o);
    RIG_CONTEXT(r);
    run_three(r);
    CHECK(r.route_count(wait_route) >= 3);
    CHECK(r.route_count(stream_route) == 0);
}

}  // namespace briefd::it
