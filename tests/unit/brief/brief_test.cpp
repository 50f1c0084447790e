#include "brief/brief.hpp"

#include "helpers.hpp"

#include <boost/json/serialize.hpp>

using namespace briefd::brief;
using briefd::brief::test::parse_all;
using briefd::brief::test::dump;
using briefd::brief::test::has_problem;

namespace {

const content_item& content(const parse_result& r, std::size_t i) {
    REQUIRE(r.brief);
    REQUIRE(i < r.brief->items.size());
    REQUIRE(std::holds_alternative<content_item>(r.brief->items[i].body));
    return std::get<content_item>(r.brief->items[i].body);
}

}  // namespace

TEST_CASE("a single JSON brief object is one Lamina content item") {
    auto r = parse_all("sneakers.json",
                   R"({"brief":"Lifestyle photo of sneakers","platform":"instagram","modality":"image"})", "lamina");
    REQUIRE_MESSAGE(r.ok(), dump(r));
    CHECK(r.brief->provider == "lamina");
    REQUIRE(r.brief->items.size() == 1);
    CHECK(r.brief->items[0].index == 0);
    const auto& c = content(r, 0);
    CHECK(c.brief == "Lifestyle photo of sneakers");
    CHECK(c.platform == "instagram");
    CHECK(c.modality == "image");
    CHECK_FALSE(c.brand_profile_id);
    CHECK(c.extra.empty());
}

TEST_CASE("fields outside items apply to every item and an item's own value wins") {
    auto r = parse_all("b.json", R"({
        "platform": "instagram", "modality": "image",
        "brandProfileId": "7f0c2a9e-5b1d-4c3e-9a8f-2d6b4e1c0a57",
        "items": [ {"brief": "one"}, {"brief": "two", "platform": "tiktok", "modality": "video"} ]
    })", "lamina");
    REQUIRE_MESSAGE(r.ok(), dump(r));
    REQUIRE(r.brief->items.size() == 2);
    CHECK(content(r, 0).platform == "instagram");
    CHECK(content(r, 1).platform == "tiktok");
    CHECK(content(r, 1).modality == "video");
    CHECK(content(r, 0).brand_profile_id == "7f0c2a9e-5b1d-4c3e-9a8f-2d6b4e1c0a57");
    CHECK(content(r, 1).brand_profile_id == "7f0c2a9e-5b1d-4c3e-9a8f-2d6b4e1c0a57");
    CHECK(r.brief->items[1].index == 1);
}

TEST_CASE("null platform and modality are absent, not strings") {
    auto r = parse_all("b.json", R"({"brief":"x","platform":null,"modality":null,"campaignId":null})", "lamina");
    REQUIRE_MESSAGE(r.ok(), dump(r));
    CHECK_FALSE(content(r, 0).platform);
    CHECK_FALSE(content(r, 0).modality);
    CHECK_FALSE(content(r, 0).campaign_id);
}

TEST_CASE("documented extra content fields are passed through") {
    auto r = parse_all("b.json", R"({"brief":"x","templateId":"t1","aspectRatio":"4:5",
        "appId":"ec7ec3ce-69b4-43c9-8eea-fe9752d679a4","inputs":{"Style":"Studio"},"metadata":{"sku":"A1"}})", "lamina");
    REQUIRE_MESSAGE(r.ok(), dump(r));
    const auto& c = content(r, 0);
    CHECK(c.extra.at("templateId") == "t1");
    CHECK(c.extra.at("aspectRatio") == "4:5");
    CHECK(c.extra.at("appId") == "ec7ec3ce-69b4-43c9-8eea-fe9752d679a4");
    CHECK(c.extra.at("inputs").at("Style") == "Studio");
    CHECK(c.extra.at("metadata").at("sku") == "A1");
    CHECK_FALSE(c.extra.contains("brief"));
}

TEST_CASE("problem text and JSON name file, item and field") {
    problem p{"sneakers.json", 3, "platform", "must be a string"};
    CHECK(p.to_string() == "sneakers.json: item 3: platform: must be a string");
    auto j = p.to_json();
    CHECK(j.at("file") == "sneakers.json");
    CHECK(j.at("item") == 3);
    CHECK(j.at("field") == "platform");
    CHECK(j.at("message") == "must be a string");

    problem q{"x.yaml", std::nullopt, "file", "empty file"};
    CHECK(q.to_string() == "x.yaml: file: empty file");
    CHECK(q.to_json().at("item").is_null());
    problem s{"x.yaml", 0, "", "an item must be an object"};
    CHECK(s.to_string() == "x.yaml: item 0: an item must be an object");
}

TEST_CASE("a wrong type names the item index and the field") {
    auto r = parse_all("sneakers.json", R"({"items":[{"brief":"a"},{"brief":"b"},{"brief":"c"},{"brief":"d","platform":5}]})",
                   "lamina");
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.brief);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].to_string() == "sneakers.json: item 3: platform: must be a string, not an integer");
}

TEST_CASE("all problems are reported, across fields and items") {
    auto r = parse_all("b.json", R"({"items":[
        {"platform": 1, "modality": []},
        {"brief": "ok"},
        {"brief": "", "brandProfileId": "not-a-uuid"},
        "just a string"
    ]})", "lamina");
    CHECK_FALSE(r.ok());
    CHECK(has_problem(r, 0, "brief", "required"));
    CHECK(has_problem(r, 0, "platform", "must be a string"));
    CHECK(has_problem(r, 0, "modality", "must be a string, not a list"));
    CHECK(has_problem(r, 2, "brief", "must not be empty"));
    CHECK(has_problem(r, 2, "brandProfileId", "UUID"));
    CHECK(has_problem(r, 3, "", "must be an object"));
    CHECK(r.problems.size() == 6);
}

TEST_CASE("problems are bounded") {
    std::string text = R"({"items":[)";
    for (int i = 0; i < 200; ++i) text += std::string(i ? "," : "") + R"({"platform":1})";
    text += "]}";
    auto r = parse_all("many.json", text, "lamina");
    CHECK(r.problems.size() == 50);
    limits lim;
    lim.max_problems = 7;
    CHECK(parse_all("many.json", text, "lamina", lim).problems.size() == 7);
}

TEST_CASE("unknown fields: in an item, and once for a shared field") {
    auto r = parse_all("b.json", R"({"colour":"red","items":[{"brief":"a","platfrom":"instagram"},{"brief":"b"}]})", "lamina");
    CHECK(has_problem(r, 0, "platfrom", "unknown field"));
    CHECK(has_problem(r, std::nullopt, "colour", "unknown field"));
    CHECK(r.problems.size() == 2);
}

TEST_CASE("provider: default, explicit, unknown, wrong type") {
    auto d = parse_all("b.json", R"({"brief":"x"})", "lamina");
    REQUIRE(d.ok());
    CHECK(d.brief->provider == "lamina");

    auto h = parse_all("b.json", R"({"provider":"hrizn","ideacloud_id":"a1b2c3d4-0001-0000-0000-000000000000","article_type":"qa"})",
                   "lamina");
    REQUIRE_MESSAGE(h.ok(), dump(h));
    CHECK(h.brief->provider == "hrizn");

    auto u = parse_all("b.json", R"({"provider":"midjourney","brief":"x"})", "lamina");
    CHECK(has_problem(u, std::nullopt, "provider", "unknown provider \"midjourney\""));
    auto t = parse_all("b.json", R"({"provider":7,"brief":"x"})", "lamina");
    CHECK(has_problem(t, std::nullopt, "provider", "must be a string"));
    auto bad_default = parse_all("b.json", R"({"brief":"x"})", "nope");
    CHECK(has_problem(bad_default, std::nullopt, "provider", "unknown provider"));
}

TEST_CASE("items must be a non-empty list of objects within the limit") {
    CHECK(has_problem(parse_all("b.json", R"({"items":{}})", "lamina"), std::nullopt, "items", "must be a list"));
    CHECK(has_problem(parse_all("b.json", R"({"items":[]})", "lamina"), std::nullopt, "items", "empty"));
    limits lim;
    lim.max_items = 3;
    auto r = parse_all("b.json", R"({"items":[{"brief":"a"},{"brief":"b"},{"brief":"c"},{"brief":"d"}]})", "lamina", lim);
    CHECK(has_problem(r, std::nullopt, "items", "4 items; at most 3"));
}

TEST_CASE("the top level must be an object") {
    CHECK(has_problem(parse_all("b.json", R"([{"brief":"x"}])", "lamina"), std::nullopt, "", "items:"));
    CHECK(has_problem(parse_all("b.json", R"("brief")", "lamina"), std::nullopt, "", "not a string"));
    CHECK(has_problem(parse_all("b.json", "42", "lamina"), std::nullopt, "", "must be an object"));
    CHECK(has_problem(parse_all("b.yaml", "just words", "lamina"), std::nullopt, "", "must be an object"));
    CHECK(has_problem(parse_all("b.yaml", "- a\n- b\n", "lamina"), std::nullopt, "", "list"));
}

TEST_CASE("file-level refusals: empty, too large, wrong extension, not UTF-8, NUL bytes") {
    CHECK(has_problem(parse_all("e.json", "", "lamina"), std::nullopt, "file", "empty"));
    CHECK(has_problem(parse_all("e.yaml", " \n\t\n", "lamina"), std::nullopt, "file", "empty"));
    CHECK(has_problem(parse_all("e.yaml", "# only a comment\n", "lamina"), std::nullopt, "file", "no YAML document"));
    limits lim;
    lim.max_brief_bytes = 10;
    auto big = parse_all("big.json", R"({"brief":"longer than ten bytes"})", "lamina", lim);
    REQUIRE(big.problems.size() == 1);
    CHECK(big.problems[0].field == "file");
    CHECK(big.problems[0].message.find("at most 10") != std::string::npos);
    CHECK(has_problem(parse_all("b.txt", R"({"brief":"x"})", "lamina"), std::nullopt, "file", ".json"));
    CHECK(has_problem(parse_all("b.json", "{\"brief\":\"caf\xC3\"}", "lamina"), std::nullopt, "file", "not UTF-8"));
    CHECK(has_problem(parse_all("b.json", std::string_view("{\"brief\":\"x\"}\0", 14), "lamina"), std::nullopt, "file", "NUL"));
    CHECK(parse_all("B.JSON", R"({"brief":"x"})", "lamina").ok());
}

TEST_CASE("invalid UTF-8 forms are refused: overlong, surrogate, beyond U+10FFFF, truncated") {
    for (std::string bad : {"\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82", "\xFF"}) {
        auto r = parse_all("b.yaml", "brief: \"" + bad + "\"\n", "lamina");
        CHECK_MESSAGE(has_problem(r, std::nullopt, "file", "not UTF-8"), dump(r));
    }
    CHECK(parse_all("b.yaml", "brief: \"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x91\x9F\"\n", "lamina").ok());
}

TEST_CASE("a UTF-8 byte order mark is accepted") {
    CHECK(parse_all("b.json", "\xEF\xBB\xBF{\"brief\":\"x\"}", "lamina").ok());
}

TEST_CASE("truncated JSON is a problem with its line") {
    auto r = parse_all("t.json", "{\n  \"items\": [\n    {\"brief\": \"a\"", "lamina");
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].field == "file");
    CHECK(r.problems[0].message.find("line 3") != std::string::npos);
    CHECK(r.problems[0].message.find("not valid JSON") != std::string::npos);
}

TEST_CASE("deep JSON nesting is refused before it recurses") {
    std::string deep = R"({"brief":"x","metadata":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
    auto r = parse_all("deep.json", deep, "lamina");
    CHECK(has_problem(r, std::nullopt, "file", "nested deeper than 16"));
}

TEST_CASE("huge strings and control characters are problems at their field") {
    limits lim;
    lim.max_string_bytes = 100;
    auto r = parse_all("b.json", R"({"items":[{"brief":")" + std::string(101, 'a') + R"("}]})", "lamina", lim);
    CHECK(has_problem(r, 0, "brief", "longer than 100 bytes"));
    auto c = parse_all("b.json", R"({"brief":"a\u0007b","metadata":{"k":"\u0000"}})", "lamina");
    CHECK(has_problem(c, 0, "brief", "control character"));
    CHECK(has_problem(c, 0, "metadata.k", "control character"));
    CHECK(parse_all("b.json", R"({"brief":"line one\nline two\ttabbed"})", "lamina").ok());
    auto items = parse_all("b.json", R"({"platform":"a\u0001","items":[{"brief":"ok"},{"brief":"b\u0002"}]})", "lamina");
    CHECK(has_problem(items, std::nullopt, "platform", "control character"));
    CHECK(has_problem(items, 1, "brief", "control character"));
}

TEST_CASE("app runs: app or appId, inputs and outputs") {
    auto r = parse_all("portrait.json", R"({"app":"ec7ec3ce-69b4-43c9-8eea-fe9752d679a4",
        "inputs":{"Upload":"https://example.com/my-photo.jpg","Style":"Studio"},"outputs":["AI Designer"]})", "lamina");
    REQUIRE_MESSAGE(r.ok(), dump(r));
    REQUIRE(std::holds_alternative<app_run_item>(r.brief->items[0].body));
    const auto& a = std::get<app_run_item>(r.brief->items[0].body);
    CHECK(a.app_id == "ec7ec3ce-69b4-43c9-8eea-fe9752d679a4");
    CHECK(a.inputs.at("Style") == "Studio");
    CHECK(a.outputs == std::vector<std::string>{"AI Designer"});

    auto b = parse_all("p.json", R"({"appId":"ec7ec3ce-69b4-43c9-8eea-fe9752d679a4","inputs":{}})", "lamina");
    REQUIRE_MESSAGE(b.ok(), dump(b));
    CHECK(std::holds_alternative<app_run_item>(b.brief->items[0].body));
}

TEST_CASE("app runs: problems with the app id, inputs and outputs") {
    CHECK(has_problem(parse_all("p.json", R"({"app":"../../admin","inputs":{}})", "lamina"), 0, "app", "UUID"));
    CHECK(has_problem(parse_all("p.json", R"({"app":42})", "lamina"), 0, "app", "must be a string"));
    CHECK(has_problem(parse_all("p.json",
                            R"({"app":"ec7ec3ce-69b4-43c9-8eea-fe9752d679a4","appId":"ec7ec3ce-69b4-43c9-8eea-fe9752d679a4"})",
                            "lamina"),
                      0, "app", "not both"));
    CHECK(has_problem(parse_all("p.json", R"({"app":"ec7ec3ce-69b4-43c9-8eea-fe9752d679a4","inputs":[1]})", "lamina"), 0,
                      "inputs", "must be an object"));
    CHECK(has_problem(parse_all("p.json", R"({"app":"ec7ec3ce-69b4-43c9-8eea-fe9752d679a4","inputs":{"A":{"x":1}}})", "lamina"), 0,
                      "inputs.A", "must be a string"));
    CHECK(has_problem(parse_all("p.json", R"({"app":"ec7ec3ce-69b4-43c9-8eea-fe9752d679a4","outputs":[1]})", "lamina"), 0,
                      "outputs[0]", "must be a string"));
    CHECK(has_problem(parse_all("p.json", R"({"app":"ec7ec3ce-69b4-43c9-8eea-fe9752d679a4","brief":"x"})", "lamina"), 0,
                      "brief", "unknown field"));
}

TEST_CASE("an appId beside a brief pins the app of a content item") {
    auto r = parse_all("b.json", R"({"brief":"x","appId":"ec7ec3ce-69b4-43c9-8eea-fe9752d679a4"})", "lamina");
    REQUIRE_MESSAGE(r.ok(), dump(r));
    CHECK(content(r, 0).extra.at("appId") == "ec7ec3ce-69b4-43c9-8eea-fe9752d679a4");
}

TEST_CASE("shared app and inputs merge key by key into app-run items") {
    auto r = parse_all("b.yaml", R"(
app: ec7ec3ce-69b4-43c9-8eea-fe9752d679a4
inputs: { Style: Studio }
items:
  - inputs: { Upload: "https://example.com/a.jpg" }
  - inputs: { Upload: "https://example.com/b.jpg", Style: Outdoor }
)", "lamina");
    REQUIRE_MESSAGE(r.ok(), dump(r));
    const auto& a = std::get<app_run_item>(r.brief->items[0].body);
    const auto& b = std::get<app_run_item>(r.brief->items[1].body);
    CHECK(a.inputs.at("Style") == "Studio");
    CHECK(a.inputs.at("Upload") == "https://example.com/a.jpg");
    CHECK(b.inputs.at("Style") == "Outdoor");
}

TEST_CASE("a file may mix content items and app runs; shared fields go where they apply") {
    auto r = parse_all("b.yaml", R"(
platform: instagram
items:
  - brief: a still
  - app: ec7ec3ce-69b4-43c9-8eea-fe9752d679a4
    inputs: { Style: Studio }
)", "lamina");
    REQUIRE_MESSAGE(r.ok(), dump(r));
    CHECK(std::holds_alternative<content_item>(r.brief->items[0].body));
    CHECK(std::holds_alternative<app_run_item>(r.brief->items[1].body));
    CHECK(content(r, 0).platform == "instagram");
}

TEST_CASE("Hrizn items: valid batch items pass through") {
    auto r = parse_all("h.json", R"({"provider":"hrizn","auto_compliance":true,"items":[
        {"ideacloud_id":"a1b2c3d4-0001-0000-0000-000000000000","article_type":"basic","auto_content_tools":true},
        {"ideacloud_id":"a1b2c3d4-0003-0000-0000-000000000000","article_type":"expert","title":"Custom Article Title",
         "selected_question_ids":["q-1700000000-0"],"content_intent":"fixed_ops","mode":"simple","language":"Spanish",
         "content_length":2600,"content_depth":"concise","brand_voice_id":"bv1"}]})", "lamina");
    REQUIRE_MESSAGE(r.ok(), dump(r));
    REQUIRE(r.brief->items.size() == 2);
    const auto& h = std::get<hrizn_item>(r.brief->items[0].body);
    CHECK(h.body.at("article_type") == "basic");
    CHECK(h.body.at("auto_compliance") == true);  // shared field applied
    CHECK(std::get<hrizn_item>(r.brief->items[1].body).body.at("title") == "Custom Article Title");
}

TEST_CASE("Hrizn items: required fields, enums and types") {
    auto r = parse_all("h.json", R"({"provider":"hrizn","items":[
        {"article_type":"poem"},
        {"ideacloud_id":"x","article_type":"qa","auto_compliance":"yes","mode":"interactive"},
        {"ideacloud_id":"a1b2c3d4-0001-0000-0000-000000000000","article_type":"qa","selected_question_ids":[],
         "content_intent":"other","content_length":-1,"nickname":"x"}]})", "lamina");
    CHECK(has_problem(r, 0, "ideacloud_id", "required"));
    CHECK(has_problem(r, 0, "article_type", "must be one of basic|qa|expert"));
    CHECK(has_problem(r, 1, "ideacloud_id", "UUID"));
    CHECK(has_problem(r, 1, "auto_compliance", "true or false"));
    CHECK(has_problem(r, 1, "selected_question_ids", "mode: interactive"));
    CHECK(has_problem(r, 2, "selected_question_ids", "must not be empty"));
    CHECK(has_problem(r, 2, "content_intent", "fixed_ops|variable|general"));
    CHECK(has_problem(r, 2, "content_length", "between 1 and"));
    CHECK(has_problem(r, 2, "nickname", "unknown field"));
    auto t = parse_all("h.json", R"({"provider":"hrizn","ideacloud_id":"a1b2c3d4-0001-0000-0000-000000000000","article_type":"qa","title":")" +
                                 std::string(501, 't') + "\"}", "lamina");
    CHECK(has_problem(t, 0, "title", "500"));
    auto i = parse_all("h.json", R"({"provider":"hrizn","ideacloud_id":"a1b2c3d4-0001-0000-0000-000000000000","article_type":"qa",
        "mode":"interactive","selected_question_ids":["q-1707000000-0"]})", "lamina");
    CHECK(i.ok());
}

TEST_CASE("Layers items: valid request, body without projectId") {
    auto r = parse_all("l.yaml", R"(
provider: layers
projectId: 5d2c7e1a-3b4f-4a6d-9e8c-1f0b2a3c4d5e
format: video_remix
variantCount: 2
brief:
  hook: "Your first 30 days of running, one clip at a time."
  targetPlatforms: [instagram, tiktok]
  themeTags: [beginner-friendly, consistency]
  language: en
references: { assetIds: [a1, a2] }
budget: { maxCredits: 40 }
)", "lamina");
    REQUIRE_MESSAGE(r.ok(), dump(r));
    const auto& l = std::get<layers_item>(r.brief->items[0].body);
    CHECK(l.project_id == "5d2c7e1a-3b4f-4a6d-9e8c-1f0b2a3c4d5e");
    CHECK_FALSE(l.body.contains("projectId"));
    CHECK(l.body.at("variantCount") == 2);
    CHECK(l.body.at("format") == "video_remix");
    CHECK(l.body.at("brief").at("targetPlatforms").as_array().size() == 2);
}

TEST_CASE("Layers items: variantCount 1..5, brief required, enums, limits") {
    auto r = parse_all("l.json", R"({"provider":"layers","items":[
        {"projectId":"5d2c7e1a-3b4f-4a6d-9e8c-1f0b2a3c4d5e","variantCount":6,"brief":{"hook":"h"}},
        {"projectId":"5d2c7e1a-3b4f-4a6d-9e8c-1f0b2a3c4d5e","variantCount":0,"brief":{"hook":"h"}},
        {"projectId":"5d2c7e1a-3b4f-4a6d-9e8c-1f0b2a3c4d5e","variantCount":2.5,"brief":"a string"},
        {"variantCount":1},
        {"projectId":"5d2c7e1a-3b4f-4a6d-9e8c-1f0b2a3c4d5e","brief":{"targetPlatforms":["myspace"],"mood":"x",
          "valuePropositions":["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16","17","18","19","20","21"]},
          "budget":{"maxCredits":"lots"}}]})", "lamina");
    CHECK(has_problem(r, 0, "variantCount", "between 1 and 5"));
    CHECK(has_problem(r, 1, "variantCount", "between 1 and 5"));
    CHECK(has_problem(r, 2, "variantCount", "integer"));
    CHECK(has_problem(r, 2, "brief", "must be an object"));
    CHECK(has_problem(r, 3, "projectId", "required"));
    CHECK(has_problem(r, 3, "brief", "required"));
    CHECK(has_problem(r, 4, "brief.targetPlatforms[0]", "instagram|tiktok|youtube"));
    CHECK(has_problem(r, 4, "brief.mood", "unknown field"));
    CHECK(has_problem(r, 4, "brief.valuePropositions", "at most 20"));
    CHECK(has_problem(r, 4, "budget.maxCredits", "integer"));
}

TEST_CASE("Layers briefs merge: shared brief fields under each item's own") {
    auto r = parse_all("l.yaml", R"(
provider: layers
projectId: 5d2c7e1a-3b4f-4a6d-9e8c-1f0b2a3c4d5e
brief: { targetPlatforms: [tiktok], language: en }
items:
  - brief: { hook: "one" }
  - brief: { hook: "two", language: de }
)", "lamina");
    REQUIRE_MESSAGE(r.ok(), dump(r));
    const auto& b0 = std::get<layers_item>(r.brief->items[0].body).body.at("brief").as_object();
    const auto& b1 = std::get<layers_item>(r.brief->items[1].body).body.at("brief").as_object();
    CHECK(b0.at("hook") == "one");
    CHECK(b0.at("language") == "en");
    CHECK(b1.at("language") == "de");
    CHECK(b1.at("targetPlatforms").as_array().size() == 1);
}

TEST_CASE("is_uuid accepts the canonical form only") {
    CHECK(is_uuid("ec7ec3ce-69b4-43c9-8eea-fe9752d679a4"));
    CHECK(is_uuid("EC7EC3CE-69B4-43C9-8EEA-FE9752D679A4"));
    CHECK_FALSE(is_uuid("ec7ec3ce69b443c98eeafe9752d679a4"));
    CHECK_FALSE(is_uuid("ec7ec3ce-69b4-43c9-8eea-fe9752d679a"));
    CHECK_FALSE(is_uuid("gc7ec3ce-69b4-43c9-8eea-fe9752d679a4"));
    CHECK_FALSE(is_uuid(""));
}
