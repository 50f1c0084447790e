#include "providers/lamina/schema.hpp"

#include "brief/checker.hpp"

#include <boost/json/object.hpp>

#include <algorithm>
#include <set>
#include <vector>

namespace briefd::providers::lamina {

namespace json = boost::json;
using namespace brief;

namespace {

const std::vector<std::string_view> content_fields{
    "brief",  "platform",   "modality",    "brandProfileId", "campaignId", "appId",
    "inputs", "templateId", "aspectRatio", "autoQuality",    "metadata"};
const std::vector<std::string_view> app_fields{"app", "appId", "inputs", "outputs"};

bool is_app_run(const json::object& o) {
    return o.contains("app") ||
           (o.contains("appId") && !o.contains("brief") && !o.at("appId").is_null());
}

std::optional<item_body> lamina_item(item_checker& c) {
    const auto& o = c.fields();
    if (is_app_run(o)) {
        c.unknown_fields(app_fields);
        app_run_item run;
        if (o.contains("app") && o.contains("appId"))
            c.problem("app", "give either app or appId, not both");
        auto id = c.uuid(o.contains("app") ? "app" : "appId", true, false);
        if (id) run.app_id = *id;
        if (const auto* in = o.if_contains("inputs")) {
            if (!in->is_object()) {
                c.problem("inputs",
                          "must be an object keyed by parameter name, not " + kind_of(*in));
            } else {
                for (const auto& kv : in->get_object()) {
                    const auto& v = kv.value();
                    bool ok = v.is_string() || v.is_number() || v.is_bool() || v.is_null();
                    if (v.is_array())
                        ok = std::all_of(v.get_array().begin(), v.get_array().end(),
                                         [](const json::value& e) {
                                             return e.is_string() || e.is_number() || e.is_bool();
                                         });
                    if (!ok)
                        c.problem("inputs." + std::string(kv.key()),
                                  "must be a string or a list of strings, not " + kind_of(v));
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

    c.unknown_fields(content_fields);
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
    ci.extra =
        c.copy_present({"appId", "inputs", "templateId", "aspectRatio", "autoQuality", "metadata"});
    return ci;
}

}  // namespace

const brief::item_schema& item_schema() {
    static const brief::item_schema schema = [] {
        brief::item_schema s{"lamina", content_fields, &lamina_item};
        for (auto f : app_fields)
            if (std::find(s.fields.begin(), s.fields.end(), f) == s.fields.end())
                s.fields.push_back(f);
        return s;
    }();
    return schema;
}

std::optional<app_schema> parse_app_schema(const json::value& response) {
    const json::value* v = &response;
    if (const auto* o = v->if_object(); o && o->contains("data") && (*o).at("data").is_object())
        v = &o->at("data");
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
        if (const auto* r = po->if_contains("required"); r && r->is_bool())
            p.required = r->get_bool();
        if (const auto* m = po->if_contains("multiple"); m && m->is_bool())
            p.multiple = m->get_bool();
        if (const auto* d = po->if_contains("default"); d && !d->is_null()) p.default_value = *d;
        if (const auto* opts = po->if_contains("options"); opts && opts->is_array()) {
            // The SDK types options as string[]; a newer shape is {value,label}: the label is what
            // runs take.
            for (const auto& ov : opts->get_array()) {
                if (ov.is_string())
                    p.options.emplace_back(ov.get_string());
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

std::vector<brief::problem> validate_inputs(std::string_view file, std::size_t item,
                                            const brief::app_run_item& run,
                                            const app_schema& schema) {
    std::vector<brief::problem> out;
    auto add = [&](const std::string& name, std::string message) {
        out.push_back(
            brief::problem{std::string(file), item, "inputs." + name, std::move(message)});
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
                if (lower(q.name) == lower(name))
                    hint = "; did you mean \"" + q.name + "\"? (names are case-sensitive)";
            if (hint.empty())
                hint = names.empty() ? "; this app takes no inputs"
                                     : "; this app takes: " + join(names);
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
                if (!e->is_string())
                    add(name, "must be a URL string, not " + kind_of(*e));
                else if (!is_http_url(e->get_string()))
                    add(name, "must be an http(s) URL");
            } else if (p->type == "options") {
                if (!e->is_string()) {
                    add(name, "must be one of the option labels (a string), not " + kind_of(*e));
                } else if (!p->options.empty() &&
                           std::find(p->options.begin(), p->options.end(),
                                     std::string_view(e->get_string())) == p->options.end()) {
                    add(name, "\"" + std::string(e->get_string()) +
                                  "\" is not an option; one of: " + join(p->options));
                }
            }
        }
    }
    for (const auto& p : schema.parameters)
        if (p.required && !p.default_value && !given.count(&p)) add(p.name, "required, no default");
    return out;
}

}  // namespace briefd::providers::lamina
