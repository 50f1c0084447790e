// Layers' request shapes and tolerant response reading (PROVIDERS.md §3, seed 003), including what
// the docs leave open or state two ways: the single containerId or containerIds[] of the 202, a
// failed job's error as an object or a string, a `data` wrapper, and container asset records.
#include "providers/layers/layers.hpp"

#include <boost/json.hpp>

#include <set>

namespace layers = briefd::providers::layers;
namespace json = boost::json;
using briefd::errc;
using briefd::providers::run_phase;
using verb = boost::beast::http::verb;

namespace {
constexpr const char* project = "8b0c3f2e-6a1d-4f5b-9c7e-2d4a6b8c0e1f";
briefd::brief::item job_item(std::size_t index, json::object body) {
    return {index, briefd::brief::layers_item{project, std::move(body)}};
}
const layers::provider api;

std::error_code classify(unsigned status, std::string_view body, briefd::diagnostics& d) {
    d = {};
    return api.classify_error(status, body, d);
}
}  // namespace

TEST_CASE("layers: registered by name, with Bearer credentials, a whoami probe, one item each") {
    REQUIRE(briefd::providers::find("layers") != nullptr);
    CHECK(briefd::providers::find("layers")->name() == "layers");
    CHECK(api.credential_header() == "Authorization");
    CHECK(api.credential_value("lp_test_k1_s3cret") == "Bearer lp_test_k1_s3cret");
    auto probe = api.probe();
    CHECK(probe.method == verb::get);
    CHECK(probe.segments == std::vector<std::string>{"v1", "whoami"});
    CHECK(api.idempotency_header() == "Idempotency-Key");
    CHECK(api.max_items_per_request() == 1);
    CHECK_FALSE(api.group_key(job_item(0, {})).has_value());
    CHECK(api.channels(job_item(0, {})) ==
          (briefd::providers::channel_poll | briefd::providers::channel_list |
           briefd::providers::channel_webhook));
}

TEST_CASE("layers: a generate request carries the item's body and an id derived from the key") {
    auto it =
        job_item(2, {{"format", "video_remix"},
                     {"variantCount", 3},
                     {"brief", {{"hook", "First 30 days"}, {"targetPlatforms", {"tiktok"}}}}});
    auto call = api.submit_with_key({&it}, "briefd-0123abcd");
    CHECK(call.method == verb::post);
    CHECK(call.segments == std::vector<std::string>{"v1", "projects", project, "content"});
    auto body = json::parse(call.body).as_object();
    CHECK(body.at("format").as_string() == "video_remix");
    CHECK(body.at("variantCount").as_int64() == 3);
    CHECK(body.at("brief").at("hook").as_string() == "First 30 days");
    CHECK_FALSE(body.contains("projectId"));
    auto id = std::string(body.at("id").as_string());
    CHECK(briefd::brief::is_uuid(id));
    CHECK(id == layers::container_uuid("briefd-0123abcd"));
    CHECK(layers::bucket_class(call) == "long-running");

    // The same key always names the same container; another key another one.
    auto again = json::parse(api.submit_with_key({&it}, "briefd-0123abcd").body).as_object();
    CHECK(again.at("id").as_string() == id);
    auto other = json::parse(api.submit_with_key({&it}, "briefd-0123abce").body).as_object();
    CHECK(other.at("id").as_string() != id);

    // The brief's own id wins; without a key and without one, none is invented.
    auto own = job_item(0, {{"id", "11111111-2222-4333-8444-555555555555"}});
    CHECK(json::parse(api.submit_with_key({&own}, "briefd-0123abcd").body).at("id").as_string() ==
          "11111111-2222-4333-8444-555555555555");
    CHECK_FALSE(json::parse(api.submit({&it}).body).as_object().contains("id"));
}

TEST_CASE("layers: container ids are RFC 4122 version 5 UUIDs") {
    // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org")
    CHECK(layers::name_uuid("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org") ==
          "886313e1-3b8a-5372-9b90-0c9aee199e5d");
    CHECK(layers::name_uuid("not-a-uuid", "x").empty());
    auto id = layers::container_uuid("briefd-abc");
    REQUIRE(id.size() == 36);
    CHECK(id[14] == '5');
    CHECK(std::string("89ab").find(id[19]) != std::string::npos);
}

TEST_CASE("layers: both 202 shapes give the job and its containers; a data wrapper is tolerated") {
    auto it = job_item(0, {});
    auto newer = api.parse_submit({&it}, R"({"jobId":"job_01HXZ9G7KMV2QX8Y1S5RJW3B7T",
        "kind":"content_generate","status":"running","containerIds":["cnt_01HXZ9A","cnt_01HXZA-b"],
        "format":"video_remix","locationUrl":"/v1/jobs/job_01HXZ9G7KMV2QX8Y1S5RJW3B7T","extra":[1]})");
    REQUIRE(newer);
    REQUIRE(newer->size() == 1);
    CHECK((*newer)[0].accepted);
    CHECK((*newer)[0].run_id == "job_01HXZ9G7KMV2QX8Y1S5RJW3B7T");
    CHECK((*newer)[0].children == std::vector<std::string>{"cnt_01HXZ9A", "cnt_01HXZA-b"});

    auto older = api.parse_submit(
        {&it}, R"({"jobId":"job_7","status":"running","stage":"queued","projectId":"p",
                  "containerId":"0f8e2b6a-1c3d-4e5f-8a9b-0c1d2e3f4a5b","startedAt":"2026-11-30T11:00:00Z"})");
    REQUIRE(older);
    CHECK((*older)[0].children == std::vector<std::string>{"0f8e2b6a-1c3d-4e5f-8a9b-0c1d2e3f4a5b"});

    auto wrapped = api.parse_submit(
        {&it}, R"({"data":{"jobId":"job_8","containerIds":["cnt_a","../x","cnt_a"]}})");
    REQUIRE(wrapped);
    CHECK((*wrapped)[0].run_id == "job_8");
    CHECK((*wrapped)[0].children == std::vector<std::string>{"cnt_a"});  // unsafe and repeated ids

    CHECK_FALSE(api.parse_submit({&it}, R"({"status":"running"})"));
    CHECK_FALSE(api.parse_submit({&it}, "not json"));
    CHECK_FALSE(api.parse_submit({&it}, R"([{"jobId":"job_1"}])"));
}

TEST_CASE("layers: job status maps every stage of running, completion, failure and cancel") {
    auto running = api.parse_status(R"({"jobId":"job_1","kind":"content_generate",
        "status":"running","progress":0.42,"stage":"generating_visuals","startedAt":"t0",
        "somethingNew":{"a":1}})");
    REQUIRE(running);
    CHECK(running->phase == run_phase::running);
    CHECK(running->progress_percent == 42);
    CHECK(running->run_id == "job_1");
    CHECK(running->created_at == "t0");
    for (auto stage : {"queued", "planning", "assembling", "finalizing", "some_new_stage"}) {
        auto body = std::string(R"({"jobId":"job_1","status":"running","stage":")") + stage + "\"}";
        auto v = api.parse_status(body);
        REQUIRE(v);
        CHECK(v->phase == run_phase::running);
        CHECK(v->progress_percent == -1);
    }

    auto done = api.parse_status(R"({"jobId":"job_1","status":"completed","finishedAt":"t1",
        "result":{"containerId":"cnt_a","assets":[{"url":"https://m/x.mp4"}]}})");
    REQUIRE(done);
    CHECK(done->phase == run_phase::completed);
    CHECK(done->progress_percent == 100);
    CHECK(done->children == std::vector<std::string>{"cnt_a"});
    CHECK(done->outputs.empty());  // the containers are what give the outputs (expand)

    auto failed_obj = api.parse_status(
        R"({"jobId":"job_1","status":"failed","error":{"code":"MODERATION_BLOCKED","message":"no"}})");
    REQUIRE(failed_obj);
    CHECK(failed_obj->phase == run_phase::failed);
    CHECK(failed_obj->error == "MODERATION_BLOCKED: no");
    auto failed_str =
        api.parse_status(R"({"jobId":"job_1","status":"failed","error":"render died"})");
    REQUIRE(failed_str);
    CHECK(failed_str->error == "render died");
    auto failed_odd = api.parse_status(R"({"jobId":"job_1","status":"failed","error":[1,2]})");
    REQUIRE(failed_odd);
    CHECK(failed_odd->error == "[1,2]");

    CHECK(api.parse_status(R"({"jobId":"job_1","status":"canceled"})")->phase ==
          run_phase::cancelled);
    CHECK(api.parse_status(R"({"jobId":"job_1","status":"paused"})")->phase == run_phase::unknown);
    CHECK(api.parse_status(R"({"data":{"jobId":"job_1","status":"completed"}})")->phase ==
          run_phase::completed);
    CHECK_FALSE(api.parse_status(R"({"unrelated":true})"));
    CHECK_FALSE(api.parse_status("<html>"));
}

TEST_CASE("layers: status polls are conditional on the ETag, which comes from the header") {
    auto plain = api.status("job_1");
    CHECK(plain.segments == std::vector<std::string>{"v1", "jobs", "job_1"});
    CHECK(plain.headers.empty());
    CHECK(layers::bucket_class(plain) == "read-light");
    auto cond = api.status_since("job_1", "W/\"abc\"");
    REQUIRE(cond.headers.size() == 1);
    CHECK(cond.headers[0] == std::pair<std::string, std::string>{"If-None-Match", "W/\"abc\""});
    CHECK(api.status_since("job_1", "").headers.empty());
    CHECK(api.status_since("job_1", "a\r\nX-Evil: 1").headers.empty());

    boost::beast::http::fields h;
    h.set(boost::beast::http::field::etag, "\"v7\"");
    auto v = api.parse_status_response(200, h, R"({"jobId":"job_1","status":"running"})");
    REQUIRE(v);
    CHECK(v->etag == "\"v7\"");
    CHECK(api.parse_status_response(200, {}, R"({"jobId":"job_1","status":"running"})")
              ->etag.empty());
}

TEST_CASE("layers: a completed job expands into one container GET per variant") {
    auto it = job_item(0, {});
    briefd::providers::run_view run;
    run.phase = run_phase::completed;
    run.children = {"cnt_a", "cnt_c"};  // the job's result shows some
    auto calls = api.expand(it, run, {"cnt_a", "cnt_b", "bad/id"});
    REQUIRE(calls.size() == 3);
    CHECK(calls[0].segments == std::vector<std::string>{"v1", "content", "cnt_a"});
    CHECK(calls[1].segments == std::vector<std::string>{"v1", "content", "cnt_b"});
    CHECK(calls[2].segments == std::vector<std::string>{"v1", "content", "cnt_c"});
    CHECK(calls[0].method == verb::get);

    // Not expanded: a completed job never passes for one without files.
    auto none = api.outputs(it, run);
    REQUIRE(none.size() == 1);
    CHECK(none[0].status == "failed");
}

TEST_CASE("layers: a container's assets become outputs with size, checksum and manifest fields") {
    const char* body =
        R"j({"id":"cnt_a","projectId":"p","status":"completed","format":"video_remix",
        "hook":"Day one","caption":"Run with us","approvalStatus":"pending","preview":{"kind":"video"},
        "assets":[
          {"assetId":"ast_1","kind":"video","url":"https://media.layers.com/public-media/v.mp4",
           "mimeType":"video/mp4","sizeBytes":1048576,
           "checksumSha256":"ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789"},
          {"assetId":"ast_2","kind":"image","url":"https://media.layers.com/t/thumb.webp?x=1",
           "sizeBytes":"12","checksumSha256":"nothex"},
          {"assetId":"ast_3","kind":"video","url":"javascript:alert(1)"}]})j";
    std::string why;
    auto outs = api.parse_expansion(1, body, why);
    REQUIRE(outs);
    REQUIRE(outs->size() == 3);
    const auto& v = (*outs)[0];
    CHECK(v.label == "video-0");
    CHECK(v.type == "video");
    CHECK(v.status == "completed");
    CHECK(v.url == "https://media.layers.com/public-media/v.mp4");
    CHECK(v.mime_type == "video/mp4");
    CHECK(v.ext == "mp4");
    CHECK(v.size_bytes == std::optional<std::uint64_t>(1048576));
    CHECK(v.sha256 == "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
    CHECK(v.meta.at("caption").as_string() == "Run with us");
    CHECK(v.meta.at("hook").as_string() == "Day one");
    CHECK(v.meta.at("approvalStatus").as_string() == "pending");
    CHECK(v.meta.at("containerId").as_string() == "cnt_a");
    CHECK(v.meta.at("variant").to_number<int>() == 1);
    CHECK(v.meta.at("assetId").as_string() == "ast_1");

    const auto& img = (*outs)[1];
    CHECK(img.label == "image-1");
    CHECK(img.ext == "webp");  // from the URL when there is no MIME type
    CHECK_FALSE(img.size_bytes.has_value());
    CHECK(img.sha256.empty());  // not a checksum: nothing to check against
    CHECK((*outs)[2].status == "failed");
    CHECK((*outs)[2].url.empty());

    // The hook may live in the container's brief; absent fields are null in the manifest.
    auto c = layers::parse_container(
        R"({"data":{"id":"cnt_b","status":"completed","brief":{"hook":"H"},"assets":[
            {"kind":"video","url":"https://m/a","mimeType":"video/quicktime"}]}})");
    REQUIRE(c);
    REQUIRE(c->outputs.size() == 1);
    CHECK(c->outputs[0].meta.at("hook").as_string() == "H");
    CHECK(c->outputs[0].meta.at("caption").is_null());
    CHECK(c->outputs[0].ext == "mov");
}

TEST_CASE("layers: a container not ready is asked again; a failed one fails its outputs") {
    std::string why;
    CHECK_FALSE(api.parse_expansion(0, R"({"id":"cnt_a","status":"processing","assets":[]})", why));
    CHECK(why == "container cnt_a has no assets yet (processing)");
    why.clear();
    CHECK_FALSE(api.parse_expansion(0, "[]", why));
    CHECK_FALSE(why.empty());
    auto failed = api.parse_expansion(
        2, R"({"id":"cnt_c","status":"failed","lastError":{"code":"RENDER","message":"gpu"}})",
        why);
    REQUIRE(failed);
    REQUIRE(failed->size() == 1);
    CHECK((*failed)[0].status == "failed");
    CHECK((*failed)[0].error == "container cnt_c failed: RENDER: gpu");
}

TEST_CASE("layers: errors classify by their stable code and keep the provider's words") {
    briefd::diagnostics d;
    CHECK(
        classify(401,
                 R"({"error":{"code":"UNAUTHENTICATED","message":"bad key","requestId":"req_1"}})",
                 d) == errc::unauthorized);
    CHECK(d.request_id == "req_1");
    CHECK(d.provider_code == "UNAUTHENTICATED");
    CHECK(classify(403, R"({"error":{"code":"FORBIDDEN_SCOPE","message":"needs content:write"}})",
                   d) == errc::forbidden);
    CHECK(classify(402, R"({"error":{"code":"BILLING_EXHAUSTED","message":"Insufficient credits.",
        "requestId":"req_2","details":{"required":40,"available":12}}})",
                   d) == errc::payment_required);
    CHECK(d.message == R"(Insufficient credits. ({"required":40,"available":12}))");
    CHECK(classify(429, R"({"error":{"code":"RATE_LIMITED","message":"slow down"}})", d) ==
          errc::rate_limited);
    CHECK(classify(409, R"({"error":{"code":"CONFLICT",
        "message":"Multiple content layers on this project. Pass projectLayerId.",
        "details":{"candidates":["lyr_01HX","lyr_02HX"]}}})",
                   d) == errc::rejected);
    CHECK(d.message ==
          "Multiple content layers on this project. Pass projectLayerId. (candidate layers: "
          "lyr_01HX, lyr_02HX; set projectLayerId)");
    CHECK(classify(409, R"({"error":{"code":"CONFLICT","message":"m","details":{"candidates":[
        {"id":"lyr_1","name":"Social Content"},{"id":"lyr_2"}]}}})",
                   d) == errc::rejected);
    CHECK(d.message == "m (candidate layers: Social Content (lyr_1), lyr_2; set projectLayerId)");
    CHECK(classify(409, R"({"error":{"code":"IDEMPOTENCY_CONFLICT","message":"other body"}})", d) ==
          errc::rejected);
    CHECK(classify(400, R"({"error":{"code":"VALIDATION_FAILED","message":"variantCount > 5"}})",
                   d) == errc::rejected);
    CHECK(d.message == "variantCount > 5");
    CHECK(classify(422,
                   R"({"error":{"code":"MODERATION_BLOCKED","message":"Brief failed safety."}})",
                   d) == errc::rejected);
    CHECK(d.provider_code == "MODERATION_BLOCKED");
    CHECK(classify(404,
                   R"({"error":{"code":"NOT_FOUND","message":"projectLayerId not in project"}})",
                   d) == errc::not_found);
    CHECK(d.message == "projectLayerId not in project");
    // The code wins over a status that says less; a bare status still classifies.
    CHECK(classify(400, R"({"error":{"code":"BILLING_EXHAUSTED","message":"x"}})", d) ==
          errc::payment_required);
    CHECK(classify(503, R"({"error":{"code":"PLATFORM_ERROR","message":"upstream"}})", d) ==
          errc::server_error);
    CHECK(classify(502, "<html>bad gateway</html>", d) == errc::server_error);
    CHECK(d.message == "<html>bad gateway</html>");
    CHECK(classify(401, "", d) == errc::unauthorized);
    CHECK(classify(402, R"({"error":"no credits","requestId":"req_9"})", d) ==
          errc::payment_required);
    CHECK(d.message == "no credits");
    CHECK(d.request_id == "req_9");
    CHECK(classify(418, "{}", d) == errc::rejected);
    CHECK(classify(302, "", d) == errc::unexpected_status);
}

TEST_CASE("layers: the documented polling schedule, 2 s x1.3 capped at 10 s, plus <= 500 ms") {
    using ms = std::chrono::milliseconds;
    std::mt19937_64 rng(7);
    const long base[] = {2000, 2600, 3380, 4394, 5712, 7426, 9654, 10000, 10000, 10000};
    std::set<long> jitters;
    for (int round = 0; round < 50; ++round)
        for (unsigned n = 0; n < 10; ++n) {
            auto d = layers::poll_delay(n, rng);
            CHECK(d >= ms(base[n]));
            CHECK(d <= ms(base[n] + 500));
            jitters.insert(d.count() - base[n]);
        }
    CHECK(jitters.size() > 100);  // the jitter really varies
    CHECK(layers::poll_delay(1000000, rng) <= ms(10500));
    std::mt19937_64 a(1), b(1);
    CHECK(layers::poll_delay(3, a) == layers::poll_delay(3, b));  // deterministic for a seed
    CHECK(api.poll_delay(0, a).has_value());
}

TEST_CASE("layers: the rate-limit bucket class of each request") {
    CHECK(layers::bucket_class_header == "X-RateLimit-Endpoint-Class");
    CHECK(api.bucket_class_header() == "X-RateLimit-Endpoint-Class");
    CHECK(api.bucket_class(api.probe()) == "read-light");
    CHECK(api.bucket_class({verb::get, {"v1", "content", "cnt_a"}}) == "read-light");
    CHECK(api.bucket_class({verb::post, {"v1", "projects", project, "content"}}) == "long-running");
    CHECK(api.bucket_class({verb::post, {"v1", "webhook-endpoints"}}) == "write-light");
    CHECK(api.bucket_class({verb::patch, {"v1", "content", "cnt_a"}}) == "write-light");
    CHECK(api.bucket_class({verb::delete_, {"v1", "content", "cnt_a"}}) == "write-light");
}

TEST_CASE("layers: job and container id shapes") {
    CHECK(api.valid_run_id("job_01HXZ9G7KMV2QX8Y1S5RJW3B7T"));
    CHECK(api.valid_run_id("cnt_01HXZ9-a_b"));
    CHECK(api.valid_run_id("0f8e2b6a-1c3d-4e5f-8a9b-0c1d2e3f4a5b"));
    CHECK(layers::valid_job_id("job_1"));
    CHECK_FALSE(layers::valid_job_id("cnt_1"));
    CHECK_FALSE(layers::valid_container_id("job_1"));
    for (auto bad : {"", "job_", "cnt_", "job_../x", "job_a/b", "cnt_a?b", "job_%2e", "xjob_1",
                     "0f8e2b6a1c3d4e5f8a9b0c1d2e3f4a5b"})
        CHECK_FALSE(api.valid_run_id(bad));
    CHECK_FALSE(api.valid_run_id("job_" + std::string(101, 'a')));
    CHECK(api.valid_run_id("job_" + std::string(100, 'a')));
}

TEST_CASE("layers: a concurrent-jobs 429 is told apart from a rate limit") {
    // briefsim's shape (details.scope), and spellings the undocumented code may take.
    CHECK(api.concurrency_refusal(
        429,
        R"({"error":{"code":"RATE_LIMITED","message":"Too many running jobs for this organization (10 of 10).","details":{"scope":"concurrent_jobs","limit":10,"running":10,"retryAfter":7}}})"));
    CHECK(layers::concurrency_refusal(
        429, R"({"error":{"code":"CONCURRENCY_LIMIT_EXCEEDED","message":"x"}})"));
    CHECK(layers::concurrency_refusal(
        429, R"({"error":{"code":"RATE_LIMITED","message":"Concurrent job limit reached"}})"));
    // Rate limits of a class or of the day are not: those pause their bucket.
    CHECK_FALSE(api.concurrency_refusal(
        429,
        R"({"error":{"code":"RATE_LIMITED","message":"Rate limit exceeded. Retry after 3 seconds.","details":{"class":"long-running","retryAfter":3}}})"));
    CHECK_FALSE(layers::concurrency_refusal(
        429,
        R"({"error":{"code":"RATE_LIMITED","message":"concurrent","details":{"scope":"daily_write_cap"}}})"));
    // Only a 429 with the envelope; anything else (or garbage) is not.
    CHECK_FALSE(layers::concurrency_refusal(
        409, R"({"error":{"code":"CONFLICT","details":{"scope":"concurrent_jobs"}}})"));
    CHECK_FALSE(layers::concurrency_refusal(429, "Too Many Requests"));
    CHECK_FALSE(layers::concurrency_refusal(429, R"({"error":"concurrent jobs"})"));
    CHECK_FALSE(layers::concurrency_refusal(429, ""));
    // Lamina and Hrizn have no such cap.
    CHECK_FALSE(briefd::providers::find("lamina")->concurrency_refusal(
        429, R"({"error":{"details":{"scope":"concurrent_jobs"}}})"));
}

TEST_CASE("layers: the project's content list is asked for per project, 200 a page, by cursor") {
    auto it = job_item(0, {{"variantCount", 2}});
    CHECK(api.channels(it) == (briefd::providers::channel_poll | briefd::providers::channel_list |
                               briefd::providers::channel_webhook));
    CHECK(api.list_shows_children());
    CHECK(api.list_scope(it) == project);
    CHECK(api.list_page_limit() == 200);
    auto c = api.list_in(project, "", 200);
    CHECK(c.method == verb::get);
    CHECK(c.segments == std::vector<std::string>{"v1", "projects", project, "content"});
    CHECK(c.query == std::vector<std::pair<std::string, std::string>>{{"limit", "200"}});
    CHECK(layers::bucket_class(c) == "read-light");
    auto next = api.list_in(project, "c42", 5000);  // clamped to the documented maximum
    CHECK(next.query ==
          std::vector<std::pair<std::string, std::string>>{{"limit", "200"}, {"cursor", "c42"}});
}

TEST_CASE("layers: a content list page gives each container's status; unknown fields are ignored") {
    auto p = api.parse_list(R"({"items":[
        {"id":"cnt_ABC-1","status":"completed","createdAt":"2026-11-30T10:00:00Z","caption":"x",
         "assets":[{"url":"https://m/x.mp4"}],"somethingNew":{"a":1}},
        {"id":"5d0f1c2a-3b4c-4d5e-8f60-718293a4b5c6","status":"processing"},
        {"id":"cnt_gen","status":"generating"},
        {"id":"cnt_q","status":"queued"},
        {"id":"cnt_f","status":"failed","lastError":{"code":"MODERATION_BLOCKED","message":"no"}},
        {"id":"cnt_c","status":"canceled"},
        {"id":"cnt_w","status":"warming_up"},
        {"status":"completed"},
        {"id":"../../etc","status":"completed"},
        7, null],
        "nextCursor":"c17","totalApprox":99})");
    REQUIRE(p);
    REQUIRE(p->runs.size() == 7);         // no id, an id briefd would not use, not objects: skipped
    CHECK(p->runs[0].run_id == "abc-1");  // container_key: prefix dropped, lowercased
    CHECK(p->runs[0].phase == run_phase::completed);
    CHECK(p->runs[0].created_at == "2026-11-30T10:00:00Z");
    CHECK(p->runs[1].run_id == "5d0f1c2a-3b4c-4d5e-8f60-718293a4b5c6");
    CHECK(p->runs[1].phase == run_phase::running);
    CHECK(p->runs[2].phase == run_phase::running);  // the older copy's word
    CHECK(p->runs[3].phase == run_phase::queued);
    CHECK(p->runs[4].phase == run_phase::failed);
    CHECK(p->runs[4].error == "MODERATION_BLOCKED: no");
    CHECK(p->runs[5].phase == run_phase::cancelled);
    CHECK(p->runs[6].phase == run_phase::unknown);  // tolerated, not an end
    CHECK(p->has_more);
    CHECK(p->next_cursor == "c17");
}

TEST_CASE("layers: content list paging ends on a null or missing cursor, or hasMore false") {
    auto last = api.parse_list(R"({"items":[],"nextCursor":null})");
    REQUIRE(last);
    CHECK_FALSE(last->has_more);
    CHECK(last->runs.empty());
    auto none = api.parse_list(R"({"items":[{"id":"cnt_a","status":"completed"}]})");
    REQUIRE(none);
    CHECK_FALSE(none->has_more);
    auto stop = api.parse_list(R"({"items":[],"nextCursor":"c1","hasMore":false})");
    REQUIRE(stop);
    CHECK_FALSE(stop->has_more);
    auto wrapped = api.parse_list(R"({"data":{"items":[{"id":"cnt_a","status":"queued"}],
                                            "next_cursor":"c9"}})");
    REQUIRE(wrapped);
    REQUIRE(wrapped->runs.size() == 1);
    CHECK(wrapped->has_more);
    CHECK(wrapped->next_cursor == "c9");
}

TEST_CASE("layers: a malformed content list is refused, never half-read") {
    for (std::string_view bad :
         {"", "not json", "[]", "null", R"({"items":{}})", R"({"items":"x"})",
          R"({"nextCursor":"c1"})", R"({"data":[1,2]})", R"({"items":[)"})
        CHECK_FALSE(api.parse_list(bad));
}

TEST_CASE("layers: container ids match in either documented spelling") {
    CHECK(layers::container_key("cnt_AbC") == "abc");
    CHECK(layers::container_key("5D0F1C2A-3B4C-4D5E-8F60-718293A4B5C6") ==
          "5d0f1c2a-3b4c-4d5e-8f60-718293a4b5c6");
    CHECK(api.list_key("cnt_x1") == layers::container_key("x1"));
}
