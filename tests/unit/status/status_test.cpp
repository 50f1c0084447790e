// The status model (engine_status → the /status JSON ops-cli renders) and the status service's
// routes over a real loopback socket, against an engine that has not started (no provider is
// contacted). Every test that runs a loop has a watchdog; no test asserts on timings.
#include "status/service.hpp"

#include "http/client.hpp"
#include "ops/metrics.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <filesystem>
#include <random>

// GCC 12 false positive (GCC bug 109224), as in the http tests.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using briefd::pipeline::engine_status;

engine_status sample() {
    engine_status st;
    st.spool = "/var/spool/briefd";
    briefd::pipeline::provider_status lamina;
    lamina.name = "lamina";
    lamina.budget_limit = 100;
    lamina.budget_remaining = 37;
    lamina.budget_reset_in_s = 0;
    lamina.paused_reason = "rate limited (429)";
    lamina.paused_until_in_s = 30;
    lamina.in_flight = 3;
    lamina.streams = 14;
    lamina.queued_items = 5;
    briefd::pipeline::provider_status hrizn;
    hrizn.name = "hrizn";
    hrizn.paused_reason = "API key rejected (401)";
    st.providers = {lamina, hrizn};
    briefd::pipeline::job_status job;
    job.job = "sneakers";
    job.provider = "lamina";
    job.state = "active";
    job.items.push_back({0, "tracking", "run_ab12", 40, 1, ""});
    job.items.push_back({1, "failed", "", -1, 0, "cancelled by operator"});
    st.jobs = {job};
    return st;
}

/// Runs `test` on `ioc`, failing (not hanging) after `limit`.
void run_bounded(asio::io_context& ioc, std::function<asio::awaitable<void>()> test,
                 std::function<void()> cleanup, std::chrono::seconds limit = 10s) {
    bool finished = false;
    std::exception_ptr error;
    asio::co_spawn(ioc, test(), [&](std::exception_ptr e) {
        finished = true;
        error = e;
        ioc.stop();
    });
    ioc.run_for(limit);
    CHECK_MESSAGE(finished, "watchdog: the test did not finish in time");
    cleanup();
    ioc.restart();
    ioc.run_for(2s);
    if (error) std::rethrow_exception(error);
}

struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        path = std::filesystem::temp_directory_path() /
               ("briefd-status-test-" + std::to_string(std::random_device{}()));
        std::filesystem::create_directories(path);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

briefd::config::config test_config(const temp_dir& d) {
    auto r = briefd::config::load_from_string("spool: " + (d.path / "spool").string() +
                                                  "\noutputs: " + (d.path / "out").string() +
                                                  "\nproviders:\n  lamina:\n"
                                                  "    base_url: http://127.0.0.1:9\n"
                                                  "    api_key_env: X\n"
                                                  "status:\n  listen: 127.0.0.1:0\n",
                                              "test.yaml");
    REQUIRE(std::holds_alternative<briefd::config::config>(r));
    return std::get<briefd::config::config>(r);
}

}  // namespace

TEST_CASE("status model: the JSON shape ops-cli reads") {
    auto v = briefd::status::status_json(sample(), "0.1.0", 12);
    const auto& o = v.as_object();
    CHECK(o.at("daemon").at("version") == "0.1.0");
    CHECK(o.at("daemon").at("uptime_s") == 12);
    CHECK(o.at("daemon").at("state") == "running");
    CHECK(o.at("daemon").at("spool") == "/var/spool/briefd");
    CHECK(o.at("daemon").at("intake_paused").is_null());

    const auto& ps = o.at("providers").as_array();
    REQUIRE(ps.size() == 2);
    const auto& l = ps[0].as_object();
    CHECK(l.at("name") == "lamina");
    CHECK(l.at("budget").at("limit") == 100);
    CHECK(l.at("budget").at("remaining") == 37);
    CHECK(l.at("budget").at("reset_in_s") == 0);
    CHECK(l.at("paused").at("reason") == "rate limited (429)");
    CHECK(l.at("paused").at("until_in_s") == 30);
    CHECK(l.at("in_flight") == 3);
    CHECK(l.at("streams") == 14);
    CHECK(l.at("queued_items") == 5);
    const auto& h = ps[1].as_object();
    CHECK(h.at("budget").is_null());  // limit unknown
    CHECK(h.at("paused").at("reason") == "API key rejected (401)");
    CHECK(h.at("paused").at("until_in_s").is_null());  // until the key is fixed

    const auto& jobs = o.at("jobs").as_array();
    REQUIRE(jobs.size() == 1);
    CHECK(jobs[0].at("job") == "sneakers");
    CHECK(jobs[0].at("provider") == "lamina");
    CHECK(jobs[0].at("state") == "active");
    const auto& items = jobs[0].at("items").as_array();
    REQUIRE(items.size() == 2);
    CHECK(items[0].at("item") == 0);
    CHECK(items[0].at("state") == "tracking");
    CHECK(items[0].at("run_id") == "run_ab12");
    CHECK(items[0].at("progress") == 40);
    CHECK(items[0].at("outputs_saved") == 1);
    CHECK(items[0].at("error").is_null());
    CHECK(items[1].at("run_id").is_null());
    CHECK(items[1].at("progress").is_null());
    CHECK(items[1].at("error") == "cancelled by operator");

    auto stopping = sample();
    stopping.stopping = true;
    stopping.disk_problem = "cannot write outputs: No space left on device";
    auto s = briefd::status::status_json(stopping, "0.1.0", 1);
    CHECK(s.at("daemon").at("state") == "stopping");
    CHECK(s.at("daemon").at("intake_paused") == "cannot write outputs: No space left on device");
}

TEST_CASE("status model: a job id that is not UTF-8 still gives valid JSON") {
    auto st = sample();
    st.jobs[0].job = std::string("bad\xff\xfe") + "name";
    auto text = briefd::status::status_text(st, "0.1.0", 1);
    std::error_code ec;
    auto v = json::parse(text, ec);
    REQUIRE_FALSE(ec);
    CHECK(v.at("jobs").at(0).at("job").as_string().starts_with("bad"));
}

TEST_CASE("status service: /metrics, /status, /healthz, cancel and unknown routes") {
    temp_dir d;
    auto cfg = test_config(d);
    asio::io_context ioc;
    briefd::logger log([](briefd::log_level, std::string_view) {});
    briefd::pipeline::engine eng(ioc.get_executor(), cfg, {}, log);
    auto svc = briefd::status::start(ioc.get_executor(), cfg, eng, log);
    REQUIRE(svc);
    const auto port = svc->local_endpoint().port();
    REQUIRE(port != 0);
    briefd::http::client c(ioc.get_executor(), {});
    auto req = [&](boost::beast::http::verb m, std::string path) {
        briefd::http::request r;
        r.method = m;
        r.url = boost::urls::url("http://127.0.0.1:" + std::to_string(port) + path);
        r.timeout = 5s;
        return r;
    };
    using verb = boost::beast::http::verb;
    run_bounded(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [ec, m] = co_await c.async_request(req(verb::get, "/metrics"));
            REQUIRE_FALSE(ec);
            CHECK(m.status == 200);
            CHECK(m.headers[boost::beast::http::field::content_type] ==
                  briefd::ops::metrics::content_type);
            CHECK(m.body.find("# TYPE briefd_requests_total counter\n") != std::string::npos);
            CHECK(m.body.find("briefd_rate_budget_limit{provider=\"lamina\"} 100\n") !=
                  std::string::npos);
            CHECK(m.body.find("briefd_paused{provider=\"lamina\",reason=\"account\"} 0\n") !=
                  std::string::npos);

            auto [ec2, s] = co_await c.async_request(req(verb::get, "/status"));
            REQUIRE_FALSE(ec2);
            CHECK(s.status == 200);
            auto v = json::parse(s.body);
            CHECK(v.at("daemon").at("state") == "running");
            CHECK(v.at("providers").at(0).at("name") == "lamina");
            CHECK(v.at("jobs").as_array().empty());

            auto [ec3, h] = co_await c.async_request(req(verb::get, "/healthz"));
            REQUIRE_FALSE(ec3);
            CHECK(h.status == 200);
            CHECK(h.body == "ok\n");

            auto [ec4, x] = co_await c.async_request(req(verb::post, "/jobs/nope%2Fx/cancel"));
            REQUIRE_FALSE(ec4);
            CHECK(x.status == 404);
            CHECK(json::parse(x.body).at("error") == "no active job named nope/x");

            auto [ec5, g] = co_await c.async_request(req(verb::get, "/jobs/a/cancel"));
            REQUIRE_FALSE(ec5);
            CHECK(g.status == 405);
            CHECK(g.headers["Allow"] == "POST");
            auto [ec6, p] = co_await c.async_request(req(verb::post, "/metrics"));
            REQUIRE_FALSE(ec6);
            CHECK(p.status == 405);
            auto [ec7, n] = co_await c.async_request(req(verb::get, "/nothing"));
            REQUIRE_FALSE(ec7);
            CHECK(n.status == 404);

            eng.stop();
            auto [ec8, h2] = co_await c.async_request(req(verb::get, "/healthz"));
            REQUIRE_FALSE(ec8);
            CHECK(h2.status == 503);
            CHECK(h2.body.find("stopping") != std::string::npos);
        },
        [&] { svc->stop(); });
}

TEST_CASE("status service: an explicit address that is taken stops start-up; off starts nothing") {
    temp_dir d;
    auto cfg = test_config(d);
    asio::io_context ioc;
    briefd::logger log([](briefd::log_level, std::string_view) {});
    briefd::pipeline::engine eng(ioc.get_executor(), cfg, {}, log);
    auto first = briefd::status::start(ioc.get_executor(), cfg, eng, log);
    REQUIRE(first);
    auto taken = cfg;
    taken.status.listen = "127.0.0.1:" + std::to_string(first->local_endpoint().port());
    CHECK_THROWS_AS(briefd::status::start(ioc.get_executor(), taken, eng, log), std::system_error);
    // The default address is best effort: taken, the daemon runs without it.
    taken.status.listen_explicit = false;
    CHECK_FALSE(briefd::status::start(ioc.get_executor(), taken, eng, log));
    auto off = cfg;
    off.status.listen.clear();
    CHECK_FALSE(briefd::status::start(ioc.get_executor(), off, eng, log));
}
