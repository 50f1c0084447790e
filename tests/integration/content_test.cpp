// Content briefs end to end: batching (≤10 per request, brand profiles never mixed), partial
// failures inside a batch, and app runs validated against the app's schema before any credit.
#include "integration/helpers.hpp"

#include <doctest/doctest.h>

#include <algorithm>

namespace briefd::it {

namespace json = boost::json;

TEST_CASE("files of 1, 10 and 23 items are sent in requests of at most ten and all complete") {
    rig r;
    RIG_CONTEXT(r);

    // One brief at a time, so each brief's batches can be counted on their own.
    r.d->drop("one.json", content_brief("one", 1));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.stat("batches") == 1);
    CHECK(r.stat("batch_items") == 1);

    r.d->drop("ten.json", content_brief("ten", 10));
    REQUIRE(r.d->wait_filed(2, filed_timeout));
    CHECK(r.stat("batches") == 2);
    CHECK(r.stat("batch_items") == 11);

    r.d->drop("many.json", content_brief("many", 23));
    REQUIRE(r.d->wait_filed(3, filed_timeout));
    CHECK(r.stat("batches") == 5);  // 10 + 10 + 3
    CHECK(r.stat("batch_items") == 34);
    CHECK(r.stat("runs_created") == 34);
    CHECK(r.stat("duplicate_submissions") == 0);

    CHECK(r.d->done() == std::vector<std::string>{"many.json", "one.json", "ten.json"});
    CHECK(r.d->failed().empty());
    for (auto [job, n] : {std::pair{"one", 1u}, {"ten", 10u}, {"many", 23u}}) {
        auto m = r.d->manifest(job);
        CHECK(m.at("status").as_string() == "completed");
        CHECK(m.at("items").as_array().size() == n);
        CHECK(check_outputs(*r.d, job) >= n);
    }
    // briefd's budget equals briefsim's (100 per 1 s): it must never have been over it.
    CHECK(r.stat("responses_429") == 0);
    CHECK(r.stat("over_limit") == 0);
}

TEST_CASE("items with different brandProfileIds never share a request") {
    rig r;
    RIG_CONTEXT(r);
    const std::string a = "7f0c2a9e-5b1d-4c3e-9a8f-2d6b4e1c0a57";
    const std::string b = "1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
    json::array items;
    for (int i = 0; i < 8; ++i) {
        json::object it{{"brief", "brand mix #" + std::to_string(i)}, {"modality", "image"}};
        // interleaved a, b, a, b, ..., the last two without a brand profile
        if (i < 6) it["brandProfileId"] = (i % 2 == 0) ? a : b;
        items.push_back(std::move(it));
    }
    r.d->drop("brands.json", json::serialize(json::object{{"items", items}}));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"brands.json"});
    // Three groups (a, b, none): one request each. Mixed requests would need fewer.
    CHECK(r.stat("batches") == 3);
    CHECK(r.stat("batch_items") == 8);
    CHECK(r.d->manifest("brands").at("status").as_string() == "completed");
}

TEST_CASE("a batch with a failing item: the brief is failed, the other items' outputs are kept") {
    rig_options o;
    o.sim_args = {"--no-video"};
    rig r(o);
    RIG_CONTEXT(r);
    json::array items;
    items.push_back(json::object{{"brief", "partial still 0"}, {"modality", "image"}});
    items.push_back(
        json::object{{"brief", "partial clip 1"}, {"modality", "video"}, {"platform", "tiktok"}});
    items.push_back(json::object{{"brief", "partial still 2"}, {"modality", "image"}});
    r.d->drop("partial.json", json::serialize(json::object{{"items", items}}));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    REQUIRE(r.d->failed() == std::vector<std::string>{"partial.json"});
    CHECK(r.stat("batches") == 1);

    auto err = r.d->error_file("partial.json");
    const auto& failed_items = err.at("items").as_array();
    REQUIRE(failed_items.size() == 1);
    CHECK(failed_items[0].at("item").to_number<int>() == 1);
    CHECK(std::string(failed_items[0].at("error").as_string())
              .find("No video-capable app found for this workspace") != std::string::npos);

    auto m = r.d->manifest("partial");
    CHECK(m.at("status").as_string() == "partial");
    const auto& mi = m.at("items").as_array();
    REQUIRE(mi.size() == 3);
    CHECK(mi[0].at("status").as_string() == "completed");
    CHECK(mi[1].at("status").as_string() == "failed");
    CHECK(mi[2].at("status").as_string() == "completed");
    CHECK(check_outputs(*r.d, "partial") >= 2);
}

TEST_CASE("app runs: good inputs complete; bad inputs fail before any run is created") {
    rig r;
    RIG_CONTEXT(r);
    const std::string app = "ec7ec3ce-69b4-43c9-8eea-fe9752d679a4";
    r.d->drop("portrait.json",
              json::serialize(json::object{
                  {"app", app},
                  {"inputs", {{"Upload", "https://example.com/me.jpg"}, {"Style", "Studio"}}}}));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"portrait.json"});
    CHECK(r.d->manifest("portrait").at("status").as_string() == "completed");
    CHECK(check_outputs(*r.d, "portrait") >= 1);
    const auto runs = r.stat("runs_created");
    CHECK(runs == 1);

    r.d->drop(
        "bad-style.json",
        json::serialize(json::object{
            {"app", app},
            {"inputs", {{"Upload", "https://example.com/me.jpg"}, {"Style", "Watercolour"}}}}));
    REQUIRE(r.d->wait_filed(2, filed_timeout));
    CHECK(r.d->failed() == std::vector<std::string>{"bad-style.json"});
    CHECK(r.stat("runs_created") == runs);
    const std::string err = json::serialize(r.d->error_file("bad-style.json"));
    INFO(err);
    CHECK(err.find("bad-style.json") != std::string::npos);
    CHECK(err.find("Style") != std::string::npos);
    CHECK(err.find("Watercolour") != std::string::npos);
    CHECK(err.find("\"item\":0") != std::string::npos);
    CHECK(r.route_count("POST /v1/apps/{id}/runs") == 1);
}

TEST_CASE("app runs: briefs claimed together share one fetch of the app's schema") {
    rig r;
    RIG_CONTEXT(r);
    const std::string app = "ec7ec3ce-69b4-43c9-8eea-fe9752d679a4";
    auto brief = [&](const std::string& style) {
        return json::serialize(
            json::object{{"app", app},
                         {"inputs", {{"Upload", "https://example.com/me.jpg"}, {"Style", style}}}});
    };
    for (int i = 0; i < 4; ++i)
        r.d->drop("together-" + std::to_string(i) + ".json", brief("Studio"));
    REQUIRE(r.d->wait_filed(4, filed_timeout));
    CHECK(r.d->done().size() == 4);
    CHECK(r.route_count("GET /v1/apps/{id}") == 1);  // not one per brief
    // A brief the cached schema refuses: the schema was fetched moments ago, so it is the app's
    // own and is not fetched again (a refetch happens at most once a minute per app).
    r.d->drop("refused.json", brief("Watercolour"));
    REQUIRE(r.d->wait_filed(5, filed_timeout));
    CHECK(r.d->failed() == std::vector<std::string>{"refused.json"});
    CHECK(r.route_count("GET /v1/apps/{id}") == 1);
    CHECK(r.route_count("POST /v1/apps/{id}/runs") == 4);
}

}  // namespace briefd::it
