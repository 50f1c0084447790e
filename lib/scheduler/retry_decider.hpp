// retry_decider: what scheduler::host::async_call does after one exchange — hand back the answer,
// retry after a backoff, pause the request's bucket on a 429, wait for a concurrent-jobs place,
// probe or block the account, or give up (with "outcome uncertain" for a submission whose fate
// is unknown). Sans-I/O (STYLE §3): the host gathers the facts of the exchange (transport error or
// status, the provider's classification, the account state) and carries the action out; tests
// drive every branch without a socket or a timer.
#pragma once

#include "core/error.hpp"
#include "ratelimit/backoff.hpp"

#include <chrono>
#include <optional>
#include <random>
#include <system_error>

namespace briefd::scheduler {

/// How a failed exchange may be repeated.
enum class retry_mode {
    idempotent,  ///< GETs: retry network failures and 5xx with backoff
    submission,  ///< POSTs that create runs: retry only what provably created nothing (failure
                 ///< before the request was sent, 5xx, 429); a failure after sending completes
                 ///< with errc::outcome_uncertain and the caller applies on_uncertain
};

/// Errors that happen before any byte of the request leaves (connect, resolve, TLS, proxy
/// refusal): nothing can have been created.
bool failed_before_sending(std::error_code ec) noexcept;

/// The facts of one exchange of async_call, as the host saw them.
struct retry_facts {
    retry_mode mode = retry_mode::idempotent;
    /// Attempts that already failed and counted (429s, account blocks and job-place waits never
    /// count): the backoff grows with it and max_attempts caps it.
    unsigned attempts = 0;
    /// The transport's error; empty when a response arrived.
    std::error_code transport;
    /// The exchange was aborted (operation_aborted) or the host was stopped while it ran.
    bool aborted = false;
    /// The response's status (when `transport` is empty).
    unsigned status = 0;
    /// A 429 that the provider says means "too many running jobs", for a call that holds a place
    /// of an enabled concurrent-jobs gate (host_options::concurrency_refusal).
    bool concurrency_refusal = false;
    /// The response's Retry-After (header, else body), when it had one.
    std::optional<std::chrono::seconds> retry_after;
    /// The provider's class of a non-2xx, non-429 status (error_classifier).
    std::error_code cls;
    /// The host is blocked on an account problem right now.
    bool blocked = false;
    /// For a 403: the account probe was sent after it (the decider asks for one with
    /// probe_account when the host is not blocked already) ...
    bool probed = false;
    /// ... and answered with this status (0: no answer, a transport error).
    unsigned probe_status = 0;
};

/// What to do next. One of:
struct retry_action {
    enum class kind {
        /// Complete the call: with the 2xx response when `error` is empty, else with `error` (and
        /// the response's diagnostics when there was a response). `created_nothing` as in
        /// call_result.
        finish,
        /// Complete with errc::outcome_uncertain: a submission left and its answer was lost.
        uncertain,
        /// Sleep `delay` (capped exponential backoff with full jitter), then queue for a slot
        /// again; the attempt counted (`attempts` is the new count).
        retry,
        /// A rate-limit 429: pause the bucket the response names (Retry-After, else Reset, else
        /// `delay` as the fallback), then queue for a slot again; no attempt counted.
        pause_bucket,
        /// A "too many running jobs" 429: hold job starts for `delay` (or until a job ends), give
        /// back the call's place, wait for a new one, then queue again; no attempt counted.
        wait_job_place,
        /// A 403 that may concern one app or the whole key: send the account probe and decide
        /// again with `probed` set and its status in `probe_status`.
        probe_account,
        /// 401, 402, or a 403 the probe confirmed: block the host (`error` says why) and queue
        /// again — the caller waits, nothing fails, until the key works again.
        block_account,
        /// Queue for a slot again at once (the host is blocked: only the probe talks to it).
        requeue,
    };
    kind what = kind::finish;
    std::error_code error;
    std::chrono::steady_clock::duration delay{};
    unsigned attempts = 0;
    bool created_nothing = false;
    /// For finish: a retryable failure that used up max_attempts (the host logs it as such).
    bool exhausted = false;
};

/// Knobs of the decider (host_options carries them).
struct retry_policy {
    ratelimit::backoff_policy backoff{};
    /// Counted attempts before a retryable failure becomes final.
    unsigned max_attempts = 8;
    /// How long a "too many running jobs" refusal without Retry-After holds job starts.
    std::chrono::seconds job_refusal_hold{5};
    /// The extra pause after a 429 without any hint (on top of a backoff draw for attempt 3), so
    /// a silent server is not hammered.
    std::chrono::milliseconds silent_429_extra{250};
};

/// Decides the next action for one exchange. `rng` draws the backoff jitter (seed it in tests).
/// Deterministic for a given rng state; never blocks, never throws.
retry_action decide_retry(const retry_facts& f, const retry_policy& p, std::mt19937_64& rng);

}  // namespace briefd::scheduler
