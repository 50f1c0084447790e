#include "providers/layers/schema.hpp"

#include "brief/checker.hpp"

#include <boost/json/object.hpp>

#include <set>
#include <vector>

namespace briefd::providers::layers {

namespace json = boost::json;
using namespace brief;

namespace {

const std::vector<std::string_view> fields{
    "projectId", "id",         "projectLayerId",  "format", "variantCount",
    "brief",     "references", "targetPlatforms", "budget", "metadata"};
const std::set<std::string_view> brief_fields{
    "topic",           "angle",        "cta",       "valuePropositions", "hook",
    "targetPlatforms", "influencerId", "themeTags", "referenceMediaIds", "language"};

std::optional<item_body> check(item_checker& c) {
    c.unknown_fields(fields);
    layers_item li;
    if (auto p = c.uuid("projectId", true, false)) li.project_id = *p;
    c.uuid("id", false);
    c.uuid("projectLayerId", false);
    // Spellings differ between doc versions (video_remix / video-remix): a string passed through.
    c.string("format", false);
    c.integer(c.get("variantCount"), "variantCount", 1, 5);
    const auto* b = c.get("brief");
    if (!b || b->is_null()) {
        c.problem("brief", "required (an object: topic, hook, targetPlatforms, ...)");
    } else if (!b->is_object()) {
        c.problem("brief",
                  "must be an object (topic, hook, targetPlatforms, ...), not " + kind_of(*b));
    } else {
        const auto& bo = b->get_object();
        for (const auto& kv : bo) {
            std::string at = "brief." + std::string(kv.key());
            if (!brief_fields.count(kv.key())) {
                c.problem(at, "unknown field");
                continue;
            }
            const auto& v = kv.value();
            if (kv.key() == "valuePropositions")
                c.string_list(&v, at, 20);
            else if (kv.key() == "targetPlatforms")
                c.string_list(&v, at, 3, {"instagram", "tiktok", "youtube"});
            else if (kv.key() == "themeTags" || kv.key() == "referenceMediaIds")
                c.string_list(&v, at, 100);
            else if (!v.is_string() && !v.is_null())
                c.problem(at, "must be a string, not " + kind_of(v));
        }
    }
    if (const auto* r = c.get("references"); r && !r->is_null()) {
        if (!r->is_object()) {
            c.problem("references", "must be an object, not " + kind_of(*r));
        } else {
            for (const auto& kv : r->get_object()) {
                std::string at = "references." + std::string(kv.key());
                if (kv.key() == "sourcePostIds" || kv.key() == "assetIds")
                    c.string_list(&kv.value(), at, 20);
                else
                    c.problem(at, "unknown field");
            }
        }
    }
    c.string_list(c.get("targetPlatforms"), "targetPlatforms", 3,
                  {"tiktok", "instagram", "youtube"});
    if (const auto* bu = c.get("budget"); bu && !bu->is_null()) {
        if (!bu->is_object())
            c.problem("budget", "must be an object {maxCredits}, not " + kind_of(*bu));
        else
            c.integer(bu->get_object().if_contains("maxCredits"), "budget.maxCredits", 0,
                      1000000000);
    }
    c.object("metadata");
    for (const auto& kv : c.fields())
        if (kv.key() != "projectId" && !kv.value().is_null()) li.body[kv.key()] = kv.value();
    return li;
}

}  // namespace

const brief::item_schema& item_schema() {
    static const brief::item_schema schema{"layers", fields, &check};
    return schema;
}

}  // namespace briefd::providers::layers
