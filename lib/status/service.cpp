#include "status/service.hpp"

#include "jobs/job.hpp"
#include "ops/metrics.hpp"

#include <boost/url/parse.hpp>

#include <sstream>

#ifndef BRIEFD_VERSION
#define BRIEFD_VERSION "0.0.0"
#endif

namespace briefd::status {

namespace {

namespace json = boost::json;
using clock = std::chrono::steady_clock;
using verb = boost::beast::http::verb;

constexpr auto beat_period = std::chrono::seconds(1);
// A beat this late means something blocked the loop; /healthz says so for a while after.
constexpr auto stall_threshold = std::chrono::seconds(2);
constexpr auto stall_memory = std::chrono::seconds(30);

http::server_response json_response(unsigned status, json::value v) {
    http::server_response r;
    r.status = status;
    r.content_type = "application/json";
    r.body = jobs::to_text(std::move(v));
    r.body += '\n';
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
}

http::server_response error_response(unsigned status, std::string message) {
    return json_response(status, json::object{{"error", std::move(message)}});
}

http::server_response method_not_allowed(std::string_view allow) {
    auto r = error_response(405, "method not allowed");
    r.headers.emplace_back("Allow", std::string(allow));
    return r;
}

json::value or_null(const std::string& s) {
    return s.empty() ? json::value(nullptr) : json::value(s);
}

}  // namespace

json::value status_json(const pipeline::engine_status& st, std::string_view version,
                        std::int64_t uptime_s) {
    json::object daemon{{"version", version},
                        {"uptime_s", uptime_s},
                        {"state", st.stopping ? "stopping" : "running"},
                        {"spool", st.spool},
                        {"intake_paused", or_null(st.disk_problem)}};
    json::array providers;
    for (const auto& p : st.providers) {
        json::value budget = nullptr;
        if (p.budget_limit)
            budget = json::object{{"limit", p.budget_limit},
                                  {"remaining", p.budget_remaining},
                                  {"reset_in_s", p.budget_reset_in_s}};
        json::value paused = nullptr;
        if (!p.paused_reason.empty())
            paused =
                json::object{{"reason", p.paused_reason},
                             {"until_in_s", p.paused_until_in_s ? json::value(*p.paused_until_in_s)
                                                                : json::value(nullptr)}};
        providers.push_back(json::object{{"name", p.name},
                                         {"budget", std::move(budget)},
                                         {"paused", std::move(paused)},
                                         {"in_flight", p.in_flight},
                                         {"streams", p.streams},
                                         {"queued_items", p.queued_items},
                                         {"webhooks", p.webhooks.empty() ? json::value(nullptr)
                                                                         : json::value(p.webhooks)}});
    }
    json::array jobs;
    for (const auto& j : st.jobs) {
        json::array items;
        for (const auto& it : j.items)
            items.push_back(json::object{
                {"item", it.item},
                {"state", it.state},
                {"run_id", or_null(it.run_id)},
                {"progress", it.progress >= 0 ? json::value(it.progress) : json::value(nullptr)},
                {"outputs_saved", it.outputs_saved},
                {"error", or_null(it.error)}});
        jobs.push_back(json::object{{"job", j.job},
                                    {"provider", j.provider},
                                    {"state", j.state},
                                    {"items", std::move(items)}});
    }
    return json::object{{"daemon", std::move(daemon)},
                        {"providers", std::move(providers)},
                        {"jobs", std::move(jobs)}};
}

std::string status_text(const pipeline::engine_status& st, std::string_view version,
                        std::int64_t uptime_s) {
    return jobs::to_text(status_json(st, version, uptime_s));
}

http::server_options service::default_options() {
    http::server_options o;
    o.max_connections = 32;
    o.max_header_bytes = 8 * 1024;
    o.max_body_bytes = 4 * 1024;
    o.read_timeout = std::chrono::seconds(10);
    o.idle_timeout = std::chrono::seconds(60);  // above Prometheus' usual 15 s scrape interval
    o.write_timeout = std::chrono::seconds(10);
    return o;
}

service::service(asio::any_io_executor ex, pipeline::engine& eng, logger& log,
                 http::server_options opts)
    : engine_(eng),
      log_(log),
      started_(clock::now()),
      heartbeat_(ex),
      last_beat_(clock::now()),
      server_(
          ex, [this](const http::server_request& r) { return handle(r); }, opts) {}

service::~service() {
    stop();
}

void service::listen(const asio::ip::tcp::endpoint& ep) {
    server_.listen(ep);
    last_beat_ = clock::now();
    tick();
}

void service::stop() {
    if (stopped_) return;
    stopped_ = true;
    heartbeat_.cancel();
    server_.stop();
}

void service::tick() {
    heartbeat_.expires_after(beat_period);
    heartbeat_.async_wait([this](boost::system::error_code ec) {
        if (ec || stopped_) return;
        const auto now = clock::now();
        const auto lag = now - last_beat_ - beat_period;
        if (lag > stall_threshold) {
            worst_lag_ = lag;
            stalled_at_ = now;
            log_.warning(
                "status.loop_stalled",
                {{"ms", std::chrono::duration_cast<std::chrono::milliseconds>(lag).count()}});
        }
        last_beat_ = now;
        tick();
    });
}

http::server_response service::healthz() const {
    std::vector<std::string> problems;
    const auto now = clock::now();
    const auto since_beat = now - last_beat_;
    const bool recent_stall =
        stalled_at_ != clock::time_point{} && now - stalled_at_ < stall_memory;
    if (since_beat > beat_period + stall_threshold || recent_stall) {
        const auto lag =
            std::max(recent_stall ? worst_lag_ : clock::duration{}, since_beat - beat_period);
        problems.push_back(
            "event loop stalled for " +
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(lag).count()) +
            " ms");
    }
    const auto st = engine_.status();
    if (st.stopping) problems.push_back("stopping");
    if (!st.disk_problem.empty()) problems.push_back("intake paused: " + st.disk_problem);
    for (const auto& p : st.providers)
        if (!p.paused_reason.empty() && !p.paused_until_in_s)  // a 429 pause is routine
            problems.push_back(p.name + ": " + p.paused_reason);
    http::server_response r;
    r.headers.emplace_back("Cache-Control", "no-store");
    if (problems.empty()) {
        r.body = "ok\n";
        return r;
    }
    r.status = 503;
    for (const auto& p : problems) r.body += p + "\n";
    return r;
}

asio::awaitable<http::server_response> service::handle(const http::server_request& req) {
    auto parsed = boost::urls::parse_origin_form(req.target);
    if (!parsed) co_return error_response(400, "bad request target");
    std::vector<std::string> segs;
    for (auto s : parsed->segments()) segs.push_back(s);  // percent-decoded
    const bool get = req.method == verb::get || req.method == verb::head;

    if (segs.size() == 1 && segs[0] == "metrics") {
        if (!get) co_return method_not_allowed("GET, HEAD");
        http::server_response r;
        r.content_type = std::string(ops::metrics::content_type);
        engine_.metrics().registry.expose(r.body);
        co_return r;
    }
    if (segs.size() == 1 && segs[0] == "status") {
        if (!get) co_return method_not_allowed("GET, HEAD");
        const auto uptime =
            std::chrono::duration_cast<std::chrono::seconds>(clock::now() - started_);
        http::server_response r;
        r.content_type = "application/json";
        r.body = status_text(engine_.status(), BRIEFD_VERSION, uptime.count());
        r.body += '\n';
        r.headers.emplace_back("Cache-Control", "no-store");
        co_return r;
    }
    if (segs.size() == 1 && segs[0] == "healthz") {
        if (!get) co_return method_not_allowed("GET, HEAD");
        co_return healthz();
    }
    if (segs.size() == 3 && segs[0] == "jobs" && segs[2] == "cancel") {
        if (req.method != verb::post) co_return method_not_allowed("POST");
        const std::string job = segs[1];
        log_.notice("job.cancel_requested",
                    {{"job", job}, {"from", req.remote.address().to_string()}});
        auto r = co_await engine_.async_cancel(job);
        if (!r) co_return error_response(404, "no active job named " + job);
        co_return json_response(
            202,
            json::object{{"job", job}, {"cancelled_runs", r->cancelled_runs}, {"items", r->items}});
    }
    co_return error_response(404, "not found (try /metrics, /status, /healthz)");
}

std::unique_ptr<service> start(asio::any_io_executor ex, const config::config& cfg,
                               pipeline::engine& eng, logger& log) {
    if (cfg.status.listen.empty()) return nullptr;
    auto ep = http::parse_listen_endpoint(cfg.status.listen);
    if (!ep)
        throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                                "status.listen: not IP:port: " + cfg.status.listen);
    auto svc = std::make_unique<service>(ex, eng, log);
    try {
        svc->listen(*ep);
    } catch (const std::system_error& e) {
        if (cfg.status.listen_explicit) throw;
        log.warning("status.unavailable",
                    {{"address", cfg.status.listen},
                     {"error", e.code().message()},
                     {"action", "running without the status server; set status.listen"}});
        return nullptr;
    }
    std::ostringstream where;
    where << svc->local_endpoint();
    log.notice("status.listening", {{"address", where.str()}});
    return svc;
}

}  // namespace briefd::status
