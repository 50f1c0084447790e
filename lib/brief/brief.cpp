#include "brief/brief.hpp"

#include "brief/json_reader.hpp"
#include "brief/yaml_to_json.hpp"
#include "core/url_text.hpp"
#include "core/utf8.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <set>

namespace briefd::brief {

namespace json = boost::json;

// ------------------------------------------------------------------------------------------------
// problem

std::string problem::to_string() const {
    std::string s = file;
    if (item) s += ": item " + std::to_string(*item);
    if (!field.empty()) s += ": " + field;
    s += ": " + message;
    return s;
}

json::object problem::to_json() const {
    json::object o;
    o["file"] = file;
    if (item)
        o["item"] = static_cast<std::uint64_t>(*item);
    else
        o["item"] = nullptr;
    o["field"] = field;
    o["message"] = message;
    return o;
}

bool is_uuid(std::string_view s) {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return false;
        } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
            return false;
        }
    }
    return true;
}

namespace detail {
namespace {

std::size_t invalid_utf8_at(std::string_view s) { return utf8::invalid_at(s); }

bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char ch) {
        auto c = static_cast<unsigned char>(ch);
        return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F;
    });
}

bool blank(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

std::string lower(std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

std::string join(const std::vector<std::string>& v, std::string_view sep = ", ") {
    std::string r;
    for (const auto& s : v) {
        if (!r.empty()) r += sep;
        r += s;
    }
    return r;
}

std::string kind_of(const json::value& v) {
    switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64: return "an integer";
    case json::kind::double_: return "a number";
    case json::kind::string: return "a string";
    case json::kind::array: return "a list";
    case json::kind::object: return "an object";
    }
    return "a value";
}

bool is_http_url(std::string_view s) {
    // Boost.URL 1.81 asserts on some bytes after "scheme:" (fixed in 1.82): only text that already
    // looks like an http(s) URL of printable ASCII reaches the parser.
    if (!is_http_url_text(s)) return false;
    auto u = boost::urls::parse_absolute_uri(s);
    if (!u) return false;
    std::string scheme = lower(u->scheme());
    return (scheme == "http" || scheme == "https") && u->has_authority() && !u->host().empty();
}

// Collects problems for one file, up to the limit.
class reporter {
public:
    reporter(std::string_view file, std::size_t max) : file_(file), max_(max) {}
    void add(std::optional<std::size_t> item, std::string field, std::string message) {
        if (out_.size() < max_) out_.push_back(problem{file_, item, std::move(field), std::move(message)});
    }
    std::vector<problem>& problems() { return out_; }
    std::size_t size() const { return out_.size(); }

private:
    std::string file_;
    std::size_t max_;
    std::vector<problem> out_;
};

std::string child_path(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// Strings everywhere in the document (keys included): size, UTF-8 (YAML is not checked by its
// parser) and control characters, which have no business in a brief and would end up in logs.
void check_strings(const json::value& v, const std::string& path, std::optional<std::size_t> item,
                   std::size_t depth, const limits& lim, reporter& rep) {
    auto check = [&](std::string_view s, const std::string& at) {
        if (s.size() > lim.max_string_bytes)
            rep.add(item, at, "longer than " + std::to_string(lim.max_string_bytes) + " bytes");
        else if (invalid_utf8_at(s) != std::string_view::npos)
            rep.add(item, at, "not valid UTF-8");
        else if (has_control(s))
            rep.add(item, at, "contains a control character");
    };
    if (depth > lim.max_depth + 1) return;  // parse() already refused deeper documents
    if (v.is_string()) {
        check(v.get_string(), path);
    } else if (v.is_array()) {
        const auto& a = v.get_array();
        for (std::size_t i = 0; i < a.size(); ++i) {
            std::optional<std::size_t> it = item;
            std::string p = path + "[" + std::to_string(i) + "]";
            if (!item && path == "items") {
                it = i;
                p.clear();
            }
            check_strings(a[i], p, it, depth + 1, lim, rep);
        }
    } else if (v.is_object()) {
        for (const auto& kv : v.get_object()) {
            std::string p = child_path(path, kv.key());
            check(kv.key(), p.empty() ? std::string("(key)") : p);
            check_strings(kv.value(), p, item, depth + 1, lim, rep);
        }
    }
}

// What merging costs: values built and bytes of text (strings and keys) copied.
struct merged_size {
    std::size_t values = 0, bytes = 0;
    merged_size& operator+=(const merged_size& o) {
        values += o.values;
        bytes += o.bytes;
        return *this;
    }
};

merged_size size_of(const json::value& v) {
    merged_size n{1, 0};
    if (v.is_string()) {
        n.bytes += v.get_string().size();
    } else if (v.is_array()) {
        for (const auto& e : v.get_array()) n += size_of(e);
    } else if (v.is_object()) {
        for (const auto& kv : v.get_object()) {
            n.bytes += kv.key().size();
            n += size_of(kv.value());
        }
    }
    return n;
}

// Shared fields merged under an item's own: the item wins; objects merge key by key.
json::object merge(const json::object& shared, const json::object& own) {
    json::object r = shared;
    for (const auto& kv : own) {
        auto* existing = r.if_contains(kv.key());
        if (existing && existing->is_object() && kv.value().is_object())
            *existing = merge(existing->get_object(), kv.value().get_object());
        else
            r[kv.key()] = kv.value();
    }
    return r;
}

// Validation of one item's fields; every check reports and carries on, so all problems are found.
class item_checker {
public:
    item_checker(reporter& rep, std::size_t index, const json::object& o, const json::object* own)
        : rep_(rep), index_(index), o_(o), own_(own) {}

    void problem(const std::string& field, std::string message) { rep_.add(index_, field, std::move(message)); }
    const json::value* get(std::string_view key) const {
        const auto* v = o_.if_contains(key);
        return v;
    }

    /// A string field; nullopt when absent, null (if allowed) or wrong.
    std::optional<std::string> string(std::string_view key, bool required, bool allow_null = true) {
        const auto* v = get(key);
        if (!v || (v->is_null() && allow_null && !required)) {
            if (required) problem(std::string(key), v ? "required, must not be null" : "required");
            return std::nullopt;
        }
        if (!v->is_string()) {
            problem(std::string(key), "must be a string, not " + kind_of(*v));
            return std::nullopt;
        }
        std::string s(v->get_string());
        if (required && blank(s)) {
            problem(std::string(key), "must not be empty");
            return std::nullopt;
        }
        return s;
    }

    std::optional<std::string> uuid(std::string_view key, bool required, bool allow_null = true) {
        auto s = string(key, required, allow_null);
        if (s && !is_uuid(*s)) {
            problem(std::string(key), "must be a UUID like ec7ec3ce-69b4-43c9-8eea-fe9752d679a4");
            return std::nullopt;
        }
        return s;
    }

    std::optional<std::string> one_of(std::string_view key, bool required, std::initializer_list<std::string_view> allowed) {
        auto s = string(key, required, false);
        if (!s) return s;
        if (std::find(allowed.begin(), allowed.end(), *s) == allowed.end()) {
            std::vector<std::string> names(allowed.begin(), allowed.end());
            problem(std::string(key), "must be one of " + join(names, "|"));
            return std::nullopt;
        }
        return s;
    }

    void boolean(std::string_view key) {
        const auto* v = get(key);
        if (v && !v->is_bool()) problem(std::string(key), "must be true or false, not " + kind_of(*v));
    }

    std::optional<std::int64_t> integer(const json::value* v, const std::string& field, std::int64_t min,
                                        std::int64_t max) {
        if (!v) return std::nullopt;
        std::optional<std::int64_t> n;
        if (v->is_int64()) n = v->get_int64();
        else if (v->is_uint64()) n = v->get_uint64() > static_cast<std::uint64_t>(max) ? max + 1 : static_cast<std::int64_t>(v->get_uint64());
        else if (v->is_double() && std::isfinite(v->get_double()) && std::trunc(v->get_double()) == v->get_double() &&
                 std::abs(v->get_double()) < 1e15)
            n = static_cast<std::int64_t>(v->get_double());
        if (!n) {
            problem(field, "must be an integer, not " + kind_of(*v));
            return std::nullopt;
        }
        if (*n < min || *n > max) {
            problem(field, "must be between " + std::to_string(min) + " and " + std::to_string(max));
            return std::nullopt;
        }
        return n;
    }

    void object(std::string_view key) {
        const auto* v = get(key);
        if (v && !v->is_object() && !v->is_null()) problem(std::string(key), "must be an object, not " + kind_of(*v));
    }

    /// A list of strings, each optionally from `allowed`, at most `max` long.
    void string_list(const json::value* v, const std::string& field, std::size_t max,
                     std::initializer_list<std::string_view> allowed = {}, bool non_empty = false) {
        if (!v) return;
        if (!v->is_array()) {
            problem(field, "must be a list of strings, not " + kind_of(*v));
            return;
        }
        const auto& a = v->get_array();
        if (a.size() > max) problem(field, "at most " + std::to_string(max) + " entries");
        if (non_empty && a.empty()) problem(field, "must not be empty when given");
        for (std::size_t i = 0; i < a.size(); ++i) {
            std::string at = field + "[" + std::to_string(i) + "]";
            if (!a[i].is_string()) {
                problem(at, "must be a string, not " + kind_of(a[i]));
            } else if (allowed.size() != 0 &&
                       std::find(allowed.begin(), allowed.end(), std::string_view(a[i].get_string())) == allowed.end()) {
                std::vector<std::string> names(allowed.begin(), allowed.end());
                problem(at, "must be one of " + join(names, "|"));
            }
        }
    }

    /// Fields not in `known`; those inherited from the shared part were checked once for the file.
    void unknown_fields(const std::set<std::string_view>& known) {
        for (const auto& kv : o_) {
            if (known.count(kv.key())) continue;
            if (own_ && !own_->contains(kv.key())) continue;
            problem(std::string(kv.key()), "unknown field");
        }
    }

    json::object copy_present(std::initializer_list<std::string_view> keys) const {
        json::object r;
        for (auto k : keys)
            if (const auto* v = get(k); v && !v->is_null()) r[k] = *v;
        return r;
    }

    const json::object& fields() const { return o_; }

private:
    reporter& rep_;
    std::size_t index_;
    const json::object& o_;
    const json::object* own_;
};

// --- Lamina ---------------------------------------------------------------------------------------

const std::set<std::string_view> lamina_content_fields{
    "brief", "platform", "modality", "brandProfileId", "campaignId", "appId",
    "inputs", "templateId", "aspectRatio", "autoQuality", "metadata"};
const std::set<std::string_view> lamina_app_fields{"app", "appId", "inputs", "outputs"};

bool is_app_run(const json::object& o) {
    return o.contains("app") || (o.contains("appId") && !o.contains("brief") && !o.at("appId").is_null());
}

std::optional<item_body> lamina_item(item_checker& c) {
    const auto& o = c.fields();
    if (is_app_run(o)) {
        c.unknown_fields(lamina_app_fields);
        app_run_item run;
        if (o.contains("app") && o.contains("appId")) c.problem("app", "give either app or appId, not both");
        auto id = c.uuid(o.contains("app") ? "app" : "appId", true, false);
        if (id) run.app_id = *id;
        if (const auto* in = o.if_contains("inputs")) {
            if (!in->is_object()) {
                c.problem("inputs", "must be an object keyed by parameter name, not " + kind_of(*in));
            } else {
                for (const auto& kv : in->get_object()) {
                    const auto& v = kv.value();
                    bool ok = v.is_string() || v.is_number() || v.is_bool() || v.is_null();
                    if (v.is_array())
                        ok = std::all_of(v.get_array().begin(), v.get_array().end(),
                                         [](const json::value& e) { return e.is_string() || e.is_number() || e.is_bool(); });
                    if (!ok) c.problem("inputs." + std::string(kv.key()), "must be a string or a list of strings, not " + kind_of(v));
                }
                run.inputs = in->get_object();
            }
        }
        if (const auto* out = o.if_contains("outputs")) {
            c.string_list(out, "outputs", 100);
            if (out->is_array())
                for (const auto& e : out->get_array())
                    if (e.is_string()) run.outputs.emplace_back(e.get_string());
        }
        return run;
    }

    c.unknown_fields(lamina_content_fields);
    content_item ci;
    if (auto b = c.string("brief", true)) ci.brief = *b;
    ci.platform = c.string("platform", false);
    ci.modality = c.string("modality", false);
    ci.brand_profile_id = c.uuid("brandProfileId", false);
    ci.campaign_id = c.uuid("campaignId", false);
    c.uuid("appId", false);
    c.object("inputs");
    c.string("templateId", false);
    c.string("aspectRatio", false);
    c.object("autoQuality");
    c.object("metadata");
    ci.extra = c.copy_present({"appId", "inputs", "templateId", "aspectRatio", "autoQuality", "metadata"});
    return ci;
}

// --- Hrizn (POST /content/batch items = the fields of POST /content) --------------------------------

const std::set<std::string_view> hrizn_fields{
    "ideacloud_id", "article_type", "selected_question_ids", "brand_voice_id", "title", "content_intent",
    "auto_compliance", "auto_content_tools", "mode", "language", "content_length", "content_depth"};

std::optional<item_body> hrizn(item_checker& c) {
    c.unknown_fields(hrizn_fields);
    c.uuid("ideacloud_id", true, false);
    c.one_of("article_type", true,
             {"basic", "qa", "expert", "modellanding", "comparison", "salesevent", "enhancedcontent", "emailtemplate"});
    c.string_list(c.get("selected_question_ids"), "selected_question_ids", 1000, {}, true);
    c.string("brand_voice_id", false);
    if (auto t = c.string("title", false); t && t->size() > 500) c.problem("title", "at most 500 characters");
    c.one_of("content_intent", false, {"fixed_ops", "variable", "general"});
    c.boolean("auto_compliance");
    c.boolean("auto_content_tools");
    // Interactive mode parks the article in awaiting_input; briefd then generates it with the
    // item's selected_question_ids (DESIGN §12), so an interactive item must name them.
    if (auto m = c.one_of("mode", false, {"simple", "interactive"}); m && *m == "interactive") {
        const auto* q = c.get("selected_question_ids");
        if (!q || q->is_null())
            c.problem("selected_question_ids",
                      "required with mode: interactive (briefd answers awaiting_input with them; there is no "
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

// --- Layers (POST /v1/projects/:projectId/content) ------------------------------------------------

const std::set<std::string_view> layers_fields{
    "projectId", "id", "projectLayerId", "format", "variantCount", "brief", "references",
    "targetPlatforms", "budget", "metadata"};
const std::set<std::string_view> layers_brief_fields{
    "topic", "angle", "cta", "valuePropositions", "hook", "targetPlatforms", "influencerId",
    "themeTags", "referenceMediaIds", "language"};

std::optional<item_body> layers(item_checker& c) {
    c.unknown_fields(layers_fields);
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
        c.problem("brief", "must be an object (topic, hook, targetPlatforms, ...), not " + kind_of(*b));
    } else {
        const auto& bo = b->get_object();
        for (const auto& kv : bo) {
            std::string at = "brief." + std::string(kv.key());
            if (!layers_brief_fields.count(kv.key())) {
                c.problem(at, "unknown field");
                continue;
            }
            const auto& v = kv.value();
            if (kv.key() == "valuePropositions") c.string_list(&v, at, 20);
            else if (kv.key() == "targetPlatforms") c.string_list(&v, at, 3, {"instagram", "tiktok", "youtube"});
            else if (kv.key() == "themeTags" || kv.key() == "referenceMediaIds") c.string_list(&v, at, 100);
            else if (!v.is_string() && !v.is_null()) c.problem(at, "must be a string, not " + kind_of(v));
        }
    }
    if (const auto* r = c.get("references"); r && !r->is_null()) {
        if (!r->is_object()) {
            c.problem("references", "must be an object, not " + kind_of(*r));
        } else {
            for (const auto& kv : r->get_object()) {
                std::string at = "references." + std::string(kv.key());
                if (kv.key() == "sourcePostIds" || kv.key() == "assetIds") c.string_list(&kv.value(), at, 20);
                else c.problem(at, "unknown field");
            }
        }
    }
    c.string_list(c.get("targetPlatforms"), "targetPlatforms", 3, {"tiktok", "instagram", "youtube"});
    if (const auto* bu = c.get("budget"); bu && !bu->is_null()) {
        if (!bu->is_object()) c.problem("budget", "must be an object {maxCredits}, not " + kind_of(*bu));
        else c.integer(bu->get_object().if_contains("maxCredits"), "budget.maxCredits", 0, 1000000000);
    }
    c.object("metadata");
    for (const auto& kv : c.fields())
        if (kv.key() != "projectId" && !kv.value().is_null()) li.body[kv.key()] = kv.value();
    return li;
}

}  // namespace
}  // namespace detail

parse_result parse(std::string_view file_name, std::string_view bytes, std::string_view default_provider,
                   const limits& lim) {
    using namespace detail;
    parse_result result;
    reporter rep(file_name, std::max<std::size_t>(lim.max_problems, 1));
    auto finish = [&]() {
        result.problems = std::move(rep.problems());
        if (!result.problems.empty()) result.brief.reset();
        return std::move(result);
    };
    try {
        if (bytes.size() > lim.max_brief_bytes) {
            rep.add(std::nullopt, "file",
                    std::to_string(bytes.size()) + " bytes; briefs may be at most " + std::to_string(lim.max_brief_bytes));
            return finish();
        }
        std::string ext;
        if (auto dot = file_name.rfind('.'); dot != std::string_view::npos) ext = lower(file_name.substr(dot));
        if (ext != ".json" && ext != ".yaml" && ext != ".yml") {
            rep.add(std::nullopt, "file", "not a .json, .yaml or .yml file");
            return finish();
        }
        std::string_view text = bytes;
        if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // editors on Windows add a BOM
        if (blank(text)) {
            rep.add(std::nullopt, "file", "empty file");
            return finish();
        }
        if (auto bad = invalid_utf8_at(text); bad != std::string_view::npos) {
            rep.add(std::nullopt, "file", "not UTF-8 text (invalid byte at offset " + std::to_string(bad) + ")");
            return finish();
        }
        if (text.find('\0') != std::string_view::npos) {
            rep.add(std::nullopt, "file", "binary data (a NUL byte) in a text file");
            return finish();
        }

        std::optional<json::value> doc;
        {
            const yaml_limits yl{lim.max_depth, lim.max_values, lim.max_string_bytes};
            auto r = ext == ".json" ? json_to_value(text, yl) : yaml_to_json(text, yl);
            if (auto* e = std::get_if<yaml_error>(&r))
                rep.add(std::nullopt, "file", (e->line > 0 ? "line " + std::to_string(e->line) + ": " : std::string()) + e->message);
            else
                doc = std::move(std::get<json::value>(r));
        }
        if (!doc) return finish();

        if (!doc->is_object()) {
            rep.add(std::nullopt, "", doc->is_array()
                                          ? "the top level is a list; put the items under items:"
                                          : "the top level must be an object (one brief, or several under items:), not " + kind_of(*doc));
            return finish();
        }
        const auto& root = doc->get_object();
        // Without items: the top-level object is item 0, so its problems say so like every other check.
        check_strings(*doc, "", root.contains("items") ? std::nullopt : std::optional<std::size_t>(0), 0, lim, rep);

        std::string provider(default_provider);
        if (const auto* p = root.if_contains("provider")) {
            if (!p->is_string()) {
                rep.add(std::nullopt, "provider", "must be a string (lamina, hrizn or layers), not " + kind_of(*p));
                return finish();
            }
            provider = std::string(p->get_string());
        }
        if (provider != "lamina" && provider != "hrizn" && provider != "layers") {
            rep.add(std::nullopt, "provider", "unknown provider \"" + provider + "\" (lamina, hrizn or layers)");
            return finish();
        }

        json::object shared;
        for (const auto& kv : root)
            if (kv.key() != "provider" && kv.key() != "items") shared[kv.key()] = kv.value();

        const json::array* items = nullptr;
        if (const auto* it = root.if_contains("items")) {
            if (!it->is_array()) {
                rep.add(std::nullopt, "items", "must be a list of items, not " + kind_of(*it));
                return finish();
            }
            items = &it->get_array();
            if (items->empty()) {
                rep.add(std::nullopt, "items", "the list is empty; a brief needs at least one item");
                return finish();
            }
            if (items->size() > lim.max_items) {
                rep.add(std::nullopt, "items",
                        std::to_string(items->size()) + " items; at most " + std::to_string(lim.max_items) + " per file");
                return finish();
            }
            // Shared fields no kind of item of this provider takes: reported once, not once per item.
            const std::set<std::string_view>* known[2] = {nullptr, nullptr};
            if (provider == "lamina") { known[0] = &lamina_content_fields; known[1] = &lamina_app_fields; }
            else if (provider == "hrizn") known[0] = &hrizn_fields;
            else known[0] = &layers_fields;
            for (const auto& kv : shared) {
                bool ok = false;
                for (const auto* k : known) ok = ok || (k && k->count(kv.key()));
                if (!ok) rep.add(std::nullopt, std::string(kv.key()), "unknown field");
            }
        }

        brief_file bf;
        bf.provider = provider;
        auto one = [&](std::size_t index, const json::object& fields, const json::object* own) {
            item_checker c(rep, index, fields, own);
            std::optional<item_body> body;
            if (provider == "lamina") body = lamina_item(c);
            else if (provider == "hrizn") body = hrizn(c);
            else body = layers(c);
            if (body) bf.items.push_back(item{index, std::move(*body)});
        };
        if (!items) {
            one(0, shared, nullptr);
        } else {
            // Every item gets its own copy of the shared fields: a large shared field times many
            // items would turn a small file into gigabytes. Refuse before merging anything.
            const auto shared_size = size_of(json::value(shared));
            merged_size total;
            for (const auto& v : *items) {
                total += shared_size;
                total += size_of(v);
            }
            const std::size_t max_bytes =
                lim.max_merged_bytes != 0 ? lim.max_merged_bytes : 4 * lim.max_brief_bytes;
            if (total.values > lim.max_values || total.bytes > max_bytes) {
                rep.add(std::nullopt, "items",
                        "with the shared fields copied into each of the " + std::to_string(items->size()) +
                            " items, the brief comes to " + std::to_string(total.values) + " values and " +
                            std::to_string(total.bytes) + " bytes of text; at most " +
                            std::to_string(lim.max_values) + " values and " + std::to_string(max_bytes) +
                            " bytes: share less or split the file");
                return finish();
            }
            for (std::size_t i = 0; i < items->size(); ++i) {
                const auto& v = (*items)[i];
                if (!v.is_object()) {
                    rep.add(i, "", "an item must be an object, not " + kind_of(v));
                    continue;
                }
                auto merged = merge(shared, v.get_object());
                one(i, merged, &v.get_object());
            }
        }
        result.brief = std::move(bf);
        return finish();
    } catch (const std::bad_alloc&) {
        rep.add(std::nullopt, "file", "out of memory while reading the brief");
    } catch (const std::exception& e) {
        rep.add(std::nullopt, "file", std::string("cannot read the brief: ") + e.what());
    }
    return finish();
}

// ------------------------------------------------------------------------------------------------
// app schema

std::optional<app_schema> parse_app_schema(const json::value& response) {
    const json::value* v = &response;
    if (const auto* o = v->if_object(); o && o->contains("data") && (*o).at("data").is_object()) v = &o->at("data");
    const auto* o = v->if_object();
    if (!o) return std::nullopt;
    const auto* params = o->if_contains("parameters");
    if (!params || !params->is_array()) return std::nullopt;
    app_schema s;
    auto str = [](const json::object& obj, std::string_view key) -> std::string {
        const auto* x = obj.if_contains(key);
        return x && x->is_string() ? std::string(x->get_string()) : std::string();
    };
    s.app_id = str(*o, "appId");
    if (s.app_id.empty()) s.app_id = str(*o, "id");
    s.name = str(*o, "name");
    for (const auto& pv : params->get_array()) {
        const auto* po = pv.if_object();
        if (!po) continue;
        app_parameter p;
        p.name = str(*po, "name");
        p.key = str(*po, "key");
        if (p.name.empty()) p.name = !p.key.empty() ? p.key : str(*po, "id");
        if (p.name.empty()) continue;
        p.type = str(*po, "type");
        if (const auto* r = po->if_contains("required"); r && r->is_bool()) p.required = r->get_bool();
        if (const auto* m = po->if_contains("multiple"); m && m->is_bool()) p.multiple = m->get_bool();
        if (const auto* d = po->if_contains("default"); d && !d->is_null()) p.default_value = *d;
        if (const auto* opts = po->if_contains("options"); opts && opts->is_array()) {
            // The SDK types options as string[]; a newer shape is {value,label}: the label is what runs take.
            for (const auto& ov : opts->get_array()) {
                if (ov.is_string()) p.options.emplace_back(ov.get_string());
                else if (const auto* oo = ov.if_object()) {
                    std::string label = str(*oo, "label");
                    if (label.empty()) label = str(*oo, "value");
                    if (!label.empty()) p.options.push_back(std::move(label));
                }
            }
        }
        s.parameters.push_back(std::move(p));
    }
    return s;
}

std::vector<problem> validate_inputs(std::string_view file, std::size_t item, const app_run_item& run,
                                     const app_schema& schema) {
    using namespace detail;
    std::vector<problem> out;
    auto add = [&](const std::string& name, std::string message) {
        out.push_back(problem{std::string(file), item, "inputs." + name, std::move(message)});
    };
    auto find = [&](std::string_view name) -> const app_parameter* {
        for (const auto& p : schema.parameters)
            if (p.name == name) return &p;
        for (const auto& p : schema.parameters)
            if (!p.key.empty() && p.key == name) return &p;
        return nullptr;
    };
    std::vector<std::string> names;
    for (const auto& p : schema.parameters) names.push_back(p.name);

    std::set<const app_parameter*> given;
    for (const auto& kv : run.inputs) {
        std::string name(kv.key());
        const app_parameter* p = find(name);
        if (!p) {
            std::string hint;
            for (const auto& q : schema.parameters)
                if (lower(q.name) == lower(name)) hint = "; did you mean \"" + q.name + "\"? (names are case-sensitive)";
            if (hint.empty()) hint = names.empty() ? "; this app takes no inputs" : "; this app takes: " + join(names);
            add(name, "unknown input" + hint);
            continue;
        }
        const auto& v = kv.value();
        if (v.is_null()) continue;  // same as absent; the required check below decides
        given.insert(p);
        std::vector<const json::value*> values;
        if (v.is_array()) {
            if (!p->multiple) {
                add(name, "takes one value, not a list");
                continue;
            }
            for (const auto& e : v.get_array()) values.push_back(&e);
        } else {
            values.push_back(&v);
        }
        for (const auto* e : values) {
            if (p->type == "text") {
                if (!e->is_string()) add(name, "must be text (a string), not " + kind_of(*e));
            } else if (p->type == "url") {
                if (!e->is_string()) add(name, "must be a URL string, not " + kind_of(*e));
                else if (!is_http_url(e->get_string())) add(name, "must be an http(s) URL");
            } else if (p->type == "options") {
                if (!e->is_string()) {
                    add(name, "must be one of the option labels (a string), not " + kind_of(*e));
                } else if (!p->options.empty() &&
                           std::find(p->options.begin(), p->options.end(), std::string_view(e->get_string())) == p->options.end()) {
                    add(name, "\"" + std::string(e->get_string()) + "\" is not an option; one of: " + join(p->options));
                }
            }
        }
    }
    for (const auto& p : schema.parameters)
        if (p.required && !p.default_value && !given.count(&p)) add(p.name, "required, no default");
    return out;
}

}  // namespace briefd::brief
