// scheduler::host in-process against a real briefsim: the gate every API request passes through.
// Checks the budget holds under concurrency, a 429 pauses the whole host, a rejected key blocks
// without failing anything, tracking and submission share the budget, and with Layers' bucket
// classes a 429 of one class holds back that class alone.
#include "http/client.hpp"
#include "providers/lamina/api.hpp"
#include "providers/layers/layers.hpp"
#include "scheduler/host.hpp"
#include "support/sim_process.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <doctest/doctest.h>

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using briefd::scheduler::priority;
using briefd::scheduler::retry_mode;

// 60 API-seconds per real second: briefsim's rate window of 60 API-s lasts exactly 1 s.
constexpr int scale = 60;

struct fixture {
    briefd::testing::sim_process sim;
    asio::io_context io;
    briefd::logger log{[](briefd::log_level, std::string_view) {}, briefd::log_level::error};
    briefd::http::client client{io.get_executor(), {}};
    std::unique_ptr<briefd::scheduler::host> host;
    boost::urls::url base;

    explicit fixture(std::vector<std::string> sim_args, std::size_t requests, std::string key = {})
        : sim(std::move(sim_args)) {
        base = *boost::urls::parse_uri(sim.api_url());
        client.set_credential(*briefd::http::origin::from_url(base), "x-api-key",
                              briefd::secret(key.empty() ? sim.api_key() : key));
        briefd::scheduler::host_options o;
        o.requests = requests;
        o.window = 1s;
        o.backoff = {50ms, 500ms};
        o.probe_interval = 200ms;
        o.probe = get("/v1/account/usage");
        host = std::make_unique<briefd::scheduler::host>(io.get_executor(), client, log, "test", o,
                                                         &briefd::providers::lamina::classify_error, 7);
    }
    briefd::http::request get(std::string_view path) const {
        briefd::http::request r;
        r.url = base;
        r.url.set_path(path);
        r.timeout = 5s;
        return r;
    }
    std::int64_t stat(std::string_view key) const {
        auto s = sim.stats();
        auto* v = s.as_object().if_contains(key);
        return v && v->is_int64() ? v->get_int64() : v && v->is_uint64() ? static_cast<std::int64_t>(v->get_uint64()) : -1;
    }
    // Runs the loop until every spawned task is done; the watchdog ends a hang as a test failure.
    void run(std::chrono::seconds watchdog) { io.run_for(watchdog); }
};

std::vector<std::string> sim_args(int limit) {
    return {"--time-scale", std::to_string(scale), "--rate-limit", std::to_string(limit)};
}

}  // namespace

TEST_CASE("scheduler: concurrent callers never exceed the host's budget") {
    fixture f(sim_args(10), 10);
    constexpr int calls = 35;
    int ok = 0, done = 0;
    for (int i = 0; i < calls; ++i) {
        asio::co_spawn(f.io, [&]() -> asio::awaitable<void> {
            auto r = co_await f.host->async_call(f.get("/v1/apps"), priority::submit, retry_mode::idempotent);
            if (!r.ec && r.resp.status == 200) ++ok;
            if (++done == calls) f.io.stop();
        }, asio::detached);
    }
    f.run(30s);
    CHECK(done == calls);
    CHECK(ok == calls);
    CHECK(f.stat("responses_429") == 0);
    CHECK(f.stat("over_limit") == 0);
    CHECK(f.host->stats().sent == calls);
}

TEST_CASE("scheduler: a 429 storm pauses the whole host instead of every caller retrying on its own") {
    fixture f(sim_args(100), 100);
    // One real second of 429s for every /v1 request, starting now (storm values are API seconds).
    f.sim.set_faults(json::object{{"storm-429", "0:" + std::to_string(scale)}});
    constexpr int calls = 10;
    int ok = 0, done = 0;
    for (int i = 0; i < calls; ++i) {
        asio::co_spawn(f.io, [&]() -> asio::awaitable<void> {
            auto r = co_await f.host->async_call(f.get("/v1/apps"), priority::track, retry_mode::idempotent);
            if (!r.ec && r.resp.status == 200) ++ok;
            if (++done == calls) f.io.stop();
        }, asio::detached);
    }
    f.run(30s);
    CHECK(done == calls);
    CHECK(ok == calls);                       // a 429 never fails a call
    CHECK(f.stat("storm_429") > 0);
    // Each caller met the storm at most once: after the first 429 the host waited for Retry-After.
    CHECK(f.host->stats().responses_429 <= calls);
    CHECK(f.host->stats().responses_429 == f.stat("storm_429"));
}

TEST_CASE("scheduler: a rejected key blocks the host without failing the call; resume lets it through") {
    fixture f(sim_args(100), 100, "lma_wrong_key");
    bool finished = false, blocked_seen = false;
    briefd::scheduler::call_result result;
    asio::co_spawn(f.io, [&]() -> asio::awaitable<void> {
        result = co_await f.host->async_call(f.get("/v1/apps"), priority::submit, retry_mode::idempotent);
        finished = true;
        f.io.stop();
    }, asio::detached);
    asio::steady_timer fix(f.io);
    fix.expires_after(700ms);
    fix.async_wait([&](boost::system::error_code) {
        blocked_seen = f.host->blocked() && !finished;
        f.client.set_credential(*briefd::http::origin::from_url(f.base), "x-api-key",
                                briefd::secret(f.sim.api_key()));
        f.host->resume();
    });
    f.run(20s);
    CHECK(blocked_seen);
    REQUIRE(finished);
    CHECK_FALSE(result.ec);
    CHECK(result.resp.status == 200);
    CHECK_FALSE(f.host->blocked());
}

TEST_CASE("scheduler: tracking and submission share a tight budget; neither starves") {
    fixture f(sim_args(3), 3);
    std::vector<priority> order;
    constexpr int per_class = 6;
    int done = 0;
    for (auto p : {priority::submit, priority::track}) {
        for (int i = 0; i < per_class; ++i) {
            asio::co_spawn(f.io, [&, p]() -> asio::awaitable<void> {
                if (!co_await f.host->async_acquire(p)) order.push_back(p);
                if (++done == 2 * per_class) f.io.stop();
            }, asio::detached);
        }
    }
    f.run(30s);
    REQUIRE(order.size() == 2 * per_class);
    // All submissions were queued before any tracking request, yet the first window already
    // serves both classes, tracking first (2 turns for every submission turn).
    std::vector<priority> first(order.begin(), order.begin() + 3);
    CHECK(std::count(first.begin(), first.end(), priority::track) == 2);
    CHECK(std::count(first.begin(), first.end(), priority::submit) == 1);
}

TEST_CASE("scheduler: Layers' classes — a long-running 429 pauses job starts only; polls go on") {
    // briefsim allows 2 generates per window of 5 real seconds; briefd is configured for 20, so
    // half of the first burst of starts meets a 429 (class long-running) and waits seconds, while
    // 30 reads run in the read-light bucket.
    briefd::testing::sim_process sim({"--time-scale", std::to_string(scale), "--layers-long-rpm", "2",
                                      "--layers-window-s", std::to_string(5 * scale)});
    asio::io_context io;
    briefd::logger log{[](briefd::log_level, std::string_view) {}, briefd::log_level::error};
    briefd::http::client client{io.get_executor(), {}};
    auto base = *boost::urls::parse_uri(sim.layers_url());
    client.set_credential(*briefd::http::origin::from_url(base), "Authorization",
                          briefd::secret("Bearer " + sim.layers_key()));
    const auto* api = briefd::providers::find("layers");
    REQUIRE(api);
    auto request = [&](const briefd::providers::api_call& c) {
        briefd::http::request r;
        r.method = c.method;
        r.url = briefd::providers::url_for(base, c);
        if (!c.body.empty()) r.headers.emplace_back("Content-Type", "application/json");
        r.body = c.body;
        r.timeout = 5s;
        return r;
    };
    briefd::scheduler::host_options o;
    o.requests = 120;
    o.window = 5s;
    o.classes = {{"write-light", {60, 5s, 0}}, {"long-running", {20, 5s, 0}}};
    o.class_header = std::string(api->bucket_class_header());
    o.bucket_of = [&](const briefd::http::request& r) {
        briefd::providers::api_call c;
        c.method = r.method;
        for (auto seg : boost::urls::url_view(r.url).segments()) c.segments.emplace_back(seg);
        return std::string(api->bucket_class(c));
    };
    o.backoff = {50ms, 500ms};
    o.probe = request(api->probe());
    briefd::scheduler::host host(
        io.get_executor(), client, log, "layers", o,
        [&](unsigned st, std::string_view body, briefd::diagnostics& d) { return api->classify_error(st, body, d); },
        7);

    constexpr int starts = 4, reads = 30;
    int starts_done = 0, reads_done = 0, reads_before_late_start = -1;
    std::vector<int> ok;
    auto finish = [&] {
        if (starts_done == starts && reads_done == reads) io.stop();
    };
    for (int i = 0; i < starts; ++i) {
        asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
            briefd::providers::api_call c{boost::beast::http::verb::post,
                                          {"v1", "projects", "0b9f5d1e-7c1a-4d3e-8f2a-5b6c7d8e9f00", "content"},
                                          {},
                                          R"({"brief":{"topic":"class )" + std::to_string(i) + R"("}})"};
            auto r = co_await host.async_call(request(c), priority::submit, retry_mode::submission);
            ok.push_back(!r.ec && r.resp.status == 202);
            // The third start can only have gone after the long-running pause.
            if (++starts_done == 3) reads_before_late_start = reads_done;
            finish();
        }, asio::detached);
    }
    for (int i = 0; i < reads; ++i) {
        asio::co_spawn(io, [&]() -> asio::awaitable<void> {
            auto r = co_await host.async_call(request(api->probe()), priority::track, retry_mode::idempotent);
            if (!r.ec && r.resp.status == 200) ++reads_done;
            finish();
        }, asio::detached);
    }
    io.run_for(30s);
    REQUIRE(starts_done == starts);
    CHECK(reads_done == reads);
    CHECK(std::count(ok.begin(), ok.end(), 1) == starts);  // every start went through in the end
    auto st = sim.stats().at("layers").as_object();
    const auto& over = st.at("over_limit");
    CHECK(over.at("long-running").to_number<std::int64_t>() > 0);  // the class did pause...
    CHECK(over.at("read-light").to_number<std::int64_t>() == 0);
    CHECK(reads_before_late_start == reads);  // ...and every read was served meanwhile
}
