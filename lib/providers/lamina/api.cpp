#include "providers/lamina/api.hpp"

#include "core/url_text.hpp"
#include "providers/provider.hpp"

#include <boost/json.hpp>

#include <cctype>

namespace briefd::providers::lamina {

namespace json = boost::json;

namespace {

// Unwraps {"data": X} to X; anything else is returned as is.
const json::value& unwrap(const json::value& v) {
    if (auto* o = v.if_object()) {
        if (auto* d = o->if_contains("data"); d && d->is_object()) return *d;
    }
    return v;
}

std::string str(const json::object& o, std::string_view key) { return string_field(o, key, 4096); }

/// A batch item's `index`: a non-negative integer, or (tolerated) a string of 1 to 9 decimal
/// digits; nullopt for anything else.
std::optional<std::size_t> index_of(const json::value& v) {
    if (v.is_uint64()) return static_cast<std::size_t>(v.get_uint64());
    if (v.is_int64()) {
        if (v.get_int64() < 0) return std::nullopt;
        return static_cast<std::size_t>(v.get_int64());
    }
    if (v.is_string()) {
        const auto& s = v.get_string();
        if (s.empty() || s.size() > 9) return std::nullopt;
        std::size_t n = 0;
        for (char c : s) {
            if (c < '0' || c > '9') return std::nullopt;
            n = n * 10 + static_cast<std::size_t>(c - '0');
        }
        return n;
    }
    return std::nullopt;
}

/// A run id: a string, or (tolerated) an integer written in decimal. Empty when neither.
std::string id_field(const json::object& o, std::string_view key) {
    if (const auto* v = o.if_contains(key)) {
        if (v->is_uint64()) return std::to_string(v->get_uint64());
        if (v->is_int64() && v->get_int64() >= 0) return std::to_string(v->get_int64());
    }
    return str(o, key);
}

/// Whether `v` is an absolute http(s) URL (has_http_scheme); its scheme is then lower-cased in
/// place, so everything after sees "http://" or "https://".
bool absolute_http_url(std::string& v) {
    if (!has_http_scheme(v)) return false;
    for (std::size_t i = 0; v[i] != ':'; ++i)
        v[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(v[i])));
    return true;
}

}  // namespace

std::string group_key(const brief::content_item& item) {
    return item.brand_profile_id.value_or("") + '\n' + item.campaign_id.value_or("");
}

std::string batch_body(const std::vector<const brief::content_item*>& items) {
    json::object body;
    json::array arr;
    for (const auto* it : items) {
        json::object o = it->extra;  // documented pass-through fields first, so named ones win
        o["brief"] = it->brief;
        if (it->platform) o["platform"] = *it->platform;
        if (it->modality) o["modality"] = *it->modality;
        arr.push_back(std::move(o));
    }
    body["items"] = std::move(arr);
    const auto* first = items.empty() ? nullptr : items.front();
    if (first && first->brand_profile_id) body["brandProfileId"] = *first->brand_profile_id;
    else body["brandProfileId"] = nullptr;
    if (first && first->campaign_id) body["campaignId"] = *first->campaign_id;
    else body["campaignId"] = nullptr;
    return json::serialize(body);
}

std::string app_run_body(const brief::app_run_item& item) {
    json::object body;
    body["inputs"] = item.inputs;
    if (!item.outputs.empty()) {
        json::array outs;
        for (const auto& l : item.outputs) outs.emplace_back(l);
        body["outputs"] = std::move(outs);
    }
    return json::serialize(body);
}

std::string submission_fingerprint(const brief::item& item) {
    if (auto* c = std::get_if<brief::content_item>(&item.body)) return "content:" + c->brief;
    if (auto* a = std::get_if<brief::app_run_item>(&item.body))
        return "app:" + a->app_id + ":" + json::serialize(a->inputs);
    return {};
}

std::optional<std::vector<batch_item_result>> parse_batch_response(std::string_view body,
                                                                   std::size_t items_sent) {
    auto v = parse_json(body);
    if (!v) return std::nullopt;
    const auto& d = unwrap(*v);
    const auto* o = d.if_object();
    if (!o) return std::nullopt;
    const auto* items = o->if_contains("items");
    if (!items || !items->is_array()) return std::nullopt;

    std::vector<batch_item_result> out(items_sent);
    std::vector<bool> seen(items_sent, false);
    for (std::size_t i = 0; i < items_sent; ++i) out[i].index = i;
    std::size_t position = 0;
    for (const auto& e : items->get_array()) {
        const auto* io = e.if_object();
        if (!io) return std::nullopt;
        std::size_t index = position++;
        if (auto* ix = io->if_contains("index")) {
            auto n = index_of(*ix);
            if (!n) return std::nullopt;
            index = *n;
        }
        if (index >= items_sent || seen[index]) continue;  // ignore what we did not send
        seen[index] = true;
        auto& r = out[index];
        auto status = str(*io, "status");
        r.run_id = id_field(*io, "runId");
        if (r.run_id.empty()) r.run_id = id_field(*io, "executionId");  // older docs' name
        r.queued = !r.run_id.empty() && status != "failed";
        r.error = str(*io, "error");
        if (!r.queued && r.error.empty())
            r.error = r.run_id.empty() ? "no run id in batch response" : "status " + status;
    }
    for (std::size_t i = 0; i < items_sent; ++i)
        if (!seen[i]) out[i].error = "missing from batch response";
    return out;
}

std::optional<std::string> parse_run_id(std::string_view body, std::string& why_not) {
    auto v = parse_json(body);
    if (!v) {
        why_not = "response is not JSON";
        return std::nullopt;
    }
    const auto* o = unwrap(*v).if_object();
    if (!o) {
        why_not = "response is not an object";
        return std::nullopt;
    }
    auto id = str(*o, "runId");
    if (id.empty()) id = str(*o, "executionId");
    if (!id.empty()) return id;
    auto status = str(*o, "status");
    auto reason = str(*o, "reason");
    why_not = status.empty() ? "no runId in response" : std::string(not_dispatched) + "status " + status;
    if (!reason.empty()) why_not += ": " + reason;
    return std::nullopt;
}

namespace {

std::optional<run_status> run_from(const json::value& v) {
    const auto* o = v.if_object();
    if (!o) return std::nullopt;
    run_status r;
    r.run_id = str(*o, "runId");
    if (r.run_id.empty()) r.run_id = str(*o, "executionId");
    r.status = str(*o, "status");
    if (r.run_id.empty() && r.status.empty()) return std::nullopt;
    r.error_message = str(*o, "errorMessage");
    if (auto* outs = o->if_contains("outputs"); outs && outs->is_array()) {
        for (const auto& e : outs->get_array()) {
            const auto* oo = e.if_object();
            if (!oo) continue;
            output out;
            out.id = str(*oo, "id");
            out.label = str(*oo, "label");
            out.type = str(*oo, "type");
            out.status = str(*oo, "status");
            out.error = str(*oo, "error");
            out.mime_type = str(*oo, "mimeType");
            if (auto* val = oo->if_contains("value")) {
                if (val->is_string()) {
                    // Text outputs carry content, media outputs a URL; keep text whole (not cleaned).
                    out.value = std::string(val->get_string());
                    out.value_is_url = out.type != "text" && absolute_http_url(out.value);
                } else if (!val->is_null()) {
                    out.value = json::serialize(*val);  // non-string JSON: kept as text
                }
            }
            r.outputs.push_back(std::move(out));
        }
    }
    return r;
}

}  // namespace

std::optional<run_status> parse_run(std::string_view body) {
    auto v = parse_json(body);
    if (!v) return std::nullopt;
    return run_from(unwrap(*v));
}

std::optional<std::pair<run_status, bool>> parse_wait(std::string_view body) {
    auto v = parse_json(body);
    if (!v) return std::nullopt;
    auto r = run_from(unwrap(*v));
    if (!r) return std::nullopt;
    bool timed_out = false;
    if (auto* o = v->if_object())
        if (auto* t = o->if_contains("timeout"); t && t->is_bool()) timed_out = t->get_bool();
    return std::pair{std::move(*r), timed_out};
}

bool is_terminal_status(std::string_view s) {
    return s == "completed" || s == "failed" || s == "cancelled";
}

}  // namespace briefd::providers::lamina
