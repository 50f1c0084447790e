// Hrizn's request shapes and tolerant response reading (PROVIDERS.md §2), including the shapes the
// docs leave open: the per-item failure of a batch, and both forms of the article HTML.
#include "providers/hrizn/hrizn.hpp"

#include <boost/json.hpp>

namespace hrizn = briefd::providers::hrizn;
namespace json = boost::json;
using briefd::errc;
using briefd::providers::run_phase;

namespace {
briefd::brief::item article(std::size_t index, json::object body) {
    return {index, briefd::brief::hrizn_item{std::move(body)}};
}
const hrizn::provider api;
}  // namespace

TEST_CASE("hrizn: a batch carries every item's fields under items[] and needs an idempotency key") {
    auto a = article(
        0, {{"ideacloud_id", "4b1f6c1e-0d3a-4e59-9a47-1f1f5e0b6d11"}, {"article_type", "basic"}});
    auto b = article(3, {{"ideacloud_id", "4b1f6c1e-0d3a-4e59-9a47-1f1f5e0b6d11"},
                         {"article_type", "qa"},
                         {"title", "T"}});
    auto call = api.submit({&a, &b});
    CHECK(call.method == boost::beast::http::verb::post);
    CHECK(call.segments == std::vector<std::string>{"content", "batch"});
    auto body = json::parse(call.body).as_object();
    REQUIRE(body.at("items").as_array().size() == 2);
    CHECK(body.at("items").as_array()[1].at("title").as_string() == "T");
    CHECK(api.idempotency_header() == "X-Idempotency-Key");
    CHECK(api.credential_header() == "X-API-Key");
    CHECK(api.group_key(a) == api.group_key(b));
    CHECK(api.max_items_per_request() == 10);
}

TEST_CASE(
    "hrizn: a partially failed batch maps by position; a failed item has no id and its own error") {
    auto a = article(0, {}), b = article(1, {}), c = article(2, {});
    const char* body = R"({"data":{"items":[
        {"id":"c1a2","status":"generating","article_type":"basic","title":"A","created_at":"2026-02-10T12:00:00Z"},
        {"status":"failed","error":"ideacloud_id not found","article_type":"qa"},
        {"error":{"code":"validation_error","message":"title too long"}}],
        "message":"Generation typically completes within a few minutes.","unknown":{"x":1}}})";
    auto r = api.parse_submit({&a, &b, &c}, body);
    REQUIRE(r);
    REQUIRE(r->size() == 3);
    CHECK((*r)[0].accepted);
    CHECK((*r)[0].run_id == "c1a2");
    CHECK_FALSE((*r)[1].accepted);
    CHECK((*r)[1].error == "ideacloud_id not found");
    CHECK_FALSE((*r)[2].accepted);
    CHECK((*r)[2].error == "validation_error: title too long");
}

TEST_CASE(
    "hrizn: a batch response with fewer items reports the rest as missing; garbage is not a "
    "result") {
    auto a = article(0, {}), b = article(1, {});
    auto r =
        api.parse_submit({&a, &b}, R"({"data":{"items":[{"id":"x1","status":"generating"}]}})");
    REQUIRE(r);
    CHECK((*r)[0].accepted);
    CHECK_FALSE((*r)[1].accepted);
    CHECK((*r)[1].error == "missing from batch response");
    CHECK_FALSE(api.parse_submit({&a}, "<html>502</html>"));
    CHECK_FALSE(api.parse_submit({&a}, R"({"data":{"items":"no"}})"));
}

TEST_CASE("hrizn: statuses map to phases; complete is Hrizn's word, unknown words are tolerated") {
    CHECK(hrizn::phase_of("generating") == run_phase::running);
    CHECK(hrizn::phase_of("complete") == run_phase::completed);
    CHECK(hrizn::phase_of("failed") == run_phase::failed);
    CHECK(hrizn::phase_of("awaiting_input") == run_phase::awaiting_input);
    CHECK(hrizn::phase_of("reticulating") == run_phase::unknown);
    auto v = api.parse_status(R"({"data":{"id":"a1","status":"generating","future_field":[1],
        "components":[{"type":"body","status":"complete"},{"type":"seoMetadata","status":"generating"},
                      {"type":"imagePrompt","status":"complete"},{"type":"facebookSnip","status":"pending"}]}})");
    REQUIRE(v);
    CHECK(v->run_id == "a1");
    CHECK(v->phase == run_phase::running);
    CHECK(v->progress_percent == 50);
    CHECK_FALSE(api.parse_status("[]"));
}

TEST_CASE("hrizn: a list page shows many articles and its cursor") {
    auto p = api.parse_list(
        R"({"data":[{"id":"n3","status":"complete","created_at":"3"},{"id":"n2","status":"failed",
        "error":{"code":"internal_error","message":"model timeout"}},{"nope":1}],
        "pagination":{"has_more":true,"next_cursor":"cur-2","total_count":40}})");
    REQUIRE(p);
    REQUIRE(p->runs.size() == 2);
    CHECK(p->runs[0].phase == run_phase::completed);
    CHECK(p->runs[1].error == "internal_error: model timeout");
    CHECK(p->has_more);
    CHECK(p->next_cursor == "cur-2");
    auto first = api.list("", 500);
    CHECK(first.segments == std::vector<std::string>{"content"});
    REQUIRE(first.query.size() == 1);
    CHECK(first.query[0].second == "100");
    auto next = api.list("cur-2", 100);
    CHECK(next.query.back() == std::pair<std::string, std::string>{"cursor", "cur-2"});
}

TEST_CASE(
    "hrizn: awaiting_input is answered with the item's selected_question_ids, or the item fails") {
    auto with = article(0, {{"mode", "interactive"},
                            {"selected_question_ids", json::array{"q-1-0", "q-1-2"}},
                            {"title", "T"}});
    std::string why;
    auto call = api.provide_input(with, "a1", why);
    REQUIRE(call);
    CHECK(call->segments == std::vector<std::string>{"content", "a1", "generate"});
    auto body = json::parse(call->body).as_object();
    CHECK(body.at("selected_question_ids").as_array().size() == 2);
    CHECK(body.at("title").as_string() == "T");
    auto without = article(1, {{"mode", "interactive"}});
    CHECK_FALSE(api.provide_input(without, "a2", why));
    CHECK(why.find("selected_question_ids") != std::string::npos);
}

TEST_CASE("hrizn: a complete article is saved as its HTML and its components") {
    briefd::providers::run_view run;
    run.run_id = "a1";
    run.phase = run_phase::completed;
    auto outs = api.outputs(article(4, {}), run);
    REQUIRE(outs.size() == 2);
    CHECK(outs[0].label == "article");
    CHECK(outs[0].ext == "html");
    REQUIRE(outs[0].fetch);
    CHECK(outs[0].fetch->segments == std::vector<std::string>{"content", "a1", "html"});
    CHECK(outs[1].ext == "json");
    CHECK(outs[1].fetch->segments.back() == "components");
    std::string why;
    CHECK(api.fetched_output(outs[1], "application/json", R"({"data":[]})", why) ==
          R"({"data":[]})");
    CHECK_FALSE(api.fetched_output(outs[1], "application/json", "not json", why));
}

TEST_CASE(
    "hrizn: the article HTML comes as text/html or inside JSON, and is saved as HTML either way") {
    CHECK(hrizn::article_html("text/html; charset=utf-8", "<h1>Hi</h1>") == "<h1>Hi</h1>");
    CHECK(hrizn::article_html("application/json", R"({"data":{"html":"<p>x</p>","id":"a1"}})") ==
          "<p>x</p>");
    CHECK(hrizn::article_html("application/json", R"({"html":"<p>y</p>"})") == "<p>y</p>");
    CHECK(hrizn::article_html("application/json", R"({"data":{"content":"<p>z</p>"}})") ==
          "<p>z</p>");
    CHECK(hrizn::article_html("application/json", R"({"data":"<p>w</p>"})") == "<p>w</p>");
    CHECK(hrizn::article_html("", R"({"data":{"html":"<p>sniffed</p>"}})") == "<p>sniffed</p>");
    CHECK_FALSE(hrizn::article_html("application/json", R"({"data":{"id":"a1"}})"));
    CHECK_FALSE(hrizn::article_html("application/json", "{broken"));
    CHECK_FALSE(hrizn::article_html("image/png", "\x89PNG"));
}

TEST_CASE("hrizn: errors classify by status and keep the envelope's code, message and request_id") {
    briefd::diagnostics d;
    auto ec = api.classify_error(
        401,
        R"({"error":{"code":"key_revoked","message":"This API key was revoked","request_id":"r-1"}})",
        d);
    CHECK(ec == errc::unauthorized);
    CHECK(d.provider_code == "key_revoked");
    CHECK(d.request_id == "r-1");
    d = {};
    CHECK(
        api.classify_error(
            429,
            R"({"error":{"code":"rate_limit_exceeded","message":"Retry after 12 seconds.","details":{"retry_after":12}}})",
            d) == errc::rate_limited);
    d = {};
    CHECK(
        api.classify_error(
            403,
            R"({"error":{"code":"forbidden","message":"needs content:write","details":{"required_scopes":["content:write"]}}})",
            d) == errc::forbidden);
    CHECK(d.message.find("required_scopes") != std::string::npos);
    d = {};
    CHECK(api.classify_error(
              409, R"({"error":{"code":"idempotency_conflict","message":"different body"}})", d) ==
          errc::rejected);
    d = {};
    CHECK(api.classify_error(500, "<html>oops</html>", d) == errc::server_error);
    CHECK(d.message == "<html>oops</html>");
}

TEST_CASE("hrizn: run ids that could change a request path are refused") {
    CHECK(api.valid_run_id("4b1f6c1e-0d3a-4e59-9a47-1f1f5e0b6d11"));
    CHECK_FALSE(api.valid_run_id("../account"));
    CHECK_FALSE(api.valid_run_id("a/b"));
    CHECK_FALSE(api.valid_run_id("a?x=1"));
    CHECK_FALSE(api.valid_run_id("a%2F"));
    CHECK_FALSE(api.valid_run_id(""));
}
