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

TEST_CASE("lamina: a media output's URL scheme in any case is a URL; a value that is no URL is an error") {
    const char* body = R"({"data":{"runId":"r1","status":"completed","outputs":[
        {"label":"A","type":"image","status":"completed","value":"HTTPS://cdn.example/X.png"},
        {"label":"B","type":"video","status":"completed","value":"Http://127.0.0.1:8080/v.mp4"},
        {"label":"C","type":"image","status":"completed","value":"/files/x.png"},
        {"label":"D","type":"audio","status":"completed","value":"ftp://files.example/a.mp3"},
        {"label":"E","type":"text","status":"completed","value":"https://example.com is a fine caption"},
        {"label":"F","type":"pending","status":"completed","value":"free text"}]}})";
    providers::lamina::provider api;
    auto v = api.parse_status(body);
    REQUIRE(v);
    REQUIRE(v->outputs.size() == 6);
    CHECK(v->outputs[0].url == "https://cdn.example/X.png");  // only the scheme is lower-cased
    CHECK(v->outputs[1].url == "http://127.0.0.1:8080/v.mp4");
    CHECK(v->outputs[2].url.empty());
    CHECK_FALSE(v->outputs[2].text);
    CHECK(v->outputs[2].error ==
          "completed image output whose value is not an absolute http(s) URL: /files/x.png");
    CHECK(v->outputs[3].error.starts_with("completed audio output whose value is not"));
    REQUIRE(v->outputs[4].text);  // text is content, even when it starts like a URL
    CHECK(*v->outputs[4].text == "https://example.com is a fine caption");
    REQUIRE(v->outputs[5].text);  // "use status, not type": an unnamed type's value is content
    CHECK(*v->outputs[5].text == "free text");
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
    // Not dispatched (the SDK's union: needs_input has no runId): a definite refusal with the
    // server's status, not an unreadable answer whose outcome is unknown.
    auto ni = api.parse_submit(
        {&app}, R"({"data":{"status":"needs_input","askUser":[{"name":"Style"}]}})");
    REQUIRE(ni);
    CHECK_FALSE((*ni)[0].accepted);
    CHECK((*ni)[0].error == "not dispatched: status needs_input");
    CHECK_FALSE(api.parse_submit({&app}, R"({"data":{"ok":true}})"));  // says neither: unknown
    CHECK_FALSE(api.parse_submit({&app}, "<html>502</html>"));
    CHECK(api.submit({&content}).segments == std::vector<std::string>{"v1", "content", "batch"});
    CHECK(api.wait("r1", std::chrono::seconds(60)).query.front().second == "60");
    CHECK_FALSE(api.valid_run_id("r1/../../v1/account"));
}

TEST_CASE("parse_webhook: each provider's delivery becomes the run it is about") {
    namespace http = boost::beast::http;
    http::fields none;
    // Lamina: the run as GET /v1/runs/{id}, enveloped; no event id, so run + status.
    const auto* lamina = providers::find("lamina");
    const std::string lbody =
        R"({"data":{"runId":"run-1","workflowId":"w","status":"completed","outputs":[{"id":"o","label":"Hero","type":"image","value":"https://cdn.example/x.png","status":"completed","error":null}],"errorMessage":null}})";
    auto l = lamina->parse_webhook(none, lbody);
    REQUIRE(l);
    CHECK(l->run.run_id == "run-1");
    CHECK(l->run.phase == run_phase::completed);
    CHECK(l->event_id == "run-1:completed");
    REQUIRE(l->run.outputs.size() == 1);
    CHECK(l->run.outputs[0].url == "https://cdn.example/x.png");
    http::fields other;
    other.set("X-Lamina-Webhook-Request-Id", "run-2");
    CHECK_FALSE(lamina->parse_webhook(other, lbody));  // header and body disagree
    other.set("X-Lamina-Webhook-Request-Id", "run-1");
    CHECK(lamina->parse_webhook(other, lbody));
    CHECK_FALSE(lamina->parse_webhook(none, R"({"data":{"runId":"../x","status":"completed"}})"));
    CHECK_FALSE(lamina->parse_webhook(none, "not json"));

    // Hrizn: the event envelope; the payload id dedupes.
    const auto* hrizn = providers::find("hrizn");
    auto h = hrizn->parse_webhook(
        none,
        R"({"id":"evt_1707000000000_abc1234","type":"content.failed","site_id":"s","data":{"article_id":"a-1","article_type":"basic","error":"generation failed"},"timestamp":"2026-02-10T12:00:00.000Z"})");
    REQUIRE(h);
    CHECK(h->event_id == "evt_1707000000000_abc1234");
    CHECK(h->run.run_id == "a-1");
    CHECK(h->run.phase == run_phase::failed);
    CHECK(h->run.error == "generation failed");
    auto hp = hrizn->parse_webhook(
        none, R"({"id":"evt_2","type":"content.progress","data":{"article_id":"a-1","progress_percent":40}})");
    REQUIRE(hp);
    CHECK(hp->run.phase == run_phase::running);
    CHECK(hp->run.progress_percent == 40);
    auto ha = hrizn->parse_webhook(
        none, R"({"id":"evt_3","type":"compliance.completed","data":{"article_id":"a-1"}})");
    REQUIRE(ha);
    CHECK(ha->run.phase == run_phase::unknown);
    CHECK_FALSE(hrizn->parse_webhook(none, R"({"id":"evt_4","type":"content.completed","data":{}})"));
    auto inv = hrizn->parse_webhook(none, R"({"id":"evt_5","type":"inventory.feed.updated","data":{"feed":"x"}})");
    REQUIRE(inv);  // not about an article: acknowledged, not refused
    CHECK(inv->run.phase == run_phase::unknown);

    // Layers: X-Layers-Event-Id dedupes; the job's containers come along for expand().
    const auto* layers = providers::find("layers");
    http::fields lh;
    lh.set("X-Layers-Event-Id", "evt_01HXABCDEFGHJKMNPQRSTVWXYZ");
    auto y = layers->parse_webhook(
        lh,
        R"({"id":"evt_x","type":"job.completed","data":{"jobId":"job_01HX","kind":"content_generate","result":{"containerId":"cnt_1"}}})");
    REQUIRE(y);
    CHECK(y->event_id == "evt_01HXABCDEFGHJKMNPQRSTVWXYZ");
    CHECK(y->run.run_id == "job_01HX");
    CHECK(y->run.phase == run_phase::completed);
    CHECK(std::find(y->run.children.begin(), y->run.children.end(), "cnt_1") != y->run.children.end());
    auto yf = layers->parse_webhook(
        none,
        R"({"id":"evt_y","type":"job.failed","data":{"jobId":"job_01HX","kind":"content_generate","error":{"code":"MODERATION_BLOCKED","message":"no"}}})");
    REQUIRE(yf);
    CHECK(yf->event_id == "evt_y");
    CHECK(yf->run.phase == run_phase::failed);
    CHECK(yf->run.error.find("MODERATION_BLOCKED") != std::string::npos);
    auto yc = layers->parse_webhook(none, R"({"id":"e","type":"job.canceled","data":{"jobId":"job_1"}})");
    REQUIRE(yc);
    CHECK(yc->run.phase == run_phase::cancelled);
    auto yo = layers->parse_webhook(none, R"({"id":"e2","type":"content.approved","data":{"jobId":"job_1"}})");
    REQUIRE(yo);
    CHECK(yo->run.phase == run_phase::unknown);
    CHECK_FALSE(layers->parse_webhook(none, R"({"id":"e3","type":"job.completed","data":{"jobId":"../x"}})"));
    auto gen = layers->parse_webhook(
        none, R"({"id":"e4","type":"content.generated","data":{"id":"cnt_1","projectId":"p","assets":[]}})");
    REQUIRE(gen);  // a container, not a job: acknowledged
    CHECK(gen->run.phase == run_phase::unknown);
    CHECK(gen->event_id == "e4");
}

TEST_CASE("Lamina app runs take ?webhook= and report by webhook; content items do not") {
    const auto* lamina = providers::find("lamina");
    briefd::brief::item app{0, briefd::brief::app_run_item{}};
    std::get<briefd::brief::app_run_item>(app.body).app_id = "app_1";
    briefd::brief::item content{1, briefd::brief::content_item{}};
    CHECK((lamina->channels(app) & providers::channel_webhook));
    CHECK_FALSE((lamina->channels(content) & providers::channel_webhook));
    auto call = lamina->submit({&app});
    lamina->add_webhook(call, {&app}, "https://h.example/briefd/lamina");
    REQUIRE(call.query.size() == 1);
    CHECK(call.query[0] == std::pair<std::string, std::string>{"webhook", "https://h.example/briefd/lamina"});
    auto batch = lamina->submit({&content});
    lamina->add_webhook(batch, {&content}, "https://h.example/briefd/lamina");
    CHECK(batch.query.empty());
    CHECK(lamina->webhook_key_request()->segments ==
          std::vector<std::string>{"v1", "webhooks", "signing-key"});
    CHECK_FALSE(lamina->webhook_secret_required());
    CHECK(providers::find("hrizn")->webhook_secret_required());
}
