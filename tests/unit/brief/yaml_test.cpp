#include "brief/brief.hpp"

#include "helpers.hpp"

using namespace briefd::brief;
using briefd::brief::test::parse_all;
using briefd::brief::test::dump;
using briefd::brief::test::has_problem;

TEST_CASE("YAML: the lineup example from the design parses") {
    auto r = parse_all("lineup.yaml", R"(
brandProfileId: 7f0c2a9e-5b1d-4c3e-9a8f-2d6b4e1c0a57      # optional, shared by the items below
items:
  - { brief: "Product flat-lay of full colorway lineup", platform: instagram, modality: image }
  - { brief: "15-second unboxing video, ASMR close-ups",  platform: tiktok,    modality: video }
)", "lamina");
    REQUIRE_MESSAGE(r.ok(), dump(r));
    REQUIRE(r.brief->items.size() == 2);
    const auto& v = std::get<content_item>(r.brief->items[1].body);
    CHECK(v.modality == "video");
    CHECK(v.brand_profile_id == "7f0c2a9e-5b1d-4c3e-9a8f-2d6b4e1c0a57");
}

TEST_CASE("YAML: plain scalars follow the core schema, quoted ones stay strings") {
    auto r = parse_all("l.yaml", R"(
provider: layers
projectId: 5d2c7e1a-3b4f-4a6d-9e8c-1f0b2a3c4d5e
variantCount: "2"
brief: { hook: h }
)", "lamina");
    CHECK(has_problem(r, 0, "variantCount", "must be an integer, not a string"));

    auto ok = parse_all("l.yaml", R"(
provider: layers
projectId: 5d2c7e1a-3b4f-4a6d-9e8c-1f0b2a3c4d5e
variantCount: 2
brief: { hook: h }
metadata: { a: ~, b: null, c: true, d: 1.5, e: -3, f: 1e3, g: "true", h: .inf, i: 99999999999999999999 }
)", "lamina");
    REQUIRE_MESSAGE(ok.ok(), dump(ok));
    const auto& m = std::get<layers_item>(ok.brief->items[0].body).body.at("metadata").as_object();
    CHECK(m.at("a").is_null());
    CHECK(m.at("b").is_null());
    CHECK(m.at("c") == true);
    CHECK(m.at("d").as_double() == doctest::Approx(1.5));
    CHECK(m.at("e") == -3);
    CHECK(m.at("f").as_double() == doctest::Approx(1000));
    CHECK(m.at("g") == "true");
    CHECK(m.at("h") == ".inf");
    CHECK(m.at("i").is_string());
}

TEST_CASE("YAML: ordinary anchors and aliases work") {
    auto r = parse_all("a.yaml", R"(
items:
  - &first { brief: "shared shot", platform: instagram }
  - *first
)", "lamina");
    REQUIRE_MESSAGE(r.ok(), dump(r));
    REQUIRE(r.brief->items.size() == 2);
    CHECK(std::get<content_item>(r.brief->items[1].body).brief == "shared shot");
}

TEST_CASE("YAML: an alias bomb is stopped by the value budget") {
    std::string bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
    char prev = 'a';
    for (char c = 'b'; c <= 'j'; ++c, ++prev) {
        bomb += std::string(1, c) + ": &" + c + " [";
        for (int i = 0; i < 9; ++i) bomb += std::string(i ? "," : "") + "*" + prev;
        bomb += "]\n";
    }
    bomb += "brief: boom\n";
    auto r = parse_all("bomb.yaml", bomb, "lamina");
    CHECK_FALSE(r.ok());
    CHECK(has_problem(r, std::nullopt, "file", "values (aliases included)"));
}

TEST_CASE("YAML: deep nesting is refused, flow and block") {
    auto flow = parse_all("deep.yaml", "brief: x\nmetadata: " + std::string(50000, '[') + std::string(50000, ']') + "\n", "lamina");
    CHECK(has_problem(flow, std::nullopt, "file", "nested deeper than 16"));
    std::string block = "brief: x\nmetadata:\n";
    for (int i = 0; i < 40; ++i) block += std::string(static_cast<std::size_t>(2 * (i + 1)), ' ') + "k" + std::to_string(i) + ":\n";
    auto b = parse_all("deep.yaml", block, "lamina");
    CHECK(has_problem(b, std::nullopt, "file", "nested deeper than 16"));
}

TEST_CASE("YAML: syntax errors are problems with a line") {
    auto r = parse_all("bad.yaml", "brief: a: b\n", "lamina");
    REQUIRE_FALSE(r.problems.empty());
    CHECK(r.problems[0].field == "file");
    auto f = parse_all("bad.yaml", "brief: x\nplatform: [instagram\n", "lamina");
    REQUIRE_FALSE(f.problems.empty());
    CHECK(f.problems[0].message.find("line ") == 0);
}

TEST_CASE("YAML: one document per file, no duplicate or complex keys") {
    CHECK(has_problem(parse_all("m.yaml", "brief: a\n---\nbrief: b\n", "lamina"), std::nullopt, "file", "one YAML document"));
    CHECK(has_problem(parse_all("d.yaml", "brief: a\nbrief: b\n", "lamina"), std::nullopt, "file", "duplicate key \"brief\""));
    CHECK(has_problem(parse_all("c.yaml", "? [a, b]\n: c\n", "lamina"), std::nullopt, "file", "keys must be strings"));
    CHECK(has_problem(parse_all("u.yaml", "brief: *nowhere\n", "lamina"), std::nullopt, "file", ""));
}

TEST_CASE("YAML: control characters and long scalars are refused") {
    auto c = parse_all("c.yaml", "brief: \"bell\\a\"\n", "lamina");
    CHECK(has_problem(c, 0, "brief", "control character"));
    limits lim;
    lim.max_string_bytes = 64;
    auto l = parse_all("l.yaml", "brief: " + std::string(65, 'x') + "\n", "lamina", lim);
    CHECK(has_problem(l, std::nullopt, "file", "longer than 64 bytes"));
}

TEST_CASE("YAML: .yml is YAML too") {
    CHECK(parse_all("b.yml", "brief: hello\n", "lamina").ok());
}
