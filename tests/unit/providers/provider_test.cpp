// The seam itself: request URLs built from segments, idempotency keys, the registry, and Lamina's
// neutral run view.
#include "providers/lamina/provider.hpp"
#include "providers/provider.hpp"

#include <boost/url/parse.hpp>

namespace providers = briefd::providers;
using providers::run_phase;

TEST_CASE("url_for appends each segment encoded, so an id cannot change the resource") {
    auto base = boost::urls::parse_uri("https://api.app.hrizn.io/v1/public/").value();
    providers::api_call c;
    c.segments = {"content", "a/../b?x", "html"};
    auto u = providers::url_for(base, c);
    CHECK(u.buffer() == "https://api.app.hrizn.io/v1/public/content/a%2F..%2Fb%3Fx/html");
    c.segments = {"content"};
    c.query = {{"limit", "100"}, {"cursor", "a&b=c"}};
    CHECK(providers::url_for(base, c).buffer() ==
          "https://api.app.hrizn.io/v1/public/content?limit=100&cursor=a%26b=c");
    auto bare = boost::urls::parse_uri("http://127.0.0.1:8080").value();
    c.query.clear();
    c.segments = {"v1", "runs", "r1"};
    CHECK(providers::url_for(bare, c).buffer() == "http://127.0.0.1:8080/v1/runs/r1");
}

TEST_CASE("idempotency keys are the same for the same members and differ otherwise") {
    auto k1 = providers::idempotency_key("hrizn", {{"sneakers", 0}, {"boots", 3}});
    CHECK(k1 == providers::idempotency_key("hrizn", {{"sneakers", 0}, {"boots", 3}}));
    CHECK(k1 != providers::idempotency_key("hrizn", {{"boots", 3}, {"sneakers", 0}}));
    CHECK(k1 != providers::idempotency_key("hrizn", {{"sneakers", 1}, {"boots", 3}}));
    CHECK(k1 != providers::idempotency_key("layers", {{"sneakers", 0}, {"boots", 3}}));
    CHECK(k1.size() <= 64);
    CHECK(k1.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos);
}

TEST_CASE("the registry knows the providers briefd drives") {
    REQUIRE(providers::find("lamina"));
    REQUIRE(providers::find("hrizn"));
    CHECK(providers::find("lamina")->name() == "lamina");
    CHECK_FALSE(providers::find("nope"));
}

TEST_CASE("lamina: a finished run's outputs become URLs to download or text to write") {
    const char* body = R"({"data":{"runId":"r1","status":"completed","outputs":[
        {"label":"AI Designer","type":"image","status":"completed","value":"https://cdn.example/x.png"},
        {"label":"Caption","type":"text","status":"completed","value":"Hello"},
        {"label":"Video","type":"video","status":"error","error":"model crashed"},
        {"label":"Empty","type":"image","status":"completed","value":null}]}})";
    providers::lamina::provider api;
    auto v = api.parse_status(body);
    REQUIRE(v);
    CHECK(v->phase == run_phase::completed);
    REQUIRE(v->outputs.size() == 4);
    CHECK(v->outputs[0].url == "https://cdn.example/x.png");
    REQUIRE(v->outputs[1].text);
    CHECK(*v->outputs[1].text == "Hello");
    CHECK(v->outputs[1].ext == "txt");
    CHECK(v->outputs[2].error == "output error: model crashed");
    CHECK(v->outputs[3].error == "output completed without a URL");
    CHECK(providers::lamina::phase_of("canceled") == run_phase::cancelled);
    CHECK(providers::lamina::phase_of("weird") == run_phase::unknown);
}

TEST_CASE("lamina: app runs go alone to their app, content items share a batch per brand group") {
    providers::lamina::provider api;
    briefd::brief::item app{
        0, briefd::brief::app_run_item{"ec7ec3ce-69b4-43c9-8eea-fe9752d679a4", {}, {}}};
    briefd::brief::content_item ci;
    ci.brief = "x";
    briefd::brief::item content{1, ci};
    CHECK_FALSE(api.group_key(app));
    CHECK(api.group_key(content));
    auto call = api.submit({&app});
    CHECK(call.segments ==
          std::vector<std::string>{"v1", "apps", "ec7ec3ce-69b4-43c9-8eea-fe9752d679a4", "runs"});
    auto r = api.parse_submit({&app}, R"({"data":{"runId":"run-9","status":"queued"}})");
    REQUIRE(r);
    CHECK((*r)[0].run_id == "run-9");
    CHECK(api.submit({&content}).segments == std::vector<std::string>{"v1", "content", "batch"});
    CHECK(api.wait("r1", std::chrono::seconds(60)).query.front().second == "60");
    CHECK_FALSE(api.valid_run_id("r1/../../v1/account"));
}
