// The receiver's decisions: routing under public_url's path, dispatch to each provider's scheme
// by its headers, the signing-key refetch limit, and the duplicate set.
#include "webhooks/receiver.hpp"
#include "support/webhook_sign.hpp"

namespace wh = briefd::webhooks;
using wh::verdict;
using namespace std::chrono_literals;

TEST_CASE("routing: <public_url path>/<provider>, nothing else") {
    CHECK(wh::base_path("https://render-01.example.com/briefd/") == "/briefd");
    CHECK(wh::base_path("https://render-01.example.com") == "");
    CHECK(wh::base_path("http://127.0.0.1:8787/a/b") == "/a/b");
    CHECK(wh::route("/briefd", "/briefd/lamina") == "lamina");
    CHECK(wh::route("/briefd", "/briefd/hrizn/") == "hrizn");
    CHECK(wh::route("/briefd", "/briefd/layers?x=1") == "layers");
    CHECK(wh::route("", "/lamina") == "lamina");
    CHECK_FALSE(wh::route("/briefd", "/lamina"));
    CHECK_FALSE(wh::route("/briefd", "/briefdx/lamina"));
    CHECK_FALSE(wh::route("/briefd", "/briefd/"));
    CHECK_FALSE(wh::route("/briefd", "/briefd/lamina/extra"));
    CHECK_FALSE(wh::route("/briefd", "/briefd/../lamina"));
    CHECK_FALSE(wh::route("/briefd", "/briefd/LAMINA"));
    CHECK_FALSE(wh::route("", "*"));
}

TEST_CASE("verify_delivery reads each provider's own headers") {
    const std::int64_t now = 1'767'225'600;
    const std::string body =
        R"({"id":"evt_1","type":"content.completed","data":{"article_id":"a1"}})";
    boost::beast::http::fields h;
    h.set("X-Webhook-Signature", briefd::testing::hrizn_signature("s", body));
    CHECK(wh::verify_delivery("hrizn", h, body, {"s"}, now) == verdict::ok);
    // The same headers mean nothing to another provider.
    CHECK(wh::verify_delivery("layers", h, body, {"s"}, now) == verdict::unsigned_);
    CHECK(wh::verify_delivery("lamina", h, body, {"s"}, now) == verdict::unsigned_);
    CHECK(wh::verify_delivery("nobody", h, body, {"s"}, now) == verdict::unsigned_);

    h.clear();
    h.set("X-Layers-Signature",
          briefd::testing::layers_signature({"s"}, std::to_string(now), body));
    CHECK(wh::verify_delivery("layers", h, body, {"s"}, now) == verdict::ok);
    CHECK(wh::verify_delivery("layers", h, body, {"s"}, now, 10s) == verdict::ok);
    CHECK(wh::verify_delivery("layers", h, body, {"s"}, now + 11, 10s) == verdict::stale);

    briefd::testing::ed25519_signer k(std::string(32, '\x07'));
    std::string why;
    auto keys = wh::parse_jwks(k.jwks("v1"), why);
    h.clear();
    h.set("X-Lamina-Webhook-Signature",
          briefd::testing::lamina_signature(k, std::to_string(now), body));
    h.set("X-Lamina-Webhook-Timestamp", std::to_string(now));
    CHECK(wh::verify_delivery("lamina", h, body, {{}, &keys}, now) == verdict::ok);
    CHECK(wh::verify_delivery("lamina", h, body, {}, now) == verdict::no_key);
}

TEST_CASE("key_cache: first fetch at once, refetches at most once a minute, keeps old keys") {
    using clock = wh::key_cache::clock;
    wh::key_cache c;
    const auto t0 = clock::now();
    CHECK(c.may_fetch(t0));
    c.fetch_started(t0);
    CHECK(c.fetching());
    CHECK_FALSE(c.may_fetch(t0 + 2min));  // one in flight
    briefd::testing::ed25519_signer k(std::string(32, '\x01'));
    std::string why;
    c.fetch_done(wh::parse_jwks(k.jwks("a"), why));
    REQUIRE(c.keys().size() == 1);
    // A failed signature right after: no refetch within the minute.
    CHECK_FALSE(c.may_fetch(t0 + 30s));
    CHECK(c.may_fetch(t0 + 60s));
    c.fetch_started(t0 + 60s);
    c.fetch_done({});  // failed: the old key stays
    CHECK(c.keys().size() == 1);
    CHECK(c.keys()[0].kid() == "a");
}

TEST_CASE("seen_set remembers the newest keys up to its capacity") {
    wh::seen_set s(3);
    for (auto k : {"a", "b", "c"}) s.insert(k);
    CHECK(s.contains("a"));
    s.insert("b");  // again: nothing changes
    CHECK(s.size() == 3);
    s.insert("d");
    CHECK_FALSE(s.contains("a"));
    CHECK(s.contains("b"));
    CHECK(s.contains("d"));
    CHECK(s.size() == 3);
}
