#include "pipeline/submit_decider.hpp"

#include "core/error.hpp"

namespace briefd::pipeline {

submit_verdict decide_submission(const submit_facts& f) {
    auto resend_or_reject = [&] {
        return f.resends < max_resends ? submit_verdict::resend_same : submit_verdict::reject;
    };
    if (f.ec == errc::shutting_down)
        return f.intent_recorded && !f.created_nothing ? submit_verdict::leave
                                                       : submit_verdict::requeue;
    if (f.ec == errc::outcome_uncertain)
        return f.idempotent ? resend_or_reject() : submit_verdict::uncertain;
    if (f.ec) {
        // Nothing created: the intent write failed (io_error), nothing left, or the server said 5xx
        // or kept failing at the transport level. An outage, a bad gateway or a TLS failure is the
        // host's problem, never the brief's.
        if (!f.intent_recorded || f.created_nothing || is_retryable(f.ec) ||
            f.ec == std::errc::io_error || f.ec == errc::tls_error ||
            f.ec == errc::resolve_failed || f.ec == errc::connect_timeout ||
            f.ec == errc::handshake_timeout || f.ec == errc::proxy_refused ||
            f.ec == errc::proxy_auth_required)
            return submit_verdict::requeue;
        return submit_verdict::reject;
    }
    if (f.body_readable) return submit_verdict::accepted;
    return f.idempotent ? resend_or_reject() : submit_verdict::uncertain;
}

validation_verdict decide_validation(const validation_facts& f) {
    if (f.problems > 0)
        return f.anything_sent ? validation_verdict::fail_items : validation_verdict::refuse_brief;
    return f.transient ? validation_verdict::retry_later : validation_verdict::start;
}

}  // namespace briefd::pipeline
