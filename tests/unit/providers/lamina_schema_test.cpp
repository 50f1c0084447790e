#include "providers/lamina/schema.hpp"

#include <boost/json/parse.hpp>

using namespace briefd::providers::lamina;
using briefd::brief::app_run_item;
using briefd::brief::problem;
using briefd::providers::app_schema;

namespace {

// Shaped like GET /v1/apps/{appId} (PROVIDERS §1.11; SDK Parameter type).
const char* const get_app = R"({"data":{
  "appId":"ec7ec3ce-69b4-43c9-8eea-fe9752d679a4","name":"Product Shots with Mood Board","description":null,
  "parameters":[
    {"id":"p1","name":"Upload","type":"url","required":true,"accept":["image"]},
    {"id":"p2","name":"Style","type":"options","required":true,"options":["Studio","Outdoor","Disney / Pixar"]},
    {"id":"p3","name":"Aspect Ratio","type":"options","required":false,"options":[{"value":"1x1","label":"1:1"},{"value":"4x5","label":"4:5"}],"default":"1:1"},
    {"id":"p4","name":"Notes","key":"notes","type":"text","required":true,"default":"none"},
    {"id":"p5","name":"References","type":"url","multiple":true}
  ],
  "outputs":[{"index":0,"label":"AI Designer","type":"image"}]}})";

app_schema schema() {
    auto s = parse_app_schema(boost::json::parse(get_app));
    REQUIRE(s);
    return *s;
}

app_run_item run(const char* inputs) {
    return app_run_item{"ec7ec3ce-69b4-43c9-8eea-fe9752d679a4", boost::json::parse(inputs).as_object(), {}};
}

bool has(const std::vector<problem>& ps, std::string_view field, std::string_view text) {
    for (const auto& p : ps)
        if (p.field == field && p.message.find(text) != std::string::npos && p.item == 2 && p.file == "portrait.json")
            return true;
    return false;
}

}  // namespace

TEST_CASE("app schema: parsed from the data envelope or bare") {
    auto s = schema();
    CHECK(s.app_id == "ec7ec3ce-69b4-43c9-8eea-fe9752d679a4");
    CHECK(s.name == "Product Shots with Mood Board");
    REQUIRE(s.parameters.size() == 5);
    CHECK(s.parameters[0].name == "Upload");
    CHECK(s.parameters[0].type == "url");
    CHECK(s.parameters[0].required);
    CHECK(s.parameters[1].options == std::vector<std::string>{"Studio", "Outdoor", "Disney / Pixar"});
    CHECK(s.parameters[2].options == std::vector<std::string>{"1:1", "4:5"});
    REQUIRE(s.parameters[2].default_value);
    CHECK(*s.parameters[2].default_value == "1:1");
    CHECK(s.parameters[3].key == "notes");
    CHECK(s.parameters[4].multiple);

    auto bare = parse_app_schema(boost::json::parse(get_app).at("data"));
    REQUIRE(bare);
    CHECK(bare->parameters.size() == 5);
}

TEST_CASE("app schema: not an app description") {
    CHECK_FALSE(parse_app_schema(boost::json::parse(R"({"data":{"name":"x"}})")));
    CHECK_FALSE(parse_app_schema(boost::json::parse(R"([1,2])")));
    CHECK_FALSE(parse_app_schema(boost::json::parse(R"({"error":"Not found"})")));
    auto empty = parse_app_schema(boost::json::parse(R"({"data":{"parameters":[{"type":"text"}, 5]}})"));
    REQUIRE(empty);
    CHECK(empty->parameters.empty());  // nameless and malformed parameters are skipped
}

TEST_CASE("validate_inputs: the seed's example inputs pass") {
    auto ps = validate_inputs("portrait.json", 2, run(R"({"Upload":"https://example.com/my-photo.jpg","Style":"Disney / Pixar","Aspect Ratio":"1:1"})"), schema());
    CHECK(ps.empty());
}

TEST_CASE("validate_inputs: missing required parameter without default") {
    auto ps = validate_inputs("portrait.json", 2, run(R"({"Upload":"https://example.com/a.jpg"})"), schema());
    REQUIRE(ps.size() == 1);
    CHECK(ps[0].to_string() == "portrait.json: item 2: inputs.Style: required, no default");
    // null counts as absent
    auto n = validate_inputs("portrait.json", 2, run(R"({"Upload":"https://example.com/a.jpg","Style":null})"), schema());
    CHECK(has(n, "inputs.Style", "required, no default"));
}

TEST_CASE("validate_inputs: unknown names, with a hint for a case mismatch") {
    auto ps = validate_inputs("portrait.json", 2,
                              run(R"({"Upload":"https://example.com/a.jpg","style":"Studio","Colour":"red"})"), schema());
    CHECK(has(ps, "inputs.style", "did you mean \"Style\""));
    CHECK(has(ps, "inputs.Colour", "this app takes: Upload, Style, Aspect Ratio, Notes, References"));
    CHECK(has(ps, "inputs.Style", "required, no default"));
}

TEST_CASE("validate_inputs: option labels, types and URLs") {
    auto ps = validate_inputs("portrait.json", 2,
                              run(R"({"Upload":"ftp://example.com/a.jpg","Style":"Watercolour","Aspect Ratio":"1x1","Notes":5})"),
                              schema());
    CHECK(has(ps, "inputs.Upload", "http(s) URL"));
    CHECK(has(ps, "inputs.Style", "\"Watercolour\" is not an option; one of: Studio, Outdoor, Disney / Pixar"));
    CHECK(has(ps, "inputs.Aspect Ratio", "not an option"));  // the value, not the label, is wrong here
    CHECK(has(ps, "inputs.Notes", "must be text"));
    CHECK(ps.size() == 4);

    auto t = validate_inputs("portrait.json", 2, run(R"({"Upload":42,"Style":["Studio"]})"), schema());
    CHECK(has(t, "inputs.Upload", "must be a URL string"));
    CHECK(has(t, "inputs.Style", "takes one value, not a list"));
    auto junk = validate_inputs("portrait.json", 2, run(R"({"Upload":"not a url","Style":"Studio"})"), schema());
    CHECK(has(junk, "inputs.Upload", "http(s) URL"));
}

TEST_CASE("validate_inputs: multiple values and key aliases") {
    auto ok = validate_inputs("portrait.json", 2,
                              run(R"({"Upload":"https://a.example/x.jpg","Style":"Studio","notes":"hi","References":["https://a.example/1.jpg","http://b.example/2.png"]})"),
                              schema());
    CHECK(ok.empty());
    auto bad = validate_inputs("portrait.json", 2,
                               run(R"({"Upload":"https://a.example/x.jpg","Style":"Studio","References":["https://a.example/1.jpg","nope"]})"),
                               schema());
    CHECK(has(bad, "inputs.References", "http(s) URL"));
}
