// Hrizn end to end: briefd against briefsim's Hrizn origin — batches of ≤ 10 with an idempotency
// key, tracking by the list endpoint, the article's HTML and components saved, partial failures,
// both HTML forms, rate limits and the daily cap, a rejected key that stalls Hrizn only.
#include "integration/helpers.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <thread>

namespace briefd::it {

namespace json = boost::json;

namespace {
rig_options hrizn_rig(std::vector<std::string> sim_args = {}) {
    rig_options o;
    o.hrizn = true;
    o.sim_args = std::move(sim_args);
    return o;
}

// Every item of a completed Hrizn job has its article HTML (the HTML itself, never JSON) and its
// components (JSON), both checked against the manifest.
void check_articles(const daemon_process& d, const std::string& job, std::size_t n) {
    auto m = d.manifest(job);
    CHECK(m.at("provider").as_string() == "hrizn");
    CHECK(m.at("status").as_string() == "completed");
    REQUIRE(m.at("items").as_array().size() == n);
    CHECK(check_outputs(d, job) == 2 * n);
    for (std::size_t i = 0; i < n; ++i) {
        auto html = read_file(d.outputs() / job / (std::to_string(i) + "-0-article.html"));
        CHECK(html.find('<') != std::string::npos);
        CHECK(html.find("\"data\"") == std::string::npos);
        auto comps = read_file(d.outputs() / job / (std::to_string(i) + "-1-components.json"));
        std::error_code ec;
        json::parse(comps, ec);
        CHECK_FALSE(ec);
    }
}
}  // namespace

TEST_CASE("hrizn: files of 1, 10 and 23 articles go in batches of ten and every article is saved") {
    rig r(hrizn_rig());
    RIG_CONTEXT(r);
    r.d->drop("one.json", hrizn_brief("one", 1));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    r.d->drop("ten.json", hrizn_brief("ten", 10));
    REQUIRE(r.d->wait_filed(2, filed_timeout));
    r.d->drop("many.json", hrizn_brief("many", 23));
    REQUIRE(r.d->wait_filed(3, filed_timeout));
    CHECK(r.hrizn_stat("batches") == 5);  // 1, 10, then 10 + 10 + 3
    CHECK(r.hrizn_stat("items_created") == 34);
    CHECK(r.hrizn_stat("duplicate_generations") == 0);
    CHECK(r.hrizn_stat("responses_429") == 0);
    CHECK(r.hrizn_stat("over_limit") == 0);
    CHECK(r.d->failed().empty());
    check_articles(*r.d, "one", 1);
    check_articles(*r.d, "ten", 10);
    check_articles(*r.d, "many", 23);
    // Tracking by list: far fewer status requests than articles.
    CHECK(r.hrizn_route_count("GET /v1/public/content/{id}") < 34);
    // Keys stay where they belong.
    auto v = r.sim->stats();
    CHECK(v.at("hrizn").at("keys_misplaced").at("total").to_number<std::uint64_t>() == 0);
    CHECK(r.stat("output_requests_with_api_key") == 0);
}

TEST_CASE("hrizn: an article the provider refuses in a batch fails alone; the others complete") {
    rig r(hrizn_rig({"--hrizn-item-error", "object"}));
    RIG_CONTEXT(r);
    // briefd passes language through; briefsim knows the 13 documented ones.
    std::string brief = R"({"provider":"hrizn","items":[
        {"ideacloud_id":"4b1f6c1e-0d3a-4e59-9a47-1f1f5e0b6d11","article_type":"basic","title":"ok 0"},
        {"ideacloud_id":"4b1f6c1e-0d3a-4e59-9a47-1f1f5e0b6d11","article_type":"qa","title":"bad","language":"Klingon"},
        {"ideacloud_id":"4b1f6c1e-0d3a-4e59-9a47-1f1f5e0b6d11","article_type":"expert","title":"ok 2"}]})";
    r.d->drop("mixed.json", brief);
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->failed() == std::vector<std::string>{"mixed.json"});
    auto m = r.d->manifest("mixed");
    CHECK(m.at("status").as_string() == "partial");
    auto& items = m.at("items").as_array();
    CHECK(items[0].at("status").as_string() == "complete");
    CHECK(items[1].at("status").as_string() == "failed");
    CHECK(items[1].at("run_id").is_null());
    CHECK(items[2].at("status").as_string() == "complete");
    auto err = r.d->error_file("mixed.json");
    REQUIRE(err.at("items").as_array().size() == 1);
    CHECK(err.at("items").as_array()[0].at("item").to_number<int>() == 1);
}

TEST_CASE("hrizn: article HTML served inside JSON is saved as the HTML itself") {
    rig r(hrizn_rig({"--hrizn-html", "json"}));
    RIG_CONTEXT(r);
    r.d->drop("json-html.json", hrizn_brief("jh", 3));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"json-html.json"});
    check_articles(*r.d, "json-html", 3);
}

TEST_CASE("hrizn: an interactive article is generated with the brief's selected questions") {
    rig r(hrizn_rig());
    RIG_CONTEXT(r);
    r.d->drop(
        "interactive.json",
        hrizn_brief(
            "iq", 2,
            R"("mode":"interactive","selected_question_ids":["q-1707000000-0","q-1707000000-1"])"));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"interactive.json"});
    check_articles(*r.d, "interactive", 2);
    CHECK(r.hrizn_route_count("POST /v1/public/content/{id}/generate") >= 2);
    CHECK(r.hrizn_stat("duplicate_generations") == 0);
}

TEST_CASE(
    "hrizn: unreadable answers are resent under the same idempotency key and never generate "
    "twice") {
    rig r(hrizn_rig({"--malformed-json", "0.3"}));
    RIG_CONTEXT(r);
    r.d->drop("flaky.json", hrizn_brief("flaky", 20));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"flaky.json"});
    CHECK(r.hrizn_stat("items_created") == 20);
    CHECK(r.hrizn_stat("duplicate_generations") == 0);
    CHECK(r.hrizn_stat("idempotency_conflicts") == 0);
    check_articles(*r.d, "flaky", 20);
}

TEST_CASE(
    "hrizn: a 429 storm and a daily cap pause Hrizn; nothing fails and everything completes") {
    // A day of 4 real seconds with room for 12 requests: the cap is reached mid-run.
    rig r(hrizn_rig({"--storm-429", "30:60", "--hrizn-daily-cap", "12", "--hrizn-day-s", "240"}));
    RIG_CONTEXT(r);
    r.d->drop("capped.json", hrizn_brief("cap", 12));
    REQUIRE(r.d->wait_filed(1, std::chrono::milliseconds(90000)));
    CHECK(r.d->done() == std::vector<std::string>{"capped.json"});
    CHECK(r.d->failed().empty());
    CHECK(r.hrizn_stat("over_daily_cap") + r.hrizn_stat("storm_429") > 0);
    CHECK(r.hrizn_stat("duplicate_generations") == 0);
    check_articles(*r.d, "capped", 12);
}

TEST_CASE(
    "hrizn: a rejected Hrizn key stalls Hrizn only; Lamina finishes; a reload with the right key "
    "resumes") {
    rig_options o = hrizn_rig();
    o.daemon.hrizn_key = "hzk_" + std::string(64, '0');
    rig r(o);
    RIG_CONTEXT(r);
    r.d->drop("article.json", hrizn_brief("blocked", 2));
    r.d->drop("photos.json", content_brief("photos", 3));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"photos.json"});
    REQUIRE(r.d->wait_log("host.blocked", 10s));
    std::this_thread::sleep_for(1s);
    CHECK(r.d->failed().empty());
    CHECK(fs::exists(r.d->spool() / "active" / "article.json"));
    r.d->write_hrizn_key(r.sim->hrizn_key());
    REQUIRE(r.d->signal(SIGHUP));
    REQUIRE(r.d->wait_filed(2, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"article.json", "photos.json"});
    check_articles(*r.d, "article", 2);
    CHECK(r.d->log().find(r.sim->hrizn_key()) == std::string::npos);
}

}  // namespace briefd::it
