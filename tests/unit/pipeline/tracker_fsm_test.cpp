// tracker_fsm scripts: each test plays the driver's side with a fake clock and checks the action
// the fsm returns at each step (boostorg/mysql sansio test style).
#include "pipeline/tracker_fsm.hpp"

#include <chrono>

using namespace std::chrono_literals;
using briefd::errc;
using namespace briefd::pipeline;
using kind = tracker_action::kind;

namespace {

// A fake clock: an arbitrary origin plus whatever the script advances.
struct fake_clock {
    clock::time_point t = clock::time_point{} + 1000h;
    clock::time_point now() const { return t; }
    clock::time_point advance(clock::duration d) { return t += d; }
};

tracker_config config(tracking_mode mode = tracking_mode::auto_) {
    tracker_config c;
    c.mode = mode;
    return c;
}

const std::error_code net_error = std::make_error_code(std::errc::connection_reset);

}  // namespace

// ---------------------------------------------------------------- stream happy paths

TEST_CASE("tracker: auto mode opens a stream first, with the idle deadline and no Last-Event-ID") {
    fake_clock c;
    tracker_fsm fsm(config(), 1);
    auto a = fsm.start(c.now());
    CHECK(a.what == kind::open_stream);
    CHECK(a.not_before == c.now());
    CHECK(a.last_event_id.empty());
    CHECK(a.idle_timeout == 45s);
    CHECK(fsm.current_channel() == tracking_mode::sse);
    CHECK(fsm.stream_connects() == 1);
}

TEST_CASE("tracker: progress and ping events mean keep reading") {
    fake_clock c;
    tracker_fsm fsm(config(), 1);
    fsm.start(c.now());
    auto a = fsm.on_stream_event(c.advance(2s), "progress", run_phase::running, "");
    CHECK(a.what == kind::read);
    CHECK(a.idle_timeout == 45s);
    a = fsm.on_stream_event(c.advance(15s), "ping", run_phase::unknown, "");
    CHECK(a.what == kind::read);
    CHECK(fsm.stream_connects() == 1);
}

TEST_CASE("tracker: a complete event with a completed run is done") {
    fake_clock c;
    tracker_fsm fsm(config(), 1);
    fsm.start(c.now());
    fsm.on_stream_event(c.advance(1s), "progress", run_phase::running, "");
    auto a = fsm.on_stream_event(c.advance(1s), "complete", run_phase::completed, "");
    CHECK(a.what == kind::done);
    CHECK(a.phase == run_phase::completed);
}

TEST_CASE("tracker: an error event carrying a failed run is done(failed), not a transport error") {
    fake_clock c;
    tracker_fsm fsm(config(), 1);
    fsm.start(c.now());
    auto a = fsm.on_stream_event(c.advance(1s), "error", run_phase::failed, "");
    CHECK(a.what == kind::done);
    CHECK(a.phase == run_phase::failed);
}

TEST_CASE("tracker: an error event carrying a cancelled run is done(cancelled)") {
    fake_clock c;
    tracker_fsm fsm(config(), 1);
    fsm.start(c.now());
    auto a = fsm.on_stream_event(c.advance(1s), "error", run_phase::cancelled, "");
    CHECK(a.what == kind::done);
    CHECK(a.phase == run_phase::cancelled);
}

TEST_CASE("tracker: the run's status decides, whatever the event is called") {
    fake_clock c;
    tracker_fsm fsm(config(), 1);
    fsm.start(c.now());
    auto a = fsm.on_stream_event(c.advance(1s), "progress", run_phase::completed, "");
    CHECK(a.what == kind::done);
    CHECK(a.phase == run_phase::completed);
}

TEST_CASE("tracker: an unknown status keeps going") {
    fake_clock c;
    tracker_fsm fsm(config(), 1);
    fsm.start(c.now());
    auto a = fsm.on_stream_event(c.advance(1s), "progress", run_phase::unknown, "");
    CHECK(a.what == kind::read);
}

TEST_CASE("tracker: an error event whose payload is not terminal is confirmed over wait") {
    fake_clock c;
    tracker_fsm fsm(config(), 1);
    fsm.start(c.now());
    auto a = fsm.on_stream_event(c.advance(1s), "error", run_phase::unknown, "");
    CHECK(a.what == kind::wait);
    CHECK(a.not_before == c.now());
    CHECK(fsm.current_channel() == tracking_mode::wait);
}

// ---------------------------------------------------------------- reconnects

TEST_CASE("tracker: a timeout event reconnects at once, not counted as a failure") {
    fake_clock c;
    tracker_fsm fsm(config(), 1);
    fsm.start(c.now());
    // Many 10-minute streams in a row never add up to a fallback.
    for (int i = 0; i < 10; ++i) {
        auto a = fsm.on_stream_event(c.advance(10min), "timeout", run_phase::unknown, "");
        REQUIRE(a.what == kind::open_stream);
        CHECK(a.not_before == c.now());
    }
    CHECK(fsm.stream_connects() == 11);
    CHECK(fsm.current_channel() == tracking_mode::sse);
    CHECK(fsm.consecutive_failures() == 0);
}

TEST_CASE("tracker: the last event id is carried into the next connect") {
    fake_clock c;
    tracker_fsm fsm(config(), 1);
    fsm.start(c.now());
    fsm.on_stream_event(c.advance(1s), "progress", run_phase::running, "ev-7");
    auto a = fsm.on_stream_event(c.advance(1s), "timeout", run_phase::unknown, "ev-8");
    REQUIRE(a.what == kind::open_stream);
    CHECK(a.last_event_id == "ev-8");
    // It persists across a connection that sends no id, and after a failure.
    a = fsm.on_stream_ended(c.advance(1s), net_error, std::nullopt);
    REQUIRE(a.what == kind::open_stream);
    CHECK(a.last_event_id == "ev-8");
}

TEST_CASE("tracker: a clean close without a terminal event reconnects after reconnect_base") {
    fake_clock c;
    tracker_fsm fsm(config(), 1);
    fsm.start(c.now());
    fsm.on_stream_event(c.advance(1s), "progress", run_phase::running, "");
    auto a = fsm.on_stream_ended(c.advance(1s), {}, std::nullopt);
    REQUIRE(a.what == kind::open_stream);
    CHECK(a.not_before == c.now() + 1s);
    CHECK(fsm.stream_connects() == 2);
}

TEST_CASE("tracker: the server's retry: value replaces reconnect_base and is remembered") {
    fake_clock c;
    tracker_fsm fsm(config(), 1);
    fsm.start(c.now());
    fsm.on_stream_event(c.advance(1s), "progress", run_phase::running, "");
    auto a = fsm.on_stream_ended(c.advance(1s), {}, 5000ms);
    REQUIRE(a.what == kind::open_stream);
    CHECK(a.not_before == c.now() + 5s);
    // Next connection: the server says nothing about retry, the 5 s still applies.
    fsm.on_stream_event(c.advance(1s), "progress", run_phase::running, "");
    a = fsm.on_stream_ended(c.advance(1s), {}, std::nullopt);
    REQUIRE(a.what == kind::open_stream);
    CHECK(a.not_before == c.now() + 5s);
}

TEST_CASE("tracker: repeated failures back off with jitter inside the documented bounds") {
    // Bounds: n-th consecutive failure waits retry + U[0, min(cap, retry * (2^(n-1) - 1))].
    for (std::uint64_t seed = 0; seed < 50; ++seed) {
        fake_clock c;
        auto cfg = config();
        cfg.sse_max_failures = 10;
        tracker_fsm fsm(cfg, seed);
        fsm.start(c.now());
        auto a = fsm.on_stream_ended(c.advance(1s), errc::sse_idle_timeout, std::nullopt);
        REQUIRE(a.what == kind::open_stream);
        CHECK(a.not_before == c.now() + 1s);  // the first failure: exactly the retry delay
        const clock::duration extra_max[] = {1s, 3s, 7s, 15s, 30s, 30s};
        for (auto max : extra_max) {
            a = fsm.on_stream_ended(c.advance(1s), net_error, std::nullopt);
            REQUIRE(a.what == kind::open_stream);
            CHECK(a.not_before >= c.now() + 1s);
            CHECK(a.not_before <= c.now() + 1s + max);
        }
    }
}

TEST_CASE("tracker: jitter is deterministic for a seed and differs between seeds") {
    auto run = [](std::uint64_t seed) {
        fake_clock c;
        auto cfg = config();
        cfg.sse_max_failures = 10;
        tracker_fsm fsm(cfg, seed);
        fsm.start(c.now());
        std::vector<clock::duration> delays;
        for (int i = 0; i < 6; ++i) {
            auto a = fsm.on_stream_ended(c.now(), net_error, std::nullopt);
            delays.push_back(a.not_before - c.now());
        }
        return delays;
    };
    CHECK(run(42) == run(42));
    CHECK(run(42) != run(43));
}

TEST_CASE("tracker: a server retry of 0 still backs off on repeated failures") {
    fake_clock c;
    auto cfg = config();
    cfg.sse_max_failures = 10;
    tracker_fsm fsm(cfg, 7);
    fsm.start(c.now());
    fsm.on_stream_ended(c.now(), {}, 0ms);
    clock::duration total{};
    for (int i = 0; i < 5; ++i) total += fsm.on_stream_ended(c.now(), {}, 0ms).not_before - c.now();
    CHECK(total > 0s);
}

TEST_CASE("tracker: a ping resets the stream failure count") {
    fake_clock c;
    tracker_fsm fsm(config(), 1);  // sse_max_failures = 3
    fsm.start(c.now());
    fsm.on_stream_ended(c.advance(1s), net_error, std::nullopt);
    fsm.on_stream_ended(c.advance(5s), net_error, std::nullopt);
    // A working connection in between: the count starts again.
    auto a = fsm.on_stream_event(c.advance(5s), "ping", run_phase::unknown, "");
    CHECK(a.what == kind::read);
    a = fsm.on_stream_ended(c.advance(50s), errc::sse_idle_timeout, std::nullopt);
    CHECK(a.what == kind::open_stream);
    CHECK(a.not_before == c.now() + 1s);  // first failure again: no backoff extra
    a = fsm.on_stream_ended(c.advance(1s), net_error, std::nullopt);
    CHECK(a.what == kind::open_stream);
    CHECK(fsm.current_channel() == tracking_mode::sse);
}

// ---------------------------------------------------------------- fallbacks

TEST_CASE("tracker: auto mode falls back to wait at once on a refusal, without reconnecting") {
    fake_clock c;
    tracker_fsm fsm(config(), 1);
    fsm.start(c.now());
    auto a = fsm.on_stream_refused(c.advance(200ms));
    REQUIRE(a.what == kind::wait);
    CHECK(a.not_before == c.now());
    CHECK(a.wait_timeout == 60s);
    CHECK(fsm.current_channel() == tracking_mode::wait);
    CHECK(fsm.stream_connects() == 1);
}

TEST_CASE("tracker: auto mode falls back to wait after sse_max_failures failed streams") {
    fake_clock c;
    tracker_fsm fsm(config(), 1);
    auto a = fsm.start(c.now());
    a = fsm.on_stream_ended(c.advance(1s), net_error, std::nullopt);
    CHECK(a.what == kind::open_stream);
    a = fsm.on_stream_ended(c.advance(45s), errc::sse_idle_timeout, std::nullopt);
    CHECK(a.what == kind::open_stream);
    a = fsm.on_stream_ended(c.advance(1s), {}, std::nullopt);  // accepted and closed, no event
    REQUIRE(a.what == kind::wait);
    CHECK(a.not_before == c.now());
    CHECK(fsm.stream_connects() == 3);
    CHECK(fsm.current_channel() == tracking_mode::wait);
}

TEST_CASE("tracker: sse mode retries a refusal with backoff, then falls back to poll") {
    fake_clock c;
    tracker_fsm fsm(config(tracking_mode::sse), 1);
    fsm.start(c.now());
    auto a = fsm.on_stream_refused(c.advance(1s));
    REQUIRE(a.what == kind::open_stream);
    CHECK(a.not_before == c.now() + 1s);
    a = fsm.on_stream_refused(c.advance(1s));
    REQUIRE(a.what == kind::open_stream);
    CHECK(a.not_before >= c.now() + 1s);
    CHECK(a.not_before <= c.now() + 2s);
    a = fsm.on_stream_refused(c.advance(2s));
    REQUIRE(a.what == kind::poll);
    CHECK(a.not_before == c.now());
    CHECK(fsm.current_channel() == tracking_mode::poll);
    CHECK(fsm.stream_connects() == 3);
}

TEST_CASE("tracker: sse mode falls back to poll, not wait, after failed streams") {
    fake_clock c;
    tracker_fsm fsm(config(tracking_mode::sse), 1);
    fsm.start(c.now());
    fsm.on_stream_ended(c.advance(1s), net_error, std::nullopt);
    fsm.on_stream_ended(c.advance(1s), net_error, std::nullopt);
    auto a = fsm.on_stream_ended(c.advance(1s), net_error, std::nullopt);
    CHECK(a.what == kind::poll);
    CHECK(fsm.current_channel() == tracking_mode::poll);
}

// ---------------------------------------------------------------- wait

TEST_CASE("tracker: wait mode waits; a timed-out wait waits again at once") {
    fake_clock c;
    tracker_fsm fsm(config(tracking_mode::wait), 1);
    auto a = fsm.start(c.now());
    REQUIRE(a.what == kind::wait);
    CHECK(a.not_before == c.now());
    CHECK(a.wait_timeout == 60s);
    CHECK(fsm.stream_connects() == 0);
    a = fsm.on_wait_result(c.advance(60s), {}, run_phase::running, true);
    REQUIRE(a.what == kind::wait);
    CHECK(a.not_before == c.now());
    a = fsm.on_wait_result(c.advance(30s), {}, run_phase::completed, false);
    CHECK(a.what == kind::done);
    CHECK(a.phase == run_phase::completed);
}

TEST_CASE("tracker: a wait that returns at once is not repeated faster than poll_interval") {
    fake_clock c;
    tracker_fsm fsm(config(tracking_mode::wait), 1);
    auto a = fsm.start(c.now());
    const auto started = a.not_before;
    a = fsm.on_wait_result(c.advance(100ms), {}, run_phase::running, true);
    REQUIRE(a.what == kind::wait);
    CHECK(a.not_before == started + 4s);
    // Without the timeout flag the server did not block as promised: poll_interval after now.
    a = fsm.on_wait_result(c.advance(5s), {}, run_phase::queued, false);
    REQUIRE(a.what == kind::wait);
    CHECK(a.not_before == c.now() + 4s);
}

TEST_CASE("tracker: wait errors back off, then switch to polling") {
    fake_clock c;
    tracker_fsm fsm(config(tracking_mode::wait), 3);  // wait_max_failures = 3
    fsm.start(c.now());
    auto a = fsm.on_wait_result(c.advance(1s), errc::server_error, run_phase::unknown, false);
    REQUIRE(a.what == kind::wait);
    CHECK(a.not_before >= c.now() + 1s);
    a = fsm.on_wait_result(c.advance(10s), errc::read_timeout, run_phase::unknown, false);
    REQUIRE(a.what == kind::wait);
    CHECK(a.not_before >= c.now() + 1s);
    CHECK(a.not_before <= c.now() + 2s);
    a = fsm.on_wait_result(c.advance(10s), net_error, run_phase::unknown, false);
    REQUIRE(a.what == kind::poll);
    CHECK(a.not_before == c.now() + 4s);
    CHECK(fsm.current_channel() == tracking_mode::poll);
}

TEST_CASE("tracker: a terminal phase from wait after a stream fallback is done") {
    fake_clock c;
    tracker_fsm fsm(config(), 1);
    fsm.start(c.now());
    fsm.on_stream_refused(c.advance(1s));
    auto a = fsm.on_wait_result(c.advance(20s), {}, run_phase::cancelled, false);
    CHECK(a.what == kind::done);
    CHECK(a.phase == run_phase::cancelled);
}

// ---------------------------------------------------------------- poll

TEST_CASE("tracker: poll mode polls every poll_interval until terminal") {
    fake_clock c;
    auto cfg = config(tracking_mode::poll);
    cfg.poll_interval = 7s;
    tracker_fsm fsm(cfg, 1);
    auto a = fsm.start(c.now());
    REQUIRE(a.what == kind::poll);
    CHECK(a.not_before == c.now());
    CHECK(fsm.current_channel() == tracking_mode::poll);
    a = fsm.on_poll_result(c.advance(300ms), {}, run_phase::queued);
    REQUIRE(a.what == kind::poll);
    CHECK(a.not_before == c.now() + 7s);
    a = fsm.on_poll_result(c.advance(7s), {}, run_phase::unknown);
    REQUIRE(a.what == kind::poll);
    CHECK(a.not_before == c.now() + 7s);
    a = fsm.on_poll_result(c.advance(7s), {}, run_phase::failed);
    CHECK(a.what == kind::done);
    CHECK(a.phase == run_phase::failed);
}

TEST_CASE("tracker: poll errors back off from poll_interval") {
    fake_clock c;
    tracker_fsm fsm(config(tracking_mode::poll), 9);
    fsm.start(c.now());
    auto a = fsm.on_poll_result(c.advance(1s), errc::server_error, run_phase::unknown);
    REQUIRE(a.what == kind::poll);
    CHECK(a.not_before == c.now() + 4s);
    a = fsm.on_poll_result(c.advance(4s), errc::server_error, run_phase::unknown);
    REQUIRE(a.what == kind::poll);
    CHECK(a.not_before >= c.now() + 4s);
    CHECK(a.not_before <= c.now() + 8s);
    // A success ends the backoff.
    a = fsm.on_poll_result(c.advance(8s), {}, run_phase::running);
    REQUIRE(a.what == kind::poll);
    CHECK(a.not_before == c.now() + 4s);
    CHECK(fsm.consecutive_failures() == 0);
}

// ---------------------------------------------------------------- giving up

TEST_CASE("tracker: gives up after max_transport_failures consecutive failures of every kind") {
    fake_clock c;
    auto cfg = config();
    cfg.max_transport_failures = 8;
    tracker_fsm fsm(cfg, 1);
    auto a = fsm.start(c.now());
    int steps = 0;
    while (a.what != kind::give_up && steps < 100) {
        c.t = std::max(c.t, a.not_before);
        switch (a.what) {
            case kind::open_stream:
            case kind::read:
                a = fsm.on_stream_ended(c.advance(1s), net_error, std::nullopt);
                break;
            case kind::wait:
                a = fsm.on_wait_result(c.advance(1s), net_error, run_phase::unknown, false);
                break;
            case kind::poll:
                a = fsm.on_poll_result(c.advance(1s), net_error, run_phase::unknown);
                break;
            default:
                break;
        }
        ++steps;
    }
    CHECK(a.what == kind::give_up);
    CHECK(a.error == net_error);
    CHECK(steps == 8);  // 3 streams, 3 waits, 2 polls
    CHECK(fsm.current_channel() == tracking_mode::poll);
}

TEST_CASE("tracker: a success anywhere resets the give-up count") {
    fake_clock c;
    auto cfg = config(tracking_mode::poll);
    cfg.max_transport_failures = 3;
    tracker_fsm fsm(cfg, 1);
    fsm.start(c.now());
    for (int round = 0; round < 5; ++round) {
        CHECK(fsm.on_poll_result(c.advance(5s), net_error, run_phase::unknown).what == kind::poll);
        CHECK(fsm.on_poll_result(c.advance(5s), net_error, run_phase::unknown).what == kind::poll);
        CHECK(fsm.on_poll_result(c.advance(5s), {}, run_phase::running).what == kind::poll);
    }
    CHECK(fsm.on_poll_result(c.advance(5s), net_error, run_phase::unknown).what == kind::poll);
    CHECK(fsm.on_poll_result(c.advance(5s), net_error, run_phase::unknown).what == kind::poll);
    CHECK(fsm.on_poll_result(c.advance(5s), net_error, run_phase::unknown).what == kind::give_up);
}

TEST_CASE("tracker: a run that is gone (404s past the grace period) gives up with not_found") {
    // These two used to give up after two 404s however close together (1 s + 4 s; 1 s + 1 s on
    // stream then wait): a count, not a time — QA run404_early lost a run that was only lagging.
    fake_clock c;
    const auto start = c.now();
    tracker_fsm fsm(config(tracking_mode::poll), 1);
    fsm.start(c.now());
    auto a = fsm.on_poll_result(c.advance(1s), errc::not_found, run_phase::unknown);
    REQUIRE(a.what == kind::poll);  // one more try: a fresh run can 404 briefly
    CHECK(a.not_before >= c.now() + 2s);
    unsigned requests = 1;
    while (a.what == kind::poll) {
        c.t = a.not_before;
        a = fsm.on_poll_result(c.now(), errc::not_found, run_phase::unknown);
        ++requests;
    }
    CHECK(a.what == kind::give_up);
    CHECK(a.error == errc::not_found);
    CHECK(c.now() - start >= 30s);
    CHECK(requests <= 7);
}

TEST_CASE("tracker: a 404 on the stream then on wait gives up only after the grace period") {
    fake_clock c;
    const auto start = c.now();
    tracker_fsm fsm(config(), 1);
    fsm.start(c.now());
    auto a = fsm.on_stream_refused(c.advance(1s), errc::not_found);
    REQUIRE(a.what == kind::wait);
    CHECK(a.not_before == c.now() + 2s);  // was at once
    c.t = a.not_before;
    a = fsm.on_wait_result(c.now(), errc::not_found, run_phase::unknown, false);
    CHECK(a.what != kind::give_up);
    while (a.what != kind::give_up && a.what != kind::done) {
        CHECK(a.not_before >= c.now() + 2s);
        c.t = a.not_before;
        a = a.what == kind::wait
                ? fsm.on_wait_result(c.now(), errc::not_found, run_phase::unknown, false)
                : fsm.on_poll_result(c.now(), errc::not_found, run_phase::unknown);
    }
    CHECK(a.what == kind::give_up);
    CHECK(a.error == errc::not_found);
    CHECK(c.now() - start >= 30s);
}

TEST_CASE("tracker: a 404 followed by a success does not give up later") {
    fake_clock c;
    tracker_fsm fsm(config(tracking_mode::poll), 1);
    fsm.start(c.now());
    fsm.on_poll_result(c.advance(1s), errc::not_found, run_phase::unknown);
    fsm.on_poll_result(c.advance(4s), {}, run_phase::queued);
    auto a = fsm.on_poll_result(c.advance(4s), errc::not_found, run_phase::unknown);
    CHECK(a.what == kind::poll);
}

TEST_CASE("tracker: QA run404_early — a run that 404s for 1.5 s after creation is tracked") {
    // stream, wait and status answer 404 for the first 1.5 s, then work.
    fake_clock c;
    tracker_fsm fsm(config(), 1);
    auto a = fsm.start(c.now());
    REQUIRE(a.what == kind::open_stream);
    a = fsm.on_stream_refused(c.advance(50ms), errc::not_found);
    REQUIRE(a.what == kind::wait);
    CHECK(a.not_before >= c.now() + 2s);  // the next look is past the lag
    c.t = a.not_before;
    a = fsm.on_wait_result(c.advance(20s), {}, run_phase::completed, false);
    CHECK(a.what == kind::done);
    SUBCASE("even if the lag outlasts a few looks") {
        tracker_fsm slow(config(tracking_mode::poll), 1);
        a = slow.start(c.now());
        const auto start = c.now();
        for (int i = 0; i < 4; ++i) {  // 404s at 0, 2, 6, 14 s
            c.t = a.not_before;
            a = slow.on_poll_result(c.now(), errc::not_found, run_phase::unknown);
            REQUIRE(a.what == kind::poll);
        }
        CHECK(a.not_before - start >= 24s);  // 2 + 4 + 8 + 10, or the poll backoff if longer
        c.t = a.not_before;
        CHECK(slow.on_poll_result(c.now(), {}, run_phase::completed).what == kind::done);
    }
}

TEST_CASE("tracker: a run that vanishes after the grace period is given up after two 404s") {
    fake_clock c;
    tracker_fsm fsm(config(tracking_mode::poll), 1);
    auto a = fsm.start(c.now());
    for (int i = 0; i < 20; ++i) {
        c.t = a.not_before;
        a = fsm.on_poll_result(c.now(), {}, run_phase::running);
    }
    c.t = a.not_before;
    a = fsm.on_poll_result(c.now(), errc::not_found, run_phase::unknown);
    REQUIRE(a.what == kind::poll);
    CHECK(a.not_before >= c.now() + 2s);
    c.t = a.not_before;
    a = fsm.on_poll_result(c.now(), errc::not_found, run_phase::unknown);
    CHECK(a.what == kind::give_up);
}

// ---------------------------------------------------------------- hostile streams

TEST_CASE("tracker: a server retry: is cut to sse_retry_max") {
    // QA: `retry: 3600000` stalled tracking for an hour.
    fake_clock c;
    tracker_fsm fsm(config(), 1);
    fsm.start(c.now());
    fsm.on_stream_event(c.advance(1s), "progress", run_phase::running, "");
    auto a = fsm.on_stream_ended(c.advance(1s), {}, 3600000ms);
    REQUIRE(a.what == kind::open_stream);
    CHECK(a.not_before == c.now() + 60s);  // was c.now() + 1 h
    auto cfg = config();
    cfg.sse_retry_max = 10s;
    tracker_fsm short_max(cfg, 1);
    short_max.start(c.now());
    short_max.on_stream_event(c.advance(1s), "progress", run_phase::running, "");
    a = short_max.on_stream_ended(c.advance(1s), {}, 30000ms);
    CHECK(a.not_before == c.now() + 10s);
    // A retry below the ceiling is honoured as before.
    short_max.on_stream_event(c.advance(1s), "progress", run_phase::running, "");
    a = short_max.on_stream_ended(c.advance(1s), {}, 3000ms);
    CHECK(a.not_before == c.now() + 3s);
}

TEST_CASE("tracker: a stream that only ever times out at once falls back instead of looping") {
    // QA sse_timeout_loop: `event: timeout` as the only event, then close: 99 opens in 40 s.
    fake_clock c;
    tracker_fsm fsm(config(), 1);
    auto a = fsm.start(c.now());
    int opens = 1;
    while (a.what == kind::open_stream && opens < 100) {
        c.t = a.not_before;
        a = fsm.on_stream_event(c.advance(20ms), "timeout", run_phase::unknown, "");
        if (a.what == kind::open_stream) {
            ++opens;
            CHECK(a.not_before > c.now());  // with backoff, not at once
        }
    }
    CHECK(opens == 3);  // sse_max_failures
    CHECK(a.what == kind::wait);
    CHECK(fsm.current_channel() == tracking_mode::wait);
}

TEST_CASE(
    "tracker: a timeout after progress, or after a long quiet stream, still reconnects at once") {
    fake_clock c;
    tracker_fsm fsm(config(), 1);
    fsm.start(c.now());
    for (int i = 0; i < 5; ++i) {
        fsm.on_stream_event(c.advance(15s), "ping", run_phase::unknown, "");
        auto a = fsm.on_stream_event(c.advance(1s), "timeout", run_phase::unknown, "");
        REQUIRE(a.what == kind::open_stream);
        CHECK(a.not_before == c.now());
    }
    // Only comment keepalives (not events) for 10 minutes, then the timeout: a real stream.
    auto a = fsm.on_stream_event(c.advance(10min), "timeout", run_phase::unknown, "");
    REQUIRE(a.what == kind::open_stream);
    CHECK(a.not_before == c.now());
    CHECK(fsm.consecutive_failures() == 0);
}

// ---------------------------------------------------------------- driver contract

TEST_CASE("tracker: done is final; later calls repeat it") {
    fake_clock c;
    tracker_fsm fsm(config(), 1);
    fsm.start(c.now());
    fsm.on_stream_event(c.advance(1s), "complete", run_phase::completed, "");
    auto a = fsm.on_stream_ended(c.advance(1s), {}, std::nullopt);
    CHECK(a.what == kind::done);
    CHECK(a.phase == run_phase::completed);
    CHECK(fsm.on_poll_result(c.advance(1s), net_error, run_phase::unknown).what == kind::done);
    CHECK(fsm.stream_connects() == 1);
}

TEST_CASE("tracker: a call that does not match the pending action repeats that action") {
    fake_clock c;
    tracker_fsm fsm(config(tracking_mode::poll), 1);
    auto first = fsm.start(c.now());
    auto a = fsm.on_stream_event(c.advance(1s), "complete", run_phase::completed, "");
    CHECK(a.what == kind::poll);
    CHECK(a.not_before == first.not_before);
    CHECK(fsm.on_wait_result(c.now(), {}, run_phase::completed, false).what == kind::poll);
    // The real result still works afterwards.
    CHECK(fsm.on_poll_result(c.advance(1s), {}, run_phase::completed).what == kind::done);
}

TEST_CASE("tracker: a full auto-mode life: stream, timeouts, drop, refusal, wait, done") {
    fake_clock c;
    tracker_fsm fsm(config(), 11);
    auto a = fsm.start(c.now());
    REQUIRE(a.what == kind::open_stream);
    a = fsm.on_stream_event(c.advance(2s), "progress", run_phase::queued, "1");
    REQUIRE(a.what == kind::read);
    a = fsm.on_stream_event(c.advance(10min), "timeout", run_phase::unknown, "1");
    REQUIRE(a.what == kind::open_stream);
    CHECK(a.last_event_id == "1");
    a = fsm.on_stream_event(c.advance(2s), "progress", run_phase::running, "2");
    REQUIRE(a.what == kind::read);
    a = fsm.on_stream_ended(c.advance(3s), net_error, std::nullopt);
    REQUIRE(a.what == kind::open_stream);
    CHECK(a.last_event_id == "2");
    CHECK(a.not_before == c.now() + 1s);
    a = fsm.on_stream_refused(c.advance(1s));
    REQUIRE(a.what == kind::wait);
    a = fsm.on_wait_result(c.advance(60s), {}, run_phase::running, true);
    REQUIRE(a.what == kind::wait);
    a = fsm.on_wait_result(c.advance(12s), {}, run_phase::completed, false);
    CHECK(a.what == kind::done);
    CHECK(a.phase == run_phase::completed);
    CHECK(fsm.stream_connects() == 3);
}

TEST_CASE("tracker: configured timeouts flow into the actions") {
    fake_clock c;
    auto cfg = config();
    cfg.sse_idle_timeout = 31s;
    cfg.wait_timeout = 120s;
    tracker_fsm fsm(cfg, 1);
    CHECK(fsm.start(c.now()).idle_timeout == 31s);
    CHECK(fsm.on_stream_event(c.advance(1s), "ping", run_phase::unknown, "").idle_timeout == 31s);
    // A refusal can only answer open_stream; during a read it is a driver bug: read is repeated.
    CHECK(fsm.on_stream_refused(c.advance(1s)).what == kind::read);
    auto a = fsm.on_stream_ended(c.advance(1s), errc::sse_refused, std::nullopt);
    REQUIRE(a.what == kind::open_stream);
    a = fsm.on_stream_refused(c.advance(1s));
    REQUIRE(a.what == kind::wait);
    CHECK(a.wait_timeout == 120s);
}

TEST_CASE("tracker property: random driver results keep the invariants") {
    for (std::uint64_t seed = 1; seed <= 200; ++seed) {
        CAPTURE(seed);
        std::mt19937_64 rng(seed);
        fake_clock c;
        auto cfg = config(static_cast<tracking_mode>(rng() % 4));
        cfg.max_transport_failures = 1 + static_cast<unsigned>(rng() % 12);
        tracker_fsm fsm(cfg, seed);
        auto a = fsm.start(c.now());
        bool ok_time = true, ok_kind = true, ok_bounded = true;
        unsigned failures_in_a_row = 0;
        int steps = 0;
        for (; steps < 400 && a.what != kind::done && a.what != kind::give_up; ++steps) {
            // Never asked to act in the past, and a reconnect never waits beyond retry + cap.
            ok_time = ok_time && a.not_before >= c.now();
            if (a.what == kind::open_stream)
                ok_bounded =
                    ok_bounded && a.not_before - c.now() <= cfg.reconnect_base + cfg.reconnect_cap;
            c.t = std::max(c.t, a.not_before);
            c.advance(std::chrono::milliseconds(rng() % 5000));
            const auto r = rng() % 10;
            const bool fail = r < 6;
            const run_phase phase = r == 9 ? run_phase::completed : run_phase::running;
            failures_in_a_row = fail ? failures_in_a_row + 1 : 0;
            switch (a.what) {
                case kind::open_stream:
                case kind::read:
                    if (fail)
                        a = fsm.on_stream_ended(c.now(), rng() % 2 ? net_error : std::error_code{},
                                                std::nullopt);
                    else
                        a = fsm.on_stream_event(c.now(), "progress", phase, std::to_string(steps));
                    break;
                case kind::wait:
                    a = fsm.on_wait_result(c.now(), fail ? net_error : std::error_code{}, phase,
                                           true);
                    break;
                case kind::poll:
                    a = fsm.on_poll_result(c.now(), fail ? net_error : std::error_code{}, phase);
                    break;
                default:
                    ok_kind = false;
                    break;
            }
            // The sse channel is only used in auto and sse modes.
            ok_kind =
                ok_kind && (fsm.current_channel() != tracking_mode::sse ||
                            cfg.mode == tracking_mode::auto_ || cfg.mode == tracking_mode::sse);
        }
        CHECK(ok_time);
        CHECK(ok_kind);
        CHECK(ok_bounded);
        REQUIRE((a.what == kind::done || a.what == kind::give_up));
        if (a.what == kind::done) CHECK(is_terminal(a.phase));
        if (a.what == kind::give_up) CHECK(failures_in_a_row == cfg.max_transport_failures);
    }
}

// ---- settle_run: what a terminal view does to its item ---------------------------------------

namespace {
briefd::jobs::item_record submitted_item() {
    briefd::jobs::item_record it;
    it.state = briefd::jobs::item_state::submitted;
    it.run_id = "r1";
    return it;
}
briefd::providers::run_view terminal(run_phase p, std::string status, std::string error = {}) {
    briefd::providers::run_view v;
    v.run_id = "r1";
    v.phase = p;
    v.status = std::move(status);
    v.error = std::move(error);
    return v;
}
}  // namespace

TEST_CASE("settle_run: a completed run's outputs are recorded, its status word kept") {
    auto s = settle_run(submitted_item(), terminal(run_phase::completed, "succeeded"));
    CHECK(s.what == run_settlement::kind::completed);
    CHECK(s.run_status == "succeeded");
    CHECK(s.why.empty());
}

TEST_CASE("settle_run: a failed run fails the item with the run's error") {
    auto s = settle_run(submitted_item(), terminal(run_phase::failed, "error", "content policy"));
    CHECK(s.what == run_settlement::kind::failed);
    CHECK(s.run_status == "error");
    CHECK(s.why == "run failed: content policy");
    CHECK(settle_run(submitted_item(), terminal(run_phase::failed, "failed")).why == "run failed");
}

TEST_CASE("settle_run: a cancelled run fails as cancelled; no status word takes the phase's") {
    auto s = settle_run(submitted_item(), terminal(run_phase::cancelled, ""));
    CHECK(s.what == run_settlement::kind::failed);
    CHECK(s.why == "run cancelled");
    CHECK(s.run_status == briefd::providers::to_string(run_phase::cancelled));
    CHECK_FALSE(s.run_status.empty());
}

TEST_CASE("settle_run: a settled item ignores another report (duplicate, late channel)") {
    auto known = submitted_item();
    known.outputs_known = true;
    auto done = submitted_item();
    done.state = briefd::jobs::item_state::finished;
    auto failed = submitted_item();
    failed.state = briefd::jobs::item_state::failed;
    for (const auto& it : {known, done, failed})
        for (auto p : {run_phase::completed, run_phase::failed, run_phase::cancelled}) {
            auto s = settle_run(it, terminal(p, "x"));
            CHECK(s.what == run_settlement::kind::duplicate);
            CHECK(s.run_status.empty());
        }
}
