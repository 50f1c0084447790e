#include "scheduler/retry_decider.hpp"

#include <cerrno>

namespace briefd::scheduler {

bool failed_before_sending(std::error_code ec) noexcept {
    return ec == errc::connect_timeout || ec == errc::resolve_failed ||
           ec == errc::handshake_timeout || ec == errc::tls_error || ec == errc::proxy_refused ||
           ec == errc::proxy_auth_required || ec == std::errc::connection_refused ||
           ec == std::error_code(ECONNREFUSED, std::system_category());
}

namespace {

using kind = retry_action::kind;

retry_action finish(std::error_code ec, unsigned attempts, bool created_nothing = false) {
    retry_action a;
    a.what = kind::finish;
    a.error = ec;
    a.attempts = attempts;
    a.created_nothing = created_nothing;
    return a;
}

retry_action backoff_retry(unsigned attempts, const retry_policy& p, std::mt19937_64& rng) {
    retry_action a;
    a.what = kind::retry;
    a.attempts = attempts;
    a.delay = ratelimit::backoff_delay(p.backoff, attempts, rng);
    return a;
}

retry_action after_transport_error(const retry_facts& f, const retry_policy& p,
                                   std::mt19937_64& rng) {
    // Aborted on the wire: whether a submission arrived is unknown, so not "created nothing".
    if (f.aborted) return finish(errc::shutting_down, f.attempts);
    const bool before = failed_before_sending(f.transport);
    if (f.mode == retry_mode::submission && !before) {
        retry_action a;
        a.what = kind::uncertain;
        a.error = errc::outcome_uncertain;
        a.attempts = f.attempts;
        return a;
    }
    // A submission reaching here failed before anything left: nothing can have been created.
    const bool nothing = f.mode == retry_mode::submission;
    if (!is_retryable(f.transport) && !before) return finish(f.transport, f.attempts, nothing);
    const unsigned n = f.attempts + 1;
    if (n >= p.max_attempts) {
        auto a = finish(f.transport, n, nothing);
        a.exhausted = true;
        return a;
    }
    return backoff_retry(n, p, rng);
}

}  // namespace

retry_action decide_retry(const retry_facts& f, const retry_policy& p, std::mt19937_64& rng) {
    if (f.transport) return after_transport_error(f, p, rng);
    retry_action a;
    a.attempts = f.attempts;
    if (f.concurrency_refusal) {
        // Not a rate limit: the organisation runs as many jobs as it may. No bucket pauses.
        a.what = kind::wait_job_place;
        a.delay = f.retry_after.value_or(p.job_refusal_hold);
        return a;
    }
    if (f.status == 429) {
        // The bucket's pause comes from the server's words; `delay` is the fallback for a 429
        // that says nothing, with a little positive jitter so clients don't return in step.
        a.what = kind::pause_bucket;
        a.delay = ratelimit::backoff_delay(p.backoff, 3, rng) + p.silent_429_extra;
        return a;
    }
    if (f.status / 100 == 2) return finish({}, f.attempts);
    if (f.cls == errc::unauthorized || f.cls == errc::payment_required) {
        a.what = kind::block_account;
        a.error = f.cls;
        return a;
    }
    if (f.cls == errc::forbidden && !f.blocked) {
        // A 403 may concern one app or the whole workspace: the probe tells them apart.
        if (!f.probed) {
            a.what = kind::probe_account;
            return a;
        }
        if (f.probe_status == 401 || f.probe_status == 403) {
            a.what = kind::block_account;
            a.error = f.cls;
            return a;
        }
    }
    // While the account is blocked every answer waits in the queue: nothing fails for it.
    if (f.blocked) {
        a.what = kind::requeue;
        return a;
    }
    if (f.cls == errc::server_error) {
        const unsigned n = f.attempts + 1;
        if (n < p.max_attempts) return backoff_retry(n, p, rng);
        auto done = finish(f.cls, n);
        done.exhausted = true;
        return done;
    }
    return finish(f.cls, f.attempts);
}

}  // namespace briefd::scheduler
