// Every example brief shipped in config/examples/ (the demo drops them) must parse cleanly.
#include "brief/brief.hpp"

#include "helpers.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace briefd::brief;
using briefd::brief::test::parse_all;
using briefd::brief::test::dump;

namespace {

const std::filesystem::path examples = std::filesystem::path(BRIEFD_SOURCE_DIR) / "config" / "examples";

parse_result load(const std::string& name) {
    std::ifstream in(examples / name, std::ios::binary);
    REQUIRE_MESSAGE(in, name);
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_all(name, ss.str(), "lamina");
}

}  // namespace

TEST_CASE("examples: every file in config/examples parses without problems") {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(examples)) {
        if (!e.is_regular_file()) continue;
        auto r = load(e.path().filename().string());
        CHECK_MESSAGE(r.ok(), std::string(e.path().filename().string() + "\n" + dump(r)));
        ++n;
    }
    CHECK(n >= 4);
}

TEST_CASE("examples: sneakers.json is three content items, one of them video") {
    auto r = load("sneakers.json");
    REQUIRE(r.ok());
    REQUIRE(r.brief->items.size() == 3);
    int videos = 0;
    for (const auto& it : r.brief->items) videos += std::get<content_item>(it.body).modality == "video";
    CHECK(videos == 1);
}

TEST_CASE("examples: lineup.yaml shares platform and brand profile") {
    auto r = load("lineup.yaml");
    REQUIRE(r.ok());
    REQUIRE(r.brief->items.size() >= 2);
    for (const auto& it : r.brief->items) {
        const auto& c = std::get<content_item>(it.body);
        CHECK(c.platform == "instagram");
        CHECK(c.brand_profile_id);
    }
}

TEST_CASE("examples: portrait.json is one app run of the seed's app") {
    auto r = load("portrait.json");
    REQUIRE(r.ok());
    REQUIRE(r.brief->items.size() == 1);
    const auto& a = std::get<app_run_item>(r.brief->items[0].body);
    CHECK(a.app_id == "ec7ec3ce-69b4-43c9-8eea-fe9752d679a4");
    CHECK(a.inputs.at("Upload") == "https://example.com/my-photo.jpg");
    CHECK(a.inputs.at("Style") == "Studio");
}

TEST_CASE("examples: campaign-23.yaml has 23 items, indexed 0..22") {
    auto r = load("campaign-23.yaml");
    REQUIRE(r.ok());
    REQUIRE(r.brief->items.size() == 23);
    for (std::size_t i = 0; i < 23; ++i) CHECK(r.brief->items[i].index == i);
}
