// Fault switches on the /v1 side, and the control endpoint.
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <boost/json.hpp>

using namespace briefd::testing;
using namespace briefd::sim_tests;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {
bool every_object_has(const json::value& v, std::string_view key) {
    if (v.is_object()) {
        if (!v.as_object().contains(key)) return false;
        for (const auto& kv : v.as_object())
            if (kv.key() != key && !every_object_has(kv.value(), key)) return false;
    } else if (v.is_array()) {
        for (const auto& e : v.as_array())
            if (!every_object_has(e, key)) return false;
    }
    return true;
}
}  // namespace

TEST_CASE("fail-5xx on batch only: retryable 500/503 envelopes, no runs created; other endpoints fine") {
    sim_process sim({"--fail-5xx", "1", "--fail-5xx-on", "batch"});
    auto r = sim.api("POST", "/v1/content/batch", R"({"items":[{"brief":"x"}]})");
    CHECK((r.status == 500 || r.status == 503));
    auto v = parse_json(r.body);
    CHECK(v.at("retryable").as_bool());
    CHECK((v.at("code") == "INTERNAL_ERROR" || v.at("code") == "RESOURCE_UNAVAILABLE"));
    CHECK(v.at("requestId").as_string() == r.header("x-request-id"));
    CHECK(sim.api("GET", "/v1/apps").status == 200);
    CHECK(stat(sim, "runs_created") == 0);
    CHECK(stat(sim, "faults_5xx") == 1);

    sim.set_faults({{"fail-5xx", 0.5}, {"fail-5xx-on", "all"}});
    int failures = 0;
    for (int i = 0; i < 40; ++i) failures += sim.api("GET", "/v1/account/usage").status >= 500;
    CHECK(failures > 5);
    CHECK(failures < 35);
}

TEST_CASE("malformed-json breaks 2xx bodies; extra-fields adds an unknown member to every object") {
    sim_process sim({"--malformed-json", "1"});
    auto r = sim.api("GET", "/v1/apps");
    CHECK(r.status == 200);
    CHECK(parse_json(r.body).is_null());
    CHECK(stat(sim, "malformed_bodies") == 1);
    CHECK_FALSE(parse_json(sim.api("GET", "/v1/runs/none").body).is_null());  // errors stay intact

    sim.set_faults({{"malformed-json", 0}, {"extra-fields", true}});
    auto app = parse_json(sim.api("GET", "/v1/apps/bbb17293-5fe7-4645-8c6e-0745bc28254d").body);
    REQUIRE(app.is_object());
    CHECK(every_object_has(app, "simExtra"));
    CHECK(app.at("data").at("name").as_string() == "Premium Catalog 1.0");
}

TEST_CASE("slow-headers delays /v1 responses by at least the given real milliseconds") {
    sim_process sim({"--slow-headers", "300"});
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(sim.api("GET", "/v1/apps").status == 200);
    CHECK(std::chrono::steady_clock::now() - t0 >= 300ms);
    http_request_options o;
    o.timeout = 100ms;  // a client with a shorter header deadline gives up
    auto r = http_fetch(sim.api_url() + "/v1/apps", o);
    CHECK(r.timed_out);
    CHECK(r.status == 0);
}

TEST_CASE("fail-rate 1: every run fails with errorMessage and errored outputs") {
    sim_process sim({"--fail-rate", "1", "--time-scale", "200"});
    auto ids = submit_batch(sim, {"f"});
    auto v = parse_json(sim.api("GET", "/v1/runs/" + ids.at(0) + "/wait?timeout=60").body);
    CHECK(v.at("data").at("status").as_string() == "failed");
    CHECK(v.at("data").at("errorMessage").is_string());
    CHECK(v.at("data").at("progress").at("failedOutputs").as_int64() == 1);
}

TEST_CASE("control endpoint: GET shows settings, POST applies them atomically, bad input is 400") {
    sim_process sim;
    auto f = sim.set_faults({{"fail_rate", 0.25}, {"sse-drop-after", 3}});
    CHECK(f.at("fail-rate").as_double() == doctest::Approx(0.25));
    CHECK(f.at("sse-drop-after").as_int64() == 3);
    http_request_options o;
    o.method = "POST";
    o.body = R"({"fail-rate":0.5,"no-such-switch":1})";
    auto bad = http_fetch(sim.api_url() + "/_sim/faults", o);
    CHECK(bad.status == 400);
    auto now = parse_json(http_fetch(sim.api_url() + "/_sim/faults").body);
    CHECK(now.at("fail-rate").as_double() == doctest::Approx(0.25));  // unchanged
    o.body = R"({"fail-5xx":2})";
    CHECK(http_fetch(sim.api_url() + "/_sim/faults", o).status == 400);
}
