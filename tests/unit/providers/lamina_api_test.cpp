#include "providers/lamina/api.hpp"

#include <boost/json.hpp>

namespace lamina = briefd::providers::lamina;
namespace json = boost::json;
using briefd::errc;

TEST_CASE("batch body puts brandProfileId and campaignId at the top level") {
    briefd::brief::content_item a;
    a.brief = "Lifestyle photo";
    a.platform = "instagram";
    a.modality = "image";
    a.brand_profile_id = "7f0c";
    briefd::brief::content_item b = a;
    b.brief = "Flat-lay";
    auto body = json::parse(lamina::batch_body({&a, &b})).as_object();
    CHECK(body.at("brandProfileId").as_string() == "7f0c");
    CHECK(body.at("campaignId").is_null());
    auto& items = body.at("items").as_array();
    REQUIRE(items.size() == 2);
    CHECK(items[1].at("brief").as_string() == "Flat-lay");
    CHECK(items[0].at("platform").as_string() == "instagram");
    CHECK_FALSE(items[0].as_object().contains("brandProfileId"));
    CHECK(lamina::group_key(a) == lamina::group_key(b));
    b.campaign_id = "c1";
    CHECK(lamina::group_key(a) != lamina::group_key(b));
}

TEST_CASE("documented batch response maps to per-item results with a partial failure") {
    // Verbatim shape of seed 000.
    const char* body = R"({"data":{"batchId":"batch-001","total":3,"queued":2,"failed":1,"items":[
        {"index":0,"status":"queued","runId":"exec-001","workflowId":"w","workflowName":"AI Product Photography"},
        {"index":1,"status":"queued","runId":"exec-002","workflowId":"w","workflowName":"AI Product Photography"},
        {"index":2,"status":"failed","error":"No video-capable app found for this workspace"}]}})";
    auto r = lamina::parse_batch_response(body, 3);
    REQUIRE(r);
    CHECK((*r)[0].queued);
    CHECK((*r)[1].run_id == "exec-002");
    CHECK_FALSE((*r)[2].queued);
    CHECK((*r)[2].error == "No video-capable app found for this workspace");
}

TEST_CASE("batch response: missing items fail, foreign indexes are ignored, garbage is rejected") {
    auto r = lamina::parse_batch_response(
        R"({"data":{"items":[{"index":7,"status":"queued","runId":"x"},{"index":0,"status":"queued","runId":"a"}]}})", 2);
    REQUIRE(r);
    CHECK((*r)[0].run_id == "a");
    CHECK_FALSE((*r)[1].queued);
    CHECK((*r)[1].error == "missing from batch response");
    CHECK_FALSE(lamina::parse_batch_response("{not json", 1));
    CHECK_FALSE(lamina::parse_batch_response(R"({"data":{"items":3}})", 1));
    CHECK_FALSE(lamina::parse_batch_response(R"([1,2])", 1));
    CHECK_FALSE(lamina::parse_batch_response(R"({"data":{"items":[{"index":-1}]}})", 1));
    CHECK_FALSE(lamina::parse_batch_response(R"({"data":{"items":[{"index":"zero"}]}})", 1));
    CHECK_FALSE(lamina::parse_batch_response(R"({"data":{"items":[{"index":1.5}]}})", 2));
}

TEST_CASE("batch response: an index as a numeric string and a run id as an integer are tolerated") {
    auto r = lamina::parse_batch_response(
        R"({"data":{"items":[{"index":"1","status":"queued","runId":42},{"index":"0","status":"queued","runId":"a"}]}})",
        2);
    REQUIRE(r);
    CHECK((*r)[0].queued);
    CHECK((*r)[0].run_id == "a");
    CHECK((*r)[1].queued);
    CHECK((*r)[1].run_id == "42");
}

TEST_CASE("run status parsing accepts bare and enveloped runs and tolerates unknown fields") {
    const char* enveloped = R"({"data":{"runId":"r1","workflowId":"w","status":"completed","newField":{"x":1},
        "outputs":[{"id":"n1","label":"AI Designer","type":"image","value":"https://files/x.png","status":"completed","error":null},
                   {"id":"n2","label":"Caption","type":"text","value":"Hello\nworld","status":"completed","error":null},
                   {"id":"n3","label":"Broken","type":"pending","value":null,"status":"error","error":"GPU fell over"}],
        "errorMessage":null,"startedAt":null,"completedAt":null,"createdAt":"2026-03-23T12:22:40.552Z"}})";
    auto r = lamina::parse_run(enveloped);
    REQUIRE(r);
    CHECK(r->run_id == "r1");
    CHECK(lamina::is_terminal_status(r->status));
    REQUIRE(r->outputs.size() == 3);
    CHECK(r->outputs[0].value_is_url);
    CHECK_FALSE(r->outputs[1].value_is_url);
    CHECK(r->outputs[1].value == "Hello\nworld");
    CHECK(r->outputs[2].status == "error");
    CHECK(r->outputs[2].error == "GPU fell over");

    auto bare = lamina::parse_run(R"({"runId":"r2","status":"warming-up"})");
    REQUIRE(bare);
    CHECK_FALSE(lamina::is_terminal_status(bare->status));
    CHECK_FALSE(lamina::parse_run(R"({"message":"Stream timeout after 10 minutes"})"));
    CHECK_FALSE(lamina::parse_run("1712345678"));
}

TEST_CASE("wait response reports its top-level timeout flag") {
    auto w = lamina::parse_wait(R"({"data":{"runId":"r","status":"running","outputs":[]},"timeout":true})");
    REQUIRE(w);
    CHECK(w->second);
    auto done = lamina::parse_wait(R"({"data":{"runId":"r","status":"failed","errorMessage":"boom"}})");
    REQUIRE(done);
    CHECK_FALSE(done->second);
    CHECK(done->first.error_message == "boom");
}

TEST_CASE("run id from app runs and content/create, and the needs_input case") {
    std::string why;
    CHECK(lamina::parse_run_id(R"({"data":{"runId":"fc32","status":"queued"}})", why) == "fc32");
    CHECK_FALSE(lamina::parse_run_id(R"({"data":{"status":"unmatched","reason":"no app"}})", why));
    CHECK(why == "not dispatched: status unmatched: no app");
    CHECK_FALSE(lamina::parse_run_id("<html>", why));
}

TEST_CASE("errors are classified and the server's words kept in diagnostics") {
    briefd::diagnostics d;
    CHECK(lamina::classify_error(401, R"({"error":"Invalid API key","code":"AUTH_INVALID_KEY","retryable":false,"requestId":"req-1"})", d) == errc::unauthorized);
    CHECK(d.provider_code == "AUTH_INVALID_KEY");
    CHECK(d.request_id == "req-1");
    d = {};
    CHECK(lamina::classify_error(400, R"({"error":"Invalid inputs","details":["Style: not an option"]})", d) == errc::rejected);
    CHECK(d.message.find("Style: not an option") != std::string::npos);
    d = {};
    CHECK(lamina::classify_error(429, "Too many requests from this IP, please try again in a minute", d) == errc::rate_limited);
    CHECK(d.message.starts_with("Too many requests"));
    d = {};
    CHECK(lamina::classify_error(503, R"({"error":"down","code":"RESOURCE_UNAVAILABLE","retryable":true})", d) == errc::server_error);
    CHECK(lamina::classify_error(409, R"({"error":"busy","retryable":true})", d) == errc::server_error);
    CHECK(lamina::classify_error(402, "", d) == errc::payment_required);
    CHECK(lamina::classify_error(404, "{}", d) == errc::not_found);
    CHECK(lamina::classify_error(403, "\x01\xff", d) == errc::forbidden);
}
