// Fuzz-ish: random bytes and seeded mutations of valid briefs must never crash, and must yield either a
// brief (and no problems) or problems (and no brief). The seeds are fixed so a failure reproduces.
#include "brief/brief.hpp"

#include "helpers.hpp"

#include <random>

using namespace briefd::brief;
using briefd::brief::test::parse_all;

namespace {

const char* const valid_json[] = {
    R"({"items":[{"brief":"Lifestyle photo","platform":"instagram","modality":"image"},{"brief":"Unboxing","platform":"tiktok","modality":"video"}],"brandProfileId":"7f0c2a9e-5b1d-4c3e-9a8f-2d6b4e1c0a57"})",
    R"({"app":"ec7ec3ce-69b4-43c9-8eea-fe9752d679a4","inputs":{"Upload":"https://example.com/my-photo.jpg","Style":"Studio"}})",
    R"({"provider":"layers","projectId":"5d2c7e1a-3b4f-4a6d-9e8c-1f0b2a3c4d5e","variantCount":2,"brief":{"hook":"h","targetPlatforms":["tiktok"]}})",
    R"({"provider":"hrizn","items":[{"ideacloud_id":"a1b2c3d4-0001-0000-0000-000000000000","article_type":"qa"}]})",
};
const char* const valid_yaml[] = {
    "platform: instagram\nbrandProfileId: 7f0c2a9e-5b1d-4c3e-9a8f-2d6b4e1c0a57\nitems:\n  - brief: a\n  - { brief: b, modality: video }\n",
    "app: ec7ec3ce-69b4-43c9-8eea-fe9752d679a4\ninputs:\n  Upload: https://example.com/x.jpg\n  Style: Studio\n",
    "items:\n  - &x { brief: \"shared\" }\n  - *x\n",
    "provider: layers\nprojectId: 5d2c7e1a-3b4f-4a6d-9e8c-1f0b2a3c4d5e\nbrief: { hook: h, targetPlatforms: [instagram] }\n",
};
// Bytes that YAML and JSON parsers find interesting.
const char specials[] = "{}[]:,-?&*!|>'\"%@`#\n\r\t \\/0.eE+\x80\xC3\xA9\xFF\x00";

std::string mutate(std::string s, std::mt19937& rng) {
    auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n)(rng); };
    const int rounds = 1 + static_cast<int>(pick(7));
    for (int i = 0; i < rounds; ++i) {
        const std::size_t at = s.empty() ? 0 : pick(s.size() - 1);
        switch (pick(6)) {
        case 0: if (!s.empty()) s[at] = static_cast<char>(pick(255)); break;                  // flip a byte
        case 1: s.insert(at, 1, specials[pick(sizeof specials - 2)]); break;                    // insert a special
        case 2: if (!s.empty()) s.erase(at, 1 + pick(8)); break;                                // delete a run
        case 3: s.resize(at); break;                                                            // truncate
        case 4: if (!s.empty()) s.insert(at, s.substr(pick(s.size() - 1), 1 + pick(30))); break; // duplicate a slice
        case 5: s.insert(at, std::string(1 + pick(40), specials[pick(sizeof specials - 2)])); break; // repeat a special
        default: if (!s.empty()) std::swap(s[at], s[pick(s.size() - 1)]); break;                // swap two bytes
        }
    }
    return s;
}

void check_total(const parse_result& r, std::string_view name) {
    // Exactly one of: a brief with items and no problems, or problems and no brief.
    if (r.brief) {
        CHECK(r.problems.empty());
        CHECK_FALSE(r.brief->items.empty());
    } else {
        REQUIRE_FALSE(r.problems.empty());
        CHECK(r.problems.size() <= 50);
        for (const auto& p : r.problems) {
            CHECK(p.file == name);
            CHECK_FALSE(p.message.empty());
        }
    }
}

}  // namespace

TEST_CASE("fuzz: random byte strings never crash") {
    std::mt19937 rng(20240611);
    for (int i = 0; i < 1500; ++i) {
        std::size_t n = std::uniform_int_distribution<std::size_t>(0, i % 10 == 0 ? 4096 : 64)(rng);
        std::string bytes(n, '\0');
        for (auto& c : bytes) {
            // Half the strings are drawn from the parser-significant bytes, so they get past the UTF-8 check.
            c = (i % 2) ? specials[std::uniform_int_distribution<std::size_t>(0, sizeof specials - 2)(rng)]
                        : static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
        }
        const char* name = (i % 3 == 0) ? "r.json" : (i % 3 == 1) ? "r.yaml" : "r.yml";
        check_total(parse_all(name, bytes, "lamina"), name);
    }
}

TEST_CASE("fuzz: mutations of valid JSON briefs never crash") {
    std::mt19937 rng(7);
    for (const char* seed : valid_json) REQUIRE_MESSAGE(parse_all("v.json", seed, "lamina").ok(), seed);
    int still_valid = 0;
    for (int i = 0; i < 2000; ++i) {
        auto r = parse_all("m.json", mutate(valid_json[i % std::size(valid_json)], rng), "lamina");
        check_total(r, "m.json");
        still_valid += r.ok();
    }
    // Both outcomes happen: the mutations are neither all harmless nor all fatal.
    CHECK(still_valid > 0);
    CHECK(still_valid < 2000);
}

TEST_CASE("fuzz: mutations of valid YAML briefs never crash") {
    std::mt19937 rng(11);
    for (const char* seed : valid_yaml) REQUIRE_MESSAGE(parse_all("v.yaml", seed, "lamina").ok(), seed);
    int still_valid = 0;
    for (int i = 0; i < 2000; ++i) {
        auto r = parse_all("m.yaml", mutate(valid_yaml[i % std::size(valid_yaml)], rng), "lamina");
        check_total(r, "m.yaml");
        still_valid += r.ok();
    }
    CHECK(still_valid > 0);
    CHECK(still_valid < 2000);
}
