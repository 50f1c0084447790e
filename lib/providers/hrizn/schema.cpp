#include "providers/hrizn/schema.hpp"

#include "brief/checker.hpp"

#include <boost/json/object.hpp>

#include <vector>

namespace briefd::providers::hrizn {

namespace json = boost::json;
using namespace brief;

namespace {

// POST /content/batch items are the fields of POST /content.

const std::vector<std::string_view> fields{
    "ideacloud_id", "article_type",   "selected_question_ids", "brand_voice_id",
    "title",        "content_intent", "auto_compliance",       "auto_content_tools",
    "mode",         "language",       "content_length",        "content_depth"};

std::optional<item_body> check(item_checker& c) {
    c.unknown_fields(fields);
    c.uuid("ideacloud_id", true, false);
    c.one_of("article_type", true,
             {"basic", "qa", "expert", "modellanding", "comparison", "salesevent",
              "enhancedcontent", "emailtemplate"});
    c.string_list(c.get("selected_question_ids"), "selected_question_ids", 1000, {}, true);
    c.string("brand_voice_id", false);
    if (auto t = c.string("title", false); t && t->size() > 500)
        c.problem("title", "at most 500 characters");
    c.one_of("content_intent", false, {"fixed_ops", "variable", "general"});
    c.boolean("auto_compliance");
    c.boolean("auto_content_tools");
    // Interactive mode parks the article in awaiting_input; briefd then generates it with the
    // item's selected_question_ids (DESIGN §12), so an interactive item must name them.
    if (auto m = c.one_of("mode", false, {"simple", "interactive"}); m && *m == "interactive") {
        const auto* q = c.get("selected_question_ids");
        if (!q || q->is_null())
            c.problem("selected_question_ids",
                      "required with mode: interactive (briefd answers awaiting_input with them; "
                      "there is no "
                      "person to pick questions)");
    }
    c.string("language", false);
    c.integer(c.get("content_length"), "content_length", 1, 1000000);
    c.string("content_depth", false);
    json::object body;
    for (const auto& kv : c.fields())
        if (!kv.value().is_null()) body[kv.key()] = kv.value();
    return hrizn_item{std::move(body)};
}

}  // namespace

const brief::item_schema& item_schema() {
    static const brief::item_schema schema{"hrizn", fields, &check};
    return schema;
}

}  // namespace briefd::providers::hrizn
