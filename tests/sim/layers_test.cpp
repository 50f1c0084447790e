// The Layers surface (PROVIDERS §3) on its own origin: Bearer auth and scopes, generate with
// validation, idempotency, `id` UPSERT, layer conflicts, billing, moderation and the concurrent-
// jobs cap, job polling with ETag/304, containers and their assets (real bytes checked against
// sizeBytes and checksumSha256, corrupted on request), the content list, the three bucket
// classes and the daily write cap, the unknown-shape switches, faults, and the counters.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "layers/limits.hpp"

#include <openssl/evp.h>
#include <boost/json.hpp>

#include <chrono>
#include <memory>
#include <set>
#include <thread>

using namespace briefd::testing;
using namespace briefd::sim_tests;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

const std::string project = "6f1c2a9e-3b4d-4e5f-8a6b-7c8d9e0f1a2b";
const std::string missing_project = "00000000-0000-4000-8000-000000000404";
const std::string two_layer_project = "00000000-0000-4000-8000-000000000002";
const std::string approval_project = "00000000-0000-4000-8000-000000000003";
const std::string key_ro = "lp_test_readonly_0000000000000000";

std::string content_path(const std::string& p = project) {
    return "/v1/projects/" + p + "/content";
}

std::string body(int variants = 1, std::string_view topic = "running",
                 std::string_view extra = "") {
    return R"({"format":"video_remix","variantCount":)" + std::to_string(variants) +
           R"(,"brief":{"topic":")" + std::string(topic) +
           R"(","targetPlatforms":["tiktok"],"language":"en"})" +
           (extra.empty() ? "" : "," + std::string(extra)) + "}";
}

json::value parsed(const http_reply& r) {
    auto v = parse_json(r.body);
    REQUIRE_MESSAGE(v.is_object(), r.status, " ", r.body);
    return v;
}

void check_error(const http_reply& r, unsigned status, std::string_view code,
                 std::string_view cls = "") {
    CHECK_MESSAGE(r.status == status, r.body);
    auto v = parse_json(r.body);
    REQUIRE_MESSAGE(v.is_object(), r.body);
    const auto& e = v.at("error").as_object();
    CHECK(e.at("code").as_string() == code);
    CHECK(e.at("message").is_string());
    CHECK(e.at("requestId").as_string().starts_with("req_"));
    CHECK(e.at("details").is_object());
    CHECK(r.header("x-request-id") == e.at("requestId").as_string());
    // The bucket state is on every response, errors included.
    CHECK_FALSE(r.header("x-ratelimit-limit").empty());
    CHECK_FALSE(r.header("x-ratelimit-remaining").empty());
    CHECK_FALSE(r.header("x-ratelimit-reset").empty());
    if (!cls.empty()) CHECK(r.header("x-ratelimit-endpoint-class") == cls);
}

std::int64_t lstat(const sim_process& sim, std::string_view key) {
    return stat(sim, "layers." + std::string(key));
}

std::string sha256_hex(std::string_view bytes) {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_Digest(bytes.data(), bytes.size(), d, &len, EVP_sha256(), nullptr);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) out += {hex[d[i] >> 4], hex[d[i] & 15]};
    return out;
}

// Polls the job until it stops running or the deadline; `stages` gets each stage seen, in order.
json::value wait_job(const sim_process& sim, const std::string& job,
                     std::vector<std::string>* stages = nullptr,
                     std::chrono::milliseconds deadline = 8000ms) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    json::value last;
    while (std::chrono::steady_clock::now() < end) {
        auto r = sim.layers("GET", "/v1/jobs/" + job);
        REQUIRE_MESSAGE(r.status == 200, r.body);
        last = parsed(r);
        if (last.at("status") != "running") return last;
        const std::string s(last.at("stage").as_string());
        if (stages && (stages->empty() || stages->back() != s)) stages->push_back(s);
        std::this_thread::sleep_for(5ms);
    }
    return last;
}

json::value generate(const sim_process& sim, const std::string& b = body(),
                     const std::string& p = project,
                     std::vector<std::pair<std::string, std::string>> headers = {}) {
    auto r = sim.layers("POST", content_path(p), b, std::move(headers));
    REQUIRE_MESSAGE(r.status == 202, r.body);
    return parsed(r);
}

}  // namespace

TEST_CASE("layers: own origin; Bearer auth, scopes, the X-Api-Key switch, misplaced keys") {
    sim_process sim({"--layers-key", "lp_test_k1briefsim_5ec7e75ec7e75ec7e75ec7e7", "--layers-key",
                     key_ro + "=content:read"});
    CHECK(sim.layers_url().starts_with("http://127.0.0.1:"));
    CHECK(sim.layers_url() != sim.api_url());
    CHECK(sim.hrizn_url().ends_with("/v1/public"));  // the line still parses for Hrizn
    CHECK(sim.layers_key() == "lp_test_k1briefsim_5ec7e75ec7e75ec7e75ec7e7");

    check_error(http_fetch(sim.layers_url() + "/v1/whoami"), 401, "UNAUTHENTICATED", "read-light");
    check_error(sim.layers("GET", "/v1/whoami", {}, {}, "lp_test_unknown"), 401, "UNAUTHENTICATED");
    auto who = sim.layers("GET", "/v1/whoami");
    REQUIRE(who.status == 200);
    CHECK(parsed(who).at("scopes") == json::array{"*"});
    CHECK_FALSE(parsed(who).as_object().contains("data"));  // bodies are not wrapped

    // X-Api-Key only counts under the older docs' rule.
    http_request_options x;
    x.headers = {{"X-Api-Key", sim.layers_key()}};
    check_error(http_fetch(sim.layers_url() + "/v1/whoami", x), 401, "UNAUTHENTICATED");
    sim.set_layers({{"auth", "both"}});
    CHECK(http_fetch(sim.layers_url() + "/v1/whoami", x).status == 200);
    sim.set_layers({{"auth", "bearer"}});

    // A content:read key lists but cannot generate nor poll jobs.
    CHECK(sim.layers("GET", content_path(), {}, {}, key_ro).status == 200);
    auto forbidden = sim.layers("POST", content_path(), body(), {}, key_ro);
    check_error(forbidden, 403, "FORBIDDEN_SCOPE", "long-running");
    CHECK(parsed(forbidden).at("error").at("details").at("requiredScope") == "content:write");
    check_error(sim.layers("GET", "/v1/jobs/job_x", {}, {}, key_ro), 403, "FORBIDDEN_SCOPE");
    sim.set_layers({{"scopes", "ignore"}});
    CHECK(sim.layers("POST", content_path(), body(), {}, key_ro).status == 202);
    sim.set_layers({{"scopes", "enforce"}});
    CHECK(lstat(sim, "jobs_created") == 1);
    CHECK_THROWS(sim.set_layers({{"keys", {{"hzk_nope", json::object{}}}}}));
    CHECK_THROWS(sim.set_layers({{"no_such_setting", 1}}));

    check_error(sim.layers("GET", "/v1/nothing"), 404, "NOT_FOUND");

    // Keys where they must not be.
    CHECK(lstat(sim, "keys_misplaced.total") == 0);
    http_request_options bearer;
    bearer.headers = {{"Authorization", "Bearer " + sim.layers_key()}};
    CHECK(http_fetch(sim.api_url() + "/v1/apps", bearer).status == 401);
    CHECK(http_fetch(sim.files_url() + "/files/x/0.png", bearer).status == 404);
    CHECK(http_fetch(sim.hrizn_url() + "/content", bearer).status == 401);
    http_request_options hrizn_key;
    hrizn_key.headers = {{"Authorization", "Bearer " + sim.hrizn_key()}};
    check_error(http_fetch(sim.layers_url() + "/v1/whoami", hrizn_key), 401, "UNAUTHENTICATED");
    CHECK(lstat(sim, "keys_misplaced.layers_key_on_lamina") == 1);
    CHECK(lstat(sim, "keys_misplaced.layers_key_on_files") == 1);
    CHECK(lstat(sim, "keys_misplaced.layers_key_on_hrizn") == 1);
    CHECK(lstat(sim, "keys_misplaced.foreign_key_on_layers") == 1);
    CHECK(lstat(sim, "keys_misplaced.total") == 4);
}

TEST_CASE("layers: a job runs its stages in order; completed result; ETag and 304") {
    sim_process sim(
        {"--layers-read-rpm", "100000", "--time-scale", "50", "--layers-gen-seconds", "60"});
    auto accepted = generate(sim, body(2));
    CHECK(accepted.at("kind") == "content_generate");
    CHECK(accepted.at("status") == "running");
    CHECK(accepted.at("stage") == "queued");
    CHECK(accepted.at("projectId").as_string() == project);
    const std::string job(accepted.at("jobId").as_string());
    CHECK(job.starts_with("job_"));
    CHECK(accepted.at("locationUrl").as_string() == "/v1/jobs/" + job);
    CHECK(accepted.at("startedAt").is_string());
    const auto& ids = accepted.at("containerIds").as_array();
    REQUIRE(ids.size() == 2);
    CHECK(ids[0].as_string().starts_with("cnt_"));
    CHECK(ids[0] != ids[1]);

    auto first = sim.layers("GET", "/v1/jobs/" + job);
    REQUIRE(first.status == 200);
    CHECK(first.header("x-ratelimit-endpoint-class") == "read-light");
    auto running = parsed(first);
    CHECK(running.at("status") == "running");
    CHECK(running.at("progress").as_double() >= 0);
    CHECK(running.at("progress").as_double() < 1);

    std::vector<std::string> seen;
    auto done = wait_job(sim, job, &seen);
    REQUIRE(done.at("status") == "completed");
    // Stages only move forward, in the documented order.
    const std::vector<std::string> order = {"queued", "planning", "generating_visuals",
                                            "assembling", "finalizing"};
    std::size_t at = 0;
    for (const auto& s : seen) {
        auto it = std::find(order.begin() + static_cast<std::ptrdiff_t>(at), order.end(), s);
        REQUIRE_MESSAGE(it != order.end(), "stage out of order: ", s);
        at = static_cast<std::size_t>(it - order.begin());
    }
    CHECK(seen.size() >= 3);
    CHECK(done.at("finishedAt").is_string());
    CHECK_FALSE(done.as_object().contains("error"));
    // Only the first container is in the result, as the docs show.
    CHECK(done.at("result").at("containerId") == ids[0]);
    CHECK(done.at("result").at("assets").as_array().size() == 1);

    // A finished job does not change: If-None-Match answers 304 with no body.
    auto full = sim.layers("GET", "/v1/jobs/" + job);
    const std::string etag = full.header("etag");
    REQUIRE_FALSE(etag.empty());
    auto nm = sim.layers("GET", "/v1/jobs/" + job, {}, {{"If-None-Match", etag}});
    CHECK(nm.status == 304);
    CHECK(nm.body.empty());
    CHECK(nm.header("etag") == etag);
    CHECK_FALSE(nm.header("x-ratelimit-remaining").empty());
    CHECK(sim.layers("GET", "/v1/jobs/" + job, {}, {{"If-None-Match", "\"other\""}}).status == 200);
    // The running body had another tag.
    CHECK(first.header("etag") != etag);
    CHECK(sim.layers("GET", "/v1/jobs/" + job, {}, {{"If-None-Match", first.header("etag")}})
              .status == 200);
    CHECK(lstat(sim, "not_modified") == 1);
    check_error(sim.layers("GET", "/v1/jobs/job_nope"), 404, "NOT_FOUND");
}

TEST_CASE("layers: containers, assets with real bytes and checksums; corrupted first downloads") {
    sim_process sim({"--layers-read-rpm", "100000", "--time-scale", "100", "--layers-gen-seconds",
                     "30", "--output-bytes", "70000"});
    auto video = generate(sim, body(1));
    auto slides = generate(sim, R"({"format":"slideshow_remix","brief":{"topic":"slides"}})");
    const std::string cid(video.at("containerIds").at(0).as_string());

    auto mid = sim.layers("GET", "/v1/content/" + cid);
    REQUIRE(mid.status == 200);
    auto c0 = parsed(mid);
    CHECK((c0.at("status") == "queued" || c0.at("status") == "processing"));
    CHECK(c0.at("assets").as_array().empty());  // safe mid-generation: nothing yet
    CHECK(c0.at("caption").is_null());

    wait_job(sim, std::string(video.at("jobId").as_string()));
    wait_job(sim, std::string(slides.at("jobId").as_string()));
    auto c = parsed(sim.layers("GET", "/v1/content/" + cid));
    CHECK(c.at("id").as_string() == cid);
    CHECK(c.at("projectId").as_string() == project);
    CHECK(c.at("status") == "completed");
    CHECK(c.at("format") == "video_remix");
    CHECK(c.at("hook").is_string());
    CHECK(c.at("caption").is_string());
    CHECK(c.at("approvalStatus") == "not_required");
    CHECK(c.at("preview").at("kind") == "video");
    const auto& assets = c.at("assets").as_array();
    REQUIRE(assets.size() == 1);
    const auto& a = assets[0].as_object();
    CHECK(a.at("kind") == "video");
    CHECK(a.at("mimeType") == "video/mp4");
    CHECK(a.at("sizeBytes").to_number<std::int64_t>() == 70000);
    const std::string sum(a.at("checksumSha256").as_string());
    CHECK(sum.size() == 64);
    CHECK(sum.find_first_not_of("0123456789abcdef") == std::string::npos);
    const std::string url(a.at("url").as_string());
    CHECK(url.starts_with(sim.files_url() + "/public-media/content-container/" + cid + "/media/"));
    auto got = http_fetch(url);
    REQUIRE(got.status == 200);
    CHECK(got.header("content-type") == "video/mp4");
    CHECK(got.body.size() == 70000);
    CHECK(sha256_hex(got.body) == sum);
    CHECK(got.body.substr(4, 4) == "ftyp");

    // A slideshow has image assets: real PNGs, checksums match too.
    const std::string sid(slides.at("containerIds").at(0).as_string());
    auto s = parsed(sim.layers("GET", "/v1/content/" + sid));
    REQUIRE(s.at("assets").as_array().size() == 3);
    for (const auto& img : s.at("assets").as_array()) {
        auto r = http_fetch(std::string(img.at("url").as_string()));
        REQUIRE(r.status == 200);
        CHECK(r.body.substr(1, 3) == "PNG");
        CHECK(r.body.size() == img.at("sizeBytes").to_number<std::size_t>());
        CHECK(sha256_hex(r.body) == img.at("checksumSha256").as_string());
    }
    // The asset endpoint.
    const std::string aid(a.at("assetId").as_string());
    auto one = parsed(sim.layers("GET", "/v1/content/" + cid + "/assets/" + aid));
    CHECK(one.at("containerId").as_string() == cid);
    CHECK(one.at("url").as_string() == url);
    check_error(sim.layers("GET", "/v1/content/" + cid + "/assets/ast_nope"), 404, "NOT_FOUND");
    check_error(sim.layers("GET", "/v1/content/cnt_nope"), 404, "NOT_FOUND");
    CHECK(lstat(sim, "corrupted_downloads") == 0);

    // Corruption: the first download of an asset has other bytes of the same length; the next
    // is right.
    sim.set_layers({{"corrupt", 1}});
    auto third = generate(sim, body(1, "corrupt me"));
    wait_job(sim, std::string(third.at("jobId").as_string()));
    auto tc = parsed(sim.layers(
        "GET", "/v1/content/" + std::string(third.at("containerIds").at(0).as_string())));
    const auto& ta = tc.at("assets").at(0);
    auto bad = http_fetch(std::string(ta.at("url").as_string()));
    auto good = http_fetch(std::string(ta.at("url").as_string()));
    REQUIRE(bad.status == 200);
    CHECK(bad.body.size() == ta.at("sizeBytes").to_number<std::size_t>());
    CHECK(sha256_hex(bad.body) != ta.at("checksumSha256").as_string());
    CHECK(sha256_hex(good.body) == ta.at("checksumSha256").as_string());
    CHECK(lstat(sim, "corrupted_downloads") == 1);
    CHECK(lstat(sim, "asset_downloads") == 6);
}

TEST_CASE("layers: validation, moderation, unknown projects, layer conflicts, the 202 forms") {
    sim_process sim({"--time-scale", "100"});
    for (const std::string& b :
         {std::string("not json"), std::string(R"({"variantCount":1})"), body(0), body(6),
          std::string(R"({"variantCount":"2","brief":{}})"),
          std::string(R"({"format":5,"brief":{}})"), std::string(R"({"id":"nope","brief":{}})"),
          std::string(R"({"brief":{"targetPlatforms":["myspace"]}})"),
          std::string(R"({"brief":{"valuePropositions":[1]}})")}) {
        auto r = sim.layers("POST", content_path(), b);
        check_error(r, 400, "VALIDATION_FAILED", "long-running");
        if (r.status == 400 && b != "not json")
            CHECK_FALSE(parsed(r).at("error").at("details").at("fields").as_array().empty());
    }
    check_error(sim.layers("POST", content_path("not-a-uuid"), body()), 400, "VALIDATION_FAILED");
    check_error(sim.layers("POST", content_path(missing_project), body()), 404, "NOT_FOUND");
    check_error(sim.layers("GET", content_path(missing_project)), 404, "NOT_FOUND");
    check_error(sim.layers("POST", content_path(), body(1, "How to BlockMe fast")), 422,
                "MODERATION_BLOCKED");
    // The format is a pass-through string (its spellings differ between doc versions).
    CHECK(generate(sim, R"({"format":"slideshow-builder","brief":{}})").at("format") ==
          "slideshow-builder");

    auto conflict = sim.layers("POST", content_path(two_layer_project), body());
    check_error(conflict, 409, "CONFLICT");
    const auto candidates = parsed(conflict).at("error").at("details").at("candidates").as_array();
    REQUIRE(candidates.size() == 2);
    const std::string layer(candidates[1].as_string());
    generate(sim, body(1, "running", R"("projectLayerId":")" + layer + "\""), two_layer_project);
    check_error(sim.layers("POST", content_path(two_layer_project),
                           body(1, "running", R"("projectLayerId":"lyr_other")")),
                404, "NOT_FOUND");

    // A project that requires approval: containers land pending; approve is write-light.
    auto ap = generate(sim, body(), approval_project);
    const std::string cid(ap.at("containerIds").at(0).as_string());
    CHECK(parsed(sim.layers("GET", "/v1/content/" + cid)).at("approvalStatus") == "pending");
    auto approved = sim.layers("POST", "/v1/content/" + cid + "/approve", "{}");
    CHECK(approved.status == 200);
    CHECK(approved.header("x-ratelimit-endpoint-class") == "write-light");
    CHECK(parsed(approved).at("approvalStatus") == "approved");
    check_error(sim.layers("POST", "/v1/content/" + cid + "/reject", "{}"), 409, "CONFLICT",
                "write-light");

    // The older single-containerId form.
    sim.set_layers({{"accept", "single"}});
    auto single = generate(sim, body(3, "single"));
    CHECK(single.at("containerId").as_string().starts_with("cnt_"));
    CHECK_FALSE(single.as_object().contains("containerIds"));
}

TEST_CASE("layers: Idempotency-Key replays, conflicts, id UPSERT, duplicate generations") {
    sim_process sim({"--time-scale", "100"});
    const std::vector<std::pair<std::string, std::string>> k1 = {{"Idempotency-Key", "key-1"}};
    // A refused request is not stored: the same key later works with a good body.
    check_error(sim.layers("POST", content_path(), body(9), k1), 400, "VALIDATION_FAILED");
    auto a = sim.layers("POST", content_path(), body(2), k1);
    REQUIRE(a.status == 202);
    auto replay = sim.layers("POST", content_path(), body(2), k1);
    CHECK(replay.status == 202);
    CHECK(parsed(replay) == parsed(a));
    // Member order does not make another body.
    auto reordered = sim.layers(
        "POST", content_path(),
        R"({"brief":{"language":"en","targetPlatforms":["tiktok"],"topic":"running"},"variantCount":2,"format":"video_remix"})",
        k1);
    CHECK(parsed(reordered).at("jobId") == parsed(a).at("jobId"));
    check_error(sim.layers("POST", content_path(), body(3), k1), 409, "IDEMPOTENCY_CONFLICT");
    CHECK(lstat(sim, "jobs_created") == 1);
    CHECK(lstat(sim, "idempotent_replays") == 2);
    CHECK(lstat(sim, "idempotency_conflicts") == 1);
    CHECK(lstat(sim, "duplicate_generations") == 0);

    // id: the first container takes it; the same id and body replays; another body conflicts.
    const std::string id = "0b0e5a8e-1111-4222-8333-444455556666";
    const std::string with_id = body(2, "ids", R"("id":")" + id + "\"");
    auto first = generate(sim, with_id);
    CHECK(first.at("containerIds").at(0).as_string() == id);
    CHECK(generate(sim, with_id).at("jobId") == first.at("jobId"));
    check_error(sim.layers("POST", content_path(), body(2, "other", R"("id":")" + id + "\"")), 409,
                "CONFLICT");
    CHECK(sim.layers("GET", "/v1/content/" + id).status == 200);
    CHECK(lstat(sim, "id_replays") == 1);
    CHECK(lstat(sim, "jobs_created") == 2);

    // The same body generated twice without any replay is a duplicate generation.
    generate(sim, body(1, "twice"));
    generate(sim, body(1, "twice"));
    CHECK(lstat(sim, "duplicate_generations") == 1);
    CHECK(lstat(sim, "jobs_created") == 4);
    CHECK(lstat(sim, "containers_created") == 6);
}

TEST_CASE("layers: credits below cost give 402 until topped up through the control endpoint") {
    sim_process sim({"--time-scale", "100", "--layers-credits", "50", "--layers-cost", "20"});
    generate(sim, body(2));  // 40 of 50
    auto refused = sim.layers("POST", content_path(), body(1));
    check_error(refused, 402, "BILLING_EXHAUSTED");
    const auto d = parsed(refused).at("error").at("details");
    CHECK(d.at("required") == 20);
    CHECK(d.at("available") == 10);
    CHECK(lstat(sim, "billing_refusals") == 1);
    CHECK(stat(sim, "layers.credits") == 10);
    CHECK(sim.set_layers({{"credits", 100}}).at("credits") == 100);
    generate(sim, body(1));
    CHECK(stat(sim, "layers.credits") == 80);
    CHECK(lstat(sim, "jobs_created") == 2);
}

TEST_CASE("layers: the concurrent-jobs cap answers 429 with Retry-After; cancel; failed jobs") {
    sim_process sim({"--layers-read-rpm", "100000", "--time-scale", "10", "--layers-gen-seconds",
                     "60", "--layers-max-jobs", "2"});
    auto a = generate(sim, body(1, "a"));
    generate(sim, body(1, "b"));
    auto capped = sim.layers("POST", content_path(), body(1, "c"));
    check_error(capped, 429, "RATE_LIMITED", "long-running");
    const auto d = parsed(capped).at("error").at("details");
    CHECK(d.at("scope") == "concurrent_jobs");
    CHECK(d.at("limit") == 2);
    const int retry = std::stoi(capped.header("retry-after"));
    CHECK(retry >= 1);
    CHECK(retry <= 8);  // 60 API s +-25 % at scale 10
    CHECK(lstat(sim, "over_limit.jobs") == 1);
    CHECK(lstat(sim, "concurrent_jobs_peak") == 2);
    CHECK(stat(sim, "layers.running_jobs") == 2);

    // Canceling one frees a slot.
    const std::string job(a.at("jobId").as_string());
    sim.set_layers({{"cancel", job}});
    auto canceled = parsed(sim.layers("GET", "/v1/jobs/" + job));
    CHECK(canceled.at("status") == "canceled");
    CHECK(canceled.at("finishedAt").is_string());
    CHECK(parsed(sim.layers("GET",
                            "/v1/content/" + std::string(a.at("containerIds").at(0).as_string())))
              .at("status") == "canceled");
    CHECK_THROWS(sim.set_layers({{"cancel", job}}));  // not running any more
    generate(sim, body(1, "c"));
    CHECK(lstat(sim, "concurrent_jobs_peak") == 2);

    // A failing share (fail-rate): the job fails with an error object, its containers too.
    sim.set_layers({{"max_jobs", 10}, {"gen_seconds", 2}});
    sim.set_faults({{"fail-rate", 1}});
    auto f = generate(sim, body(1, "fails"));
    auto failed = wait_job(sim, std::string(f.at("jobId").as_string()));
    CHECK(failed.at("status") == "failed");
    CHECK(failed.at("error").at("code").is_string());
    CHECK(failed.at("error").at("message").is_string());
    CHECK_FALSE(failed.as_object().contains("result"));
    auto fc = parsed(
        sim.layers("GET", "/v1/content/" + std::string(f.at("containerIds").at(0).as_string())));
    CHECK(fc.at("status") == "failed");
    CHECK(fc.at("lastError").at("code").is_string());
}

TEST_CASE("layers: the content list filters by status and since, pages by cursor") {
    sim_process sim(
        {"--layers-read-rpm", "100000", "--time-scale", "100", "--layers-gen-seconds", "10"});
    auto j = generate(sim, body(3));
    wait_job(sim, std::string(j.at("jobId").as_string()));
    std::this_thread::sleep_for(20ms);
    const std::string since = [] {
        const auto now = std::chrono::system_clock::now();
        const std::time_t t = std::chrono::system_clock::to_time_t(now);
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
            1000;
        std::tm tm{};
        gmtime_r(&t, &tm);
        char buf[40];
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
        return std::string(buf) + "." + std::to_string(1000 + ms).substr(1) + "Z";
    }();
    std::this_thread::sleep_for(20ms);
    sim.set_layers({{"gen_seconds", 100000}});
    generate(sim, body(2, "slow"));
    generate(sim, body(1), approval_project);  // another project: never listed here

    auto all = parsed(sim.layers("GET", content_path()));
    CHECK(all.at("items").as_array().size() == 5);
    CHECK(all.at("nextCursor").is_null());
    CHECK(all.at("items").at(0).at("status") == "queued");  // newest first

    auto done = parsed(sim.layers("GET", content_path() + "?status=completed"));
    CHECK(done.at("items").as_array().size() == 3);
    for (const auto& it : done.at("items").as_array()) CHECK(it.at("status") == "completed");
    auto recent = parsed(sim.layers("GET", content_path() + "?since=" + since));
    CHECK(recent.at("items").as_array().size() == 2);

    std::set<std::string> ids;
    std::string cursor;
    int pages = 0;
    for (;;) {
        auto page = parsed(sim.layers(
            "GET", content_path() + "?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor)));
        ++pages;
        for (const auto& it : page.at("items").as_array())
            ids.insert(std::string(it.at("id").as_string()));
        if (page.at("nextCursor").is_null()) break;
        cursor = std::string(page.at("nextCursor").as_string());
        REQUIRE(pages < 10);
    }
    CHECK(pages == 3);
    CHECK(ids.size() == 5);
    for (const std::string q :
         {"?limit=201", "?limit=0", "?status=generating", "?since=yesterday", "?cursor=zz"})
        check_error(sim.layers("GET", content_path() + q), 400, "VALIDATION_FAILED", "read-light");
    CHECK(sim.layers("GET", content_path() + "?limit=200").status == 200);
}

TEST_CASE("layers: every bucket class has its own window; the daily write cap; header forms") {
    sim_process sim({"--layers-read-rpm", "3", "--layers-write-rpm", "2", "--layers-long-rpm", "2",
                     "--layers-window-s", "60", "--layers-gen-seconds", "1000"});
    // read-light: every GET
    for (int i = 0; i < 3; ++i) {
        auto r = sim.layers("GET", "/v1/whoami");
        CHECK(r.status == 200);
        CHECK(r.header("x-ratelimit-limit") == "3");
        CHECK(r.header("x-ratelimit-remaining") == std::to_string(2 - i));
        CHECK(r.header("x-ratelimit-endpoint-class") == "read-light");
    }
    auto over = sim.layers("GET", "/v1/jobs/job_x");
    check_error(over, 429, "RATE_LIMITED", "read-light");
    const int retry = std::stoi(over.header("retry-after"));
    CHECK(retry >= 55);
    CHECK(retry <= 60);
    // Epoch form by default: about now + the wait.
    const auto epoch = std::stoll(over.header("x-ratelimit-reset"));
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    CHECK(epoch >= now + 50);
    CHECK(epoch <= now + 62);
    CHECK(lstat(sim, "over_limit.read-light") == 1);

    // long-running: generate POSTs, unaffected by the spent read budget.
    auto ap = generate(sim, body(1, "a"), approval_project);
    generate(sim, body(1, "b"), approval_project);
    check_error(sim.layers("POST", content_path(), body(1, "c")), 429, "RATE_LIMITED",
                "long-running");
    CHECK(lstat(sim, "over_limit.long-running") == 1);

    // write-light: approve/reject.
    const std::string cid(ap.at("containerIds").at(0).as_string());
    auto w1 = sim.layers("POST", "/v1/content/" + cid + "/approve", "{}");
    CHECK(w1.status == 200);
    CHECK(w1.header("x-ratelimit-limit") == "2");
    check_error(sim.layers("POST", "/v1/content/" + cid + "/approve", "{}"), 409, "CONFLICT",
                "write-light");
    check_error(sim.layers("POST", "/v1/content/" + cid + "/approve", "{}"), 429, "RATE_LIMITED",
                "write-light");
    CHECK(lstat(sim, "over_limit.write-light") == 1);
    CHECK(lstat(sim, "responses_429") == 3);

    // Delta form and no headers at all: both switchable (the header names are unconfirmed).
    sim.set_layers({{"reset", "delta"}, {"read_rpm", 100}});
    auto delta = sim.layers("GET", "/v1/whoami");
    CHECK(std::stoll(delta.header("x-ratelimit-reset")) <= 60);
    sim.set_layers({{"ratelimit_headers", false}});
    auto bare = sim.layers("GET", "/v1/whoami");
    CHECK(bare.status == 200);
    CHECK(bare.header("x-ratelimit-limit").empty());
    CHECK(bare.header("x-ratelimit-endpoint-class") == "read-light");

    // The daily write cap counts both write classes; reads go on; the day rolls over.
    sim.set_layers({{"ratelimit_headers", true},
                    {"daily_write_cap", 2},
                    {"day_s", 2},
                    {"write_rpm", 100},
                    {"long_rpm", 100}});
    generate(sim, body(1, "d1"));
    CHECK(sim.layers("POST", "/v1/content/cnt_nope/approve", "{}").status == 404);
    auto capped = sim.layers("POST", content_path(), body(1, "d2"));
    check_error(capped, 429, "RATE_LIMITED", "long-running");
    CHECK(parsed(capped).at("error").at("details").at("scope") == "daily_write_cap");
    CHECK(sim.layers("GET", "/v1/whoami").status == 200);
    CHECK(lstat(sim, "over_limit.daily") == 1);
    std::this_thread::sleep_for(std::chrono::seconds(std::stoi(capped.header("retry-after"))));
    generate(sim, body(1, "d2"));
}

TEST_CASE("layers: faults-on picks Layers for the storm; the tier sets documented limits") {
    sim_process sim({"--time-scale", "100"});
    sim.set_faults({{"storm-429", "0:10000"}, {"faults-on", "layers"}});
    check_error(sim.layers("GET", "/v1/whoami"), 429, "RATE_LIMITED", "read-light");
    CHECK(sim.hrizn("GET", "/content").status == 200);
    CHECK(lstat(sim, "storm_429") == 1);
    CHECK(sim.set_faults({{"faults-on", "lamina,layers"}}).at("faults-on") == "lamina,layers");
    sim.set_faults({{"storm-429", nullptr}, {"faults-on", nullptr}});
    CHECK(sim.layers("GET", "/v1/whoami").status == 200);

    auto partner = sim.set_layers({{"tier", "partner"}});
    CHECK(partner.at("read_rpm") == 6000);
    CHECK(partner.at("long_rpm") == 300);
    CHECK(partner.at("daily_write_cap") == 500000);
    CHECK(sim.layers("GET", "/v1/whoami").header("x-ratelimit-limit") == "6000");
    // Stats reset clears the Layers counters too.
    sim.reset_stats();
    CHECK(lstat(sim, "requests_total") == 0);
}

TEST_CASE("layers: bad Layers options exit 2; --help lists them") {
    for (std::vector<std::string> bad : {std::vector<std::string>{"--layers-key", "hzk_nope"},
                                         {"--layers-tier", "gold"},
                                         {"--layers-reset", "sometimes"},
                                         {"--layers-corrupt", "2"},
                                         {"--layers-accept", "x"},
                                         {"--layers-bogus", "1"}}) {
        std::vector<std::string> argv{sim_process::binary()};
        argv.insert(argv.end(), bad.begin(), bad.end());
        child_process p(argv, {{}, "/dev/null", {}});
        auto st = p.wait(5s);
        REQUIRE(st);
        CHECK_MESSAGE(st->code == 2, bad[0]);
    }
    child_process help({sim_process::binary(), "--help"});
    std::string text;
    while (auto line = help.read_line(5s)) text += *line + "\n";
    CHECK(help.wait(5s)->success());
    CHECK(text.find("--layers-corrupt") != std::string::npos);
    CHECK(text.find("lp_test_k1briefsim_5ec7e75ec7e75ec7e75ec7e7") != std::string::npos);
}

TEST_CASE("layers limits: classes are independent sliding windows; writes share the daily cap") {
    using briefd::sim::layers::bucket_class;
    using briefd::sim::layers::class_limits;
    using briefd::sim::layers::limit_verdict;
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    class_limits l({3, 2, 1}, 60s, 3, 1000s, t0);
    for (int i = 0; i < 3; ++i)
        CHECK(l.hit("k", bucket_class::read_light, t0).verdict == limit_verdict::allowed);
    auto r = l.hit("k", bucket_class::read_light, t0 + 10s);
    CHECK(r.verdict == limit_verdict::over_class);
    CHECK(r.limit == 3);
    CHECK(r.reset == 50s);  // the oldest accepted request leaves the window at t0 + 60 s
    // Another key, and the other classes, are untouched.
    CHECK(l.hit("other", bucket_class::read_light, t0).verdict == limit_verdict::allowed);
    auto w = l.hit("k", bucket_class::write_light, t0);
    CHECK(w.verdict == limit_verdict::allowed);
    CHECK(w.limit == 2);
    CHECK(w.remaining == 1);
    CHECK(l.hit("k", bucket_class::long_running, t0).verdict == limit_verdict::allowed);
    // The long-running window is full: refused, and the day is not charged for it.
    CHECK(l.hit("k", bucket_class::long_running, t0 + 1s).verdict == limit_verdict::over_class);
    auto last = l.hit("k", bucket_class::write_light, t0 + 2s);
    CHECK(last.verdict == limit_verdict::allowed);
    CHECK(last.remaining == 0);  // the day's third write
    auto day = l.hit("k", bucket_class::long_running, t0 + 61s);
    CHECK(day.verdict == limit_verdict::over_day);
    CHECK(day.reset == 939s);
    // Reads go on; the next day the writes do too.
    CHECK(l.hit("k", bucket_class::read_light, t0 + 61s).verdict == limit_verdict::allowed);
    CHECK(l.hit("k", bucket_class::long_running, t0 + 1000s).verdict == limit_verdict::allowed);
    // Slots come back one at a time as old requests leave the window.
    CHECK(l.hit("k", bucket_class::read_light, t0 + 1001s).remaining == 2);
}
