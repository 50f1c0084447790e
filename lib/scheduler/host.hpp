// One provider host as the rest of briefd sees it: a gate every API request passes through.
//
//  * the rate budget: a sliding-window limiter (lib/ratelimit) that also learns from RateLimit-*
//    headers, so briefd never sends while the server says nothing remains — one per bucket class
//    when the provider keeps several (budgets.hpp: Layers' read-light, write-light, long-running),
//    each learning from the responses its class header names;
//  * 429: the request's bucket (the whole host when it has one) pauses until Retry-After (else the
//    body's retryAfter, else Reset, else backoff), and the request is tried again without
//    counting against its attempts; other buckets go on;
//  * the concurrent-jobs gate (job_gate.hpp, `max_concurrent_jobs`): job starts wait for room,
//    and a "too many running jobs" refusal holds further starts until a job ends instead of
//    pausing anything;
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
#include "scheduler/budgets.hpp"
#include "scheduler/job_gate.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <deque>
#include <functional>
#include <map>
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
    /// Bucket classes with budgets of their own (Layers' rate_limit_classes); every other request
    /// draws from the default budget above.
    std::map<std::string, bucket_limits, std::less<>> classes;
    /// The class of a request (empty: the default bucket). Unset: every request is the default's.
    std::function<std::string(const http::request&)> bucket_of;
    /// The response header naming the class whose rate-limit headers a response carries (Layers:
    /// X-RateLimit-Endpoint-Class); empty: a response describes its request's bucket.
    std::string class_header;
    /// At most this many jobs running at once (job_gate); 0: no gate.
    std::size_t max_concurrent_jobs = 0;
    /// True for a 429 that means "too many concurrent jobs" rather than "too many requests"
    /// (provider::concurrency_refusal); such a 429 holds job starts and pauses no bucket.
    std::function<bool(unsigned, std::string_view)> concurrency_refusal;
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
    std::uint64_t concurrency_refusals = 0;  ///< 429s meaning "too many running jobs"
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

    /// Waits for a send slot in `p`'s queue of bucket class `cls` (empty: the default budget).
    /// Completes with an empty error_code when the request may be sent now (a send has been
    /// counted at this moment: send right away), or errc::shutting_down after stop().
    asio::awaitable<std::error_code> async_acquire(priority p, std::string_view cls = {});

    /// acquire → send → learn from the headers → handle 429/5xx/network/account errors as above.
    /// Completes with the 2xx response, or the final error with the server's words in diag.
    /// No deadline of its own beyond the request's timeout per attempt and the retry budget.
    /// `before_send`, when given, is awaited after each slot is granted and right before the
    /// request leaves (the submitter records its durable intent there); the slot stays reserved
    /// while it runs and the send is stamped when it completes. Completing with false abandons
    /// the call with std::errc::io_error. The callable is invoked once per attempt and the
    /// awaitable it returns is awaited at once: anything it refers to must outlive async_call.
    /// The request's bucket is options' bucket_of(req).
    /// `starts_job`: the caller holds a place of the concurrent-jobs gate (async_job_place); a
    /// "too many running jobs" 429 gives it back, waits for room again (holding no rate slot) and
    /// retries, so the call still completes only with the server's real answer.
    asio::awaitable<call_result> async_call(http::request req, priority p, retry_mode mode,
                                            std::function<asio::awaitable<bool>()> before_send = {},
                                            bool starts_job = false);

    // ---- the concurrent-jobs gate (no-ops when max_concurrent_jobs is 0) -----------------------
    bool jobs_gated() const noexcept { return gate_.enabled(); }
    /// Waits until one more job may start and takes its place. Completes with an empty
    /// error_code, or errc::shutting_down after stop() (no place taken). No deadline: a place
    /// frees when a job ends (or a refusal's Retry-After passes).
    asio::awaitable<std::error_code> async_job_place();
    /// Gives a place back without news: a start that created nothing, or one whose accepted run
    /// took its own place with run_tracked().
    void job_place_release();
    /// A run of this provider is being tracked (accepted now, or found again at recovery).
    void run_tracked();
    /// A tracked run ended (tracking saw a terminal state, or gave it up).
    void run_ended();
    const job_gate& jobs() const noexcept { return gate_; }

    /// Feeds a response received outside async_call (an SSE stream's headers). Returns the error
    /// class of the status: empty for 2xx; rate_limited after pausing the host; unauthorized etc.
    /// after blocking it.
    std::error_code observe(unsigned status, const boost::beast::http::fields& headers, std::string_view body);

    void set_limit(std::size_t requests, clock::duration window, std::size_t per_day = 0);
    /// Live reload of the class budgets and the concurrent-jobs cap.
    void set_classes(std::map<std::string, bucket_limits, std::less<>> classes);
    void set_max_concurrent_jobs(std::size_t n);
    void resume();   ///< clear an account block (SIGHUP / new key) and wake everyone
    void stop();     ///< every waiter completes with errc::shutting_down

    bool blocked() const noexcept { return !blocked_reason_.empty(); }
    const std::string& blocked_reason() const noexcept { return blocked_reason_; }
    /// The default budget's room and limit (the class budgets: budget_available(cls)).
    std::size_t budget_available() const;
    std::size_t budget_available(std::string_view cls) const;
    std::size_t budget_limit() const noexcept { return opts_.requests; }
    const host_stats& stats() const noexcept { return stats_; }
    std::size_t waiting() const;
    /// Until when the last 429 pauses the host, for /status (a past time point when it does not;
    /// with bucket classes, the bucket that 429 named).
    clock::time_point paused_until() const noexcept { return paused_until_; }
    /// When the default budget next has room (now when it has some now).
    clock::time_point next_slot_at() const { return budgets_.earliest(0, clock::now()); }
    /// Requests of async_call on the wire now.
    std::size_t in_flight() const noexcept { return in_flight_; }
    /// Called after every exchange of async_call (status/metrics only; must not call back in).
    void set_observer(exchange_observer o) { observer_ = std::move(o); }

private:
    struct waiter;
    /// Waits for a slot and holds it as a reservation: mark_sent() when the request leaves, or
    /// unreserve() if it will not.
    asio::awaitable<std::error_code> reserve_slot(priority p, std::size_t bucket);
    void mark_sent(std::size_t bucket);
    void unreserve(std::size_t bucket);
    /// observe() for a response to a request of `bucket`.
    std::error_code observe_in(std::size_t bucket, unsigned status,
                               const boost::beast::http::fields& headers, std::string_view body);
    std::size_t bucket_of(const http::request& req) const;
    /// The bucket a response's rate-limit headers describe (its class header, else the request's).
    std::size_t response_bucket(std::size_t request_bucket, const boost::beast::http::fields& headers) const;
    void wake_job_waiters();
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
    budgets budgets_;
    std::mt19937_64 rng_;
    /// Waiters by priority, then by bucket.
    std::array<std::vector<std::deque<waiter*>>, 3> queues_;
    unsigned rr_ = 0;  // position in the weighted round robin
    std::array<std::size_t, 3> bucket_rr_{};  // next bucket to serve first, per priority
    job_gate gate_;
    std::deque<waiter*> job_waiters_;  ///< waiting for a place of the gate
    asio::steady_timer wake_;
    asio::steady_timer probe_wait_;  ///< the probe loop's pause; stop() cancels it
    std::string blocked_reason_;
    bool stopped_ = false;
    bool probe_running_ = false;
    host_stats stats_;
    std::size_t in_flight_ = 0;
    clock::time_point paused_until_{};
    exchange_observer observer_;
};

}  // namespace briefd::scheduler
