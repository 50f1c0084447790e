// tracker_fsm: decides, for one run, how to learn its outcome — SSE stream, long-poll wait or
// plain polling — and when. Sans-I/O (STYLE §3): it never touches a socket or a timer; it returns
// the next action and a thin coroutine carries it out. Tests drive it with a fake clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>

#include "core/error.hpp"
#include "jobs/job.hpp"
#include "providers/provider.hpp"

namespace briefd::pipeline {

using clock = std::chrono::steady_clock;

/// How the operator asked for runs to be tracked (config `tracking:`).
enum class tracking_mode { auto_, sse, wait, poll };

/// A run's status as the tracker sees it; each provider maps its status words to it.
using providers::is_terminal;
using providers::run_phase;

/// Tracking knobs; one doc line each, chrono defaults (STYLE §9).
struct tracker_config {
    tracking_mode mode = tracking_mode::auto_;
    /// Pause between two polls of GET /v1/runs/{id}; also the floor between two wait requests.
    clock::duration poll_interval = std::chrono::seconds(4);
    /// The `timeout=` of a long-poll wait request (1..120 where the provider bounds it).
    std::chrono::seconds wait_timeout{60};
    /// Idle deadline for stream reads: more than 2x the server's 15 s ping.
    clock::duration sse_idle_timeout = std::chrono::seconds(45);
    /// Consecutive failed stream attempts before falling back (auto mode: to wait; sse: to poll).
    unsigned sse_max_failures = 3;
    /// Consecutive failed wait requests before falling back to polling.
    unsigned wait_max_failures = 3;
    /// Reconnect delay when the server sent no `retry:`; also the base of wait-error backoff.
    clock::duration reconnect_base = std::chrono::seconds(1);
    /// Cap on the random extra delay added by exponential backoff.
    clock::duration reconnect_cap = std::chrono::seconds(30);
    /// Consecutive failures of every kind (stream, wait, poll) before giving up on the run.
    unsigned max_transport_failures = 20;
    /// Consecutive 404s for the run (from any channel) before concluding it is gone — and only
    /// once not_found_grace has passed since tracking started.
    unsigned not_found_max = 2;
    /// A run can 404 for a while after it is created (read-after-write lag at the provider): 404s
    /// within this time of start() never give up, however many. Tracking starts right after the
    /// submission (or at recovery), so this is measured from about the submission.
    clock::duration not_found_grace = std::chrono::seconds(30);
    /// Delay before asking again after a 404, doubling with each consecutive 404 up to
    /// not_found_delay_max (2, 4, 8, 10, 10 s: a run that stays gone costs about six requests
    /// before tracking gives up at ~34 s; one readable after its lag costs one or two).
    clock::duration not_found_delay = std::chrono::seconds(2);
    clock::duration not_found_delay_max = std::chrono::seconds(10);
    /// Ceiling on the server's SSE `retry:` (a `retry: 3600000` would otherwise stall tracking for
    /// an hour); longer values are cut to this.
    clock::duration sse_retry_max = std::chrono::seconds(60);
};

/// What the driver must do next.
struct tracker_action {
    enum class kind {
        open_stream,  ///< (re)connect GET /v1/runs/{id}/stream, abandoning any stream still open
        read,    ///< keep reading the stream that is open now; report the next event or its end
        wait,    ///< GET /v1/runs/{id}/wait?timeout=wait_timeout
        poll,    ///< GET /v1/runs/{id}
        done,    ///< the run is terminal: `phase` says how it ended; close any open stream
        give_up  ///< stop tracking for now: `error` says why; close any open stream
    };
    kind what = kind::give_up;
    /// Don't start before this (the request scheduler may delay further). For `read`: now.
    clock::time_point not_before{};
    /// For open_stream: send as `Last-Event-ID` when non-empty.
    std::string last_event_id;
    /// For open_stream and read: the idle deadline to apply to every read of the stream.
    clock::duration idle_timeout{};
    /// For wait: the `timeout=` query value.
    std::chrono::seconds wait_timeout{};
    /// For done: the terminal phase.
    run_phase phase = run_phase::unknown;
    /// For give_up: the last failure (errc::not_found when the run is gone).
    std::error_code error;
};

/// One per run. Decides, never does.
///
/// How a driver uses it (a coroutine per run, or one loop over many runs):
///
///     auto a = fsm.start(now());
///     for (;;) switch (a.what) {
///     case open_stream:  // sleep until a.not_before (the scheduler may add more), then
///         GET .../stream with Accept: text/event-stream (+ Last-Event-ID: a.last_event_id if set)
///         204, other non-200, wrong Content-Type → a = fsm.on_stream_refused(now(), ec)
///         connect/read error, idle deadline      → a = fsm.on_stream_ended(now(), ec, retry)
///         body ends cleanly before any event     → a = fsm.on_stream_ended(now(), {}, retry)
///         an event                               → a = fsm.on_stream_event(now(), ...)
///         (200 + text/event-stream needs no call: the driver just starts reading.)
///     case read:  // same stream; every read bounded by a.idle_timeout
///         an event            → a = fsm.on_stream_event(now(), type, phase, last_event_id)
///         idle deadline fired → a = fsm.on_stream_ended(now(), errc::sse_idle_timeout, retry)
///         network error       → a = fsm.on_stream_ended(now(), ec, retry)
///         clean end of body   → a = fsm.on_stream_ended(now(), {}, retry)
///     case wait:  GET .../wait?timeout=a.wait_timeout → a = fsm.on_wait_result(now(), ec, ...)
///     case poll:  GET .../runs/{id}                   → a = fsm.on_poll_result(now(), ec, ...)
///     case done, give_up: close the stream if open; stop.
///     }
///
/// (`retry` is the parser's last `retry:` value, sse::parser::retry().)
///
/// Rules for the driver:
/// - Exactly one `on_*` call per action carried out; the call must match the action (stream calls
///   after open_stream/read — on_stream_refused only after open_stream —, on_wait_result after
///   wait, on_poll_result after poll). A mismatched call is a driver bug; the fsm ignores it and
///   repeats its pending action.
/// - Every event of an open stream is reported, pings included (they reset failure counts). For
///   progress/complete/error events pass the phase parsed from the payload (unknown if it can't be
///   parsed); for other events pass run_phase::unknown. `event_id` is the stream's last event ID
///   after the event (sse::event::last_event_id), not just the event's own `id:` field.
/// - SSE comment lines are not events: the driver just restarts its idle timer on any bytes.
/// - Any action other than `read` that arrives while a stream is open (open_stream after a
///   `timeout` event, wait/poll to confirm a contradictory event, done, give_up) means: close it.
/// - 429s never reach the fsm: the request scheduler waits them out and retries. A 404 for the run
///   is reported as ec = briefd::errc::not_found (via on_stream_refused for the stream).
/// - done and give_up are final: later calls return the same action again.
class tracker_fsm {
  public:
    /// `jitter_seed` makes backoff jitter deterministic (tests); use a random seed in production.
    tracker_fsm(tracker_config cfg, std::uint64_t jitter_seed);

    /// The first action. Call once.
    tracker_action start(clock::time_point now);

    /// The stream request got a 204, another non-200 status, or a wrong Content-Type: the server
    /// offers no stream for this run. Auto mode falls back to wait at once (no reconnect, as the
    /// WHATWG model says). Sse mode counts it as a failed attempt, retries with backoff, and after
    /// sse_max_failures falls back to polling — see tracker_fsm.cpp for why.
    tracker_action on_stream_refused(clock::time_point now, std::error_code ec = errc::sse_refused);

    /// One event of the open stream. Returns `read` (keep reading) unless the event ends the
    /// stream: a terminal phase → done; `timeout` → open_stream at once (not a failure) — unless
    /// it is the connection's first event and came within sse_idle_timeout of the connect: a
    /// stream that times out at once made no progress, so it counts as a failed stream (backoff,
    /// then the fallback after sse_max_failures), or a server doing that would be reconnected
    /// until the rate budget is gone; a `complete`/`error` event whose payload isn't terminal →
    /// the outcome is confirmed over the fallback channel (wait or poll) instead of trusting the
    /// stream.
    tracker_action on_stream_event(clock::time_point now, std::string_view event_type,
                                   run_phase phase_or_unknown, std::string_view event_id);

    /// The stream ended without a terminal event: clean close (ec empty), idle timeout or network
    /// error. `server_retry` is the last `retry:` the server sent (it is kept for later
    /// reconnects, cut to sse_retry_max). Reconnects after the retry delay, with backoff and jitter
    /// on repeated failures, or falls back.
    tracker_action on_stream_ended(clock::time_point now, std::error_code ec,
                                   std::optional<std::chrono::milliseconds> server_retry);

    /// The wait request finished: ec set on failure; else the run's phase and the `timeout` flag.
    tracker_action on_wait_result(clock::time_point now, std::error_code ec, run_phase phase,
                                  bool timed_out);

    /// The poll request finished: ec set on failure; else the run's phase.
    tracker_action on_poll_result(clock::time_point now, std::error_code ec, run_phase phase);

    /// The channel in use right now: sse, wait or poll (for status and metrics).
    tracking_mode current_channel() const noexcept { return channel_; }
    /// How many open_stream actions were issued so far.
    unsigned stream_connects() const noexcept { return stream_connects_; }
    /// Consecutive failures of every kind so far (for status).
    unsigned consecutive_failures() const noexcept { return transport_failures_; }

  private:
    enum class pending { none, connecting, reading, wait, poll, final };

    tracker_action open_stream(clock::time_point at);
    tracker_action read_on(clock::time_point now);
    tracker_action wait_at(clock::time_point at);
    tracker_action poll_at(clock::time_point at);
    tracker_action finish(run_phase phase);
    tracker_action fail(std::error_code ec);
    tracker_action fall_back_from_stream(clock::time_point now);
    // Counts a failed request; returns give_up when a limit is reached. A 404 also delays the
    // next request (not_found_delay, doubling).
    std::optional<tracker_action> count_failure(clock::time_point now, std::error_code ec);
    // The next request's start: `at`, or later while a 404's delay holds.
    clock::time_point held(clock::time_point at);
    void count_success();
    // base + full jitter over [0, min(cap, base * (2^(n-1) - 1))]: exactly `base` after the first
    // failure, a growing random extra after repeated ones.
    clock::duration backoff(clock::duration base, unsigned n);

    tracker_config cfg_;
    std::mt19937_64 rng_;
    tracking_mode channel_ = tracking_mode::sse;
    pending pending_ = pending::none;
    tracker_action last_{};  // the action the driver is carrying out (repeated on misuse)

    std::string last_event_id_;
    clock::duration retry_;  // the stream's reconnection time (server `retry:` wins)
    clock::time_point last_wait_start_{};
    bool waited_before_ = false;

    unsigned stream_failures_ = 0;
    unsigned wait_failures_ = 0;
    unsigned poll_failures_ = 0;
    unsigned transport_failures_ = 0;
    unsigned not_found_ = 0;
    unsigned stream_connects_ = 0;
    clock::time_point started_{};
    clock::time_point not_found_hold_{};  // after a 404: no request before this
    clock::time_point stream_opened_{};   // the last open_stream's not_before
    unsigned stream_events_ = 0;          // events on the current connection
};

/// What a terminal view of a run does to its item (run_tracking's run_finished, whichever channel
/// reported it). Sans-I/O like tracker_fsm.
struct run_settlement {
    enum class kind {
        duplicate,  ///< the item is settled already (not `submitted`, or its outputs known): no-op
        failed,     ///< the item fails with `why`
        completed,  ///< the run's outputs are to be recorded (expanded first where needed)
    };
    kind what = kind::duplicate;
    /// The item's run_status: the provider's status word, else the phase's (empty: duplicate).
    std::string run_status;
    /// failed: "run failed" or "run cancelled", with the run's error after ": " when it gave one.
    std::string why;
};

/// Settles `it` by `run`, a terminal view (a phase that is not `completed` fails the item).
run_settlement settle_run(const jobs::item_record& it, const providers::run_view& run);

}  // namespace briefd::pipeline
