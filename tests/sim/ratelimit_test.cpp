// Per-client rate limiting over all /v1 requests: draft-6 headers on every response, 429 with
// Retry-After and the RATE_LIMITED envelope, both window modes, and 429 storms.
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <boost/json.hpp>

#include <thread>

using namespace briefd::testing;
using namespace briefd::sim_tests;
using namespace std::chrono_literals;

namespace {

void check_429(const http_reply& r) {
    CHECK(r.status == 429);
    CHECK(std::stoi(r.header("retry-after")) >= 1);
    auto v = parse_json(r.body);
    REQUIRE(v.is_object());
    CHECK(v.at("code").as_string() == "RATE_LIMITED");
    CHECK(v.at("retryable").as_bool());
    CHECK(v.at("retryAfter").as_int64() == std::stoi(r.header("retry-after")));
    CHECK(v.at("requestId").is_string());
    CHECK(r.header("ratelimit-remaining") == "0");
}

void exhaust_and_recover(const std::string& mode) {
    // 3 requests per 60 API-seconds at time scale 60: a one-second real window.
    sim_process sim({"--rate-limit", "3", "--rate-window-s", "60", "--time-scale", "60", "--rate-mode", mode});
    for (int i = 0; i < 3; ++i) {
        auto r = sim.api("GET", "/v1/apps");
        CHECK(r.status == 200);
        CHECK(r.header("ratelimit-limit") == "3");
        CHECK(r.header("ratelimit-remaining") == std::to_string(2 - i));
        CHECK(r.header("ratelimit-policy") == "3;w=1");
        CHECK(std::stoi(r.header("ratelimit-reset-ms")) <= 1000);
    }
    auto over = sim.api("GET", "/v1/apps");
    check_429(over);
    CHECK(stat(sim, "over_limit") == 1);
    CHECK(stat(sim, "responses_429") == 1);
    // After the announced reset the budget is back.
    std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(over.header("ratelimit-reset-ms")) + 50));
    CHECK(sim.api("GET", "/v1/apps").status == 200);
}

}  // namespace

TEST_CASE("rate limit headers on every /v1 response, 401s included; /_sim is not limited") {
    sim_process sim({"--rate-limit", "100"});
    http_request_options o;
    auto r = http_fetch(sim.api_url() + "/v1/apps", o);
    CHECK(r.status == 401);
    CHECK(r.header("ratelimit-limit") == "100");
    CHECK(r.header("ratelimit-remaining") == "99");
    CHECK(std::stoi(r.header("ratelimit-reset")) <= 60);
    CHECK(r.header("ratelimit-policy") == "100;w=60");
    for (int i = 0; i < 5; ++i) sim.stats();
    CHECK(sim.api("GET", "/v1/apps").header("ratelimit-remaining") == "98");
}

TEST_CASE("fixed window: 429 + Retry-After when exceeded, budget back after the reset") { exhaust_and_recover("fixed"); }

TEST_CASE("sliding window: 429 + Retry-After when exceeded, a slot back after the reset") { exhaust_and_recover("sliding"); }

TEST_CASE("storm-429: every request in the window is refused, counted apart from over_limit") {
    sim_process sim;
    CHECK(sim.api("GET", "/v1/apps").status == 200);
    sim.set_faults({{"storm-429", "0:600"}});
    for (int i = 0; i < 3; ++i) check_429(sim.api("GET", "/v1/apps"));
    CHECK(stat(sim, "storm_429") == 3);
    CHECK(stat(sim, "over_limit") == 0);
    sim.set_faults({{"storm-429", nullptr}});
    CHECK(sim.api("GET", "/v1/apps").status == 200);

    sim_process from_flag({"--storm-429", "0:600"});
    check_429(from_flag.api("GET", "/v1/account/usage"));
}
