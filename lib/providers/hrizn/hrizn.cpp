#include "providers/hrizn/hrizn.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>

namespace briefd::providers::hrizn {

namespace json = boost::json;
using verb = boost::beast::http::verb;

namespace {

const json::value* member(const json::value& v, std::string_view key) {
    if (const auto* o = v.if_object()) return o->if_contains(key);
    return nullptr;
}

std::string str(const json::object& o, std::string_view key, std::size_t max = 4096) {
    return string_field(o, key, max);
}

// An item's `error`: a string, or {code, message}.
std::string error_text(const json::object& o) {
    const auto* e = o.if_contains("error");
    if (!e || e->is_null()) return {};
    if (e->is_string()) return diagnostics::clean(e->get_string(), 1024);
    if (const auto* eo = e->if_object()) {
        auto code = str(*eo, "code", 64), msg = str(*eo, "message", 1024);
        if (!code.empty() && !msg.empty()) return code + ": " + msg;
        return code.empty() ? msg : code;
    }
    return diagnostics::clean(json::serialize(*e), 1024);
}

std::optional<run_view> article_view(const json::value& v) {
    const auto* o = v.if_object();
    if (!o) return std::nullopt;
    run_view r;
    r.run_id = str(*o, "id", 256);
    r.status = str(*o, "status", 64);
    if (r.run_id.empty() && r.status.empty()) return std::nullopt;
    r.phase = phase_of(r.status);
    r.error = error_text(*o);
    r.created_at = str(*o, "created_at", 64);
    if (const auto* comps = o->if_contains("components");
        comps && comps->is_array() && !comps->get_array().empty()) {
        std::size_t done = 0, n = 0;
        for (const auto& c : comps->get_array()) {
            ++n;
            if (const auto* co = c.if_object(); co && str(*co, "status", 64) == "complete") ++done;
        }
        r.progress_percent = static_cast<int>(done * 100 / n);
    }
    if (r.phase == run_phase::completed) r.progress_percent = 100;
    return r;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

run_phase phase_of(std::string_view s) {
    if (s == "generating" || s == "processing" || s == "pending" || s == "queued")
        return run_phase::running;
    if (s == "complete" || s == "completed") return run_phase::completed;
    if (s == "failed") return run_phase::failed;
    if (s == "awaiting_input") return run_phase::awaiting_input;
    if (s == "cancelled" || s == "canceled") return run_phase::cancelled;
    return run_phase::unknown;
}

std::optional<std::string> article_html(std::string_view content_type, std::string_view body) {
    auto ct = lower(content_type.substr(0, content_type.find(';')));
    std::size_t first = 0;
    while (first < body.size() && std::isspace(static_cast<unsigned char>(body[first]))) ++first;
    bool looks_json = first < body.size() && (body[first] == '{' || body[first] == '"');
    if (ct.find("json") == std::string::npos && !(ct.empty() && looks_json)) {
        if (ct.find("html") != std::string::npos || ct.empty() || ct.starts_with("text/"))
            return std::string(body);
        return std::nullopt;
    }
    auto v = parse_json(body);
    if (!v) return std::nullopt;
    if (v->is_string()) return std::string(v->get_string());
    const json::value* data = member(*v, "data");
    for (const auto* scope : {data, static_cast<const json::value*>(&*v)}) {
        if (!scope) continue;
        if (scope->is_string()) return std::string(scope->get_string());
        for (auto key : {"html", "content", "body"})
            if (const auto* h = member(*scope, key); h && h->is_string())
                return std::string(h->get_string());
    }
    return std::nullopt;
}

api_call provider::probe() const {
    return {verb::get, {"content"}, {{"limit", "1"}}};
}

api_call provider::submit(const std::vector<const brief::item*>& items) const {
    json::array arr;
    for (const auto* it : items)
        if (const auto* h = std::get_if<brief::hrizn_item>(&it->body)) arr.push_back(h->body);
    json::object body;
    body["items"] = std::move(arr);
    return {verb::post, {"content", "batch"}, {}, json::serialize(body)};
}

std::optional<std::vector<submit_result>> provider::parse_submit(
    const std::vector<const brief::item*>& items, std::string_view body) const {
    auto v = parse_json(body);
    if (!v) return std::nullopt;
    const json::value* d = member(*v, "data");
    const json::value* arr = d ? member(*d, "items") : member(*v, "items");
    if (!arr || !arr->is_array()) return std::nullopt;
    std::vector<submit_result> out(items.size());
    std::vector<bool> seen(items.size(), false);
    std::size_t position = 0;
    for (const auto& e : arr->get_array()) {
        const auto* o = e.if_object();
        if (!o) return std::nullopt;
        std::size_t index = position++;
        if (const auto* ix = o->if_contains("index"); ix && (ix->is_int64() || ix->is_uint64())) {
            auto n = ix->is_int64() ? ix->get_int64() : static_cast<std::int64_t>(ix->get_uint64());
            if (n < 0) return std::nullopt;
            index = static_cast<std::size_t>(n);
        }
        if (index >= items.size() || seen[index]) continue;
        seen[index] = true;
        auto& r = out[index];
        r.run_id = str(*o, "id", 256);
        auto status = str(*o, "status", 64);
        r.error = error_text(*o);
        // The failure status word is not documented: no id, a `failed` status or an error all mean
        // the item was not created.
        r.accepted = !r.run_id.empty() && r.error.empty() && status != "failed";
        if (!r.accepted && r.error.empty())
            r.error = r.run_id.empty() ? "no id in batch response" : "status " + status;
        if (!r.accepted) r.run_id.clear();
    }
    for (std::size_t i = 0; i < items.size(); ++i)
        if (!seen[i]) out[i].error = "missing from batch response";
    return out;
}

bool provider::valid_run_id(std::string_view id) const {
    if (id.empty() || id.size() > 128) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
}

api_call provider::status(std::string_view run_id) const {
    return {verb::get, {"content", std::string(run_id)}};
}

std::optional<run_view> provider::parse_status(std::string_view body) const {
    auto v = parse_json(body);
    if (!v) return std::nullopt;
    const json::value* d = member(*v, "data");
    return article_view(d ? *d : *v);
}

api_call provider::list(std::string_view cursor, std::size_t limit) const {
    api_call c{verb::get,
               {"content"},
               {{"limit", std::to_string(std::clamp<std::size_t>(limit, 1, 100))}}};
    if (!cursor.empty()) c.query.emplace_back("cursor", std::string(cursor));
    return c;
}

std::optional<list_page> provider::parse_list(std::string_view body) const {
    auto v = parse_json(body);
    if (!v) return std::nullopt;
    const json::value* d = member(*v, "data");
    const json::value* arr =
        d && d->is_array() ? d : (d ? member(*d, "items") : member(*v, "items"));
    if (!arr || !arr->is_array()) return std::nullopt;
    list_page page;
    for (const auto& e : arr->get_array())
        if (auto r = article_view(e); r && !r->run_id.empty()) page.runs.push_back(std::move(*r));
    const json::value* pg = member(*v, "pagination");
    if (!pg && d) pg = member(*d, "pagination");
    if (pg && pg->is_object()) {
        const auto& po = pg->get_object();
        if (const auto* h = po.if_contains("has_more"); h && h->is_bool())
            page.has_more = h->get_bool();
        page.next_cursor = str(po, "next_cursor", 1024);
        if (page.next_cursor.empty()) page.has_more = false;
    }
    return page;
}

std::optional<webhook_event> provider::parse_webhook(const boost::beast::http::fields&,
                                                     std::string_view body) const {
    auto v = parse_json(body);
    const auto* o = v ? v->if_object() : nullptr;
    if (!o) return std::nullopt;
    const auto* d = o->if_contains("data");
    const auto* data = d ? d->if_object() : nullptr;
    webhook_event e;
    e.event_id = str(*o, "id", 256);
    const auto type = str(*o, "type", 128);
    if (!data || type.empty()) return std::nullopt;
    e.run.run_id = str(*data, "article_id", 256);
    const bool about_article_state =
        type == "content.completed" || type == "content.failed" || type == "content.progress";
    if (!about_article_state) {
        // ideacloud.*, approvals, compliance, inventory…: acknowledged, nothing to track.
        if (e.event_id.empty()) e.event_id = type + ":" + e.run.run_id;
        return e;
    }
    if (e.run.run_id.empty() || !valid_run_id(e.run.run_id)) return std::nullopt;
    if (type == "content.completed") {
        e.run.status = "complete";
    } else if (type == "content.failed") {
        e.run.status = "failed";
        e.run.error = error_text(*data);
    } else if (type == "content.progress") {
        e.run.status = "generating";
        if (const auto* p = data->if_contains("progress_percent"); p && p->is_number()) {
            double f = p->to_number<double>();
            if (f >= 0 && f <= 100) e.run.progress_percent = static_cast<int>(f);
        }
    }
    e.run.phase = e.run.status.empty() ? run_phase::unknown : phase_of(e.run.status);
    if (e.event_id.empty()) e.event_id = e.run.run_id + ":" + type;
    return e;
}

std::optional<api_call> provider::provide_input(const brief::item& it, std::string_view run_id,
                                                std::string& why) const {
    const auto* h = std::get_if<brief::hrizn_item>(&it.body);
    const json::value* q = h ? h->body.if_contains("selected_question_ids") : nullptr;
    if (!q || !q->is_array() || q->get_array().empty()) {
        why =
            "the article waits for input (awaiting_input) and the brief gives no "
            "selected_question_ids to "
            "generate it with";
        return std::nullopt;
    }
    json::object body;
    body["selected_question_ids"] = *q;
    for (auto key : {"brand_voice_id", "title"})
        if (const auto* f = h->body.if_contains(key); f && f->is_string()) body[key] = *f;
    return api_call{
        verb::post, {"content", std::string(run_id), "generate"}, {}, json::serialize(body)};
}

std::vector<output_view> provider::outputs(const brief::item&, const run_view& run) const {
    output_view html;
    html.label = "article";
    html.type = "html";
    html.ext = "html";
    html.status = "completed";
    html.fetch = api_call{verb::get,
                          {"content", run.run_id, "html"},
                          {},
                          {},
                          {{"Accept", "text/html, application/json"}}};
    output_view comps;
    comps.label = "components";
    comps.type = "json";
    comps.ext = "json";
    comps.status = "completed";
    comps.fetch = api_call{verb::get, {"content", run.run_id, "components"}};
    return {std::move(html), std::move(comps)};
}

std::optional<std::string> provider::fetched_output(const output_view& out,
                                                    std::string_view content_type,
                                                    std::string_view body, std::string& why) const {
    if (out.type == "html") {
        auto html = article_html(content_type, body);
        if (!html) why = "the article HTML response is neither HTML nor JSON with an html field";
        return html;
    }
    if (!parse_json(body)) {
        why = "the components response is not JSON";
        return std::nullopt;
    }
    return std::string(body);
}

std::error_code provider::classify_error(unsigned status, std::string_view body,
                                         diagnostics& diag) const {
    diag.http_status = static_cast<int>(status);
    if (auto v = parse_json(body); v && v->is_object()) {
        const auto& o = v->get_object();
        const json::object* e = nullptr;
        if (const auto* ev = o.if_contains("error")) {
            if (ev->is_string()) diag.message = diagnostics::clean(ev->get_string());
            e = ev->if_object();
        }
        if (e) {
            diag.message = str(*e, "message", 1024);
            diag.provider_code = str(*e, "code", 64);
            diag.request_id = str(*e, "request_id", 128);
            if (const auto* d = e->if_contains("details"); d && !d->is_null())
                diag.message += " (" + diagnostics::clean(json::serialize(*d), 512) + ")";
        }
        if (diag.request_id.empty()) diag.request_id = str(o, "request_id", 128);
    } else if (!body.empty()) {
        diag.message = diagnostics::clean(body, 256);
    }
    if (status == 429) return errc::rate_limited;
    if (status == 401) return errc::unauthorized;  // unauthorized, key_expired, key_revoked
    if (status == 402) return errc::payment_required;
    if (status == 403) return errc::forbidden;  // a scope the key lacks
    if (status == 404) return errc::not_found;
    if (status >= 500) return errc::server_error;
    if (status >= 400) return errc::rejected;  // validation_error, idempotency_conflict
    return errc::unexpected_status;
}

}  // namespace briefd::providers::hrizn
