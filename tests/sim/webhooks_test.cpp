// briefsim's webhooks (sim/webhooks, PROVIDERS §1.6, §2.4, §3.8): a receiver in this test, on
// loopback, records what briefsim POSTs and verifies every signature with OpenSSL — Lamina's
// Ed25519 against the JWK served by GET /v1/webhooks/signing-key, Hrizn's and Layers' HMACs —
// and answers with scripted statuses so retries show. Each webhook-* fault switch is observed on
// the wire. Plus the signer against RFC 8032 / RFC 4231 known answers and the retry decision.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "webhooks/delivery.hpp"
#include "webhooks/signer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

using namespace briefd::testing;
using namespace briefd::sim_tests;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace wh = briefd::sim::webhooks;

namespace {

const std::string app_path = "/v1/apps/ec7ec3ce-69b4-43c9-8eea-fe9752d679a4/runs";
const std::string app_body = R"({"inputs":{"Upload":"https://x/y.jpg"}})";
const std::string layers_project = "6f1c2a9e-3b4d-4e5f-8a6b-7c8d9e0f1a2b";

struct received {
    std::string target;
    std::map<std::string, std::string> headers;  ///< names lower-cased
    std::string body;
    std::string header(const std::string& n) const {
        auto it = headers.find(n);
        return it == headers.end() ? "" : it->second;
    }
    json::value json() const { return parse_json(body); }
};

/// A webhook receiver on 127.0.0.1 in a thread of its own: records every request and answers
/// the next scripted status (200 once the script is spent); bodies over `limit` get 413.
class receiver {
  public:
    explicit receiver(std::deque<unsigned> script = {}) : script_(std::move(script)) {
        acceptor_.open(asio::ip::tcp::v4());
        acceptor_.set_option(asio::socket_base::reuse_address(true));
        acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        asio::co_spawn(ioc_, accept_loop(), asio::detached);
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~receiver() {
        ioc_.stop();
        thread_.join();
    }
    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }
    /// Waits until at least `n` requests arrived (or `timeout`); returns them all.
    std::vector<received> wait_for(std::size_t n, std::chrono::milliseconds timeout = 10s) {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, timeout, [&] { return got_.size() >= n; });
        return got_;
    }
    std::vector<received> all() {
        std::lock_guard lock(mu_);
        return got_;
    }
    std::size_t limit = 1 << 20;

  private:
    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, sock] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec) co_return;
            asio::co_spawn(ioc_, serve(std::move(sock)), asio::detached);
        }
    }
    asio::awaitable<void> serve(asio::ip::tcp::socket sock) {
        beast::flat_buffer buf;
        http::request_parser<http::string_body> p;
        p.body_limit(16u << 20);
        auto [ec, n] = co_await http::async_read(sock, buf, p, asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
        received r;
        r.target = std::string(p.get().target());
        for (const auto& f : p.get()) {
            std::string name(f.name_string());
            for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            r.headers[name] = std::string(f.value());
        }
        r.body = p.get().body();
        unsigned status = 200;
        {
            std::lock_guard lock(mu_);
            if (r.body.size() > limit)
                status = 413;
            else if (!script_.empty()) {
                status = script_.front();
                script_.pop_front();
            }
            got_.push_back(std::move(r));
        }
        cv_.notify_all();
        http::response<http::string_body> res{static_cast<http::status>(status), 11};
        res.body() = "{}";
        res.keep_alive(false);
        res.prepare_payload();
        co_await http::async_write(sock, res, asio::as_tuple(asio::use_awaitable));
        beast::error_code ignored;
        sock.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    }

    asio::io_context ioc_{1};
    asio::ip::tcp::acceptor acceptor_{ioc_};
    std::uint16_t port_ = 0;
    std::thread thread_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<unsigned> script_;
    std::vector<received> got_;
};

std::string from_hex(std::string_view hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    return out;
}

std::string from_base64url(std::string s) {
    for (char& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
    while (s.size() % 4) s.push_back('=');
    std::string out(s.size(), '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(s.data()),
                                  static_cast<int>(s.size()));
    REQUIRE(n >= 0);
    out.resize(static_cast<std::size_t>(n));
    while (!out.empty() && s.ends_with('=') && (s.pop_back(), true)) out.pop_back();
    return out;
}

/// Ed25519 verification with OpenSSL, as a receiver does it: raw 32-byte key from the JWK `x`.
bool ed25519_verifies(const std::string& x, std::string_view message, std::string_view sig_hex) {
    const std::string raw = from_base64url(x);
    REQUIRE(raw.size() == 32);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
        EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                    reinterpret_cast<const unsigned char*>(raw.data()), 32),
        &EVP_PKEY_free);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    const std::string sig = from_hex(sig_hex);
    return key && ctx &&
           EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
           EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()),
                            sig.size(), reinterpret_cast<const unsigned char*>(message.data()),
                            message.size()) == 1;
}

std::string signing_x(const sim_process& sim) {
    auto k = parse_json(sim.api("GET", "/v1/webhooks/signing-key").body);
    return std::string(k.at("keys").as_array().at(0).at("x").as_string());
}

bool lamina_verifies(const sim_process& sim, const received& r) {
    const std::string ts = r.header("x-lamina-webhook-timestamp");
    return ed25519_verifies(signing_x(sim), ts + "." + r.body,
                            r.header("x-lamina-webhook-signature"));
}

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string submit_app_run(const sim_process& sim, const std::string& hook) {
    auto r = sim.api("POST", app_path + "?webhook=" + hook, app_body);
    REQUIRE_MESSAGE(r.status == 202, r.body);
    return std::string(parse_json(r.body).at("data").at("runId").as_string());
}

json::value control(const sim_process& sim, const std::string& body) {
    http_request_options o;
    o.method = body.empty() ? "GET" : "POST";
    o.body = body;
    auto r = http_fetch(sim.api_url() + "/_sim/webhooks", o);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return parse_json(r.body);
}

std::int64_t wstat(const sim_process& sim, const std::string& path) {
    return stat(sim, "webhooks." + path);
}

/// Layers' X-Layers-Signature: the t value and every v1 entry.
std::pair<std::string, std::vector<std::string>> layers_parts(const std::string& h) {
    std::string t;
    std::vector<std::string> v1;
    std::size_t pos = 0;
    while (pos <= h.size()) {
        const auto comma = h.find(',', pos);
        const std::string part =
            h.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (part.starts_with("t=")) t = part.substr(2);
        if (part.starts_with("v1=")) v1.push_back(part.substr(3));
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return {t, v1};
}

const std::vector<std::string> fast = {"--time-scale",        "200", "--run-seconds",        "4",
                                       "--hrizn-gen-seconds", "5",   "--layers-gen-seconds", "5"};

std::vector<std::string> args(std::vector<std::string> extra) {
    std::vector<std::string> a = fast;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

}  // namespace

TEST_CASE("webhook signer: RFC 8032 Ed25519 and RFC 4231 HMAC known answers") {
    // RFC 8032 §7.1, TEST 1 (empty message) and TEST 2 (one byte 0x72).
    auto k1 = wh::ed25519_key::from_seed(
        from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
    CHECK(wh::to_hex(k1.public_raw()) ==
          "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    CHECK(wh::to_hex(k1.sign("")) ==
          "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
          "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
    auto k2 = wh::ed25519_key::from_seed(
        from_hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"));
    CHECK(wh::to_hex(k2.sign("\x72")) ==
          "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
          "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
    // RFC 4231 test case 2.
    CHECK(wh::hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    CHECK(wh::hrizn_signature("Jefe", "what do ya want for nothing?") ==
          "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // Layers: HMAC of "<t>.<body>", one v1 per secret, current first.
    const auto h = wh::layers_signature(1700000000, "{}", {"new", "old"});
    CHECK(h == "t=1700000000,v1=" + wh::hmac_sha256_hex("new", "1700000000.{}") +
                   ",v1=" + wh::hmac_sha256_hex("old", "1700000000.{}"));
    CHECK(wh::base64url(
              from_hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")) ==
          "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
    CHECK(wh::forge_hex("abcd") != "abcd");
}

TEST_CASE("webhook retry decisions and loopback targets") {
    const auto lamina = wh::lamina_retries();
    CHECK_FALSE(wh::next_retry(lamina, 0, 200).has_value());
    CHECK(wh::next_retry(lamina, 0, 500) == 5.0);
    CHECK(wh::next_retry(lamina, 1, 0) == 30.0);
    CHECK(wh::next_retry(lamina, 2, 401) == 120.0);           // Lamina: any non-2xx is retried
    CHECK_FALSE(wh::next_retry(lamina, 3, 500).has_value());  // three retries, then over
    const auto layers = wh::layers_retries();
    CHECK_FALSE(wh::next_retry(layers, 0, 401).has_value());  // 4xx is final for Layers
    CHECK(wh::next_retry(layers, 0, 429) == 30.0);
    CHECK(wh::next_retry(layers, 3, 503) == 900.0);
    CHECK_FALSE(wh::next_retry(layers, 4, 503).has_value());  // five attempts in all

    CHECK(wh::parse_loopback("http://127.0.0.1:8787/briefd/lamina?x=1")->target ==
          "/briefd/lamina?x=1");
    CHECK(wh::parse_loopback("http://[::1]:9/")->address == "::1");
    CHECK(wh::parse_loopback("http://localhost/")->port == 80);
    CHECK_FALSE(wh::parse_loopback("https://127.0.0.1/").has_value());
    CHECK_FALSE(wh::parse_loopback("http://example.com/cb").has_value());
    CHECK_FALSE(wh::parse_loopback("http://10.0.0.1/cb").has_value());
}

TEST_CASE("Lamina: an app run with ?webhook= is POSTed, Ed25519-signed, on completion") {
    receiver rx;
    sim_process sim(fast);
    const std::string run = submit_app_run(sim, rx.url("/briefd/lamina"));
    auto got = rx.wait_for(1);
    REQUIRE(got.size() == 1);
    const auto& r = got[0];
    CHECK(r.target == "/briefd/lamina");
    CHECK(r.header("content-type") == "application/json");
    CHECK(r.header("x-lamina-webhook-request-id") == run);
    CHECK_FALSE(r.header("x-lamina-webhook-user-id").empty());
    CHECK(r.header("x-lamina-webhook-signature").size() == 128);  // 64 bytes, hex
    CHECK(std::abs(std::stoll(r.header("x-lamina-webhook-timestamp")) - unix_now()) <= 300);
    CHECK(lamina_verifies(sim, r));
    // Tampering with the body breaks it.
    received tampered = r;
    tampered.body.back() = ' ';
    CHECK_FALSE(lamina_verifies(sim, tampered));
    const auto body = r.json();
    CHECK(body.at("data").at("runId").as_string() == run);
    CHECK(body.at("data").at("status").as_string() == "completed");
    // Same shape as polling: equal to GET /v1/runs/{id}.
    CHECK(body.at("data") == parse_json(sim.api("GET", "/v1/runs/" + run).body).at("data"));
    CHECK(wstat(sim, "lamina.sent") == 1);
    CHECK(wstat(sim, "lamina.delivered_2xx") == 1);
    CHECK(wstat(sim, "lamina.retries") == 0);

    // Content runs have no webhook field: a batch delivers nothing.
    submit_batch(sim, {"no hook here"});
    // Non-loopback URLs are recorded, never sent.
    auto far = sim.api("POST", app_path + "?webhook=https://example.com/cb", app_body);
    REQUIRE(far.status == 202);
    for (int i = 0; i < 100 && wstat(sim, "lamina.not_loopback") < 1; ++i)
        std::this_thread::sleep_for(20ms);
    CHECK(wstat(sim, "lamina.not_loopback") == 1);
    CHECK(rx.all().size() == 1);
}

TEST_CASE("Lamina: non-2xx answers are retried with a fresh signature; failed runs delivered") {
    receiver rx({500, 503});
    sim_process sim(args({"--fail-rate", "1"}));
    const std::string run = submit_app_run(sim, rx.url("/lamina"));
    auto got = rx.wait_for(3);
    REQUIRE(got.size() == 3);
    for (const auto& r : got) {
        CHECK(r.header("x-lamina-webhook-request-id") == run);
        CHECK(lamina_verifies(sim, r));
        CHECK(r.json().at("data").at("status").as_string() == "failed");
    }
    std::this_thread::sleep_for(200ms);
    CHECK(rx.all().size() == 3);  // the 2xx ended it
    CHECK(wstat(sim, "lamina.sent") == 3);
    CHECK(wstat(sim, "lamina.retries") == 2);
    CHECK(wstat(sim, "lamina.failed_5xx") == 2);
    CHECK(wstat(sim, "lamina.delivered_2xx") == 1);
}

TEST_CASE("Lamina: a receiver that never says 2xx gets the bounded retries, then nothing") {
    receiver rx({401, 401, 401, 401, 401});
    sim_process sim(fast);
    submit_app_run(sim, rx.url("/lamina"));
    auto got = rx.wait_for(4);
    CHECK(got.size() == 4);  // 1 + 3 retries (5 s, 30 s, 2 min; scaled)
    for (int i = 0; i < 100 && wstat(sim, "lamina.abandoned") < 1; ++i)
        std::this_thread::sleep_for(20ms);
    CHECK(wstat(sim, "lamina.abandoned") == 1);
    CHECK(wstat(sim, "lamina.rejected_4xx") == 4);
    CHECK(rx.all().size() == 4);
}

TEST_CASE("Lamina: key rotation serves a new JWK; later deliveries verify only against it") {
    receiver rx;
    sim_process sim(fast);
    const std::string old_x = signing_x(sim);
    auto c = control(sim, R"({"lamina_rotate_key":true})");
    CHECK(c.at("lamina").at("kid").as_string() == "lamina-webhook-v2");
    const std::string new_x = signing_x(sim);
    CHECK(new_x != old_x);
    CHECK(c.at("lamina").at("x").as_string() == new_x);
    submit_app_run(sim, rx.url("/lamina"));
    auto got = rx.wait_for(1);
    REQUIRE(got.size() == 1);
    const auto& r = got[0];
    const std::string msg = r.header("x-lamina-webhook-timestamp") + "." + r.body;
    CHECK(ed25519_verifies(new_x, msg, r.header("x-lamina-webhook-signature")));
    CHECK_FALSE(ed25519_verifies(old_x, msg, r.header("x-lamina-webhook-signature")));
}

TEST_CASE("Lamina: cancelled runs are delivered only when asked for") {
    receiver rx;
    sim_process sim(args({"--run-seconds", "200"}));
    const std::string a = submit_app_run(sim, rx.url("/a"));
    REQUIRE(sim.api("POST", "/v1/runs/" + a + "/cancel").status == 200);
    control(sim, R"({"lamina_on":"completed,failed,cancelled"})");
    const std::string b = submit_app_run(sim, rx.url("/b"));
    REQUIRE(sim.api("POST", "/v1/runs/" + b + "/cancel").status == 200);
    auto got = rx.wait_for(1);
    REQUIRE(got.size() == 1);
    CHECK(got[0].target == "/b");
    CHECK(got[0].json().at("data").at("status").as_string() == "cancelled");
    CHECK(lamina_verifies(sim, got[0]));
    std::this_thread::sleep_for(100ms);
    CHECK(rx.all().size() == 1);
}

TEST_CASE("Hrizn: content.completed to the subscription, X-Webhook-Signature sha256=HMAC") {
    receiver rx;
    sim_process sim(
        args({"--hrizn-webhook", rx.url("/hrizn"), "--hrizn-webhook-secret", "s3cret",
              "--hrizn-webhook-events", "content.completed,content.failed,content.progress"}));
    auto created = sim.hrizn(
        "POST", "/content",
        R"({"ideacloud_id":"a1b2c3d4-0001-0000-0000-000000000000","article_type":"basic"})");
    REQUIRE_MESSAGE(created.status == 202, created.body);
    const std::string id(parse_json(created.body).at("data").at("id").as_string());
    // Four progress events (components 1-4), then content.completed.
    auto got = rx.wait_for(5);
    REQUIRE(got.size() == 5);
    std::vector<std::string> types;
    for (const auto& r : got) {
        CHECK(r.header("x-webhook-signature") == "sha256=" + wh::hmac_sha256_hex("s3cret", r.body));
        CHECK(r.header("x-webhook-signature") != wh::hrizn_signature("other", r.body));
        const auto b = r.json();
        CHECK(b.at("id").as_string().starts_with("evt_"));
        CHECK(b.at("api_version").as_string() == "2025-01-01");
        CHECK(b.at("site_id").is_string());
        CHECK(b.at("timestamp").is_string());
        CHECK(b.at("data").at("article_id").as_string() == id);
        CHECK(b.at("data").at("article_type").as_string() == "basic");
        types.emplace_back(b.at("type").as_string());
    }
    CHECK(std::count(types.begin(), types.end(), "content.completed") == 1);
    CHECK(std::count(types.begin(), types.end(), "content.progress") == 4);
    CHECK(wstat(sim, "hrizn.delivered_2xx") == 5);
}

TEST_CASE("Hrizn: POST /webhooks creates a subscription whose secret signs its deliveries") {
    receiver rx;
    sim_process sim(args({"--fail-rate", "1"}));
    auto sub = sim.hrizn("POST", "/webhooks",
                         R"({"url":")" + rx.url("/hz") + R"(","events":["content.failed"]})");
    REQUIRE_MESSAGE(sub.status == 201, sub.body);
    const auto d = parse_json(sub.body).at("data");
    const std::string secret(d.at("secret").as_string());
    CHECK(d.at("is_active").as_bool());
    auto list = parse_json(sim.hrizn("GET", "/webhooks").body);
    REQUIRE(list.at("data").as_array().size() == 1);
    CHECK_FALSE(list.at("data").as_array()[0].as_object().contains("secret"));  // shown once
    CHECK(sim.hrizn("POST", "/webhooks", R"({"url":"x"})").status == 400);
    auto created =
        sim.hrizn("POST", "/content",
                  R"({"ideacloud_id":"a1b2c3d4-0001-0000-0000-000000000000","article_type":"qa"})");
    REQUIRE(created.status == 202);
    auto got = rx.wait_for(1);
    REQUIRE(got.size() == 1);
    CHECK(got[0].header("x-webhook-signature") == wh::hrizn_signature(secret, got[0].body));
    const auto b = got[0].json();
    CHECK(b.at("type").as_string() == "content.failed");
    CHECK(b.at("data").at("error").is_string());
}

TEST_CASE("Layers: job.completed and content.generated, t=,v1= HMAC, rotation sends two v1") {
    receiver rx({500});
    sim_process sim(
        args({"--layers-webhook", rx.url("/layers"), "--layers-webhook-secret", "whsec_one"}));
    auto gen = sim.layers("POST", "/v1/projects/" + layers_project + "/content",
                          R"({"variantCount":2,"brief":{"topic":"running"}})");
    REQUIRE_MESSAGE(gen.status == 202, gen.body);
    const std::string job(parse_json(gen.body).at("jobId").as_string());
    // Two content.generated + job.completed, one of them answered 500 first and retried.
    auto got = rx.wait_for(4);
    REQUIRE(got.size() == 4);
    std::map<std::string, int> types;
    std::set<std::string> ids;
    for (const auto& r : got) {
        const auto [t, v1] = layers_parts(r.header("x-layers-signature"));
        REQUIRE(v1.size() == 1);
        CHECK(std::abs(std::stoll(t) - unix_now()) <= 300);
        CHECK(v1[0] == wh::hmac_sha256_hex("whsec_one", t + "." + r.body));
        const auto b = r.json();
        CHECK(r.header("x-layers-event-id") == b.at("id").as_string());
        CHECK(b.at("id").as_string().size() == 30);  // evt_ + 26
        ids.insert(std::string(b.at("id").as_string()));
        types[std::string(b.at("type").as_string())]++;
        if (b.at("type") == "job.completed") {
            CHECK(b.at("data").at("jobId").as_string() == job);
            CHECK(b.at("data").at("kind").as_string() == "content_generate");
            CHECK(b.at("data").at("result").at("assets").is_array());
        } else {
            CHECK(b.at("data").at("assets").as_array().size() == 1);
        }
    }
    CHECK(types["job.completed"] + types["content.generated"] == 4);
    CHECK(ids.size() == 3);  // the retry kept its event id
    CHECK(wstat(sim, "layers.retries") == 1);

    control(sim, R"({"layers_rotate_secret":"whsec_two"})");
    auto gen2 = sim.layers("POST", "/v1/projects/" + layers_project + "/content",
                           R"({"brief":{"topic":"cycling"}})");
    REQUIRE(gen2.status == 202);
    got = rx.wait_for(6);
    REQUIRE(got.size() == 6);
    for (std::size_t i = 4; i < 6; ++i) {
        const auto [t, v1] = layers_parts(got[i].header("x-layers-signature"));
        REQUIRE(v1.size() == 2);
        CHECK(v1[0] == wh::hmac_sha256_hex("whsec_two", t + "." + got[i].body));
        CHECK(v1[1] == wh::hmac_sha256_hex("whsec_one", t + "." + got[i].body));
    }
}

TEST_CASE("Layers: failed jobs, 4xx not retried, POST /v1/webhook-endpoints") {
    receiver rx({401});
    sim_process sim(args({"--fail-rate", "1"}));
    auto ep = sim.layers("POST", "/v1/webhook-endpoints",
                         R"({"url":")" + rx.url("/ly") + R"(","events":["job.failed"]})");
    REQUIRE_MESSAGE(ep.status == 201, ep.body);
    const std::string secret(parse_json(ep.body).at("signingSecret").as_string());
    CHECK(parse_json(ep.body).at("endpoint").at("id").is_string());
    REQUIRE(sim.layers("POST", "/v1/projects/" + layers_project + "/content",
                       R"({"brief":{"topic":"a"}})")
                .status == 202);
    REQUIRE(sim.layers("POST", "/v1/projects/" + layers_project + "/content",
                       R"({"brief":{"topic":"b"}})")
                .status == 202);
    auto got = rx.wait_for(2);
    REQUIRE(got.size() == 2);
    for (const auto& r : got) {
        const auto [t, v1] = layers_parts(r.header("x-layers-signature"));
        REQUIRE(v1.size() == 1);
        CHECK(v1[0] == wh::hmac_sha256_hex(secret, t + "." + r.body));
        CHECK(r.json().at("type").as_string() == "job.failed");
        CHECK(r.json().at("data").at("error").at("code").as_string() == "GENERATION_FAILED");
    }
    std::this_thread::sleep_for(300ms);
    CHECK(rx.all().size() == 2);  // the 401 was final (policy b)
    CHECK(wstat(sim, "layers.rejected_4xx") == 1);
    CHECK(wstat(sim, "layers.abandoned") == 1);
}

TEST_CASE("webhook faults: duplicate, reorder, forge, stale, oversize, drop") {
    SUBCASE("duplicate: the same event again after a 2xx") {
        receiver rx;
        sim_process sim(args({"--webhook-duplicate", "1"}));
        submit_app_run(sim, rx.url("/l"));
        auto got = rx.wait_for(2);
        REQUIRE(got.size() == 2);
        CHECK(got[0].body == got[1].body);
        CHECK(lamina_verifies(sim, got[1]));
        CHECK(wstat(sim, "lamina.duplicates") == 1);
    }
    SUBCASE("reorder: an older (running) status after the terminal one") {
        receiver rx;
        sim_process sim(args({"--webhook-reorder", "1"}));
        submit_app_run(sim, rx.url("/l"));
        auto got = rx.wait_for(2);
        REQUIRE(got.size() == 2);
        CHECK(got[0].json().at("data").at("status").as_string() == "completed");
        CHECK(got[1].json().at("data").at("status").as_string() == "running");
        CHECK(lamina_verifies(sim, got[1]));
        CHECK(wstat(sim, "lamina.reordered") == 1);
    }
    SUBCASE("reorder on Layers: job.completed before content.generated") {
        receiver rx;
        sim_process sim(args({"--webhook-reorder", "1", "--layers-webhook", rx.url("/y")}));
        REQUIRE(sim.layers("POST", "/v1/projects/" + layers_project + "/content",
                           R"({"brief":{"topic":"a"}})")
                    .status == 202);
        auto got = rx.wait_for(2);
        REQUIRE(got.size() == 2);
        CHECK(got[0].json().at("type").as_string() == "job.completed");
        CHECK(got[1].json().at("type").as_string() == "content.generated");
    }
    SUBCASE("forge: well-formed signatures that do not verify") {
        receiver rx;
        sim_process sim(
            args({"--webhook-forge", "1", "--hrizn-webhook", rx.url("/h"), "--layers-webhook",
                  rx.url("/y"), "--layers-webhook-events", "job.completed"}));
        submit_app_run(sim, rx.url("/l"));
        REQUIRE(
            sim.hrizn(
                   "POST", "/content",
                   R"({"ideacloud_id":"a1b2c3d4-0001-0000-0000-000000000000","article_type":"basic"})")
                .status == 202);
        REQUIRE(sim.layers("POST", "/v1/projects/" + layers_project + "/content",
                           R"({"brief":{"topic":"a"}})")
                    .status == 202);
        auto got = rx.wait_for(3);
        REQUIRE(got.size() == 3);
        for (const auto& r : got) {
            if (r.target == "/l") {
                CHECK(r.header("x-lamina-webhook-signature").size() == 128);
                CHECK_FALSE(lamina_verifies(sim, r));
            } else if (r.target == "/h") {
                CHECK(r.header("x-webhook-signature").starts_with("sha256="));
                CHECK(r.header("x-webhook-signature") !=
                      wh::hrizn_signature("hzwh_briefsim_5ec7e7", r.body));
            } else {
                const auto [t, v1] = layers_parts(r.header("x-layers-signature"));
                REQUIRE(v1.size() == 1);
                CHECK(v1[0] != wh::hmac_sha256_hex("whsec_briefsim_5ec7e7", t + "." + r.body));
            }
        }
        CHECK(wstat(sim, "lamina.forged") == 1);
        CHECK(wstat(sim, "hrizn.forged") == 1);
        CHECK(wstat(sim, "layers.forged") == 1);
    }
    SUBCASE("stale: a valid signature over a timestamp beyond 300 s") {
        receiver rx;
        sim_process sim(args({"--webhook-stale", "1", "--layers-webhook", rx.url("/y"),
                              "--layers-webhook-events", "job.completed"}));
        submit_app_run(sim, rx.url("/l"));
        REQUIRE(sim.layers("POST", "/v1/projects/" + layers_project + "/content",
                           R"({"brief":{"topic":"a"}})")
                    .status == 202);
        auto got = rx.wait_for(2);
        REQUIRE(got.size() == 2);
        for (const auto& r : got) {
            if (r.target == "/l") {
                CHECK(unix_now() - std::stoll(r.header("x-lamina-webhook-timestamp")) > 300);
                CHECK(lamina_verifies(sim, r));
            } else {
                const auto [t, v1] = layers_parts(r.header("x-layers-signature"));
                CHECK(unix_now() - std::stoll(t) > 300);
                CHECK(v1.at(0) == wh::hmac_sha256_hex("whsec_briefsim_5ec7e7", t + "." + r.body));
            }
        }
    }
    SUBCASE("oversize: a signed body beyond the limit; a 413 is retried like any 4xx") {
        receiver rx({413});
        rx.limit = 64 * 1024;
        sim_process sim(args({"--webhook-oversize", "1", "--webhook-oversize-bytes", "300000"}));
        submit_app_run(sim, rx.url("/l"));
        auto got = rx.wait_for(4);
        REQUIRE(got.size() == 4);
        CHECK(got[0].body.size() == 300000);
        CHECK(got[0].json().at("data").at("status").as_string() == "completed");
        CHECK(lamina_verifies(sim, got[0]));
        for (int i = 0; i < 100 && wstat(sim, "lamina.abandoned") < 1; ++i)
            std::this_thread::sleep_for(20ms);
        CHECK(wstat(sim, "lamina.oversized") == 1);
        CHECK(wstat(sim, "lamina.rejected_4xx") == 4);
    }
    SUBCASE("drop: never sent, counted; switched at runtime") {
        receiver rx;
        sim_process sim(fast);
        sim.set_faults(json::object{{"webhook-drop", 1}});
        submit_app_run(sim, rx.url("/l"));
        for (int i = 0; i < 200 && wstat(sim, "lamina.dropped") < 1; ++i)
            std::this_thread::sleep_for(20ms);
        CHECK(wstat(sim, "lamina.dropped") == 1);
        CHECK(wstat(sim, "lamina.sent") == 0);
        sim.set_faults(json::object{{"webhook-drop", nullptr}});
        submit_app_run(sim, rx.url("/l2"));
        auto got = rx.wait_for(1);
        REQUIRE(got.size() == 1);
        CHECK(got[0].target == "/l2");
    }
}

TEST_CASE("Layers: a cancelled job is delivered as job.canceled at once") {
    receiver rx;
    sim_process sim(
        {"--time-scale", "200", "--layers-gen-seconds", "3600", "--layers-webhook", rx.url("/y")});
    auto gen = sim.layers("POST", "/v1/projects/" + layers_project + "/content",
                          R"({"brief":{"topic":"a"}})");
    REQUIRE(gen.status == 202);
    const std::string job(parse_json(gen.body).at("jobId").as_string());
    sim.set_layers(json::object{{"cancel", job}});
    // 3600 API-s is 18 real s: a delivery within 5 s came from the cancel, not the job's end.
    auto got = rx.wait_for(1, 5s);
    REQUIRE(got.size() == 1);
    const auto b = got[0].json();
    CHECK(b.at("type").as_string() == "job.canceled");
    CHECK(b.at("data").at("jobId").as_string() == job);
    CHECK_FALSE(b.at("data").as_object().contains("result"));
}
