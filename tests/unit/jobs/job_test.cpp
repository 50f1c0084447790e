#include "jobs/job.hpp"

#include "core/utf8.hpp"

#include <boost/json.hpp>

#include <fstream>
#include <sstream>

#include <unistd.h>

using namespace briefd::jobs;
namespace json = boost::json;

namespace {
job_record sample() {
    job_record j;
    j.job_id = "sneakers";
    j.brief_name = "sneakers.json";
    j.provider = "lamina";
    j.claimed_at = 1700000000;
    item_record a;
    a.index = 0;
    a.state = item_state::finished;
    a.run_id = "exec-001";
    a.run_status = "completed";
    a.outputs_known = true;
    a.outputs.push_back({0, "AI Designer", "image", "completed", "http://files/x.png", "0-0-ai-designer.png",
                         1234, "ab12", "", true});
    item_record b;
    b.index = 1;
    b.state = item_state::failed;
    b.error = "No video-capable app found for this workspace";
    j.items = {a, b};
    return j;
}
}  // namespace

TEST_CASE("a job record survives a JSON round trip unchanged") {
    auto j = sample();
    auto back = from_json(json::serialize(to_json(j)));
    REQUIRE(back);
    CHECK(back->job_id == "sneakers");
    REQUIRE(back->items.size() == 2);
    CHECK(back->items[0].state == item_state::finished);
    CHECK(back->items[0].outputs[0].sha256 == "ab12");
    CHECK(back->items[0].outputs[0].saved);
    CHECK(back->items[1].error == j.items[1].error);
    CHECK(json::serialize(to_json(*back)) == json::serialize(to_json(j)));
}

TEST_CASE("corrupt or foreign state files are refused, not half-loaded") {
    CHECK_FALSE(from_json(""));
    CHECK_FALSE(from_json("{\"version\":2,\"job\":\"a\",\"brief\":\"a.json\",\"items\":[]}"));
    CHECK_FALSE(from_json("{\"version\":1,\"job\":\"a\",\"brief\":\"a.json\",\"items\":[{\"state\":\"dancing\"}]}"));
    CHECK_FALSE(from_json("{\"version\":1,\"job\":\"a\",\"brief\":\"a.json\"}"));
    CHECK(from_json("{\"version\":1,\"job\":\"a\",\"brief\":\"a.json\",\"items\":[]}"));
}

TEST_CASE("completeness and overall status follow items and outputs") {
    auto j = sample();
    CHECK(j.complete());
    CHECK(j.overall_status() == "partial");
    j.items[1].state = item_state::submitted;
    CHECK_FALSE(j.complete());
    j.items.pop_back();
    CHECK(j.overall_status() == "completed");
    j.items[0].outputs[0].saved = false;
    CHECK_FALSE(j.complete());
    j.items[0].outputs[0].error = "download failed 3 times";
    CHECK(j.complete());
    CHECK(j.overall_status() == "failed");
}

TEST_CASE("the manifest names every item and output, the error file only the failures") {
    auto j = sample();
    auto m = json::parse(manifest_json(j, 1700000100)).as_object();
    CHECK(m.at("job").as_string() == "sneakers");
    CHECK(m.at("status").as_string() == "partial");
    auto& items = m.at("items").as_array();
    REQUIRE(items.size() == 2);
    auto& out = items[0].at("outputs").as_array()[0].as_object();
    CHECK(out.at("file").as_string() == "0-0-ai-designer.png");
    CHECK(out.at("sha256").as_string() == "ab12");
    CHECK(out.at("bytes").to_number<std::uint64_t>() == 1234);
    CHECK(items[1].at("status").as_string() == "failed");
    CHECK(items[1].at("error").at("message").as_string() == "No video-capable app found for this workspace");

    auto e = json::parse(error_json(j, 1700000100)).as_object();
    auto& failed = e.at("items").as_array();
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].at("item").to_number<int>() == 1);
    CHECK(e.at("file").as_string() == "sneakers.json");
}

TEST_CASE("save writes the record atomically under active/<job>.state.json") {
    auto dir = std::filesystem::temp_directory_path() / ("briefd-jobs-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto j = sample();
    REQUIRE_FALSE(save(dir, j));
    std::ifstream in(state_path(dir, "sneakers"));
    std::stringstream ss;
    ss << in.rdbuf();
    auto back = from_json(ss.str());
    REQUIRE(back);
    CHECK(back->items.size() == 2);
    std::filesystem::remove_all(dir);
}

TEST_CASE("raw bytes from file names and servers never make our JSON files invalid UTF-8") {
    auto j = sample();
    j.brief_name = "bad\xffname.json";              // a producer's file name
    j.items[1].error = "rejected: \xed\xa0\x80 \xf5"; // a server's body, not cleaned upstream
    j.items[0].outputs[0].label = "L\xc0\xaf";
    const boost::json::parse_options strict;        // what Python's json.load also insists on
    for (const auto& text : {manifest_json(j, 1700000100), error_json(j, 1700000100), to_text(to_json(j))}) {
        std::error_code ec;
        auto v = json::parse(text, ec, {}, strict);
        CHECK_MESSAGE(!ec, text);
    }
    auto m = json::parse(manifest_json(j, 1700000100));
    CHECK(m.at("source").as_string() == "bad\xef\xbf\xbdname.json");

    // The state written by save() reads back, and so does one written by an older version that
    // held the raw bytes: never "corrupt" because of a server's text.
    auto back = from_json(to_text(to_json(j)));
    REQUIRE(back);
    CHECK(back->brief_name == "bad\xef\xbf\xbdname.json");
    auto raw = from_json(json::serialize(to_json(j)));  // raw bytes, as main wrote them
    REQUIRE(raw);
    CHECK(raw->items[1].error.find("rejected:") == 0);
    CHECK(briefd::utf8::is_valid(raw->items[1].error));
}
