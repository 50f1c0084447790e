#include "pipeline/tracker_fsm.hpp"

#include <algorithm>

namespace briefd::pipeline {

tracker_fsm::tracker_fsm(tracker_config cfg, std::uint64_t jitter_seed)
    : cfg_(cfg), rng_(jitter_seed), retry_(cfg.reconnect_base) {
    // A limit of 0 would mean "give up before trying"; treat it as 1 so every channel is tried.
    cfg_.sse_max_failures = std::max(1u, cfg_.sse_max_failures);
    cfg_.wait_max_failures = std::max(1u, cfg_.wait_max_failures);
    cfg_.max_transport_failures = std::max(1u, cfg_.max_transport_failures);
    cfg_.not_found_max = std::max(1u, cfg_.not_found_max);
    cfg_.reconnect_base = std::max(cfg_.reconnect_base, clock::duration::zero());
    cfg_.reconnect_cap = std::max(cfg_.reconnect_cap, clock::duration::zero());
    cfg_.poll_interval = std::max(cfg_.poll_interval, clock::duration::zero());
    cfg_.not_found_grace = std::max(cfg_.not_found_grace, clock::duration::zero());
    cfg_.not_found_delay = std::max(cfg_.not_found_delay, clock::duration::zero());
    cfg_.not_found_delay_max = std::max(cfg_.not_found_delay_max, cfg_.not_found_delay);
    cfg_.sse_retry_max = std::max(cfg_.sse_retry_max, clock::duration::zero());
    retry_ = cfg_.reconnect_base;
}

tracker_action tracker_fsm::start(clock::time_point now) {
    if (pending_ != pending::none) return last_;
    started_ = now;
    switch (cfg_.mode) {
        case tracking_mode::wait:
            channel_ = tracking_mode::wait;
            return wait_at(now);
        case tracking_mode::poll:
            channel_ = tracking_mode::poll;
            return poll_at(now);
        case tracking_mode::auto_:
        case tracking_mode::sse:
            break;
    }
    channel_ = tracking_mode::sse;
    return open_stream(now);
}

// Why sse mode does not fall back at the first refusal: the operator asked for streams
// explicitly, and a refusal is also what a restarting gateway produces (502/503), so one refusal
// is not taken as final. Refusals still count as failed attempts with backoff, so a server that
// really has no stream for this run is asked at most sse_max_failures times — not hammered. We then
// poll rather than wait: polling is the channel every provider has, and the operator did not opt
// into wait. Auto mode follows the WHATWG model instead: a refusal means "no stream", at once.
tracker_action tracker_fsm::on_stream_refused(clock::time_point now, std::error_code ec) {
    if (pending_ != pending::connecting) return last_;  // only a response to open_stream is refused
    if (!ec) ec = errc::sse_refused;
    if (auto give = count_failure(now, ec)) return *give;
    if (cfg_.mode == tracking_mode::sse) {
        if (++stream_failures_ < cfg_.sse_max_failures)
            return open_stream(now + backoff(retry_, stream_failures_));
    }
    return fall_back_from_stream(now);
}

tracker_action tracker_fsm::on_stream_event(clock::time_point now, std::string_view event_type,
                                            run_phase phase, std::string_view event_id) {
    if (pending_ != pending::connecting && pending_ != pending::reading) return last_;
    last_event_id_ = event_id;
    // The run's own status decides, whatever the event is called (DESIGN §7).
    if (is_terminal(phase)) return finish(phase);
    // The server ends streams after 10 minutes on purpose: reconnect at once, not a failure. But
    // a `timeout` as the first event of a connection younger than the idle deadline is no such
    // stream (a real one pings every 15 s before it times out): nothing came of it, and
    // reconnecting at once spent the whole rate budget on opens (QA sse_timeout_loop: 99 in
    // 40 s). It is a failed stream like one that closed empty. The age is measured from the
    // open's not_before, which can only overstate it: a connect the scheduler held back longer
    // than the idle deadline is not counted, but then reconnects are that slow already.
    if (event_type == "timeout" && stream_events_ == 0 &&
        now - stream_opened_ < cfg_.sse_idle_timeout) {
        if (auto give = count_failure(now, errc::sse_stream_ended)) return *give;
        if (++stream_failures_ >= cfg_.sse_max_failures) return fall_back_from_stream(now);
        return open_stream(now + backoff(retry_, stream_failures_));
    }
    ++stream_events_;
    // Any event, a ping included, proves the stream and the network work.
    count_success();
    stream_failures_ = 0;
    if (event_type == "timeout") return open_stream(now);
    // `complete`/`error` are the server's last word on this stream, yet the payload says the run
    // isn't over (or couldn't be read). Don't trust the stream for this run: ask the run itself.
    if (event_type == "complete" || event_type == "error") return fall_back_from_stream(now);
    return read_on(now);
}

tracker_action tracker_fsm::on_stream_ended(clock::time_point now, std::error_code ec,
                                            std::optional<std::chrono::milliseconds> server_retry) {
    if (pending_ != pending::connecting && pending_ != pending::reading) return last_;
    // The reconnection time persists across connections (WHATWG §9.2.6), so remember it — cut
    // to sse_retry_max: `retry: 3600000` stalled tracking for an hour without a word.
    if (server_retry)
        retry_ =
            std::clamp<clock::duration>(*server_retry, clock::duration::zero(), cfg_.sse_retry_max);
    // A clean end before a terminal event also counts: a server that accepts and closes at once
    // would otherwise be reconnected to forever. Events in between reset the count.
    if (auto give = count_failure(now, ec ? ec : std::error_code(errc::sse_stream_ended)))
        return *give;
    if (++stream_failures_ >= cfg_.sse_max_failures) return fall_back_from_stream(now);
    return open_stream(now + backoff(retry_, stream_failures_));
}

tracker_action tracker_fsm::on_wait_result(clock::time_point now, std::error_code ec,
                                           run_phase phase, bool timed_out) {
    if (pending_ != pending::wait) return last_;
    if (ec) {
        if (auto give = count_failure(now, ec)) return *give;
        if (++wait_failures_ >= cfg_.wait_max_failures) {
            channel_ = tracking_mode::poll;
            return poll_at(now + cfg_.poll_interval);
        }
        return wait_at(now + backoff(cfg_.reconnect_base, wait_failures_));
    }
    count_success();
    wait_failures_ = 0;
    if (is_terminal(phase)) return finish(phase);
    // A timed-out wait is the normal case ("call again"). A non-terminal answer without the
    // timeout flag means the server did not block as promised: don't spin on it.
    return wait_at(timed_out ? now : now + cfg_.poll_interval);
}

tracker_action tracker_fsm::on_poll_result(clock::time_point now, std::error_code ec,
                                           run_phase phase) {
    if (pending_ != pending::poll) return last_;
    if (ec) {
        if (auto give = count_failure(now, ec)) return *give;
        ++poll_failures_;
        return poll_at(now + backoff(cfg_.poll_interval, poll_failures_));
    }
    count_success();
    poll_failures_ = 0;
    if (is_terminal(phase)) return finish(phase);
    return poll_at(now + cfg_.poll_interval);
}

clock::time_point tracker_fsm::held(clock::time_point at) {
    at = std::max(at, not_found_hold_);
    not_found_hold_ = {};
    return at;
}

tracker_action tracker_fsm::open_stream(clock::time_point at) {
    at = held(at);
    stream_opened_ = at;
    stream_events_ = 0;
    pending_ = pending::connecting;
    ++stream_connects_;
    last_ = tracker_action{};
    last_.what = tracker_action::kind::open_stream;
    last_.not_before = at;
    last_.last_event_id = last_event_id_;
    last_.idle_timeout = cfg_.sse_idle_timeout;
    return last_;
}

tracker_action tracker_fsm::read_on(clock::time_point now) {
    pending_ = pending::reading;
    last_ = tracker_action{};
    last_.what = tracker_action::kind::read;
    last_.not_before = now;
    last_.last_event_id = last_event_id_;
    last_.idle_timeout = cfg_.sse_idle_timeout;
    return last_;
}

tracker_action tracker_fsm::wait_at(clock::time_point at) {
    // Waits never start closer together than poll_interval: a server that answers a wait at once
    // (timed out or not) then costs no more than polling. A wait that really blocked is unaffected.
    at = held(at);
    if (waited_before_) at = std::max(at, last_wait_start_ + cfg_.poll_interval);
    waited_before_ = true;
    last_wait_start_ = at;
    pending_ = pending::wait;
    last_ = tracker_action{};
    last_.what = tracker_action::kind::wait;
    last_.not_before = at;
    last_.wait_timeout = cfg_.wait_timeout;
    return last_;
}

tracker_action tracker_fsm::poll_at(clock::time_point at) {
    at = held(at);
    pending_ = pending::poll;
    last_ = tracker_action{};
    last_.what = tracker_action::kind::poll;
    last_.not_before = at;
    return last_;
}

tracker_action tracker_fsm::finish(run_phase phase) {
    pending_ = pending::final;
    last_ = tracker_action{};
    last_.what = tracker_action::kind::done;
    last_.phase = phase;
    return last_;
}

tracker_action tracker_fsm::fail(std::error_code ec) {
    pending_ = pending::final;
    last_ = tracker_action{};
    last_.what = tracker_action::kind::give_up;
    last_.error = ec;
    return last_;
}

tracker_action tracker_fsm::fall_back_from_stream(clock::time_point now) {
    if (cfg_.mode == tracking_mode::sse) {
        channel_ = tracking_mode::poll;
        return poll_at(now);
    }
    channel_ = tracking_mode::wait;
    return wait_at(now);
}

std::optional<tracker_action> tracker_fsm::count_failure(clock::time_point now,
                                                         std::error_code ec) {
    // 404s are not reset by other failures: "gone, then unreachable, then gone" is still gone.
    // But a count alone is not "gone": a run the provider just created can 404 on every channel
    // for a moment (QA run404_early: 1.5 s; two 404s half a second apart failed an item whose
    // run then completed, its credits spent). So the 404s must also outlast not_found_grace
    // since tracking started, and each one delays the next request, doubling: ~6 requests.
    if (ec == errc::not_found) {
        ++not_found_;
        if (not_found_ >= cfg_.not_found_max && now - started_ >= cfg_.not_found_grace)
            return fail(ec);
        auto delay = cfg_.not_found_delay;
        for (unsigned i = 1; i < not_found_ && delay < cfg_.not_found_delay_max; ++i) delay *= 2;
        not_found_hold_ = now + std::min(delay, cfg_.not_found_delay_max);
    }
    if (++transport_failures_ >= cfg_.max_transport_failures) return fail(ec);
    return std::nullopt;
}

void tracker_fsm::count_success() {
    transport_failures_ = 0;
    not_found_ = 0;
    not_found_hold_ = {};
}

clock::duration tracker_fsm::backoff(clock::duration base, unsigned n) {
    if (n <= 1) return base;
    // The window grows from max(base, reconnect_base) so a server `retry: 0` can't make us spin.
    const auto unit = std::max(base, cfg_.reconnect_base);
    const auto cap = cfg_.reconnect_cap;
    clock::duration window = cap;
    if (n - 1 < 31 && unit.count() > 0) {
        const auto factor = (clock::rep{1} << (n - 1)) - 1;
        if (unit.count() <= cap.count() / factor) window = unit * factor;
    } else if (unit.count() == 0) {
        window = clock::duration::zero();
    }
    if (window <= clock::duration::zero()) return base;
    std::uniform_int_distribution<clock::rep> extra(0, window.count());
    return base + clock::duration(extra(rng_));
}

run_settlement settle_run(const jobs::item_record& it, const providers::run_view& run) {
    run_settlement s;
    if (it.state != jobs::item_state::submitted || it.outputs_known)
        return s;  // a duplicate report
    s.run_status = run.status.empty() ? std::string(providers::to_string(run.phase)) : run.status;
    if (run.phase == run_phase::completed) {
        s.what = run_settlement::kind::completed;
        return s;
    }
    s.what = run_settlement::kind::failed;
    s.why = run.phase == run_phase::cancelled ? "run cancelled" : "run failed";
    if (!run.error.empty()) s.why += ": " + run.error;
    return s;
}

}  // namespace briefd::pipeline
