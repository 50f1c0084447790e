// Provider trouble: 429 storms, 5xx bursts, a tight rate limit, truncated downloads. Every brief
// still completes, and briefd never sends more than the budget briefsim enforces.
#include "integration/helpers.hpp"

#include <doctest/doctest.h>

namespace briefd::it {

namespace json = boost::json;

TEST_CASE("a 429 storm pauses the host, then everything completes") {
    rig r;
    RIG_CONTEXT(r);
    // Two real seconds of 429 for every /v1 request, starting now.
    r.sim->set_faults(json::object{{"storm-429", "0:" + std::to_string(2 * time_scale)}});
    r.d->drop("storm-a.json", content_brief("storm a", 12));
    r.d->drop("storm-b.json", content_brief("storm b", 3));
    REQUIRE(r.d->wait_filed(2, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"storm-a.json", "storm-b.json"});
    CHECK(r.stat("storm_429") > 0);
    CHECK(r.d->log().find("host.rate_limited") != std::string::npos);
    CHECK(r.stat("runs_created") == 15);
    CHECK(r.stat("duplicate_submissions") == 0);
}

TEST_CASE("5xx bursts are retried and everything completes") {
    rig_options o;
    o.sim_args = {"--fail-5xx", "0.3"};
    rig r(o);
    RIG_CONTEXT(r);
    r.d->drop("flaky.json", content_brief("flaky", 12));
    r.d->drop("flaky-app.json", R"({"app": "ec7ec3ce-69b4-43c9-8eea-fe9752d679a4",
                                    "inputs": {"Upload": "https://example.com/a.jpg"}})");
    REQUIRE(r.d->wait_filed(2, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"flaky-app.json", "flaky.json"});
    CHECK(r.stat("faults_5xx") > 0);
    CHECK(r.stat("runs_created") == 13);
    CHECK(check_outputs(*r.d, "flaky") >= 12);
}

TEST_CASE("a tight rate limit equal on both sides: zero 429s, zero requests over the limit") {
    rig_options o;
    // 20 requests per 120 API seconds = per 2 real seconds; briefd is given the same budget.
    o.sim_args = {"--rate-limit", "20"};
    o.sim_rate_window_s = 120;
    o.daemon.rate_requests = 20;
    rig r(o);
    RIG_CONTEXT(r);
    CHECK(r.d->options().rate_window_s == 2);
    r.d->drop("budget.json", content_brief("budget", 23));
    r.d->drop("budget-app.json", R"({"app": "ec7ec3ce-69b4-43c9-8eea-fe9752d679a4",
                                     "inputs": {"Upload": "https://example.com/b.jpg", "Style": "Outdoor"}})");
    REQUIRE(r.d->wait_filed(2, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"budget-app.json", "budget.json"});
    // More than one window's worth of requests was needed, so the limiter really was exercised.
    CHECK(r.stat("requests_total") > 20);
    CHECK(r.stat("responses_429") == 0);
    CHECK(r.stat("over_limit") == 0);
}

TEST_CASE("truncated downloads are redone; manifests' sha256 match the files on disk") {
    rig_options o;
    o.sim_args = {"--truncate-downloads", "0.5"};
    rig r(o);
    RIG_CONTEXT(r);
    r.d->drop("cut.json", content_brief("cut", 8));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"cut.json"});
    CHECK(r.stat("truncated_downloads") > 0);
    CHECK(check_outputs(*r.d, "cut") >= 8);
    // No half-written leftovers next to the outputs.
    for (const auto& f : files_under(r.d->outputs()))
        CHECK_MESSAGE(f.extension() != ".part", f.string());
}

TEST_CASE("a TLS failure is an outage, never the brief's fault: nothing is filed while handshakes fail") {
    rig_options o;
    o.https = true;
    o.trust_ca = false;  // briefsim's certificate cannot be verified: every handshake fails
    rig r(o);
    RIG_CONTEXT(r);
    r.d->drop("tls.json", content_brief("tls", 2));
    REQUIRE(r.d->wait_log("host.unreachable", 30s));
    REQUIRE(r.d->wait_log("batch.deferred", 10s));
    CHECK(r.d->failed().empty());
    CHECK(r.d->done().empty());
    CHECK(fs::exists(r.d->spool() / "active" / "tls.json"));
    CHECK(r.stat("runs_created") == 0);
}

}  // namespace briefd::it
