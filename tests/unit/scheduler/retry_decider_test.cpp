// The host's retry decider, branch by branch: what one exchange's facts (transport error or
// status, the provider's classification, the account state) make async_call do next.
#include "scheduler/retry_decider.hpp"

#include <boost/asio/error.hpp>

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using briefd::errc;
using briefd::scheduler::decide_retry;
using briefd::scheduler::retry_action;
using briefd::scheduler::retry_facts;
using briefd::scheduler::retry_mode;
using briefd::scheduler::retry_policy;
using kind = retry_action::kind;

namespace {

retry_facts response(unsigned status, std::error_code cls = {}) {
    retry_facts f;
    f.status = status;
    f.cls = cls;
    return f;
}

retry_facts transport(std::error_code ec, retry_mode mode = retry_mode::idempotent) {
    retry_facts f;
    f.transport = ec;
    f.mode = mode;
    return f;
}

}  // namespace

TEST_CASE("retry decider: a 2xx finishes with the answer") {
    std::mt19937_64 rng(1);
    for (unsigned st : {200u, 201u, 202u, 204u}) {
        auto a = decide_retry(response(st), {}, rng);
        CHECK(a.what == kind::finish);
        CHECK_FALSE(a.error);
    }
}

TEST_CASE(
    "retry decider: a rate-limit 429 pauses the bucket, counts no attempt, falls back to a "
    "backoff with a positive extra") {
    std::mt19937_64 rng(2);
    retry_policy p;
    p.backoff = {500ms, 60s};
    auto f = response(429, errc::rate_limited);
    f.attempts = 5;
    for (int i = 0; i < 50; ++i) {
        auto a = decide_retry(f, p, rng);
        REQUIRE(a.what == kind::pause_bucket);
        CHECK(a.attempts == 5);
        CHECK(a.delay >= p.silent_429_extra);
        CHECK(a.delay <= 4s + p.silent_429_extra);  // backoff ceiling for attempt 3: 500 ms × 8
    }
}

TEST_CASE("retry decider: a 'too many running jobs' 429 waits for a job place, not a bucket") {
    std::mt19937_64 rng(3);
    auto f = response(429, errc::rate_limited);
    f.concurrency_refusal = true;
    auto a = decide_retry(f, {}, rng);
    CHECK(a.what == kind::wait_job_place);
    CHECK(a.delay == 5s);  // no Retry-After: the policy's hold
    f.retry_after = 17s;
    a = decide_retry(f, {}, rng);
    CHECK(a.what == kind::wait_job_place);
    CHECK(a.delay == 17s);
    CHECK(a.attempts == 0);
}

TEST_CASE("retry decider: 401 and 402 block the account; the caller waits instead of failing") {
    std::mt19937_64 rng(4);
    auto a = decide_retry(response(401, errc::unauthorized), {}, rng);
    CHECK(a.what == kind::block_account);
    CHECK(a.error == errc::unauthorized);
    a = decide_retry(response(402, errc::payment_required), {}, rng);
    CHECK(a.what == kind::block_account);
    CHECK(a.error == errc::payment_required);
}

TEST_CASE("retry decider: a 403 asks for the probe, and only a refused probe blocks the account") {
    std::mt19937_64 rng(5);
    auto f = response(403, errc::forbidden);
    CHECK(decide_retry(f, {}, rng).what == kind::probe_account);
    f.probed = true;
    f.probe_status = 403;
    CHECK(decide_retry(f, {}, rng).what == kind::block_account);
    f.probe_status = 401;
    CHECK(decide_retry(f, {}, rng).what == kind::block_account);
    SUBCASE("the probe passed: the 403 concerns this request alone and is final") {
        f.probe_status = 200;
        auto a = decide_retry(f, {}, rng);
        CHECK(a.what == kind::finish);
        CHECK(a.error == errc::forbidden);
    }
    SUBCASE("the probe got no answer: not proof of an account problem") {
        f.probe_status = 0;
        CHECK(decide_retry(f, {}, rng).what == kind::finish);
    }
    SUBCASE("already blocked by another call: no second probe, wait in the queue") {
        f.probed = false;
        f.blocked = true;
        CHECK(decide_retry(f, {}, rng).what == kind::requeue);
    }
}

TEST_CASE("retry decider: any error answer while the account is blocked waits in the queue") {
    std::mt19937_64 rng(6);
    auto f = response(422, errc::rejected);
    f.blocked = true;
    CHECK(decide_retry(f, {}, rng).what == kind::requeue);
    f.blocked = false;
    auto a = decide_retry(f, {}, rng);
    CHECK(a.what == kind::finish);
    CHECK(a.error == errc::rejected);
    CHECK_FALSE(a.created_nothing);
}

TEST_CASE("retry decider: 5xx retries with a growing backoff until max_attempts, then finishes") {
    std::mt19937_64 rng(7);
    retry_policy p;
    p.backoff = {100ms, 10s};
    p.max_attempts = 4;
    auto f = response(503, errc::server_error);
    for (unsigned n = 0; n + 1 < p.max_attempts; ++n) {
        f.attempts = n;
        auto a = decide_retry(f, p, rng);
        REQUIRE(a.what == kind::retry);
        CHECK(a.attempts == n + 1);
        CHECK(a.delay >= 0ms);
        CHECK(a.delay <= briefd::ratelimit::backoff_ceiling(p.backoff, n + 1));
    }
    f.attempts = p.max_attempts - 1;
    auto a = decide_retry(f, p, rng);
    CHECK(a.what == kind::finish);
    CHECK(a.error == errc::server_error);
    CHECK(a.exhausted);
}

TEST_CASE("retry decider: a submission sent and unanswered is uncertain; a GET retries") {
    std::mt19937_64 rng(8);
    const std::error_code reset = std::make_error_code(std::errc::connection_reset);
    auto a = decide_retry(transport(reset, retry_mode::submission), {}, rng);
    CHECK(a.what == kind::uncertain);
    CHECK(a.error == errc::outcome_uncertain);
    a = decide_retry(transport(errc::read_timeout, retry_mode::submission), {}, rng);
    CHECK(a.what == kind::uncertain);
    a = decide_retry(transport(errc::read_timeout), {}, rng);
    CHECK(a.what == kind::retry);
    CHECK(a.attempts == 1);
}

TEST_CASE("retry decider: a submission that failed before sending retries and created nothing") {
    std::mt19937_64 rng(9);
    retry_policy p;
    p.max_attempts = 3;
    auto f = transport(errc::connect_timeout, retry_mode::submission);
    auto a = decide_retry(f, p, rng);
    CHECK(a.what == kind::retry);
    f.attempts = 2;
    a = decide_retry(f, p, rng);
    CHECK(a.what == kind::finish);
    CHECK(a.error == errc::connect_timeout);
    CHECK(a.created_nothing);
    CHECK(a.exhausted);
    CHECK(a.attempts == 3);
    SUBCASE("a refused connection counts as not sent too") {
        auto r =
            transport(std::make_error_code(std::errc::connection_refused), retry_mode::submission);
        CHECK(decide_retry(r, p, rng).what == kind::retry);
    }
}

TEST_CASE("retry decider: a transport error that is not retryable finishes at once") {
    std::mt19937_64 rng(10);
    const std::error_code bad = errc::body_too_large;
    REQUIRE_FALSE(briefd::is_retryable(bad));
    auto a = decide_retry(transport(bad), {}, rng);
    CHECK(a.what == kind::finish);
    CHECK(a.error == bad);
    CHECK_FALSE(a.created_nothing);  // a GET: "created nothing" only speaks of submissions
}

TEST_CASE(
    "retry decider: an exchange aborted by stop() finishes as shutting_down, not as "
    "'created nothing'") {
    std::mt19937_64 rng(11);
    auto f = transport(std::error_code(make_error_code(boost::asio::error::operation_aborted)),
                       retry_mode::submission);
    f.aborted = true;
    auto a = decide_retry(f, {}, rng);
    CHECK(a.what == kind::finish);
    CHECK(a.error == errc::shutting_down);
    CHECK_FALSE(a.created_nothing);
}

TEST_CASE("retry decider: the backoff draw follows the rng (same seed, same delays)") {
    retry_policy p;
    p.backoff = {1s, 60s};
    std::mt19937_64 a(42), b(42);
    auto f = transport(errc::read_timeout);
    f.attempts = 3;
    for (int i = 0; i < 10; ++i) CHECK(decide_retry(f, p, a).delay == decide_retry(f, p, b).delay);
}
