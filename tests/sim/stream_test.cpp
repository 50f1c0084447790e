// GET /v1/runs/{id}/stream: event format, per-output progress, pings, the 10-minute timeout,
// terminal runs, Last-Event-ID, and the SSE fault switches.
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <boost/json.hpp>

#include <set>

using namespace briefd::testing;
using namespace briefd::sim_tests;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

http_reply stream(const sim_process& sim, const std::string& run_id, std::chrono::milliseconds timeout = 10s,
                  std::vector<std::pair<std::string, std::string>> extra = {},
                  const std::function<bool(std::string_view)>& until = {}) {
    http_request_options o;
    o.headers = {{"x-api-key", sim.api_key()}, {"Accept", "text/event-stream"}};
    for (auto& h : extra) o.headers.push_back(h);
    o.timeout = timeout;
    return http_fetch(sim.api_url() + "/v1/runs/" + run_id + "/stream", o, until);
}

std::string catalog_run(const sim_process& sim) {
    auto r = sim.api("POST", "/v1/apps/bbb17293-5fe7-4645-8c6e-0745bc28254d/runs",
                     R"({"inputs":{"Front":"https://x/f.jpg","Back":"https://x/b.jpg","Model Gender":"Male"}})");
    REQUIRE(r.status == 202);
    return std::string(parse_json(r.body).at("data").at("runId").as_string());
}

}  // namespace

TEST_CASE("stream: progress events per output, then complete, ids counting up, then close") {
    sim_process sim({"--time-scale", "20"});  // ~1 s runs, four outputs ~0.2 s apart
    const std::string id = catalog_run(sim);
    auto r = stream(sim, id, 20s);
    CHECK(r.status == 200);
    CHECK(r.header("content-type").starts_with("text/event-stream"));
    CHECK(r.complete);  // the server ended the stream itself
    auto events = parse_sse(r.body);
    REQUIRE(events.size() >= 2);
    CHECK(events.back().event == "complete");
    std::set<std::int64_t> completed_counts;
    std::int64_t last_count = -1;
    for (std::size_t i = 0; i < events.size(); ++i) {
        const auto& e = events[i];
        CHECK(e.id == std::to_string(i + 1));
        if (e.event == "ping") continue;
        CHECK((e.event == "progress" || i + 1 == events.size()));
        auto v = parse_json(e.data);
        REQUIRE(v.is_object());
        CHECK_FALSE(v.as_object().contains("data"));  // bare ExecutionStatus, not enveloped
        CHECK(v.at("runId").as_string() == id);
        const auto n = v.at("progress").at("completedOutputs").as_int64();
        CHECK(n >= last_count);  // outputs finish one by one, never backwards
        last_count = n;
        completed_counts.insert(n);
    }
    auto final = parse_json(events.back().data);
    CHECK(final.at("status").as_string() == "completed");
    CHECK(final.at("progress").at("completedOutputs").as_int64() == 4);
    CHECK(completed_counts.size() >= 3);
    // The text output carries its text, the images a files-origin URL.
    const auto& outs = final.at("outputs").as_array();
    CHECK(outs[3].at("type").as_string() == "text");
    CHECK(outs[3].at("value").as_string().size() > 0);
    CHECK(std::string(outs[0].at("value").as_string()).starts_with(sim.files_url()));
    CHECK(stat(sim, "streams.peak") == 1);
    CHECK(stat(sim, "streams.current") == 0);
}

TEST_CASE("stream: pings every 15 API-seconds, and a timeout event after 10 API-minutes, then close") {
    sim_process sim({"--time-scale", "400", "--run-seconds", "1000000"});  // 10 min = 1.5 s real
    auto ids = submit_batch(sim, {"endless"});
    REQUIRE(ids.size() == 1);
    auto r = stream(sim, ids[0], 20s);
    CHECK(r.complete);
    auto events = parse_sse(r.body);
    REQUIRE(events.size() >= 3);
    CHECK(events.front().event == "progress");
    CHECK(events.back().event == "timeout");
    CHECK(parse_json(events.back().data).at("message").as_string() == "Stream timeout after 10 minutes");
    std::size_t pings = 0;
    for (const auto& e : events)
        if (e.event == "ping") {
            ++pings;
            CHECK(std::stoll(e.data) > 1'600'000'000);  // a Unix timestamp
        }
    CHECK(pings >= 10);  // 40 due in 10 minutes; a loaded machine may coalesce some
}

TEST_CASE("stream: a terminal run gets one final event and the stream closes; failed runs end with error") {
    sim_process sim({"--time-scale", "200"});
    auto ids = submit_batch(sim, {"quick"});
    REQUIRE(ids.size() == 1);
    sim.api("GET", "/v1/runs/" + ids[0] + "/wait?timeout=60");
    auto r = stream(sim, ids[0]);
    CHECK(r.complete);
    auto events = parse_sse(r.body);
    REQUIRE(events.size() == 1);
    CHECK(events[0].event == "complete");

    sim_process failing({"--time-scale", "200", "--fail-rate", "1"});
    auto fid = submit_batch(failing, {"doomed"});
    auto fr = stream(failing, fid.at(0));
    auto fe = parse_sse(fr.body);
    REQUIRE_FALSE(fe.empty());
    CHECK(fe.back().event == "error");
    auto v = parse_json(fe.back().data);
    CHECK(v.at("status").as_string() == "failed");
    CHECK(v.at("errorMessage").is_string());
    CHECK(v.at("outputs").as_array()[0].at("status").as_string() == "error");
    CHECK(v.at("outputs").as_array()[0].at("type").as_string() == "pending");
}

TEST_CASE("stream: Last-Event-ID is recorded and ids continue after it") {
    sim_process sim({"--time-scale", "200"});
    auto ids = submit_batch(sim, {"resume"});
    sim.api("GET", "/v1/runs/" + ids.at(0) + "/wait?timeout=60");
    auto r = stream(sim, ids[0], 10s, {{"Last-Event-ID", "41"}});
    auto events = parse_sse(r.body);
    REQUIRE(events.size() == 1);
    CHECK(events[0].id == "42");
    auto s = sim.stats();
    CHECK(s.at("last_event_id").as_string() == "41");
    CHECK(s.at("last_event_id_requests").as_int64() == 1);
}

TEST_CASE("stream faults: drop after N, stall, refuse 404/204/ctype") {
    sim_process sim({"--time-scale", "400", "--run-seconds", "1000000", "--sse-drop-after", "2"});
    auto ids = submit_batch(sim, {"faulty"});
    REQUIRE(ids.size() == 1);
    auto dropped = stream(sim, ids[0]);
    CHECK(dropped.status == 200);
    CHECK_FALSE(dropped.complete);  // cut off without the final chunk
    CHECK_FALSE(dropped.timed_out);
    CHECK(parse_sse(dropped.body).size() == 2);

    sim.set_faults({{"sse-drop-after", 0}, {"sse-stall", true}});
    auto stalled = stream(sim, ids[0], 500ms);
    CHECK(stalled.status == 200);  // headers arrive...
    CHECK(stalled.timed_out);      // ...then nothing, not even pings (20 would be due)
    CHECK(stalled.body.empty());

    sim.set_faults({{"sse-stall", false}, {"sse-refuse", "404"}});
    CHECK(stream(sim, ids[0]).status == 404);
    sim.set_faults({{"sse-refuse", "204"}});
    auto nc = stream(sim, ids[0]);
    CHECK(nc.status == 204);
    CHECK(nc.body.empty());
    sim.set_faults({{"sse-refuse", "ctype"}});
    auto ct = stream(sim, ids[0]);
    CHECK(ct.status == 200);
    CHECK(ct.header("content-type").starts_with("text/plain"));
    sim.set_faults({{"sse-refuse", nullptr}});
    auto back = stream(sim, ids[0], 10s, {}, [](std::string_view b) { return b.find("\n\n") != std::string_view::npos; });
    CHECK(back.header("content-type") == "text/event-stream");
}
