// Webhook tracking end to end (DESIGN §12 "Webhooks", issue 10): briefd's receiver on loopback,
// briefsim as the provider. Here the test signs Hrizn deliveries itself (HMAC-SHA256 with the
// subscription secret, as the provider does) and POSTs them with a real HTTP client: runs that
// finish by delivery alone, every kind of hostile request, duplicates, reordering, and a lost
// delivery recovered by the grace check.
#include "integration/helpers.hpp"

#include "support/webhook_sign.hpp"

#include <doctest/doctest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <csignal>
#include <fstream>
#include <thread>

namespace briefd::it {

namespace json = boost::json;

namespace {

constexpr const char* hrizn_status_route = "GET /v1/public/content/{id}";
constexpr const char* hrizn_list_route = "GET /v1/public/content";
const std::string hrizn_secret = "hzwh_it_secret_0f3a";

/// A port nobody listens on right now (bound then released; loopback only).
unsigned short free_port() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

struct hook_rig {
    unsigned short port = free_port();
    std::string base = "http://127.0.0.1:" + std::to_string(port) + "/hooks";
    std::unique_ptr<rig> r;

    explicit hook_rig(int grace_s, std::string extra_top = {},
                      std::vector<std::string> sim_args = {}) {
        rig_options o;
        o.hrizn = true;
        o.sim_args = std::move(sim_args);
        o.sim_args.insert(o.sim_args.end(), {"--hrizn-webhook-secret", hrizn_secret});
        for (auto& a : o.sim_args)
            if (a.starts_with("@HOOKS@"))
                a = base + a.substr(7);  // a subscription URL: this briefd
        o.daemon.top_yaml = "webhooks:\n  listen: 127.0.0.1:" + std::to_string(port) +
                            "\n  public_url: " + base + "\n  grace_s: " + std::to_string(grace_s) +
                            "\n  max_body_bytes: 65536\n" + extra_top;
        // The secret file is written before briefd starts (daemon_process starts it at once).
        secret_dir = std::make_unique<temp_dir>();
        auto file = secret_dir->path() / "hrizn-webhook";
        std::ofstream(file) << hrizn_secret << "\n";
        o.daemon.hrizn_yaml = "    webhook_secret_file: " + file.string() + "\n";
        r = std::make_unique<rig>(o);
    }
    std::unique_ptr<temp_dir> secret_dir;

    testing::http_reply post(const std::string& path, const std::string& body,
                             std::vector<std::pair<std::string, std::string>> headers,
                             const std::string& method = "POST") const {
        testing::http_request_options o;
        o.method = method;
        o.headers = std::move(headers);
        o.headers.emplace_back("Content-Type", "application/json");
        o.body = body;
        return testing::http_fetch("http://127.0.0.1:" + std::to_string(port) + path, o);
    }
    /// A delivery signed with `secret` to /hooks/hrizn.
    testing::http_reply deliver(const std::string& body,
                                const std::string& secret = hrizn_secret) const {
        return post("/hooks/hrizn", body,
                    {{"X-Webhook-Signature", testing::hrizn_signature(secret, body)}});
    }
};

std::string hrizn_event(const std::string& id, const std::string& type,
                        const std::string& article) {
    return json::serialize(
        json::object{{"id", id},
                     {"type", type},
                     {"site_id", "00000000-0000-0000-0000-000000000000"},
                     {"data", json::object{{"article_id", article}, {"article_type", "basic"}}},
                     {"timestamp", "2026-02-10T12:00:00.000Z"},
                     {"api_version", "2025-01-01"}});
}

/// The run ids of job `job` once every item has one (reads active/<job>.state.json).
std::vector<std::string> run_ids(const daemon_process& d, const std::string& job, std::size_t n) {
    const auto file = d.spool() / "active" / (job + ".state.json");
    for (int i = 0; i < 400; ++i) {
        std::error_code ec;
        auto v = json::parse(read_file(file), ec);
        if (!ec && v.is_object()) {
            std::vector<std::string> ids;
            for (const auto& it : v.at("items").as_array())
                if (auto* id = it.as_object().if_contains("run_id");
                    id && id->is_string() && !id->as_string().empty())
                    ids.emplace_back(id->as_string());
            if (ids.size() == n) return ids;
        }
        std::this_thread::sleep_for(50ms);
    }
    return {};
}

/// Waits (asking briefsim as a client would) until each article is complete; returns the number
/// of status requests this made, so the test can tell its own from briefd's.
std::uint64_t wait_complete(const sim_process& sim, const std::vector<std::string>& ids) {
    std::uint64_t asked = 0;
    for (const auto& id : ids) {
        for (int i = 0; i < 600; ++i) {
            ++asked;
            auto rep = sim.hrizn("GET", "/content/" + id);
            std::error_code ec;
            auto v = json::parse(rep.body, ec);
            const auto* d = ec || !v.is_object() ? nullptr : v.as_object().if_contains("data");
            const auto* st = d && d->is_object() ? d->as_object().if_contains("status") : nullptr;
            if (st && st->is_string() && st->as_string() == "complete") break;
            std::this_thread::sleep_for(50ms);
        }
    }
    return asked;
}

}  // namespace

namespace {
/// What /status says of `provider`'s webhooks: "on", "fallback", or "(none)" when null.
std::string status_webhooks(const rig& r, std::string_view provider) {
    auto st = briefd::testing::http_fetch("http://127.0.0.1:" + std::to_string(r.d->status_port()) +
                                          "/status");
    REQUIRE_MESSAGE(st.status == 200, st.body);
    const auto body = json::parse(st.body);
    for (const auto& p : body.at("providers").as_array())
        if (p.at("name").as_string() == provider)
            return p.at("webhooks").is_string() ? std::string(p.at("webhooks").as_string())
                                                : "(none)";
    return "(provider absent)";
}
}  // namespace

TEST_CASE("webhooks: Hrizn articles finish by signed delivery alone (no list sweeps, no polls)") {
    hook_rig h(3600);  // no grace check during the test
    auto& r = *h.r;
    RIG_CONTEXT(r);
    REQUIRE(r.d->wait_log("webhooks.listening", 5s));
    r.d->drop("hooked.json", hrizn_brief("hooked", 3));
    auto ids = run_ids(*r.d, "hooked", 3);
    REQUIRE(ids.size() == 3);
    const auto mine = wait_complete(*r.sim, ids);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        auto rep =
            h.deliver(hrizn_event("evt_it_" + std::to_string(i), "content.completed", ids[i]));
        CHECK(rep.status == 200);
    }
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"hooked.json"});
    CHECK(check_outputs(*r.d, "hooked") == 6);
    // Tracking cost nothing: every status request briefsim saw was the test's own.
    CHECK(r.hrizn_route_count(hrizn_status_route) == mine);
    CHECK(r.hrizn_route_count(hrizn_list_route) == 0);
    CHECK(r.d->log().find("channel=webhook") != std::string::npos);
    CHECK(status_webhooks(r, "hrizn") == "on");
    // The secret never reaches the log.
    CHECK(r.d->log().find(hrizn_secret) == std::string::npos);
}

TEST_CASE(
    "webhooks: hostile requests get 401/404/405/413 and change nothing; duplicates and stale order "
    "are ignored") {
    hook_rig h(3600);
    auto& r = *h.r;
    RIG_CONTEXT(r);
    REQUIRE(r.d->wait_log("webhooks.listening", 5s));
    r.d->drop("hostile.json", hrizn_brief("hostile", 1));
    auto ids = run_ids(*r.d, "hostile", 1);
    REQUIRE(ids.size() == 1);
    const auto completed = hrizn_event("evt_done", "content.completed", ids[0]);
    const auto failed = hrizn_event("evt_fail", "content.failed", ids[0]);

    // Unsigned, forged (wrong secret), tampered body, garbage header: 401, nothing happens.
    CHECK(h.post("/hooks/hrizn", failed, {}).status == 401);
    CHECK(h.deliver(failed, "not the secret").status == 401);
    CHECK(h.post("/hooks/hrizn", failed,
                 {{"X-Webhook-Signature", testing::hrizn_signature(hrizn_secret, completed)}})
              .status == 401);
    CHECK(h.post("/hooks/hrizn", failed, {{"X-Webhook-Signature", "sha256=zz"}}).status == 401);
    // Wrong method, wrong path, a provider without webhooks here, oversized.
    CHECK(h.post("/hooks/hrizn", failed, {}, "GET").status == 405);
    CHECK(h.post("/hooks/nobody", failed, {}).status == 404);
    CHECK(h.post("/elsewhere/hrizn", failed, {}).status == 404);
    CHECK(h.post("/hooks/layers", failed, {}).status == 404);
    std::string big = completed;
    big.insert(big.size() - 1, ",\"pad\":\"" + std::string(70000, 'x') + "\"");
    CHECK(h.deliver(big).status == 413);
    std::this_thread::sleep_for(300ms);
    CHECK(r.d->done().empty());
    CHECK(r.d->failed().empty());
    CHECK(r.d->log().find("webhook.refused") != std::string::npos);

    wait_complete(*r.sim, ids);
    // The real one, then the same again (a retry), then an older event (reordered): one effect.
    CHECK(h.deliver(completed).status == 200);
    CHECK(h.deliver(completed).status == 200);
    CHECK(h.deliver(hrizn_event("evt_progress", "content.progress", ids[0])).status == 200);
    // A contradicting terminal event after the fact does not move the finished run.
    CHECK(h.deliver(failed).status == 200);
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"hostile.json"});
    CHECK(r.d->manifest("hostile").at("status").as_string() == "completed");
    CHECK(r.hrizn_route_count("GET /v1/public/content/{id}/html") == 1);
    CHECK(r.hrizn_route_count("GET /v1/public/content/{id}/components") == 1);
    // /metrics counts what the receiver did: 4 refused signatures (the 404/405/413s never reach
    // verification), 3 new deliveries accepted, 1 duplicate.
    const auto m = briefd::testing::http_fetch(
        "http://127.0.0.1:" + std::to_string(r.d->status_port()) + "/metrics");
    REQUIRE(m.status == 200);
    const auto sample = [&](std::string_view labels) {
        const auto line = "briefd_webhook_deliveries_total{" + std::string(labels) + "} ";
        const auto at = m.body.find(line);
        return at == std::string::npos
                   ? std::string("(absent)")
                   : m.body.substr(at + line.size(), m.body.find('\n', at) - at - line.size());
    };
    CHECK(sample(R"(provider="hrizn",result="refused")") == "4");
    CHECK(sample(R"(provider="hrizn",result="accepted")") == "3");
    CHECK(sample(R"(provider="hrizn",result="duplicate")") == "1");
    CHECK(m.body.find("briefd_webhook_grace_checks_total{provider=\"hrizn\"} 0") !=
          std::string::npos);
}

TEST_CASE("webhooks: a lost delivery costs one status request at the grace check, not the run") {
    hook_rig h(2);  // grace 2 s
    auto& r = *h.r;
    RIG_CONTEXT(r);
    r.d->drop("lost.json", hrizn_brief("lost", 2));
    auto ids = run_ids(*r.d, "lost", 2);
    REQUIRE(ids.size() == 2);
    // No delivery at all: the grace checks (one request per run and grace period) finish them.
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"lost.json"});
    CHECK(check_outputs(*r.d, "lost") == 4);
    CHECK(r.d->log().find("webhooks.delivery_missing") != std::string::npos);
    CHECK(r.hrizn_route_count(hrizn_list_route) == 0);
    // A few checks per run at most (articles take a few seconds here), never a 500 ms poll loop.
    CHECK(r.hrizn_route_count(hrizn_status_route) <= 2 * 6);
}

TEST_CASE("webhooks: when deliveries stop, the provider falls back to request-based tracking") {
    hook_rig h(1, "  fallback_after: 2\n");
    auto& r = *h.r;
    RIG_CONTEXT(r);
    r.d->drop("first.json", hrizn_brief("first", 2));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    REQUIRE(r.d->wait_log("webhooks.fallback", 5s));
    // The operator sees it in /status, not only in the log.
    CHECK(status_webhooks(r, "hrizn") == "fallback");
    // Now tracked by the list again.
    r.d->drop("second.json", hrizn_brief("second", 2));
    REQUIRE(r.d->wait_filed(2, filed_timeout));
    CHECK(r.d->failed().empty());
    CHECK(r.hrizn_route_count(hrizn_list_route) >= 1);
}

// ---- briefsim delivers (signed Ed25519 for Lamina, HMAC for Hrizn) --------------------------

namespace {
constexpr const char* app_id = "ec7ec3ce-69b4-43c9-8eea-fe9752d679a4";

std::string app_brief(std::size_t n) {
    json::array items;
    for (std::size_t i = 0; i < n; ++i)
        items.push_back(
            json::object{{"inputs",
                          {{"Upload", "https://example.com/p" + std::to_string(i) + ".jpg"},
                           {"Style", "Studio"}}}});
    return json::serialize(json::object{{"app", app_id}, {"items", std::move(items)}});
}

std::uint64_t hook_stat(const rig& r, const char* provider, const char* name) {
    auto v = r.sim->stats();
    return v.at("webhooks").at(provider).at(name).to_number<std::uint64_t>();
}

std::size_t count(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
    return n;
}

/// Every file under outputs/<job> is the manifest or a saved output it lists: no duplicates.
void no_stray_files(const daemon_process& d, const std::string& job, std::size_t saved) {
    auto files = files_under(d.outputs() / job);
    CHECK(files.size() == saved + 1);
}

constexpr const char* stream_route = "GET /v1/runs/{id}/stream";
constexpr const char* poll_route = "GET /v1/runs/{id}";
constexpr const char* wait_route = "GET /v1/runs/{id}/wait";
}  // namespace

TEST_CASE("webhooks: Lamina app runs are tracked by deliveries only (0 streams, 0 polls)") {
    hook_rig h(3600);
    auto& r = *h.r;
    RIG_CONTEXT(r);
    r.d->drop("apps.json", app_brief(4));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"apps.json"});
    const auto saved = check_outputs(*r.d, "apps");
    CHECK(saved >= 4);
    no_stray_files(*r.d, "apps", saved);
    CHECK(r.route_count("POST /v1/apps/{id}/runs") == 4);
    CHECK(r.route_count(stream_route) == 0);
    CHECK(r.route_count(poll_route) == 0);
    CHECK(r.route_count(wait_route) == 0);
    CHECK(r.route_count("GET /v1/webhooks/signing-key") == 1);
    CHECK(hook_stat(r, "lamina", "delivered_2xx") == 4);
    CHECK(count(r.d->log(), "channel=webhook") >= 4);
}

TEST_CASE("webhooks: duplicated and reordered Lamina deliveries finish each run once") {
    hook_rig h(3600, {}, {"--webhook-duplicate", "1", "--webhook-reorder", "1"});
    auto& r = *h.r;
    RIG_CONTEXT(r);
    r.d->drop("twice.json", app_brief(3));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"twice.json"});
    const auto saved = check_outputs(*r.d, "twice");
    no_stray_files(*r.d, "twice", saved);
    CHECK(hook_stat(r, "lamina", "duplicates") >= 3);
    CHECK(hook_stat(r, "lamina", "reordered") >= 3);
    // All of them were answered 2xx (so the provider stops), and each run finished once.
    CHECK(hook_stat(r, "lamina", "rejected_4xx") == 0);
    CHECK(count(r.d->log(), "run.finished") == 3);
    CHECK(r.route_count(poll_route) == 0);
}

TEST_CASE(
    "webhooks: forged, stale and oversized deliveries are refused; the grace check finishes the "
    "runs") {
    for (const char* fault : {"--webhook-forge", "--webhook-stale", "--webhook-oversize"}) {
        CAPTURE(fault);
        hook_rig h(2, {}, {fault, "1", "--webhook-oversize-bytes", "100000"});
        auto& r = *h.r;
        RIG_CONTEXT(r);
        r.d->drop("bad.json", app_brief(2));
        REQUIRE(r.d->wait_filed(1, filed_timeout));
        CHECK(r.d->done() == std::vector<std::string>{"bad.json"});
        CHECK(hook_stat(r, "lamina", "rejected_4xx") >= 2);
        CHECK(hook_stat(r, "lamina", "delivered_2xx") == 0);
        CHECK(r.route_count(poll_route) >= 2);  // the grace checks
        CHECK(r.route_count(stream_route) == 0);
        if (std::string(fault) != "--webhook-oversize")
            CHECK(r.d->log().find("webhook.refused") != std::string::npos);
        // A forged signature makes briefd look for a rotated key, at most once per interval.
        CHECK(r.route_count("GET /v1/webhooks/signing-key") <= 2);
    }
}

TEST_CASE("webhooks: dropped Hrizn deliveries are recovered by the grace check") {
    // fallback_after high: this is about the grace check alone (three lost in a row would
    // otherwise, rightly, send Hrizn back to list sweeps; the fallback has its own test).
    hook_rig h(
        2, "  fallback_after: 100\n",
        {"--hrizn-webhook", "@HOOKS@/hrizn", "--webhook-drop", "0.5", "--faults-on", "hrizn"});
    auto& r = *h.r;
    RIG_CONTEXT(r);
    r.d->drop("some.json", hrizn_brief("some", 6));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"some.json"});
    CHECK(check_outputs(*r.d, "some") == 12);
    CHECK(hook_stat(r, "hrizn", "dropped") >= 1);
    CHECK(hook_stat(r, "hrizn", "delivered_2xx") >= 1);
    CHECK(r.hrizn_route_count(hrizn_list_route) == 0);
}

TEST_CASE("webhooks: a rotated Lamina signing key is fetched again when a signature fails") {
    hook_rig h(3600, "  key_refetch_s: 1\n");
    auto& r = *h.r;
    RIG_CONTEXT(r);
    r.d->drop("before.json", app_brief(1));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    const auto fetched = r.route_count("GET /v1/webhooks/signing-key");
    CHECK(fetched == 1);
    std::this_thread::sleep_for(1100ms);
    auto rep = testing::http_fetch(
        r.sim->api_url() + "/_sim/webhooks",
        {"POST", {{"Content-Type", "application/json"}}, R"({"lamina_rotate_key":true})"});
    REQUIRE(rep.status == 200);
    r.d->drop("after.json", app_brief(2));
    REQUIRE(r.d->wait_filed(2, filed_timeout));
    CHECK(r.d->failed().empty());
    CHECK(r.route_count("GET /v1/webhooks/signing-key") == 2);
    CHECK(r.route_count(poll_route) == 0);  // no delivery was lost to the rotation
    CHECK(count(r.d->log(), "webhooks.key_fetched") == 2);
}

TEST_CASE("webhooks: SIGKILL around deliveries; the provider retries, each run finishes once") {
    hook_rig h(3600);
    auto& r = *h.r;
    RIG_CONTEXT(r);
    r.d->drop("crash.json", app_brief(6));
    // The first deliveries are arriving: kill briefd while the others are in flight.
    REQUIRE(r.d->wait_log("channel=webhook", filed_timeout));
    r.d->kill();
    r.d->start();
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"crash.json"});
    const auto saved = check_outputs(*r.d, "crash");
    CHECK(saved >= 6);
    no_stray_files(*r.d, "crash", saved);
    CHECK(r.stat("runs_created") == 6);
    CHECK(r.route_count("POST /v1/apps/{id}/runs") == 6);
}

TEST_CASE(
    "webhooks: SIGKILL after a delivery reached briefd, before its 2xx: the retry finishes the run "
    "once") {
    hook_rig h(3600);
    auto& r = *h.r;
    RIG_CONTEXT(r);
    r.d->drop("killed.json", hrizn_brief("killed", 1));
    auto ids = run_ids(*r.d, "killed", 1);
    REQUIRE(ids.size() == 1);
    wait_complete(*r.sim, ids);
    const auto ev = hrizn_event("evt_killed", "content.completed", ids[0]);
    // Frozen, briefd cannot answer: the delivery sits in its socket, received and unanswered,
    // when it is killed.
    REQUIRE(r.d->signal(SIGSTOP));
    testing::http_reply first;
    std::thread sender([&] { first = h.deliver(ev); });
    std::this_thread::sleep_for(300ms);
    r.d->kill();
    sender.join();
    CHECK(first.status != 200);  // no 2xx: the provider will deliver again
    r.d->start();
    CHECK(h.deliver(ev).status == 200);  // the provider's retry
    CHECK(h.deliver(ev).status == 200);  // and one more, for good measure
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"killed.json"});
    const auto saved = check_outputs(*r.d, "killed");
    CHECK(saved == 2);
    no_stray_files(*r.d, "killed", saved);
    CHECK(r.hrizn_route_count("GET /v1/public/content/{id}/html") == 1);
    CHECK(r.hrizn_stat("items_created") == 1);
}

namespace {
const std::string layers_secret = "whsec_it_layers_77";
const std::string layers_project = "0b9f5d1e-7c1a-4d3e-8f2a-5b6c7d8e9f00";

/// Layers with briefsim delivering signed job events to a briefd receiver (grace 3600 s: no
/// grace check during a test); `cap` concurrent jobs on both sides (0: the rig's defaults).
rig_options layers_hook_options(const temp_dir& secrets, std::vector<std::string> sim_args,
                                std::size_t cap = 0) {
    std::ofstream(secrets.path() / "layers-webhook") << layers_secret << "\n";
    const auto port = free_port();
    const std::string base = "http://127.0.0.1:" + std::to_string(port) + "/hooks";
    rig_options o;
    o.layers = true;
    o.sim_args = {"--layers-webhook", base + "/layers", "--layers-webhook-secret", layers_secret};
    o.sim_args.insert(o.sim_args.end(), sim_args.begin(), sim_args.end());
    if (cap) {
        o.sim_args.insert(o.sim_args.end(), {"--layers-max-jobs", std::to_string(cap)});
        o.daemon.layers_max_concurrent_jobs = cap;
    }
    o.daemon.top_yaml = "webhooks:\n  listen: 127.0.0.1:" + std::to_string(port) +
                        "\n  public_url: " + base + "\n  grace_s: 3600\n";
    o.daemon.layers_yaml =
        "    webhook_secret_file: " + (secrets.path() / "layers-webhook").string() + "\n";
    return o;
}

std::string layers_brief(std::size_t jobs, int variants) {
    json::array items;
    for (std::size_t i = 0; i < jobs; ++i)
        items.push_back(json::object{
            {"projectId", layers_project},
            {"format", "slideshow_remix"},
            {"variantCount", variants},
            {"brief", json::object{{"topic", "hooks " + std::to_string(i)}, {"hook", "Wait"}}}});
    return json::serialize(json::object{{"provider", "layers"}, {"items", std::move(items)}});
}

std::uint64_t layers_job_polls(const rig& r) {
    auto v = r.sim->stats();
    const auto* jobs =
        v.at("layers").at("requests").as_object().if_contains("GET /v1/jobs/{jobId}");
    return jobs ? jobs->at("total").to_number<std::uint64_t>() : 0;
}
}  // namespace

TEST_CASE("webhooks: Layers jobs finish by signed job.completed deliveries, never polled") {
    temp_dir secrets;
    rig r(layers_hook_options(secrets, {"--webhook-duplicate", "1", "--faults-on", "layers"}));
    RIG_CONTEXT(r);
    r.d->drop("reels.json", layers_brief(1, 2));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"reels.json"});
    CHECK(check_outputs(*r.d, "reels") >= 2);  // both variants' containers were fetched
    CHECK(r.layers_stat("jobs_created") == 1);
    CHECK(hook_stat(r, "layers", "delivered_2xx") >= 1);
    CHECK(hook_stat(r, "layers", "rejected_4xx") == 0);
    CHECK(layers_job_polls(r) == 0);  // no job polling at all
}

TEST_CASE("webhooks: a Layers job finished by delivery gives back its place of the jobs cap") {
    // One job at a time: each later job starts only once the one before it was finished by its
    // delivery (before, a delivery never gave the place back and the second job waited forever).
    temp_dir secrets;
    rig r(layers_hook_options(secrets, {}, 1));
    RIG_CONTEXT(r);
    r.d->drop("queue.json", layers_brief(3, 1));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"queue.json"});
    CHECK(r.layers_stat("jobs_created") == 3);
    CHECK(r.layers_stat("concurrent_jobs_peak") == 1);
    CHECK(r.layers_stat("responses_429") == 0);
    CHECK(layers_job_polls(r) == 0);
}

}  // namespace briefd::it
