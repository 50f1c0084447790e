#include "providers/lamina/provider.hpp"

#include <boost/json.hpp>

namespace briefd::providers::lamina {

namespace json = boost::json;
using verb = boost::beast::http::verb;

run_phase phase_of(std::string_view s) {
    if (s == "queued" || s == "pending") return run_phase::queued;
    if (s == "running" || s == "processing") return run_phase::running;
    if (s == "completed") return run_phase::completed;
    if (s == "failed") return run_phase::failed;
    if (s == "cancelled" || s == "canceled") return run_phase::cancelled;
    return run_phase::unknown;
}

run_view view_of(const run_status& run) {
    run_view v;
    v.run_id = run.run_id;
    v.status = run.status;
    v.phase = phase_of(run.status);
    v.error = run.error_message;
    std::size_t done = 0;
    for (const auto& src : run.outputs) {
        output_view out;
        out.label = src.label;
        out.type = src.type;
        out.status = src.status;
        out.mime_type = src.mime_type;
        if (src.status == "completed") ++done;
        if (src.status != "completed") {
            out.error = "output " + (src.status.empty() ? std::string("missing") : src.status) +
                        (src.error.empty() ? "" : ": " + src.error);
        } else if (src.value_is_url) {
            out.url = src.value;
        } else if (src.value.empty() && src.type != "text") {
            out.error = "output completed without a URL";
        } else if (src.type == "image" || src.type == "video" || src.type == "audio") {
            // Media travels by URL; anything else in its value (a relative path, another
            // scheme) would be filed as a text file that is not the image asked for.
            out.error = "completed " + src.type + " output whose value is not an absolute http(s) URL: " +
                        diagnostics::clean(src.value, 200);
        } else {
            // A run's output is finished by its own status, not its type: text travels inline.
            out.text = src.value;
            out.ext = src.type == "html" ? "html" : "txt";
        }
        v.outputs.push_back(std::move(out));
    }
    if (!run.outputs.empty())
        v.progress_percent = static_cast<int>(done * 100 / run.outputs.size());
    if (v.phase == run_phase::completed) v.progress_percent = 100;
    return v;
}

unsigned provider::channels(const brief::item& it) const {
    unsigned c = channel_sse | channel_wait | channel_poll;
    if (std::holds_alternative<brief::app_run_item>(it.body)) c |= channel_webhook;
    return c;
}

void provider::add_webhook(api_call& submit_call, const std::vector<const brief::item*>& items,
                           std::string_view url) const {
    if (items.size() == 1 && std::holds_alternative<brief::app_run_item>(items.front()->body))
        submit_call.query.emplace_back("webhook", std::string(url));
}

std::optional<api_call> provider::webhook_key_request() const {
    return api_call{verb::get, {"v1", "webhooks", "signing-key"}};
}

std::optional<webhook_event> provider::parse_webhook(const boost::beast::http::fields& headers,
                                                     std::string_view body) const {
    auto run = parse_status(body);
    if (!run || run->run_id.empty() || !valid_run_id(run->run_id)) return std::nullopt;
    if (auto it = headers.find("X-Lamina-Webhook-Request-Id");
        it != headers.end() && !it->value().empty() && it->value() != run->run_id)
        return std::nullopt;  // the SDK refuses this too: the header and the body disagree
    webhook_event e;
    e.event_id = run->run_id + ":" + run->status;
    e.run = std::move(*run);
    return e;
}

api_call provider::probe() const {
    return {verb::get, {"v1", "account", "usage"}};
}

std::optional<std::string> provider::group_key(const brief::item& it) const {
    if (const auto* c = std::get_if<brief::content_item>(&it.body)) return lamina::group_key(*c);
    return std::nullopt;  // app runs: one request each
}

api_call provider::submit(const std::vector<const brief::item*>& items) const {
    if (items.size() == 1)
        if (const auto* a = std::get_if<brief::app_run_item>(&items.front()->body))
            return {verb::post, {"v1", "apps", a->app_id, "runs"}, {}, app_run_body(*a)};
    std::vector<const brief::content_item*> content;
    for (const auto* it : items)
        if (const auto* c = std::get_if<brief::content_item>(&it->body)) content.push_back(c);
    return {verb::post, {"v1", "content", "batch"}, {}, batch_body(content)};
}

std::optional<std::vector<submit_result>> provider::parse_submit(
    const std::vector<const brief::item*>& items, std::string_view body) const {
    if (items.size() == 1 && std::holds_alternative<brief::app_run_item>(items.front()->body)) {
        std::string why;
        auto id = parse_run_id(body, why);
        if (id) return std::vector<submit_result>{{true, *id, {}}};
        // A readable answer whose status says the run was not dispatched (needs_input…: the SDK's
        // union, PROVIDERS §1.9): nothing was started, so the item fails with that reason. An
        // answer that says neither is unreadable: the outcome stays unknown.
        if (why.starts_with(not_dispatched)) return std::vector<submit_result>{{false, {}, why}};
        return std::nullopt;
    }
    auto parsed = parse_batch_response(body, items.size());
    if (!parsed) return std::nullopt;
    std::vector<submit_result> out;
    for (auto& r : *parsed) out.push_back({r.queued, std::move(r.run_id), std::move(r.error)});
    return out;
}

std::optional<std::string> provider::schema_key(const brief::item& it) const {
    if (const auto* a = std::get_if<brief::app_run_item>(&it.body)) return a->app_id;
    return std::nullopt;
}

api_call provider::schema_request(std::string_view app_id) const {
    return {verb::get, {"v1", "apps", std::string(app_id)}};
}

std::optional<app_schema> provider::parse_schema(std::string_view body) const {
    std::error_code ec;
    json::parse_options opt;
    opt.max_depth = 64;
    auto v = json::parse(body, ec, {}, opt);
    if (ec) return std::nullopt;
    return parse_app_schema(v);
}

std::vector<brief::problem> provider::check_inputs(std::string_view file, const brief::item& it,
                                                   const app_schema& schema) const {
    const auto* a = std::get_if<brief::app_run_item>(&it.body);
    if (!a) return {};
    return validate_inputs(file, it.index, *a, schema);
}

bool provider::valid_run_id(std::string_view id) const {
    // Lamina's ids are UUIDs; accept any plain token so a change of format is tolerated, but
    // nothing that could mean something in a path or query.
    if (id.empty() || id.size() > 128) return false;
    for (char c : id)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
    return true;
}

api_call provider::status(std::string_view run_id) const {
    return {verb::get, {"v1", "runs", std::string(run_id)}};
}

std::optional<run_view> provider::parse_status(std::string_view body) const {
    auto r = parse_run(body);
    if (!r) return std::nullopt;
    return view_of(*r);
}

// POST /v1/runs/{runId}/cancel → {data:{runId,status:"cancelled"}} (PROVIDERS.md, from the SDK).
std::optional<api_call> provider::cancel(std::string_view run_id) const {
    return api_call{verb::post, {"v1", "runs", std::string(run_id), "cancel"}};
}

api_call provider::stream(std::string_view run_id) const {
    return {verb::get,
            {"v1", "runs", std::string(run_id), "stream"},
            {},
            {},
            {{"Accept", "text/event-stream"}}};
}

std::optional<run_view> provider::parse_event(std::string_view type, std::string_view data) const {
    if (type != "progress" && type != "complete" && type != "error") return std::nullopt;
    return parse_status(data);
}

api_call provider::wait(std::string_view run_id, std::chrono::seconds timeout) const {
    return {verb::get,
            {"v1", "runs", std::string(run_id), "wait"},
            {{"timeout", std::to_string(timeout.count())}}};
}

std::optional<std::pair<run_view, bool>> provider::parse_wait(std::string_view body) const {
    auto w = lamina::parse_wait(body);
    if (!w) return std::nullopt;
    return std::pair{view_of(w->first), w->second};
}

}  // namespace briefd::providers::lamina
