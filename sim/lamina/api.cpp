#include "api.hpp"

#include "catalog.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <iterator>
#include <cmath>
#include <stdexcept>

// GCC 12 mis-pairs Asio's awaitable frame operator new/delete in large coroutines and warns
// (-Wmismatched-new-delete, GCC PR 109224); the pair is Asio's own and matches.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace briefd::sim::lamina {

namespace json = boost::json;
namespace urls = boost::urls;
using clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// One request as it moves through the /v1 pipeline.
struct api::exchange {
    request_context& ctx;
    std::string route;           ///< "METHOD /v1/template", the stats key
    unsigned family = family_other;
    std::string request_id;
    std::optional<rate_decision> rate;
    std::vector<std::string> segs;  ///< decoded path segments after "v1"
    std::optional<urls::url_view> url;
};

namespace {

std::int64_t ceil_ms(clock::duration d) {
    const double ms = std::chrono::duration<double, std::milli>(d).count();
    return ms <= 0 ? 0 : static_cast<std::int64_t>(std::ceil(ms - 1e-9));
}

std::string lower(std::string_view s) {
    std::string o(s);
    for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
}

std::string chunk(std::string_view data) {
    char size[20];
    auto r = std::to_chars(size, size + sizeof size, data.size(), 16);
    std::string out(size, r.ptr);
    out += "\r\n";
    out += data;
    out += "\r\n";
    return out;
}

std::optional<std::string> param(const api::exchange& ex, std::string_view name);

}  // namespace

namespace {
std::optional<std::string> param(const api::exchange& ex, std::string_view name) {
    return query_param(ex.url, name);
}
}  // namespace

api::api(sim_state& st, run_engine& runs, const webhooks::lamina_signer& signer)
    : st_(st), runs_(runs), signer_(signer) {}

api::~api() = default;

namespace {

void add_rate_headers(http::fields& h, const sim_state& st, const rate_decision& d) {
    h.set("RateLimit-Policy", std::to_string(d.limit) + ";w=" + std::to_string(std::max<std::int64_t>(1, ceil_seconds(st.limiter.window()))));
    h.set("RateLimit-Limit", std::to_string(d.limit));
    h.set("RateLimit-Remaining", std::to_string(d.remaining));
    // express-rate-limit omits RateLimit-Reset when it rounds to 0 (PROTOCOLS §2.3).
    if (const auto s = ceil_seconds(d.reset); s > 0) h.set("RateLimit-Reset", std::to_string(s));
    h.set("RateLimit-Reset-Ms", std::to_string(ceil_ms(d.reset)));
}

void add_common_headers(http::fields& h, const api::exchange& ex, const sim_state& st) {
    h.set("X-Request-Id", ex.request_id);
    if (ex.rate) add_rate_headers(h, st, *ex.rate);
}

handler_result error_reply(sim_state& st, const api::exchange& ex, http::status status, std::string_view code,
                           std::string_view message, bool retryable, json::value details = nullptr,
                           std::optional<std::int64_t> retry_after = std::nullopt) {
    json::object body{{"error", message}, {"code", code}, {"retryable", retryable}, {"requestId", ex.request_id}};
    if (retry_after) body["retryAfter"] = *retry_after;
    if (!details.is_null()) body["details"] = std::move(details);
    response r = json_response(st, status, std::move(body));
    if (retry_after) r.set(http::field::retry_after, std::to_string(*retry_after));
    return r;
}

handler_result data_reply(sim_state& st, http::status status, json::value data) {
    return json_response(st, status, json::object{{"data", std::move(data)}});
}

json::array details_of(const std::vector<std::string>& v) {
    json::array a;
    for (const auto& s : v) a.emplace_back(s);
    return a;
}

void classify(api::exchange& ex, http::verb method) {
    const auto& s = ex.segs;
    const std::string m(http::to_string(method));
    auto is = [&](http::verb v, std::initializer_list<std::string_view> shape, std::string route, unsigned family) {
        if (method != v || !path_matches(s, shape)) return false;
        ex.route = m + " /v1/" + route;
        ex.family = family;
        return true;
    };
    using v = http::verb;
    is(v::post, {"content", "batch"}, "content/batch", family_batch) ||
        is(v::post, {"content", "create"}, "content/create", family_batch) ||
        is(v::get, {"apps"}, "apps", family_other) ||
        is(v::get, {"apps", "*"}, "apps/{id}", family_other) ||
        is(v::post, {"apps", "*", "runs"}, "apps/{id}/runs", family_runs) ||
        is(v::get, {"runs", "*"}, "runs/{id}", family_runs) ||
        is(v::get, {"runs", "*", "wait"}, "runs/{id}/wait", family_runs) ||
        is(v::get, {"runs", "*", "stream"}, "runs/{id}/stream", family_stream) ||
        is(v::post, {"runs", "*", "cancel"}, "runs/{id}/cancel", family_runs) ||
        is(v::get, {"account", "usage"}, "account/usage", family_other) ||
        is(v::get, {"webhooks", "signing-key"}, "webhooks/signing-key", family_other);
    if (ex.route.empty()) ex.route = m + " /v1/*";
}

}  // namespace

asio::awaitable<handler_result> api::handle(request_context& ctx) {
    exchange ex{ctx, {}, family_other, sim_state::uuid(st_.request_rng), std::nullopt, {}, std::nullopt};
    if (auto u = urls::parse_origin_form(ctx.req.target())) {
        ex.url = *u;
        bool first = true;
        for (auto seg : u->segments()) {
            if (first) {
                first = false;
                if (seg != "v1") break;
                continue;
            }
            ex.segs.push_back(seg);
        }
    }
    classify(ex, ctx.req.method());

    co_await slow_headers(st_, provider_lamina);

    const auto now = clock::now();
    handler_result result;
    bool decided = false;
    if (const auto left = storm_left(st_, now, provider_lamina)) {
        ex.rate = rate_decision{false, st_.limiter.limit(), 0, *left};
        ++st_.counters.storm_429;
        result = error_reply(st_, ex, http::status::too_many_requests, "RATE_LIMITED",
                             "Too many requests, please try again later.", true, nullptr,
                             std::max<std::int64_t>(1, ceil_seconds(*left)));
        decided = true;
    }
    if (!decided) {
        ex.rate = st_.limiter.hit(ctx.client, now);
        if (!ex.rate->allowed) {
            ++st_.counters.over_limit;
            result = error_reply(st_, ex, http::status::too_many_requests, "RATE_LIMITED",
                                 "Too many requests from this IP, please try again later.", true, nullptr,
                                 std::max<std::int64_t>(1, ceil_seconds(ex.rate->reset)));
            decided = true;
        }
    }
    if (!decided) {
        // Auth: x-api-key, or Authorization: Bearer.
        std::string key;
        if (auto it = ctx.req.find("x-api-key"); it != ctx.req.end()) key = std::string(it->value());
        else if (auto a = ctx.req.find(http::field::authorization); a != ctx.req.end()) {
            std::string_view v = a->value();
            if (v.size() > 7 && lower(v.substr(0, 7)) == "bearer ") key = std::string(v.substr(7));
            else key = std::string(v);
        }
        if (key.empty()) {
            result = error_reply(st_, ex, http::status::unauthorized, "AUTH_MISSING_KEY", "Missing API key", false);
            decided = true;
        } else if (std::find(st_.opt.keys.begin(), st_.opt.keys.end(), key) == st_.opt.keys.end()) {
            result = error_reply(st_, ex, http::status::unauthorized, "AUTH_INVALID_KEY", "Invalid API key", false);
            decided = true;
        }
    }
    if (!decided && draw_fail_5xx(st_, ex.family, provider_lamina)) {
        ++st_.counters.faults_5xx;
        const bool unavailable = st_.fault_rng() % 2;
        result = unavailable ? error_reply(st_, ex, http::status::service_unavailable, "RESOURCE_UNAVAILABLE",
                                           "Service temporarily unavailable", true)
                             : error_reply(st_, ex, http::status::internal_server_error, "INTERNAL_ERROR",
                                           "Internal server error", true);
        decided = true;
    }
    if (!decided) result = co_await dispatch(ex);

    if (auto* res = std::get_if<response>(&result)) {
        add_common_headers(res->base(), ex, st_);
        const unsigned code = res->result_int();
        if (code == 429) ++st_.counters.responses_429;
        st_.counters.count(ex.route, code);
        if (maybe_malform(st_, *res, provider_lamina)) ++st_.counters.malformed_bodies;
    }
    co_return result;
}

asio::awaitable<handler_result> api::dispatch(exchange& ex) {
    const auto& s = ex.segs;
    const auto now = clock::now();
    const std::string& r = ex.route;
    auto not_found = [&](std::string_view what) {
        return error_reply(st_, ex, http::status::not_found, "NOT_FOUND", what, false);
    };
    if (r == "POST /v1/content/batch") co_return batch(ex);
    if (r == "POST /v1/content/create") co_return create(ex);
    if (r == "GET /v1/apps") {
        const std::string search = lower(param(ex, "search").value_or(""));
        json::array list;
        for (const auto& a : catalogue()) {
            if (a.video && st_.faults.no_video) continue;
            if (!search.empty() && lower(a.name).find(search) == std::string::npos &&
                lower(a.description).find(search) == std::string::npos)
                continue;
            list.emplace_back(summary_json(a));
        }
        co_return data_reply(st_, http::status::ok, std::move(list));
    }
    if (r == "GET /v1/apps/{id}") {
        const app* a = find_app(s[1]);
        if (!a || (a->video && st_.faults.no_video)) co_return not_found("App not found");
        co_return data_reply(st_, http::status::ok, to_json(*a));
    }
    if (r == "POST /v1/apps/{id}/runs") co_return run_app(ex, s[1]);
    if (r == "GET /v1/account/usage") {
        const auto used = static_cast<std::int64_t>(runs_.credits_used());
        co_return data_reply(st_, http::status::ok,
                             json::object{{"creditsUsed", used},
                                          {"creditsRemaining", std::max<std::int64_t>(0, st_.opt.credits - used)},
                                          {"runs", runs_.run_count()}});
    }
    if (r == "GET /v1/webhooks/signing-key") {
        co_return json_response(st_, http::status::ok, signer_.jwks());
    }
    if (s.size() >= 2 && s[0] == "runs" && r.find("/v1/runs/") != std::string::npos) {
        run* run_ptr = runs_.find(s[1]);
        if (!run_ptr) co_return not_found("Run not found");
        if (r == "GET /v1/runs/{id}") co_return data_reply(st_, http::status::ok, runs_.status_json(*run_ptr, now));
        if (r == "POST /v1/runs/{id}/cancel") {
            runs_.cancel(*run_ptr, now);
            co_return data_reply(st_, http::status::ok,
                                 json::object{{"runId", run_ptr->id}, {"status", to_string(run_ptr->status_at(now))}});
        }
        if (r == "GET /v1/runs/{id}/wait") co_return co_await wait(ex, *run_ptr);
        if (r == "GET /v1/runs/{id}/stream") co_return co_await stream(ex, *run_ptr);
    }
    co_return not_found("Route not found");
}

namespace {

// --hostile-labels: names a careless client would turn into paths outside its download folder.
std::string hostile_label(std::uint64_t n) {
    static const std::string labels[] = {"../../evil", "/tmp/briefsim-hostile", std::string("a/b\0c", 5), "..", "\x1b[2J\nx"};
    return labels[n % std::size(labels)];
}

struct parsed_body {
    json::value value;
    bool ok = false;
};

parsed_body parse_body(const request& req) {
    boost::system::error_code ec;
    json::value v = json::parse(req.body(), ec);
    const bool ok = !ec && v.is_object();
    return {std::move(v), ok};
}

}  // namespace

handler_result api::batch(exchange& ex) {
    auto body = parse_body(ex.ctx.req);
    if (!body.ok)
        return error_reply(st_, ex, http::status::bad_request, "VALIDATION_ERROR", "Invalid request body", false,
                           json::array{"body: must be a JSON object"});
    const auto& o = body.value.get_object();
    std::vector<std::string> problems;
    const json::value* items = o.if_contains("items");
    if (!items || !items->is_array()) {
        problems.push_back("items: required array of 1-10 items");
    } else if (items->get_array().empty() || items->get_array().size() > 10) {
        problems.push_back("items: must contain 1-10 items (got " + std::to_string(items->get_array().size()) + ")");
    } else {
        const auto& a = items->get_array();
        for (std::size_t i = 0; i < a.size(); ++i) {
            const std::string at = "items[" + std::to_string(i) + "]";
            if (!a[i].is_object()) {
                problems.push_back(at + ": must be an object");
                continue;
            }
            const auto* b = a[i].get_object().if_contains("brief");
            if (!b || !b->is_string() || b->get_string().empty()) problems.push_back(at + ".brief: required non-empty string");
            for (const char* f : {"platform", "modality", "brandProfileId", "campaignId"})
                if (const auto* x = a[i].get_object().if_contains(f); x && !x->is_null() && !x->is_string())
                    problems.push_back(at + "." + f + ": must be a string or null");
        }
    }
    for (const char* f : {"brandProfileId", "campaignId"})
        if (const auto* x = o.if_contains(f); x && !x->is_null() && !x->is_string())
            problems.push_back(std::string(f) + ": must be a string or null");
    if (!problems.empty())
        return error_reply(st_, ex, http::status::bad_request, "VALIDATION_ERROR", "Invalid batch request", false,
                           details_of(problems));

    const auto& a = items->get_array();
    ++st_.counters.batches;
    st_.counters.batch_items += a.size();
    json::array out;
    std::size_t queued = 0, failed = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto& item = a[i].get_object();
        std::string modality = "image";
        if (const auto* m = item.if_contains("modality"); m && m->is_string()) modality = std::string(m->get_string());
        const std::string brief(item.at("brief").get_string());
        const content_workflow* wf = nullptr;
        std::string err;
        if (modality == "video") {
            if (st_.faults.no_video) err = "No video-capable app found for this workspace";
            else wf = &video_workflow();
        } else if (modality == "image") {
            wf = &image_workflow();
        } else {
            err = "No " + modality + "-capable app found for this workspace";
        }
        if (!wf) {
            ++failed;
            out.emplace_back(json::object{{"index", i}, {"status", "failed"}, {"error", err}});
            continue;
        }
        if (!seen_submissions_.insert("brief:" + brief).second) ++st_.counters.duplicate_submissions;
        const std::string label =
            st_.faults.hostile_labels ? hostile_label(st_.counters.runs_created) : wf->output.label;
        run& r = runs_.create(wf->id, wf->name, {{label, wf->output.type}}, brief);
        ++queued;
        out.emplace_back(json::object{{"index", i}, {"status", "queued"}, {"runId", r.id}, {"workflowId", r.workflow_id},
                                      {"workflowName", r.workflow_name}});
    }
    return data_reply(st_, http::status::accepted,
                      json::object{{"batchId", "batch-" + sim_state::uuid(st_.request_rng)},
                                   {"total", a.size()},
                                   {"queued", queued},
                                   {"failed", failed},
                                   {"items", std::move(out)}});
}

handler_result api::create(exchange& ex) {
    auto body = parse_body(ex.ctx.req);
    if (!body.ok)
        return error_reply(st_, ex, http::status::bad_request, "VALIDATION_ERROR", "Invalid request body", false,
                           json::array{"body: must be a JSON object"});
    const auto& o = body.value.get_object();
    const auto* b = o.if_contains("brief");
    if (!b || !b->is_string() || b->get_string().empty())
        return error_reply(st_, ex, http::status::bad_request, "VALIDATION_ERROR", "Invalid request body", false,
                           json::array{"brief: required non-empty string"});
    std::string modality = "image";
    if (const auto* m = o.if_contains("modality"); m && m->is_string()) modality = std::string(m->get_string());
    const content_workflow* wf = nullptr;
    if (modality == "video" && !st_.faults.no_video) wf = &video_workflow();
    else if (modality == "image") wf = &image_workflow();
    if (!wf) {
        const std::string msg = "No " + modality + "-capable app found for this workspace";
        return error_reply(st_, ex, http::status::bad_request, "VALIDATION_ERROR", msg, false, json::array{msg});
    }
    const std::string brief(b->get_string());
    if (!seen_submissions_.insert("brief:" + brief).second) ++st_.counters.duplicate_submissions;
    run& r = runs_.create(wf->id, wf->name, {{wf->output.label, wf->output.type}}, brief);
    return data_reply(st_, http::status::accepted,
                      json::object{{"runId", r.id}, {"workflowId", r.workflow_id}, {"workflowName", r.workflow_name},
                                   {"status", "queued"}});
}

handler_result api::run_app(exchange& ex, const std::string& app_id) {
    const app* a = find_app(app_id);
    if (!a || (a->video && st_.faults.no_video))
        return error_reply(st_, ex, http::status::not_found, "NOT_FOUND", "App not found", false);
    std::string webhook;
    if (auto w = param(ex, "webhook")) {
        auto u = urls::parse_absolute_uri(*w);
        if (!u || (u->scheme() != "http" && u->scheme() != "https") || u->host().empty())
            return error_reply(st_, ex, http::status::bad_request, "WEBHOOK_INVALID_URL",
                               "Webhook URL must be an absolute http or https URL", false);
        webhook = *w;
    }
    auto body = parse_body(ex.ctx.req);
    if (!body.ok)
        return error_reply(st_, ex, http::status::bad_request, "VALIDATION_ERROR", "Invalid request body", false,
                           json::array{"body: must be a JSON object with inputs"});
    const auto& o = body.value.get_object();
    const json::value* inputs = o.if_contains("inputs");
    auto problems = validate_inputs(*a, inputs);

    // Optional `outputs`: run only the outputs with these labels (case-insensitive; SDK only).
    std::vector<std::pair<std::string, std::string>> outs;
    if (const auto* sel = o.if_contains("outputs"); sel && !sel->is_null()) {
        if (!sel->is_array()) {
            problems.push_back("outputs: must be an array of output labels");
        } else {
            for (const auto& out : a->outputs) {
                for (const auto& l : sel->get_array())
                    if (l.is_string() && lower(l.get_string()) == lower(out.label)) {
                        outs.emplace_back(out.label, out.type);
                        break;
                    }
            }
            if (outs.empty()) problems.push_back("outputs: no output of this app has one of these labels");
        }
    } else {
        for (const auto& out : a->outputs) outs.emplace_back(out.label, out.type);
    }
    if (!problems.empty())
        return error_reply(st_, ex, http::status::bad_request, "VALIDATION_ERROR", "Invalid inputs", false,
                           details_of(problems));

    const std::string inputs_text = json::serialize(*inputs);
    if (!seen_submissions_.insert("app:" + a->id + ":" + inputs_text).second) ++st_.counters.duplicate_submissions;
    std::string text;
    for (const auto& p : a->params)
        if (p.type == "text")
            if (const auto* v = inputs->get_object().if_contains(p.name); v && v->is_string()) text = std::string(v->get_string());
    if (text.empty()) text = a->name;
    run& r = runs_.create(a->workflow_id, a->name, outs, text, webhook);
    json::object status = runs_.status_json(r, r.created);
    return data_reply(st_, http::status::accepted,
                      json::object{{"runId", r.id},
                                   {"workflowId", r.workflow_id},
                                   {"workflowName", r.workflow_name},
                                   {"status", "queued"},
                                   {"webhookUrl", webhook.empty() ? json::value(nullptr) : json::value(webhook)},
                                   {"outputs", status["outputs"]}});
}

asio::awaitable<handler_result> api::wait(exchange& ex, run& r) {
    std::int64_t timeout_s = 60;
    if (auto t = param(ex, "timeout")) {
        auto res = std::from_chars(t->data(), t->data() + t->size(), timeout_s);
        if (res.ec != std::errc{} || res.ptr != t->data() + t->size() || timeout_s < 1 || timeout_s > 120)
            co_return error_reply(st_, ex, http::status::bad_request, "VALIDATION_ERROR", "Invalid timeout", false,
                                  json::array{"timeout: integer seconds, 1 <= timeout <= 120"});
    }
    const auto deadline = clock::now() + st_.real(static_cast<double>(timeout_s));
    auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
    for (;;) {
        const auto now = clock::now();
        if (is_terminal(r.status_at(now))) co_return data_reply(st_, http::status::ok, runs_.status_json(r, now));
        if (now >= deadline)
            co_return json_response(st_, http::status::ok,
                                    json::object{{"data", runs_.status_json(r, now)}, {"timeout", true}});
        const auto next = r.next_change(now);
        timer->expires_at(next ? std::min(*next, deadline) : deadline);
        runs_.add_waiter(r, timer);
        co_await timer->async_wait(use_tuple);
    }
}

namespace {

struct stream_shared {
    bool gone = false;
    std::shared_ptr<asio::steady_timer> timer;
};

struct event_writer {
    http_io& io;
    stats& counters;
    std::uint64_t next_id;
    unsigned drop_after;
    unsigned sent = 0;

    /// False when the stream must end now (write failed, or the drop fault fired).
    asio::awaitable<bool> send(std::string_view event, std::string_view data) {
        std::string text = "id: " + std::to_string(next_id++) + "\nevent: " + std::string(event) + "\ndata: ";
        text += data;
        text += "\n\n";
        const std::string framed = chunk(text);
        const beast::error_code ec = co_await io.write(framed);
        if (ec) co_return false;
        ++counters.sse_events;
        if (drop_after && ++sent >= drop_after) {
            io.abort();
            co_return false;
        }
        co_return true;
    }
};

}  // namespace

asio::awaitable<handler_result> api::stream(exchange& ex, run& r) {
    switch (st_.faults.sse_refuse) {
    case sse_refusal::not_found:
        co_return error_reply(st_, ex, http::status::not_found, "NOT_FOUND", "Not found", false);
    case sse_refusal::no_content:
        co_return response{http::status::no_content, 11};
    case sse_refusal::wrong_type: {
        response res{http::status::ok, 11};
        res.set(http::field::content_type, "text/plain; charset=utf-8");
        res.body() = "streaming is not available\n";
        co_return res;
    }
    case sse_refusal::none: break;
    }

    auto& c = st_.counters;
    const auto& req = ex.ctx.req;
    std::uint64_t first_id = 1;
    if (auto it = req.find("Last-Event-ID"); it != req.end()) {
        ++c.last_event_id_requests;
        c.last_event_id = std::string(it->value());
        std::uint64_t last = 0;
        auto v = it->value();
        if (std::from_chars(v.data(), v.data() + v.size(), last).ec == std::errc{}) first_id = last + 1;
    }

    http::response<http::empty_body> head{http::status::ok, 11};
    head.set(http::field::content_type, "text/event-stream");
    head.set(http::field::cache_control, "no-cache");
    head.set("X-Accel-Buffering", "no");
    add_common_headers(head.base(), ex, st_);
    head.chunked(true);
    head.keep_alive(false);
    c.count(ex.route, 200);
    c.streams.up();
    struct guard {
        stats& c;
        ~guard() { c.streams.down(); }
    } g{c};

    auto shared = std::make_shared<stream_shared>();
    shared->timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
    ex.ctx.io.watch_peer([shared] {
        shared->gone = true;
        shared->timer->cancel();
    });
    const std::string head_bytes = serialize_head(head.base());
    if (const beast::error_code ec = co_await ex.ctx.io.write(head_bytes)) co_return streamed{false};

    if (st_.faults.sse_stall) {
        // Say nothing at all until the client gives up.
        while (!shared->gone) {
            shared->timer->expires_at(clock::time_point::max());
            co_await shared->timer->async_wait(use_tuple);
        }
        co_return streamed{false};
    }

    if (st_.faults.sse_trickle) {
        // A byte at a time, never a line: a peer that keeps a naive idle timer alive forever.
        if (const beast::error_code ec = co_await ex.ctx.io.write(chunk(":"))) co_return streamed{false};
        while (!shared->gone) {
            shared->timer->expires_after(std::chrono::milliseconds(100));
            co_await shared->timer->async_wait(use_tuple);
            if (shared->gone) break;
            if (const beast::error_code ec = co_await ex.ctx.io.write(chunk("x"))) break;
        }
        co_return streamed{false};
    }

    event_writer w{ex.ctx.io, c, first_id, st_.faults.sse_drop_after};
    auto status_data = [&](clock::time_point t) {
        json::value v = runs_.status_json(r, t);
        if (st_.faults.extra_fields) add_extra_fields(v);
        return json::serialize(v);
    };
    auto key_at = [&](clock::time_point t) {
        std::string k(1, static_cast<char>(r.status_at(t)));
        for (std::size_t i = 0; i < r.outputs.size(); ++i) k += static_cast<char>(r.output_at(i, t));
        return k;
    };
    auto final_event = [&](clock::time_point t) -> std::string_view {
        return r.status_at(t) == run_status::completed ? "complete" : "error";
    };

    auto now = clock::now();
    const auto ping_every = st_.real(15);
    const auto deadline = now + st_.real(600);
    auto next_ping = now + ping_every;
    std::string key = key_at(now);
    bool open = true;
    {
        const std::string data = status_data(now);
        if (is_terminal(r.status_at(now))) {
            co_await w.send(final_event(now), data);
            open = false;
        } else {
            open = co_await w.send("progress", data);
        }
    }
    while (open && !shared->gone) {
        now = clock::now();
        auto wake = std::min(next_ping, deadline);
        if (auto next = r.next_change(now)) wake = std::min(wake, *next);
        shared->timer->expires_at(wake);
        runs_.add_waiter(r, shared->timer);
        co_await shared->timer->async_wait(use_tuple);
        if (shared->gone) break;
        now = clock::now();
        if (now >= deadline) {
            json::value v = {{"message", "Stream timeout after 10 minutes"}};
            if (st_.faults.extra_fields) add_extra_fields(v);
            const std::string data = json::serialize(v);
            co_await w.send("timeout", data);
            open = false;
            break;
        }
        if (std::string k = key_at(now); k != key) {
            key = std::move(k);
            const std::string data = status_data(now);
            if (is_terminal(r.status_at(now))) {
                co_await w.send(final_event(now), data);
                open = false;
                break;
            }
            if (!(open = co_await w.send("progress", data))) break;
        }
        if (now >= next_ping) {
            next_ping = now + ping_every;
            const std::string ts =
                std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
            if (!(open = co_await w.send("ping", ts))) break;
        }
    }
    if (!shared->gone && (!st_.faults.sse_drop_after || w.sent < st_.faults.sse_drop_after)) {
        const std::string last = "0\r\n\r\n";
        co_await ex.ctx.io.write(last);
    }
    co_return streamed{false};
}

}  // namespace briefd::sim::lamina
