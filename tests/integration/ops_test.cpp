// The status server of a real briefd against a real briefsim: /metrics counters agree with what
// briefsim counted (requests, 429s, downloads), /status shows a 429 pause and a rejected key with
// their reasons, POST /jobs/<job>/cancel cancels the runs at briefsim and files the job, and the
// exposition passes the real Prometheus tools: `promtool check metrics`, and a real Prometheus
// server scraping briefd during a run answers a query with the count briefsim saw.
#include "helpers.hpp"

#include "http/client.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <csignal>
#include <fstream>
#include <map>
#include <thread>

// GCC 12 false positive (GCC bug 109224), as in the http unit tests.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

using namespace briefd::it;
namespace asio = boost::asio;
namespace json = boost::json;
using verb = boost::beast::http::verb;

struct reply {
    unsigned status = 0;  ///< 0: no answer
    std::string body;
};

/// One request to 127.0.0.1:port, synchronously (a fresh loop; bounded by 15 s).
reply call(std::uint16_t port, verb method, const std::string& target) {
    asio::io_context ioc;
    briefd::http::client c(ioc.get_executor(), {});
    briefd::http::request r;
    r.method = method;
    r.url = boost::urls::url("http://127.0.0.1:" + std::to_string(port) + target);
    r.timeout = std::chrono::seconds(15);
    reply out;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [ec, res] = co_await c.async_request(r);
            if (!ec) out = {res.status, std::move(res.body)};
        },
        [](std::exception_ptr) {});
    ioc.run_for(std::chrono::seconds(20));
    return out;
}

reply get(std::uint16_t port, const std::string& target) {
    return call(port, verb::get, target);
}

/// Sum of the samples of `name` (exactly: no _bucket/_sum suffix matching) whose labels include
/// every pair of `want`.
double metric_sum(const std::string& exposition, const std::string& name,
                  const std::map<std::string, std::string>& want = {},
                  const std::map<std::string, std::string>& exclude = {}) {
    double sum = 0;
    std::istringstream in(exposition);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        const auto brace = line.find('{');
        const auto space = line.rfind(' ');
        const auto end_name = brace == std::string::npos ? space : brace;
        if (line.substr(0, end_name) != name) continue;
        std::map<std::string, std::string> labels;
        if (brace != std::string::npos) {
            // Our label values never hold '"' or ',' here (provider, endpoint, code).
            std::string body = line.substr(brace + 1, line.find('}') - brace - 1);
            std::istringstream ls(body);
            std::string pair;
            while (std::getline(ls, pair, ',')) {
                auto eq = pair.find('=');
                labels[pair.substr(0, eq)] = pair.substr(eq + 2, pair.size() - eq - 3);
            }
        }
        bool ok = true;
        for (const auto& [k, v] : want) ok = ok && labels[k] == v;
        for (const auto& [k, v] : exclude) ok = ok && labels[k] != v;
        if (ok) sum += std::stod(line.substr(space + 1));
    }
    return sum;
}

/// Polls `pred` every 100 ms until true or `timeout`.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return pred();
}

std::uint16_t status_port(const rig& r) {
    auto port = r.d->status_port();
    REQUIRE_MESSAGE(port != 0, r.context());
    return port;
}

/// A free loopback port (bound and released: good enough for a test's child).
std::uint16_t free_port() {
    asio::io_context ioc;
    asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

/// `name` found in PATH or in /usr/bin, else empty.
std::string find_tool(const std::string& name) {
    for (const char* dir : {"/usr/bin", "/usr/local/bin", "/bin"}) {
        fs::path p = fs::path(dir) / name;
        if (fs::exists(p)) return p.string();
    }
    return {};
}

}  // namespace

TEST_CASE("ops: /metrics counters agree with briefsim's own counters") {
    rig r;
    const auto port = status_port(r);
    // A short 429 storm from now (30 API seconds = half a real second) so the 429 counters have
    // something to agree on.
    r.sim->set_faults(json::object{{"storm-429", "0:30"}});
    r.d->drop("m1.json", content_brief("metrics one", 4));
    r.d->drop("m2.json", content_brief("metrics two", 3, "video"));

    // Scrape during the run: the exposition is valid throughout and counters only grow.
    double last_requests = 0;
    bool saw_active = false;
    while (!r.d->wait_filed(2, std::chrono::milliseconds(200))) {
        auto m = get(port, "/metrics");
        REQUIRE_MESSAGE(m.status == 200, r.context());
        const double req = metric_sum(m.body, "briefd_requests_total");
        CHECK(req >= last_requests);
        last_requests = req;
        saw_active = saw_active || metric_sum(m.body, "briefd_briefs_active") > 0;
    }
    REQUIRE_MESSAGE(r.d->done().size() == 2, r.context());
    CHECK(saw_active);

    auto m = get(port, "/metrics");
    REQUIRE(m.status == 200);
    const auto lamina = std::map<std::string, std::string>{{"provider", "lamina"}};
    // Every request briefd made reached briefsim and was counted by both: briefsim's total
    // covers its API and files origins, the downloads alone are its output requests.
    CHECK_MESSAGE(metric_sum(m.body, "briefd_requests_total", lamina) ==
                      static_cast<double>(r.stat("requests_total")),
                  m.body);
    CHECK(metric_sum(m.body, "briefd_requests_total", {{"endpoint", "download"}}) ==
          static_cast<double>(r.stat("output_requests")));
    CHECK(r.stat("responses_429") > 0);
    CHECK(metric_sum(m.body, "briefd_rate_limited_total", lamina) ==
          static_cast<double>(r.stat("responses_429")));
    CHECK(metric_sum(m.body, "briefd_requests_total", {{"provider", "lamina"}, {"code", "429"}}) ==
          static_cast<double>(r.stat("responses_429")));
    CHECK(metric_sum(m.body, "briefd_outputs_total", {{"result", "saved"}}) ==
          static_cast<double>(r.stat("output_requests")));
    CHECK(metric_sum(m.body, "briefd_downloaded_bytes_total") > 0);
    CHECK(metric_sum(m.body, "briefd_briefs_filed_total", {{"result", "done"}}) == 2);
    CHECK(metric_sum(m.body, "briefd_brief_duration_seconds_count") == 2);
    CHECK(metric_sum(m.body, "briefd_briefs_active") == 0);
    CHECK(metric_sum(m.body, "briefd_request_duration_seconds_count") > 0);
}

TEST_CASE("ops: /status shows a 429 pause with its reason; /healthz stays 200") {
    rig_options o;
    // 429 for every request from now for 600 API seconds (10 real seconds).
    o.sim_args = {"--storm-429", "0:600"};
    rig r(o);
    const auto port = status_port(r);
    r.d->drop("paused.json", content_brief("paused", 1));
    json::value provider;
    const bool paused = eventually(
        [&] {
            auto s = get(port, "/status");
            if (s.status != 200) return false;
            provider = json::parse(s.body).at("providers").at(0);
            return !provider.at("paused").is_null();
        },
        std::chrono::seconds(8));
    REQUIRE_MESSAGE(paused, r.context());
    CHECK(provider.at("name") == "lamina");
    CHECK(provider.at("paused").at("reason") == "rate limited (429)");
    CHECK(provider.at("paused").at("until_in_s").as_int64() > 0);
    auto h = get(port, "/healthz");
    CHECK(h.status == 200);  // a 429 pause is routine, not ill health
    auto m = get(port, "/metrics");
    CHECK(metric_sum(m.body, "briefd_paused",
                     {{"provider", "lamina"}, {"reason", "rate_limited"}}) == 1);
}

TEST_CASE("ops: /status and /healthz show a rejected key") {
    rig_options o;
    o.daemon.api_key = "lma_wrong_key_for_this_test";
    rig r(o);
    const auto port = status_port(r);
    r.d->drop("rejected.json", content_brief("rejected", 2));
    json::value status;
    const bool blocked = eventually(
        [&] {
            auto s = get(port, "/status");
            if (s.status != 200) return false;
            status = json::parse(s.body);
            return !status.at("providers").at(0).at("paused").is_null();
        },
        std::chrono::seconds(10));
    REQUIRE_MESSAGE(blocked, r.context());
    const auto& p = status.at("providers").at(0);
    CHECK(
        std::string(p.at("paused").at("reason").as_string()).starts_with("API key rejected (401)"));
    CHECK(p.at("paused").at("until_in_s").is_null());
    // The brief's items wait (nothing fails while the key is rejected).
    REQUIRE(status.at("jobs").as_array().size() == 1);
    CHECK(status.at("jobs").at(0).at("job") == "rejected");
    auto h = get(port, "/healthz");
    CHECK(h.status == 503);
    CHECK(h.body.find("lamina: API key rejected (401)") != std::string::npos);
}

TEST_CASE("ops: cancel a job end to end — runs cancelled at the provider, job filed as cancelled") {
    rig_options o;
    o.sim_args = {"--run-seconds", "6000"};  // 100 real seconds: still running when cancelled
    rig r(o);
    const auto port = status_port(r);
    r.d->drop("long.json", content_brief("long runs", 3));
    json::value job;
    const bool tracking = eventually(
        [&] {
            auto s = get(port, "/status");
            if (s.status != 200) return false;
            auto v = json::parse(s.body);
            if (v.at("jobs").as_array().empty()) return false;
            job = v.at("jobs").at(0);
            for (const auto& it : job.at("items").as_array())
                if (it.at("state") != "tracking" || it.at("run_id").is_null()) return false;
            return true;
        },
        std::chrono::seconds(15));
    REQUIRE_MESSAGE(tracking, r.context());
    CHECK(job.at("job") == "long");
    // Run tracking's own count of what it follows: three runs, each on its open event stream, in
    // /metrics and in /status.
    CHECK(eventually(
        [&] {
            auto m = get(port, "/metrics").body;
            return metric_sum(m, "briefd_runs_tracked") == 3 &&
                   metric_sum(m, "briefd_streams_open", {{"provider", "lamina"}}) == 3;
        },
        std::chrono::seconds(10)));
    {
        auto s = json::parse(get(port, "/status").body);
        std::int64_t streams = -1;
        for (const auto& p : s.at("providers").as_array())
            if (p.at("name") == "lamina") streams = p.at("streams").to_number<std::int64_t>();
        CHECK(streams == 3);
    }

    auto c = call(port, verb::post, "/jobs/long/cancel");
    REQUIRE_MESSAGE(c.status == 202, (c.body + r.context()));
    auto v = json::parse(c.body);
    CHECK(v.at("job") == "long");
    CHECK(v.at("cancelled_runs") == 3);
    CHECK(v.at("items") == 3);
    CHECK(r.stat("runs_cancelled") == 3);

    REQUIRE_MESSAGE(r.d->wait_filed(1, filed_timeout), r.context());
    REQUIRE(r.d->failed() == std::vector<std::string>{"long.json"});
    auto err = r.d->error_file("long.json");
    const auto text = json::serialize(err);
    CHECK(text.find("cancelled by operator") != std::string::npos);
    CHECK(r.d->wait_log("job.cancelled job=long", std::chrono::seconds(1)));

    auto again = call(port, verb::post, "/jobs/long/cancel");
    CHECK(again.status == 404);
    CHECK(json::parse(again.body).at("error") == "no active job named long");
    auto m = get(port, "/metrics");
    CHECK(metric_sum(m.body, "briefd_runs_cancelled_total") == 3);
    CHECK(metric_sum(m.body, "briefd_briefs_filed_total", {{"result", "cancelled"}}) == 1);
    // The runs are no longer followed: no stream stays open for them.
    CHECK(eventually(
        [&] {
            auto m = get(port, "/metrics").body;
            return metric_sum(m, "briefd_streams_open") == 0 &&
                   metric_sum(m, "briefd_runs_tracked") == 0;
        },
        std::chrono::seconds(10)));
}

TEST_CASE("ops: promtool accepts the exposition; a real Prometheus scrapes briefd during a run") {
    const auto promtool = find_tool("promtool");
    const auto prometheus = find_tool("prometheus");
    if (promtool.empty() || prometheus.empty()) {
        MESSAGE("skipped: promtool/prometheus not installed (Debian package prometheus)");
        return;
    }
    rig r;
    const auto port = status_port(r);

    // A real Prometheus scraping briefd every second, data in the test's temp dir.
    const auto prom_port = free_port();
    const auto cfg = r.tmp.path() / "prometheus.yml";
    {
        std::ofstream y(cfg);
        y << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
          << "scrape_configs:\n  - job_name: briefd\n    scrape_interval: 1s\n"
          << "    static_configs:\n      - targets: ['127.0.0.1:" << port << "']\n";
    }
    briefd::testing::process_options po;
    po.stderr_file = r.tmp.path() / "prometheus.log";
    briefd::testing::child_process prom(
        {prometheus, "--config.file=" + cfg.string(),
         "--storage.tsdb.path=" + (r.tmp.path() / "prometheus-data").string(),
         "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
        po);
    REQUIRE_MESSAGE(eventually([&] { return get(prom_port, "/-/ready").status == 200; },
                               std::chrono::seconds(20)),
                    "prometheus did not become ready");

    r.d->drop("scraped.json", content_brief("scraped", 5));
    REQUIRE_MESSAGE(r.d->wait_filed(1, filed_timeout), r.context());

    // promtool lints the exposition as served after the run (every family has series by now).
    auto m = get(port, "/metrics");
    REQUIRE(m.status == 200);
    const auto scrape = r.tmp.path() / "scrape.txt";
    std::ofstream(scrape) << m.body;
    briefd::testing::child_process check(
        {"/bin/sh", "-c", promtool + " check metrics < '" + scrape.string() + "' 2>&1"});
    std::string out;
    while (auto line = check.read_line(std::chrono::seconds(10))) out += *line + "\n";
    auto st = check.wait(std::chrono::seconds(10));
    REQUIRE(st);
    CHECK_MESSAGE(st->success(), (std::string("promtool check metrics: ") + out));

    // Prometheus' view of the downloads counter catches up with briefsim's within a few scrapes.
    const auto want = r.stat("output_requests");
    REQUIRE(want > 0);
    double seen = -1;
    const bool agreed = eventually(
        [&] {
            auto q = get(
                prom_port,
                "/api/v1/query?query=sum(briefd_requests_total%7Bendpoint%3D%22download%22%7D)");
            if (q.status != 200) return false;
            auto v = json::parse(q.body);
            const auto& result = v.at("data").at("result").as_array();
            if (result.empty()) return false;
            seen = std::stod(std::string(result.at(0).at("value").at(1).as_string()));
            return seen == static_cast<double>(want);
        },
        std::chrono::seconds(20));
    CHECK_MESSAGE(
        agreed, ("prometheus saw " + std::to_string(seen) + ", briefsim " + std::to_string(want)));
    prom.signal(SIGTERM);
    prom.wait(std::chrono::seconds(10));
}
