// Lamina /v1 endpoints against a real briefsim: envelopes, status codes, field names.
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <boost/json.hpp>

#include <openssl/evp.h>

#include <thread>

using namespace briefd::testing;
using namespace briefd::sim_tests;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

void check_error_envelope(const http_reply& r, unsigned status, std::string_view code, bool retryable) {
    CHECK(r.status == status);
    auto v = parse_json(r.body);
    REQUIRE(v.is_object());
    const auto& o = v.as_object();
    CHECK(o.at("code").as_string() == code);
    CHECK(o.at("retryable").as_bool() == retryable);
    CHECK(o.at("error").is_string());
    CHECK(o.at("requestId").as_string() == r.header("x-request-id"));
    CHECK_FALSE(r.header("x-request-id").empty());
}

http_reply raw(const sim_process& sim, std::string method, std::string target,
               std::vector<std::pair<std::string, std::string>> headers, std::string body = {}) {
    http_request_options o;
    o.method = std::move(method);
    o.headers = std::move(headers);
    o.body = std::move(body);
    return http_fetch(sim.api_url() + target, o);
}

json::value data_of(const http_reply& r) {
    auto v = parse_json(r.body);
    REQUIRE(v.is_object());
    REQUIRE(v.as_object().contains("data"));
    return v.at("data");
}

}  // namespace

TEST_CASE("auth: missing key, wrong key, x-api-key and Bearer") {
    sim_process sim({"--key", "lma_right"});
    check_error_envelope(raw(sim, "GET", "/v1/apps", {}), 401, "AUTH_MISSING_KEY", false);
    check_error_envelope(raw(sim, "GET", "/v1/apps", {{"x-api-key", "lma_wrong"}}), 401, "AUTH_INVALID_KEY", false);
    check_error_envelope(raw(sim, "GET", "/v1/apps", {{"Authorization", "Bearer lma_wrong"}}), 401, "AUTH_INVALID_KEY", false);
    CHECK(raw(sim, "GET", "/v1/apps", {{"x-api-key", "lma_right"}}).status == 200);
    CHECK(raw(sim, "GET", "/v1/apps", {{"Authorization", "Bearer lma_right"}}).status == 200);
    CHECK(sim.api("GET", "/v1/apps").status == 200);  // sim_process uses the first --key
}

TEST_CASE("content/batch: 202 with one run per item; 0 or 11 items and bad items are 400 with details") {
    sim_process sim;
    auto r = sim.api("POST", "/v1/content/batch",
                     R"({"items":[{"brief":"one","platform":"instagram","modality":"image"},{"brief":"two"},)"
                     R"({"brief":"three","modality":"video"}],"brandProfileId":null,"campaignId":null})");
    CHECK(r.status == 202);
    auto d = data_of(r).as_object();
    CHECK(d.at("batchId").is_string());
    CHECK(d.at("total").as_int64() == 3);
    CHECK(d.at("queued").as_int64() == 3);
    CHECK(d.at("failed").as_int64() == 0);
    const auto& items = d.at("items").as_array();
    REQUIRE(items.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        const auto& it = items[i].as_object();
        CHECK(it.at("index").as_int64() == static_cast<std::int64_t>(i));
        CHECK(it.at("status").as_string() == "queued");
        CHECK(it.at("runId").as_string().size() == 36);
        CHECK(it.at("workflowId").is_string());
        CHECK(it.at("workflowName").is_string());
    }
    CHECK(items[0].at("runId") != items[1].at("runId"));

    std::string eleven = R"({"items":[)";
    for (int i = 0; i < 11; ++i) eleven += std::string(i ? "," : "") + R"({"brief":"b)" + std::to_string(i) + "\"}";
    eleven += "]}";
    auto big = sim.api("POST", "/v1/content/batch", eleven);
    check_error_envelope(big, 400, "VALIDATION_ERROR", false);
    auto details = parse_json(big.body).at("details").as_array();
    REQUIRE(details.size() == 1);
    CHECK(details[0].as_string().find("items") != json::string::npos);

    check_error_envelope(sim.api("POST", "/v1/content/batch", R"({"items":[]})"), 400, "VALIDATION_ERROR", false);
    auto bad = sim.api("POST", "/v1/content/batch", R"({"items":[{"brief":"ok"},{"platform":"x"}]})");
    check_error_envelope(bad, 400, "VALIDATION_ERROR", false);
    CHECK(bad.body.find("items[1].brief") != std::string::npos);
    check_error_envelope(sim.api("POST", "/v1/content/batch", "not json"), 400, "VALIDATION_ERROR", false);

    CHECK(stat(sim, "batches") == 1);
    CHECK(stat(sim, "batch_items") == 3);
    CHECK(stat(sim, "runs_created") == 3);
}

TEST_CASE("content/batch with --no-video: per-item partial failure") {
    sim_process sim({"--no-video"});
    auto r = sim.api("POST", "/v1/content/batch",
                     R"({"items":[{"brief":"a","modality":"image"},{"brief":"b","modality":"image"},)"
                     R"({"brief":"c","modality":"video"}]})");
    CHECK(r.status == 202);
    auto d = data_of(r).as_object();
    CHECK(d.at("total").as_int64() == 3);
    CHECK(d.at("queued").as_int64() == 2);
    CHECK(d.at("failed").as_int64() == 1);
    const auto& failed = d.at("items").as_array()[2].as_object();
    CHECK(failed.at("index").as_int64() == 2);
    CHECK(failed.at("status").as_string() == "failed");
    CHECK(failed.at("error").as_string() == "No video-capable app found for this workspace");
    CHECK_FALSE(failed.contains("runId"));
    CHECK(stat(sim, "runs_created") == 2);
}

TEST_CASE("content/create: one run; duplicate briefs are counted") {
    sim_process sim;
    auto r = sim.api("POST", "/v1/content/create", R"({"brief":"same text","platform":"instagram"})");
    CHECK(r.status == 202);
    auto d = data_of(r).as_object();
    CHECK(d.at("status").as_string() == "queued");
    CHECK(d.at("runId").is_string());
    CHECK(d.at("workflowName").is_string());
    check_error_envelope(sim.api("POST", "/v1/content/create", R"({"platform":"x"})"), 400, "VALIDATION_ERROR", false);
    CHECK(stat(sim, "duplicate_submissions") == 0);
    submit_batch(sim, {"same text", "other"});
    CHECK(stat(sim, "duplicate_submissions") == 1);
}

TEST_CASE("apps: list with search, schema, 404; --no-video hides video apps") {
    sim_process sim;
    auto list = data_of(sim.api("GET", "/v1/apps?search=product")).as_array();
    CHECK(list.size() >= 2);
    for (const auto& a : list) CHECK(a.at("appId").is_string());
    auto video = data_of(sim.api("GET", "/v1/apps?search=video")).as_array();
    CHECK(video.size() == 2);

    auto app = data_of(sim.api("GET", "/v1/apps/ec7ec3ce-69b4-43c9-8eea-fe9752d679a4")).as_object();
    CHECK(app.at("appId").as_string() == "ec7ec3ce-69b4-43c9-8eea-fe9752d679a4");
    CHECK(app.at("name").as_string() == "Product Shots with Mood Board");
    bool saw_style = false;
    for (const auto& p : app.at("parameters").as_array()) {
        CHECK(p.at("id").is_string());
        CHECK(p.at("type").is_string());
        CHECK(p.at("required").is_bool());
        if (p.at("name") == "Style") {
            saw_style = true;
            CHECK(p.at("options").as_array().size() == 3);
            CHECK(p.at("default").as_string() == "Studio");
        }
        if (p.at("name") == "Upload") {
            CHECK(p.at("type").as_string() == "url");
            CHECK(p.at("required").as_bool());
        }
    }
    CHECK(saw_style);
    CHECK(app.at("outputs").as_array().size() == 2);
    CHECK(app.at("outputs").as_array()[1].at("index").as_int64() == 1);
    check_error_envelope(sim.api("GET", "/v1/apps/00000000-0000-0000-0000-000000000000"), 404, "NOT_FOUND", false);

    sim_process novideo({"--no-video"});
    CHECK(data_of(novideo.api("GET", "/v1/apps?search=video")).as_array().empty());
    CHECK(novideo.api("GET", "/v1/apps/1afc70fd-cb66-4f44-847d-bdaf7e237be4").status == 404);
}

TEST_CASE("apps/{id}/runs: validation details name the parameter; valid runs are 202 with pending outputs") {
    sim_process sim;
    const std::string path = "/v1/apps/ec7ec3ce-69b4-43c9-8eea-fe9752d679a4/runs";
    auto details = [&](std::string body) {
        auto r = sim.api("POST", path, std::move(body));
        check_error_envelope(r, 400, "VALIDATION_ERROR", false);
        std::string all;
        const auto v = parse_json(r.body);
        for (const auto& d : v.at("details").as_array()) all += std::string(d.as_string()) + "\n";
        return all;
    };
    CHECK(details(R"({"inputs":{"Style":"Studio"}})").find("Upload: missing_no_default") != std::string::npos);
    CHECK(details(R"({"inputs":{"Upload":"https://x/y.jpg","Colour":"red"}})").find("Colour: unknown parameter") != std::string::npos);
    CHECK(details(R"({"inputs":{"Upload":"https://x/y.jpg","Style":"Watercolour"}})").find("Style:") != std::string::npos);
    CHECK(details(R"({"inputs":{"Upload":42}})").find("Upload: must be a string") != std::string::npos);
    CHECK(details(R"({"inputs":{"Upload":"not a url"}})").find("Upload:") != std::string::npos);
    CHECK(details(R"({})").find("inputs") != std::string::npos);

    auto hook = sim.api("POST", path + "?webhook=ftp://nope", R"({"inputs":{"Upload":"https://x/y.jpg"}})");
    check_error_envelope(hook, 400, "WEBHOOK_INVALID_URL", false);

    auto ok = sim.api("POST", path + "?webhook=https://example.com/cb",
                      R"({"inputs":{"Upload":"https://x/y.jpg","Style":"Disney / Pixar","Aspect Ratio":"1:1"}})");
    CHECK(ok.status == 202);
    auto d = data_of(ok).as_object();
    CHECK(d.at("status").as_string() == "queued");
    CHECK(d.at("webhookUrl").as_string() == "https://example.com/cb");
    CHECK(d.at("workflowName").as_string() == "Product Shots with Mood Board");
    const auto& outs = d.at("outputs").as_array();
    REQUIRE(outs.size() == 2);
    for (const auto& o : outs) {
        CHECK(o.at("type").as_string() == "pending");
        CHECK(o.at("status").as_string() == "pending");
        CHECK(o.at("value").is_null());
        CHECK(o.at("error").is_null());
        CHECK(o.at("id").as_string().starts_with("aiDesignerNode-"));
    }
    // The same app + inputs again is a duplicate submission.
    sim.api("POST", path, R"({"inputs":{"Upload":"https://x/y.jpg","Style":"Disney / Pixar","Aspect Ratio":"1:1"}})");
    CHECK(stat(sim, "duplicate_submissions") == 1);
}

TEST_CASE("a run goes queued -> running -> completed with progress and output URLs on the files origin") {
    sim_process sim({"--time-scale", "200"});
    auto ids = submit_batch(sim, {"a brief"});
    REQUIRE(ids.size() == 1);
    auto first = data_of(sim.api("GET", "/v1/runs/" + ids[0])).as_object();
    CHECK(first.at("createdAt").is_string());
    CHECK(first.at("progress").at("totalOutputs").as_int64() == 1);
    json::object last;
    for (int i = 0; i < 200; ++i) {
        last = data_of(sim.api("GET", "/v1/runs/" + ids[0])).as_object();
        if (last.at("status") == "completed") break;
        std::this_thread::sleep_for(20ms);
    }
    REQUIRE(last.at("status").as_string() == "completed");
    CHECK(last.at("runId").as_string() == ids[0]);
    CHECK(last.at("errorMessage").is_null());
    CHECK(last.at("startedAt").is_string());
    CHECK(last.at("completedAt").is_string());
    CHECK(last.at("progress").at("completedOutputs").as_int64() == 1);
    CHECK(last.at("progress").at("percentComplete").as_int64() == 100);
    const auto& out = last.at("outputs").as_array()[0].as_object();
    CHECK(out.at("status").as_string() == "completed");
    CHECK(out.at("type").as_string() == "image");
    CHECK(std::string(out.at("value").as_string()).starts_with(sim.files_url() + "/files/" + ids[0] + "/"));
    check_error_envelope(sim.api("GET", "/v1/runs/no-such-run"), 404, "NOT_FOUND", false);
    check_error_envelope(sim.api("GET", "/v1/no/such/route"), 404, "NOT_FOUND", false);
}

TEST_CASE("wait: blocks until terminal, or answers timeout:true; bad timeouts are 400") {
    sim_process sim({"--time-scale", "20", "--run-seconds", "10000"});  // runs last ~500 s real
    auto ids = submit_batch(sim, {"slow"});
    REQUIRE(ids.size() == 1);
    auto r = sim.api("GET", "/v1/runs/" + ids[0] + "/wait?timeout=2");  // 0.1 s real
    CHECK(r.status == 200);
    auto v = parse_json(r.body);
    CHECK(v.at("timeout").as_bool());
    CHECK(v.at("data").at("runId").as_string() == ids[0]);
    for (const char* bad : {"0", "121", "abc", "1.5"})
        check_error_envelope(sim.api("GET", "/v1/runs/" + ids[0] + "/wait?timeout=" + bad), 400, "VALIDATION_ERROR", false);

    sim_process fast({"--time-scale", "200"});
    auto fid = submit_batch(fast, {"fast"});
    auto done = parse_json(fast.api("GET", "/v1/runs/" + fid.at(0) + "/wait?timeout=60").body);
    CHECK(done.at("data").at("status").as_string() == "completed");
    CHECK_FALSE(done.as_object().contains("timeout"));
}

TEST_CASE("cancel: a running run becomes cancelled and wakes a waiter; unknown runs are 404") {
    sim_process sim({"--time-scale", "1", "--run-seconds", "10000"});
    auto ids = submit_batch(sim, {"to cancel"});
    REQUIRE(ids.size() == 1);
    std::optional<http_reply> waited;
    std::thread waiter([&] { waited = sim.api("GET", "/v1/runs/" + ids[0] + "/wait?timeout=60", {}, 30s); });
    std::this_thread::sleep_for(200ms);
    auto c = sim.api("POST", "/v1/runs/" + ids[0] + "/cancel");
    waiter.join();
    CHECK(c.status == 200);
    CHECK(data_of(c).at("status").as_string() == "cancelled");
    REQUIRE(waited);
    auto w = parse_json(waited->body);
    CHECK(w.at("data").at("status").as_string() == "cancelled");  // woken by the cancel, not the 60 s timeout
    auto g = data_of(sim.api("GET", "/v1/runs/" + ids[0])).as_object();
    CHECK(g.at("status").as_string() == "cancelled");
    CHECK(g.at("errorMessage").is_string());
    CHECK(g.at("outputs").as_array()[0].at("status").as_string() == "cancelled");
    CHECK(sim.api("POST", "/v1/runs/nope/cancel").status == 404);
    CHECK(stat(sim, "runs_cancelled") == 1);
}

TEST_CASE("account/usage counts credits; signing-key is a bare Ed25519 JWK") {
    sim_process sim;
    auto before = data_of(sim.api("GET", "/v1/account/usage")).as_object();
    submit_batch(sim, {"x", "y"});
    auto after = data_of(sim.api("GET", "/v1/account/usage")).as_object();
    CHECK(after.at("creditsUsed").as_int64() > before.at("creditsUsed").as_int64());
    CHECK(after.at("creditsRemaining").as_int64() < before.at("creditsRemaining").as_int64());
    CHECK(after.at("runs").as_int64() == 2);

    auto k = parse_json(sim.api("GET", "/v1/webhooks/signing-key").body);
    REQUIRE(k.is_object());
    CHECK_FALSE(k.as_object().contains("data"));
    const auto& key = k.at("keys").as_array().at(0).as_object();
    CHECK(key.at("kty").as_string() == "OKP");
    CHECK(key.at("crv").as_string() == "Ed25519");
    CHECK(key.at("kid").as_string() == "lamina-webhook-v1");
    CHECK(key.at("alg").as_string() == "EdDSA");
    CHECK(key.at("use").as_string() == "sig");
    std::string x(key.at("x").as_string());
    CHECK(x.size() == 43);  // 32 bytes, base64url without padding
    for (char& c : x) c = c == '-' ? '+' : c == '_' ? '/' : c;
    x += "=";
    unsigned char raw[48];
    const int n = EVP_DecodeBlock(raw, reinterpret_cast<const unsigned char*>(x.data()), static_cast<int>(x.size()));
    CHECK(n == 33);  // 32 bytes plus one for the padding character
    EVP_PKEY* pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw, 32);
    CHECK(pk != nullptr);
    EVP_PKEY_free(pk);
}

TEST_CASE("the same --seed gives the same run ids") {
    sim_process a({"--seed", "7"}), b({"--seed", "7"}), c({"--seed", "8"});
    auto ia = submit_batch(a, {"p", "q"}), ib = submit_batch(b, {"p", "q"}), ic = submit_batch(c, {"p", "q"});
    CHECK(ia.size() == 2);
    CHECK(ia == ib);
    CHECK(ia != ic);
}
