// One provider host as the rest of briefd sees it: a gate every API request passes through.
//
//  * the rate budget: a sliding-window limiter (lib/ratelimit) that also learns from RateLimit-*
//    headers, so briefd never sends while the server says nothing remains;
//  * 429: the whole host pauses until Retry-After (else the body's retryAfter, else Reset, else
//    backoff), and the request is tried again without counting against its attempts;
//  * 5xx, `retryable: true` and network failures: capped exponential backoff with full jitter;
//  * priorities: tracking (status of work already paid for) and submission share the budget in a
//    weighted round robin, so neither starves;
//  * account problems (401, 402, and a 403 that a probe confirms is account-wide): the host stops
//    sending, keeps every caller waiting (nothing is failed), logs loudly, and resumes after a
//    successful periodic probe or an explicit resume() (SIGHUP).
#pragma once

#include "core/error.hpp"
#include "core/log.hpp"
#include "http/client.hpp"
#include "ratelimit/backoff.hpp"
#include "ratelimit/limiter.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <deque>
#include <optional>
#include <random>

namespace briefd::scheduler {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

enum class priority { track = 0, submit = 1, probe = 2 };

/// How a failed exchange may be repeated.
enum class retry_mode {
    idempotent,  ///< GETs: retry network failures and 5xx with backoff
    submission,  ///< POSTs that create runs: retry only what provably created nothing (failure
                 ///< before the request was sent, 5xx, 429); a failure after sending completes
                 ///< with errc::outcome_uncertain and the caller applies on_uncertain
};

struct host_options {
    std::size_t requests = 100;
    clock::duration window = std::chrono::seconds(60);
    std::size_t per_day = 0;  ///< optional daily cap, paced over any 24 h (0 = none)
    ratelimit::backoff_policy backoff{};
    unsigned max_attempts = 8;
    clock::duration probe_interval = std::chrono::seconds(60);
    http::request probe;  ///< a cheap authenticated GET (the provider says which)
};

struct call_result {
    std::error_code ec;
    http::response resp;
    diagnostics diag;
    /// With errc::shutting_down: true when no attempt of the call can have created anything (each
    /// was refused before sending or answered 429/5xx/401/403 and was waiting to be retried);
    /// false when the last attempt was aborted on the wire and its outcome is unknown.
    bool created_nothing = false;
};

struct host_stats {
    std::uint64_t sent = 0, responses_429 = 0, retries = 0, server_errors = 0;
};

/// One exchange of async_call as it ended, for metrics: its priority class, the HTTP status (0
/// when the transport failed), and the time from departure to the end of the response.
using exchange_observer = std::function<void(priority, unsigned status, clock::duration took)>;

/// Classifies a non-2xx response into the project error (provider specific: each provider
/// module has its classify_error).
using error_classifier = std::function<std::error_code(unsigned, std::string_view, diagnostics&)>;

class host {
public:
    host(asio::any_io_executor ex, http::client& client, logger& log, std::string name,
         host_options opts, error_classifier classify, std::uint64_t seed);

    /// Waits for a send slot in `p`'s queue. Completes with an empty error_code when the request
    /// may be sent now (a send has been counted at this moment: send right away), or
    /// errc::shutting_down after stop().
    asio::awaitable<std::error_code> async_acquire(priority p);

    /// acquire → send → learn from the headers → handle 429/5xx/network/account errors as above.
    /// Completes with the 2xx response, or the final error with the server's words in diag.
    /// No deadline of its own beyond the request's timeout per attempt and the retry budget.
    /// `before_send`, when given, runs after each slot is granted and right before the request
    /// leaves (the submitter records its durable intent there); returning false abandons the call
    /// with std::errc::io_error.
    asio::awaitable<call_result> async_call(http::request req, priority p, retry_mode mode,
                                            std::function<bool()> before_send = {});

    /// Feeds a response received outside async_call (an SSE stream's headers). Returns the error
    /// class of the status: empty for 2xx; rate_limited after pausing the host; unauthorized etc.
    /// after blocking it.
    std::error_code observe(unsigned status, const boost::beast::http::fields& headers, std::string_view body);

    void set_limit(std::size_t requests, clock::duration window, std::size_t per_day = 0);
    void resume();   ///< clear an account block (SIGHUP / new key) and wake everyone
    void stop();     ///< every waiter completes with errc::shutting_down

    bool blocked() const noexcept { return !blocked_reason_.empty(); }
    const std::string& blocked_reason() const noexcept { return blocked_reason_; }
    std::size_t budget_available() const;
    std::size_t budget_limit() const noexcept { return opts_.requests; }
    const host_stats& stats() const noexcept { return stats_; }
    std::size_t waiting() const;
    /// Until when a 429 pauses the host (a past time point when it does not).
    clock::time_point paused_until() const { return limiter_.paused_until(); }
    /// When the rate budget next has room (now or earlier when it has some now).
    clock::time_point next_slot_at() const { return limiter_.earliest(clock::now()); }
    /// Requests of async_call on the wire now.
    std::size_t in_flight() const noexcept { return in_flight_; }
    /// Called after every exchange of async_call (status/metrics only; must not call back in).
    void set_observer(exchange_observer o) { observer_ = std::move(o); }

private:
    struct waiter;
    /// Waits for a slot and holds it as a reservation: mark_sent() when the request leaves, or
    /// unreserve() if it will not.
    asio::awaitable<std::error_code> reserve_slot(priority p);
    void mark_sent();
    void unreserve();
    asio::awaitable<void> dispatch_loop();
    asio::awaitable<void> probe_loop();
    void wake_dispatcher();
    void block(std::string reason);
    asio::awaitable<void> sleep(clock::duration d);
    clock::duration jitter(clock::duration max);

    asio::any_io_executor ex_;
    http::client& client_;
    logger& log_;
    std::string name_;
    host_options opts_;
    error_classifier classify_;
    ratelimit::limiter limiter_;
    std::optional<ratelimit::limiter> day_limiter_;  ///< per_day, when configured
    std::mt19937_64 rng_;
    std::array<std::deque<waiter*>, 3> queues_;
    unsigned rr_ = 0;  // position in the weighted round robin
    asio::steady_timer wake_;
    asio::steady_timer probe_wait_;  ///< the probe loop's pause; stop() cancels it
    std::string blocked_reason_;
    bool stopped_ = false;
    bool probe_running_ = false;
    host_stats stats_;
    std::size_t in_flight_ = 0;
    exchange_observer observer_;
};

}  // namespace briefd::scheduler
