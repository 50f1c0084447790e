// decide_submission: one verdict for every combination of facts (submit_decider.hpp's table).
#include "pipeline/submit_decider.hpp"

#include "core/error.hpp"

using namespace briefd::pipeline;
using briefd::errc;

namespace {
submit_facts facts(std::error_code ec, bool intent, bool idempotent, bool readable = false,
                   bool nothing = false) {
    submit_facts f;
    f.ec = ec;
    f.intent_recorded = intent;
    f.idempotent = idempotent;
    f.body_readable = readable;
    f.created_nothing = nothing;
    return f;
}
}  // namespace

TEST_CASE("submit decider: a readable 2xx is accepted, with or without idempotency") {
    CHECK(decide_submission(facts({}, true, false, true)) == submit_verdict::accepted);
    CHECK(decide_submission(facts({}, true, true, true)) == submit_verdict::accepted);
}

TEST_CASE("submit decider: an unreadable 2xx is resent under the key, or uncertain without one") {
    CHECK(decide_submission(facts({}, true, true, false)) == submit_verdict::resend_same);
    CHECK(decide_submission(facts({}, true, false, false)) == submit_verdict::uncertain);
    auto f = facts({}, true, true, false);
    f.resends = max_resends;
    CHECK(decide_submission(f) == submit_verdict::reject);
}

TEST_CASE("submit decider: no answer after sending") {
    CHECK(decide_submission(facts(errc::outcome_uncertain, true, true)) ==
          submit_verdict::resend_same);
    CHECK(decide_submission(facts(errc::outcome_uncertain, true, false)) ==
          submit_verdict::uncertain);
}

TEST_CASE(
    "submit decider: shutdown leaves a request on the wire alone and requeues one never sent") {
    CHECK(decide_submission(facts(errc::shutting_down, true, false, false, false)) ==
          submit_verdict::leave);
    CHECK(decide_submission(facts(errc::shutting_down, true, false, false, true)) ==
          submit_verdict::requeue);
    CHECK(decide_submission(facts(errc::shutting_down, false, false)) == submit_verdict::requeue);
}

TEST_CASE("submit decider: outages and transport failures never fail the brief") {
    for (auto ec :
         {std::error_code(errc::tls_error), std::error_code(errc::resolve_failed),
          std::error_code(errc::connect_timeout), std::error_code(errc::server_error),
          std::error_code(errc::proxy_refused), std::error_code(errc::proxy_auth_required),
          std::make_error_code(std::errc::connection_refused),
          std::make_error_code(std::errc::io_error)}) {
        CAPTURE(ec.message());
        CHECK(decide_submission(facts(ec, true, false, false, true)) == submit_verdict::requeue);
        CHECK(decide_submission(facts(ec, false, true)) == submit_verdict::requeue);
    }
    // A 5xx after the retry budget: nothing was created, so the items wait.
    CHECK(decide_submission(facts(errc::server_error, true, false)) == submit_verdict::requeue);
    // The intent write failed (io_error): nothing left.
    CHECK(decide_submission(facts(std::make_error_code(std::errc::io_error), true, false)) ==
          submit_verdict::requeue);
}

TEST_CASE("submit decider: a final 4xx rejects the items") {
    for (auto e : {errc::rejected, errc::not_found, errc::forbidden, errc::unexpected_status}) {
        CHECK(decide_submission(facts(e, true, false)) == submit_verdict::reject);
        CHECK(decide_submission(facts(e, true, true)) == submit_verdict::reject);
    }
}

TEST_CASE("validation decider: wrong inputs refuse a brief nothing of which was sent") {
    CHECK(decide_validation({.problems = 1}) == validation_verdict::refuse_brief);
    // Known wrong inputs decide even while other schemas could not be had.
    CHECK(decide_validation({.problems = 3, .transient = true}) ==
          validation_verdict::refuse_brief);
}

TEST_CASE("validation decider: wrong inputs of a job already partly sent fail those items") {
    CHECK(decide_validation({.problems = 2, .anything_sent = true}) ==
          validation_verdict::fail_items);
    CHECK(decide_validation({.problems = 1, .transient = true, .anything_sent = true}) ==
          validation_verdict::fail_items);
}

TEST_CASE(
    "validation decider: an outage alone never fails anything; nothing wrong starts the job") {
    CHECK(decide_validation({.transient = true}) == validation_verdict::retry_later);
    CHECK(decide_validation({.transient = true, .anything_sent = true}) ==
          validation_verdict::retry_later);
    CHECK(decide_validation({}) == validation_verdict::start);
    CHECK(decide_validation({.anything_sent = true}) == validation_verdict::start);
}
