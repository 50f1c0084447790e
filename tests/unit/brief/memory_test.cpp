// Memory amplification from small briefs (issue 12, item 3): whatever the input, what parse_all()
// builds stays a small multiple of max_brief_bytes. Peak RSS figures come from brief_memory
// (tests/unit/brief/brief_memory.cpp), never asserted here.
#include "brief/brief.hpp"
#include "brief/yaml_to_json.hpp"

#include "helpers.hpp"

using namespace briefd::brief;
using briefd::brief::test::parse_all;
using briefd::brief::test::dump;
using briefd::brief::test::has_problem;

TEST_CASE("YAML: 1 MiB of '[' is refused from the text, before yaml-cpp tokenises it") {
    // Was 257 MB peak and "mapping keys must be strings".
    const std::string text((1u << 20) - 1, '[');
    auto r = parse_all("brackets.yaml", text, "lamina");
    REQUIRE_FALSE(r.ok());
    CHECK_MESSAGE(has_problem(r, std::nullopt, "file", "line 1: nested deeper than 16 levels"),
                  dump(r));
    auto m = parse_all("brackets.yaml", "brief: x\nmetadata: " + std::string(1u << 19, '{'), "lamina");
    CHECK_MESSAGE(has_problem(m, std::nullopt, "file", "line 2: nested deeper than 16"), dump(m));
    std::string dashes = "items:\n  ";
    for (int i = 0; i < 100000; ++i) dashes += "- ";
    dashes += "x\n";
    CHECK(has_problem(parse_all("dashes.yaml", dashes, "lamina"), std::nullopt, "file",
                      "nested deeper than 16"));
}

TEST_CASE("YAML nesting pre-scan: brackets in quotes, comments and block scalars do not count") {
    const std::string many(40, '[');
    std::string text = "brief: \"" + many +
                       "\"\n"
                       "platform: '" +
                       many +
                       " it''s'\n"
                       "# " +
                       many +
                       "\n"
                       "metadata:\n"
                       "  note: |\n"
                       "    " +
                       many +
                       "\n"
                       "    {{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{\n"
                       "  other: plain text with [brackets] and " +
                       many +
                       "\n"
                       "  list: [a, [b, {c: d}], 'x[y', \"]\"]\n";
    auto r = parse_all("quoted.yaml", text, "lamina");
    CHECK_MESSAGE(r.ok(), dump(r));
    CHECK_FALSE(detail::yaml_nesting_check(text, 16));
    // Sixteen real levels, the most a brief may have, pass the pre-scan in flow and block form.
    std::string flow = "brief: x\nmetadata: " + std::string(15, '[') + std::string(15, ']') + "\n";
    CHECK_FALSE(detail::yaml_nesting_check(flow, 16));
    std::string block = "brief: x\nmetadata:\n";
    for (int i = 0; i < 14; ++i)
        block += std::string(static_cast<std::size_t>(2 * (i + 1)), ' ') + "- k" +
                 std::to_string(i) + ":\n";
    CHECK_FALSE(detail::yaml_nesting_check(block, 16));
}

TEST_CASE("JSON: duplicate keys are refused, as in YAML") {
    auto r = parse_all("d.json", R"({"brief":"a","platform":"x","brief":"b"})", "lamina");
    CHECK_MESSAGE(has_problem(r, std::nullopt, "file", "line 1: duplicate key \"brief\""), dump(r));
    auto nested = parse_all("d.json", "{\"brief\":\"a\",\n\"metadata\":{\"k\":1,\"k\":2}}", "lamina");
    CHECK(has_problem(nested, std::nullopt, "file", "line 2: duplicate key \"k\""));
    CHECK(parse_all("ok.json", R"({"brief":"a","metadata":{"brief":1}})", "lamina").ok());
}

TEST_CASE("JSON: the value budget applies as in YAML") {
    std::string many = "{\"brief\":\"x\",\"metadata\":{\"list\":[";
    for (int i = 0; i < 150000; ++i) many += i ? ",0" : "0";
    many += "]}}";
    auto r = parse_all("many.json", many, "lamina");
    CHECK_MESSAGE(has_problem(r, std::nullopt, "file", "more than 100000 values"), dump(r));
    auto deep = parse_all(
        "deep.json",
        "{\"brief\":\"x\",\"metadata\":" + std::string(100, '[') + std::string(100, ']') + "}",
        "lamina");
    CHECK(has_problem(deep, std::nullopt, "file", "nested deeper than 16"));
    auto str = parse_all("long.json", "{\"brief\":\"" + std::string(20000, 'x') + "\"}", "lamina");
    CHECK(has_problem(str, 0, "brief", "longer than 16384 bytes"));
    auto syntax = parse_all("bad.json", "{\n\"brief\": \"x\",\n]", "lamina");
    CHECK(has_problem(syntax, std::nullopt, "file", "line 3: not valid JSON"));
}

TEST_CASE("shared fields copied into many items are bounded in total, JSON and YAML") {
    // 50 KB of shared metadata × 100 items = 5 MB once merged, from a 55 KB file.
    limits lim;
    lim.max_brief_bytes = 64 * 1024;
    std::string meta;
    for (int i = 0; i < 5; ++i)
        meta += std::string(meta.empty() ? "" : ",") + "\"k" + std::to_string(i) + "\":\"" +
                std::string(10000, 'm') + "\"";
    std::string json = "{\"metadata\":{" + meta + "},\"items\":[";
    for (int i = 0; i < 100; ++i)
        json += std::string(i ? "," : "") + "{\"brief\":\"b" + std::to_string(i) + "\"}";
    json += "]}";
    REQUIRE(json.size() < lim.max_brief_bytes);
    auto r = parse_all("shared.json", json, "lamina", lim);
    REQUIRE_FALSE(r.ok());
    CHECK_MESSAGE(
        has_problem(r, std::nullopt, "items", "shared fields copied into each of the 100 items"),
        dump(r));

    std::string yaml = "metadata: {" + meta + "}\nitems:\n";
    for (int i = 0; i < 100; ++i) yaml += "  - brief: b" + std::to_string(i) + "\n";
    auto y = parse_all("shared.yaml", yaml, "lamina", lim);
    CHECK_MESSAGE(has_problem(y, std::nullopt, "items", "shared fields"), dump(y));

    // Values count too: a shared list of 2,000 values × 100 items.
    std::string list = "{\"metadata\":{\"l\":[";
    for (int i = 0; i < 2000; ++i) list += i ? ",1" : "1";
    list += "]},\"items\":[";
    for (int i = 0; i < 100; ++i) list += std::string(i ? "," : "") + "{\"brief\":\"b\"}";
    list += "]}";
    CHECK(has_problem(parse_all("values.json", list, "lamina"), std::nullopt, "items", "values"));

    // An ordinary shared field over a full file of items is fine.
    std::string fine =
        "{\"brandProfileId\":\"7f0c2a9e-5b1d-4c3e-9a8f-2d6b4e1c0a57\",\"platform\":\"instagram\","
        "\"items\":[";
    for (int i = 0; i < 1000; ++i)
        fine += std::string(i ? "," : "") + "{\"brief\":\"a product shot number " +
                std::to_string(i) + "\"}";
    fine += "]}";
    auto f = parse_all("fine.json", fine, "lamina");
    CHECK_MESSAGE(f.ok(), dump(f));
}

TEST_CASE("JSON: trailing data after the document is refused; trailing white space is not") {
    CHECK(has_problem(parse_all("t.json", "{\"brief\":\"a\"} x", "lamina"), std::nullopt, "file",
                      "not valid JSON"));
    CHECK(has_problem(parse_all("t.json", "{\"brief\":\"a\"}{}", "lamina"), std::nullopt, "file",
                      "not valid JSON"));
    CHECK(parse_all("t.json", "{\"brief\":\"a\"}\n\n  ", "lamina").ok());
}

TEST_CASE("YAML nesting pre-scan: quotes, anchors and tags cannot hide deep flow collections") {
    const std::string deep(200, '[');
    for (const std::string& text :
         {"a: x 'y\nb: " + deep, "- a \"b\n- " + deep, "k: &anchor " + deep, "k: !!seq " + deep,
          "? " + deep, "[a, 'b\nc', " + deep, "k: \"x\" #'\nj: " + deep, "k: |x\n  " + deep}) {
        CHECK_MESSAGE(detail::yaml_nesting_check(text, 16).has_value(), text.substr(0, 20));
    }
}
