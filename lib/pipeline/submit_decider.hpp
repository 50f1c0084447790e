// What to do with the items of one submit request once the request scheduler has finished with
// it (and, below, with a job whose inputs were checked against their schemas). Sans-I/O and total:
// every combination of facts has exactly one verdict, so the driver in submission.cpp only carries
// it out (tests: tests/unit/pipeline/submit_decider_test.cpp).
//
//   facts                                                     verdict
//   ─────────────────────────────────────────────────────────  ───────────────────────────────────
//   shutting down, nothing can have been created               requeue (pending again; resumes at
//   next start) shutting down, a request was on the wire                   leave (stays
//   `submitting`; next start decides) sent, no answer (timeout, reset), idempotent provider
//   resend_same (same request, same key) sent, no answer, no idempotency key uncertain
//   (on_uncertain decides) failed before sending / answered 5xx / transport errors    requeue after
//   a pause (never fails the
//     that created nothing (TLS, refused, resolve)               brief: an outage is not the
//     brief's fault)
//   final 4xx (validation, conflict, not found, forbidden)     reject (items fail with the
//   provider's words) 2xx, body readable                                         accepted (per-item
//   results) 2xx, body unreadable, idempotent provider                  resend_same (the provider
//   replays its answer) 2xx, body unreadable, no idempotency key                   uncertain
//   resend_same more than max_resends times                    reject (the provider keeps answering
//   nonsense)
#pragma once

#include <cstddef>
#include <system_error>

namespace briefd::pipeline {

enum class submit_verdict { accepted, requeue, leave, resend_same, uncertain, reject };

struct submit_facts {
    std::error_code ec;            ///< the scheduler's final error (empty for a 2xx)
    bool intent_recorded = false;  ///< `submitting` was persisted (the request may have left)
    bool created_nothing = false;  ///< the scheduler knows no attempt can have created anything
    bool idempotent = false;       ///< the provider takes an idempotency key and it was sent
    bool body_readable = false;    ///< for a 2xx: the provider's parser understood the body
    unsigned resends = 0;          ///< how often this same request was already resent
};

inline constexpr unsigned max_resends = 8;

submit_verdict decide_submission(const submit_facts& f);

/// What validate_inputs() does once it has looked at every pending item's inputs.
enum class validation_verdict {
    start,         ///< nothing wrong: the job goes on to submission
    fail_items,    ///< wrong inputs, but some item was already sent: those items fail, the rest go
    refuse_brief,  ///< wrong inputs and nothing sent yet: the brief is refused whole (failed/)
    retry_later,   ///< a schema could not be had (outage) and nothing is known wrong: ask again
};

struct validation_facts {
    std::size_t problems = 0;    ///< wrong inputs found (a missing app counts: the brief's fault)
    bool transient = false;      ///< some schema could not be fetched for a reason not the brief's
    bool anything_sent = false;  ///< some item of the job is past `pending`
};

/// Wrong inputs decide even when other schemas could not be had (a brief known to be wrong is
/// not held back for an outage); an outage alone never fails or refuses anything.
validation_verdict decide_validation(const validation_facts& f);

}  // namespace briefd::pipeline
