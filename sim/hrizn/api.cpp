#include "api.hpp"

#include <boost/url.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <initializer_list>

// GCC 12 mis-pairs Asio's awaitable frame operator new/delete in large coroutines and warns
// (-Wmismatched-new-delete, GCC PR 109224); the pair is Asio's own and matches.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace briefd::sim::hrizn {

namespace json = boost::json;
namespace urls = boost::urls;
using clock = std::chrono::steady_clock;

enum class scope { none, read, write };

/// One request as it moves through the pipeline.
struct api::exchange {
    request_context& ctx;
    std::string route;  ///< "METHOD /v1/public/template", the stats key
    unsigned family = family_other;
    scope needs = scope::none;
    std::string request_id;
    std::string key;                ///< the X-API-Key of an accepted request
    std::vector<std::string> segs;  ///< decoded path segments after /v1/public
    std::optional<urls::url_view> url;
    std::optional<limit_decision> rate;
};

namespace {

constexpr std::string_view generation_message =
    "Generation typically completes within a few minutes. Configure webhooks to receive real-time "
    "status "
    "notifications: https://api-docs.hrizn.io/webhooks";
constexpr std::string_view interactive_message =
    "Content created in interactive mode. Call POST /content/{id}/generate with "
    "selected_question_ids to start "
    "generation.";

const std::initializer_list<std::string_view> article_types = {
    "basic",      "qa",         "expert",          "modellanding",
    "comparison", "salesevent", "enhancedcontent", "emailtemplate"};
const std::initializer_list<std::string_view> languages = {
    "English", "Spanish", "Mandarin Chinese", "Japanese",   "Korean",     "Arabic", "Farsi",
    "Hebrew",  "French",  "Tagalog",          "Vietnamese", "Portuguese", "Russian"};

bool one_of(std::string_view v, std::initializer_list<std::string_view> set) {
    return std::find(set.begin(), set.end(), v) != set.end();
}

bool is_uuid(std::string_view s) {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
            return false;
        }
    }
    return true;
}

// q-{timestamp}-{index}
bool is_question_id(std::string_view s) {
    if (!s.starts_with("q-")) return false;
    s.remove_prefix(2);
    const auto dash = s.find('-');
    if (dash == 0 || dash == std::string_view::npos || dash + 1 == s.size()) return false;
    for (std::size_t i = 0; i < s.size(); ++i)
        if (i != dash && !std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    return true;
}

std::size_t code_points(std::string_view s) {
    return static_cast<std::size_t>(std::count_if(
        s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

using problems = std::vector<std::pair<std::string, std::string>>;  // field, message

json::value details_of(const problems& p) {
    json::array fields;
    for (const auto& [f, m] : p) fields.emplace_back(json::object{{"field", f}, {"message", m}});
    return json::object{{"fields", std::move(fields)}};
}

std::string joined(const problems& p) {
    std::string s;
    for (const auto& [f, m] : p) s += (s.empty() ? "" : "; ") + f + ": " + m;
    return s;
}

void check_questions(const json::object& o, problems& out, bool required) {
    const auto* q = o.if_contains("selected_question_ids");
    if (!q) {
        if (required)
            out.emplace_back("selected_question_ids", "required: an array of question ids");
        return;
    }
    if (!q->is_array() || q->get_array().empty()) {
        out.emplace_back("selected_question_ids", "must be an array of at least 1 question id");
        return;
    }
    for (const auto& id : q->get_array())
        if (!id.is_string() || !is_question_id(id.get_string())) {
            out.emplace_back("selected_question_ids",
                             "each id must look like q-{timestamp}-{index}");
            return;
        }
}

void check_string(const json::object& o, std::string_view field, problems& out,
                  std::size_t max_chars = 0) {
    const auto* v = o.if_contains(field);
    if (!v || v->is_null()) return;
    if (!v->is_string())
        out.emplace_back(std::string(field), "must be a string");
    else if (max_chars && code_points(v->get_string()) > max_chars)
        out.emplace_back(std::string(field),
                         "must be at most " + std::to_string(max_chars) + " characters");
}

void check_enum(const json::object& o, std::string_view field,
                std::initializer_list<std::string_view> set, problems& out, bool required = false) {
    const auto* v = o.if_contains(field);
    if (!v) {
        if (required) out.emplace_back(std::string(field), "required");
        return;
    }
    if (!v->is_string() || !one_of(v->get_string(), set)) {
        std::string list;
        for (auto s : set) list += (list.empty() ? "" : ", ") + std::string(s);
        out.emplace_back(std::string(field), "must be one of: " + list);
    }
}

// The fields of Create content (PROVIDERS §2.2); a batch item accepts the same.
problems validate_item(const json::value& v) {
    problems p;
    if (!v.is_object()) {
        p.emplace_back("item", "must be an object");
        return p;
    }
    const auto& o = v.get_object();
    const auto* idc = o.if_contains("ideacloud_id");
    if (!idc)
        p.emplace_back("ideacloud_id", "required");
    else if (!idc->is_string() || !is_uuid(idc->get_string()))
        p.emplace_back("ideacloud_id", "must be a UUID");
    check_enum(o, "article_type", article_types, p, true);
    check_questions(o, p, false);
    check_string(o, "brand_voice_id", p);
    check_string(o, "title", p, 500);
    check_enum(o, "content_intent", {"fixed_ops", "variable", "general"}, p);
    check_enum(o, "mode", {"simple", "interactive"}, p);
    check_enum(o, "language", languages, p);
    check_string(o, "content_depth", p);
    for (const char* f : {"auto_compliance", "auto_content_tools"})
        if (const auto* b = o.if_contains(f); b && !b->is_bool())
            p.emplace_back(f, "must be a boolean");
    if (const auto* n = o.if_contains("content_length");
        n && !(n->is_int64() && n->get_int64() > 0) && !n->is_uint64())
        p.emplace_back("content_length", "must be a positive integer");
    return p;
}

std::optional<json::object> parse_object(const request& req) {
    boost::system::error_code ec;
    json::value v = json::parse(req.body(), ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.get_object());
}

std::optional<std::string> param(const api::exchange& ex, std::string_view name) {
    return query_param(ex.url, name);
}

handler_result data_reply(sim_state& st, http::status status, json::value data) {
    return json_response(st, status, json::object{{"data", std::move(data)}});
}

void classify(api::exchange& ex, http::verb method) {
    const auto& s = ex.segs;
    const std::string m(http::to_string(method));
    auto is = [&](http::verb v, std::initializer_list<std::string_view> shape,
                  std::string_view route, unsigned family, scope needs) {
        if (method != v || !path_matches(s, shape)) return false;
        ex.route = m + " " + std::string(base_path) + "/" + std::string(route);
        ex.family = family;
        ex.needs = needs;
        return true;
    };
    using v = http::verb;
    // fail-5xx families: batch = the POSTs that create or generate, runs = status reads, other =
    // outputs.
    is(v::post, {"content", "batch"}, "content/batch", family_batch, scope::write) ||
        is(v::post, {"content"}, "content", family_batch, scope::write) ||
        is(v::post, {"content", "*", "generate"}, "content/{id}/generate", family_batch,
           scope::write) ||
        is(v::get, {"content"}, "content", family_runs, scope::read) ||
        is(v::get, {"content", "*"}, "content/{id}", family_runs, scope::read) ||
        is(v::get, {"content", "*", "html"}, "content/{id}/html", family_other, scope::read) ||
        is(v::get, {"content", "*", "components"}, "content/{id}/components", family_other,
           scope::read);
    if (ex.route.empty()) ex.route = m + " " + std::string(base_path) + "/*";
}

std::int64_t epoch_after(clock::duration d) {
    const auto at = std::chrono::system_clock::now() +
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
    return (ms + 999) / 1000;
}

json::object created_json(const item& it) {
    const bool waiting = it.status_at(it.created) == item_status::awaiting_input;
    return {{"id", it.id},
            {"status", waiting ? "awaiting_input" : "generating"},
            {"article_type", it.article_type},
            {"title", it.title},
            {"created_at", iso_micros(it.created_wall)},
            {"message", waiting ? interactive_message : generation_message}};
}

const hrizn_key_spec* find_key(const hrizn_settings& s, std::string_view key) {
    for (const auto& k : s.keys)
        if (k.key == key) return &k;
    return nullptr;
}

std::string_view key_state_name(hrizn_key_state s) {
    return s == hrizn_key_state::expired   ? "expired"
           : s == hrizn_key_state::revoked ? "revoked"
                                           : "active";
}

}  // namespace

api::api(sim_state& st, content_store& store)
    : st_(st),
      store_(store),
      limits_(st.opt.hrizn.rate_limit, st.real(st.opt.hrizn.rate_window_s), st.opt.hrizn.rate,
              st.opt.hrizn.daily_cap, st.real(st.opt.hrizn.day_s), st.started) {}

void api::reset_limits() {
    const auto& h = st_.opt.hrizn;
    limits_ = key_limits(h.rate_limit, st_.real(h.rate_window_s), h.rate, h.daily_cap,
                         st_.real(h.day_s), clock::now());
}

handler_result api::error_reply(const exchange& ex, http::status status, std::string_view code,
                                std::string_view message, json::value details) const {
    json::object e{{"code", code}, {"message", message}};
    if (!details.is_null()) e["details"] = std::move(details);
    e["request_id"] = ex.request_id;
    return json_response(st_, status, json::object{{"error", std::move(e)}});
}

asio::awaitable<handler_result> api::handle(request_context& ctx) {
    auto& c = st_.counters.hrizn;
    exchange ex{ctx, {}, family_other, scope::none, "req_" + sim_state::uuid(st_.request_rng),
                {},  {}, std::nullopt, std::nullopt};
    if (auto u = urls::parse_origin_form(ctx.req.target())) {
        ex.url = *u;
        auto segs = u->segments();
        auto it = segs.begin();
        if (it != segs.end() && *it == "v1" && ++it != segs.end() && *it == "public") {
            for (++it; it != segs.end(); ++it) ex.segs.push_back(*it);
            classify(ex, ctx.req.method());
        }
    }
    if (ex.route.empty()) ex.route = std::string(ctx.req.method_string()) + " /*";

    co_await slow_headers(st_, provider_hrizn);
    const auto now = clock::now();
    const auto& cfg = st_.opt.hrizn;

    std::string key;
    if (auto it = ctx.req.find("X-API-Key"); it != ctx.req.end()) key = std::string(it->value());
    {
        // A Lamina key must never reach Hrizn, whichever header carries it.
        std::string auth;
        if (auto it = ctx.req.find(http::field::authorization); it != ctx.req.end())
            auth = std::string(it->value());
        auto lamina = [&](std::string_view k) {
            if (k.empty()) return false;
            if (k.starts_with("lma_")) return true;
            for (const auto& l : st_.opt.keys)
                if (k.find(l) != std::string_view::npos) return true;
            return false;
        };
        if (lamina(key) || lamina(auth)) ++c.lamina_key_on_hrizn;
    }
    const hrizn_key_spec* spec = key.empty() ? nullptr : find_key(cfg, key);
    // Budgets are per API key; requests without a known key share one per client address.
    const std::string bucket = spec ? "key:" + key : "client:" + ctx.client;

    std::optional<handler_result> result;
    auto too_many = [&](clock::duration wait) {
        const auto secs = std::max<std::int64_t>(1, ceil_seconds(wait));
        handler_result r =
            error_reply(ex, http::status::too_many_requests, "rate_limit_exceeded",
                        "Rate limit exceeded. Retry after " + std::to_string(secs) + " seconds.",
                        json::object{{"retry_after", secs}});
        std::get<response>(r).set(http::field::retry_after, std::to_string(secs));
        return r;
    };
    if (auto storm = storm_left(st_, now, provider_hrizn)) {
        ex.rate = limit_decision{limit_verdict::over_minute, cfg.rate_limit, 0, *storm};
        ++c.storm_429;
        result = too_many(*storm);
    } else {
        ex.rate = limits_.hit(bucket, now);
        if (ex.rate->verdict == limit_verdict::over_day) ++c.over_daily_cap;
        if (ex.rate->verdict == limit_verdict::over_minute) ++c.over_limit;
        if (ex.rate->verdict != limit_verdict::allowed) result = too_many(ex.rate->reset);
    }
    if (!result) {
        if (key.empty())
            result = error_reply(ex, http::status::unauthorized, "unauthorized",
                                 "Missing API key. Send it in the X-API-Key header.");
        else if (!spec)
            result =
                error_reply(ex, http::status::unauthorized, "unauthorized", "Invalid API key.");
        else if (spec->state == hrizn_key_state::expired)
            result = error_reply(ex, http::status::unauthorized, "key_expired",
                                 "This API key has expired.");
        else if (spec->state == hrizn_key_state::revoked)
            result = error_reply(ex, http::status::unauthorized, "key_revoked",
                                 "This API key has been revoked.");
        else if ((ex.needs == scope::read && !spec->can_read) ||
                 (ex.needs == scope::write && !spec->can_write)) {
            const char* needed = ex.needs == scope::read ? "content:read" : "content:write";
            result = error_reply(
                ex, http::status::forbidden, "forbidden",
                std::string("This API key requires one of the following scopes: ") + needed,
                json::object{{"required_scopes", json::array{needed}}});
        } else {
            ex.key = key;
        }
    }
    if (!result && draw_fail_5xx(st_, ex.family, provider_hrizn)) {
        ++c.faults_5xx;
        result = error_reply(ex, http::status::internal_server_error, "internal_error",
                             "Internal server error.");
    }
    if (!result) {
        const auto idem = ctx.req.find("X-Idempotency-Key");
        result = ctx.req.method() == http::verb::post && idem != ctx.req.end()
                     ? idempotent(ex, idem->value())
                     : dispatch(ex);
    }

    auto& res = std::get<response>(*result);
    res.set("X-RateLimit-Limit", std::to_string(ex.rate->limit));
    res.set("X-RateLimit-Remaining", std::to_string(ex.rate->remaining));
    res.set("X-RateLimit-Reset", std::to_string(epoch_after(ex.rate->reset)));
    const unsigned code = res.result_int();
    if (code == 429) ++c.responses_429;
    c.requests.count(ex.route, code);
    if (res[http::field::content_type].starts_with("application/json") &&
        maybe_malform(st_, res, provider_hrizn))
        ++c.malformed_bodies;
    co_return std::move(*result);
}

handler_result api::idempotent(exchange& ex, std::string_view idem_key) {
    auto& c = st_.counters.hrizn;
    if (idem_key.empty() || idem_key.size() > 256)
        return error_reply(ex, http::status::bad_request, "validation_error",
                           "X-Idempotency-Key must be 1 to 256 characters.",
                           details_of({{"X-Idempotency-Key", "must be 1 to 256 characters"}}));
    const auto now = clock::now();
    boost::system::error_code ec;
    const json::value body = json::parse(ex.ctx.req.body(), ec);
    const std::string fingerprint =
        std::string(ex.ctx.req.target()) + "\n" + (ec ? ex.ctx.req.body() : canonical_json(body));
    const std::string slot = ex.key + "\n" + std::string(idem_key);
    if (auto it = idempotency_.find(slot); it != idempotency_.end()) {
        if (it->second.expires <= now) {
            idempotency_.erase(it);
        } else if (it->second.fingerprint != fingerprint) {
            ++c.idempotency_conflicts;
            return error_reply(
                ex, http::status::conflict, "idempotency_conflict",
                "This idempotency key was already used with different request parameters.");
        } else {
            ++c.idempotent_replays;
            return it->second.res;
        }
    }
    handler_result r = dispatch(ex);
    if (const auto& res = std::get<response>(r); res.result_int() / 100 == 2) {
        // Expired entries otherwise go only when their key comes back: sweep now and then.
        if (idempotency_.size() >= 4096)
            std::erase_if(idempotency_, [&](const auto& e) { return e.second.expires <= now; });
        idempotency_[slot] = {fingerprint, now + st_.real(st_.opt.hrizn.idempotency_s), res};
    }
    return r;
}

handler_result api::dispatch(exchange& ex) {
    const std::string_view r = ex.route;
    if (r == "POST /v1/public/content/batch") return batch(ex);
    if (r == "POST /v1/public/content") return create(ex);
    if (r == "GET /v1/public/content") return list(ex);
    if (subscriptions && ex.needs == scope::none && ex.url) {
        const std::string full = ex.url->path();
        std::string_view path = full;
        path.remove_prefix(std::min(path.size(), base_path.size()));
        if (auto res = subscriptions(ex.ctx.req, path, ex.key)) return std::move(*res);
    }
    if (ex.needs != scope::none) {
        item* it = store_.find(ex.segs[1], ex.key);
        if (!it) return error_reply(ex, http::status::not_found, "not_found", "Content not found.");
        const auto now = clock::now();
        if (r == "GET /v1/public/content/{id}")
            return data_reply(st_, http::status::ok, store_.to_json(*it, now));
        if (r == "POST /v1/public/content/{id}/generate") return generate(ex, *it);
        if (r == "GET /v1/public/content/{id}/html") return html(ex, *it);
        if (r == "GET /v1/public/content/{id}/components")
            return data_reply(st_, http::status::ok, store_.components_json(*it, now));
    }
    return error_reply(ex, http::status::not_found, "not_found", "Route not found.");
}

handler_result api::batch(exchange& ex) {
    auto& c = st_.counters.hrizn;
    auto body = parse_object(ex.ctx.req);
    if (!body)
        return error_reply(ex, http::status::bad_request, "validation_error",
                           "Request body must be a JSON object.",
                           details_of({{"body", "must be a JSON object"}}));
    const auto* items = body->if_contains("items");
    if (!items || !items->is_array() || items->get_array().empty() ||
        items->get_array().size() > 10)
        return error_reply(ex, http::status::bad_request, "validation_error",
                           "items must contain 1 to 10 items.",
                           details_of({{"items", "required array of 1 to 10 items"}}));
    ++c.batches;
    c.batch_items += items->get_array().size();
    const auto now = clock::now();
    json::array out;
    for (const auto& v : items->get_array()) {
        const problems p = validate_item(v);
        if (p.empty()) {
            out.emplace_back(created_json(store_.create(ex.key, v.get_object(), now)));
            continue;
        }
        // A failed item has no id; its shape is unknown (PROVIDERS §2.2), so it is switchable.
        ++c.items_rejected;
        json::object failed;
        if (const auto* o = v.if_object()) {
            for (const char* f : {"article_type", "title"})
                if (const auto* x = o->if_contains(f); x && x->is_string()) failed[f] = *x;
        }
        if (st_.opt.hrizn.item_error == hrizn_item_error::status) {
            failed["status"] = "failed";
            failed["error"] = joined(p);
        } else {
            failed["error"] = {{"code", "validation_error"}, {"message", joined(p)}};
        }
        out.emplace_back(std::move(failed));
    }
    return data_reply(st_, http::status::accepted,
                      json::object{{"items", std::move(out)}, {"message", generation_message}});
}

handler_result api::create(exchange& ex) {
    auto body = parse_object(ex.ctx.req);
    if (!body)
        return error_reply(ex, http::status::bad_request, "validation_error",
                           "Request body must be a JSON object.",
                           details_of({{"body", "must be a JSON object"}}));
    const problems p = validate_item(*body);
    if (!p.empty())
        return error_reply(ex, http::status::bad_request, "validation_error", joined(p),
                           details_of(p));
    return data_reply(st_, http::status::accepted,
                      created_json(store_.create(ex.key, *body, clock::now())));
}

handler_result api::generate(exchange& ex, item& it) {
    const auto now = clock::now();
    if (const auto s = it.status_at(now); s != item_status::awaiting_input)
        return error_reply(
            ex, http::status::conflict, "conflict",
            "Content is not awaiting input (status: " + std::string(to_string(s)) + ").",
            json::object{{"status", to_string(s)}});
    auto body = parse_object(ex.ctx.req);
    if (!body)
        return error_reply(ex, http::status::bad_request, "validation_error",
                           "Request body must be a JSON object.",
                           details_of({{"body", "must be a JSON object"}}));
    problems p;
    check_questions(*body, p, true);
    check_string(*body, "brand_voice_id", p);
    check_string(*body, "title", p, 500);
    if (!p.empty())
        return error_reply(ex, http::status::bad_request, "validation_error", joined(p),
                           details_of(p));
    if (const auto* t = body->if_contains("title"); t && t->is_string())
        it.title = std::string(t->get_string());
    store_.start_generation(it, now);
    return data_reply(
        st_, http::status::accepted,
        json::object{{"id", it.id}, {"status", "generating"}, {"message", generation_message}});
}

handler_result api::list(exchange& ex) {
    problems p;
    std::size_t limit = 25;
    if (auto l = param(ex, "limit")) {
        auto r = std::from_chars(l->data(), l->data() + l->size(), limit);
        if (r.ec != std::errc{} || r.ptr != l->data() + l->size() || limit < 1 || limit > 100)
            p.emplace_back("limit", "must be an integer from 1 to 100");
    }
    // The cursor is opaque to clients: "c" + the sequence number of the last item they got.
    std::uint64_t before = UINT64_MAX;
    if (auto cur = param(ex, "cursor"); cur && !cur->empty()) {
        auto r = cur->size() > 1 && (*cur)[0] == 'c'
                     ? std::from_chars(cur->data() + 1, cur->data() + cur->size(), before)
                     : std::from_chars_result{cur->data(), std::errc::invalid_argument};
        if (r.ec != std::errc{} || r.ptr != cur->data() + cur->size())
            p.emplace_back("cursor", "invalid cursor");
    }
    const std::string type = param(ex, "article_type").value_or("");
    if (!type.empty() && !one_of(type, article_types))
        p.emplace_back("article_type", "unknown article type");
    if (!p.empty())
        return error_reply(ex, http::status::bad_request, "validation_error", joined(p),
                           details_of(p));

    std::size_t total = 0;
    auto page = store_.list(ex.key, type, before, limit + 1, total);
    const bool more = page.size() > limit;
    if (more) page.pop_back();
    const auto now = clock::now();
    json::array data;
    for (const item* it : page) data.emplace_back(store_.to_json(*it, now));
    json::object pagination;
    pagination["has_more"] = more;
    pagination["next_cursor"] =
        more ? json::value("c" + std::to_string(page.back()->seq)) : json::value(nullptr);
    pagination["total_count"] = total;
    return json_response(
        st_, http::status::ok,
        json::object{{"data", std::move(data)}, {"pagination", std::move(pagination)}});
}

handler_result api::html(exchange& ex, const item& it) {
    const auto s = it.status_at(clock::now());
    if (s != item_status::complete)
        return error_reply(ex, http::status::conflict, "content_not_ready",
                           "Content is not complete (status: " + std::string(to_string(s)) + ").",
                           json::object{{"status", to_string(s)}});
    if (st_.opt.hrizn.html == hrizn_html_form::json)
        return data_reply(st_, http::status::ok, json::object{{"html", store_.html(it)}});
    response r{http::status::ok, 11};
    r.set(http::field::content_type, "text/html; charset=utf-8");
    r.body() = store_.html(it);
    return r;
}

handler_result api::control(const request& req) {
    auto reply = [](http::status s, json::value v) {
        response r{s, 11};
        r.set(http::field::content_type, "application/json");
        r.body() = json::serialize(v);
        return handler_result{std::move(r)};
    };
    auto settings_json = [&] {
        const auto& h = st_.opt.hrizn;
        json::object keys;
        for (const auto& k : h.keys) {
            json::array scopes;
            if (k.can_read) scopes.emplace_back("content:read");
            if (k.can_write) scopes.emplace_back("content:write");
            keys[k.key] = {{"state", key_state_name(k.state)}, {"scopes", std::move(scopes)}};
        }
        return json::object{
            {"keys", std::move(keys)},
            {"rate_limit", h.rate_limit},
            {"rate_window_s", h.rate_window_s},
            {"rate_mode", h.rate == rate_mode::strict ? "strict" : "sliding"},
            {"daily_cap", h.daily_cap},
            {"day_s", h.day_s},
            {"gen_seconds", h.gen_seconds},
            {"idempotency_s", h.idempotency_s},
            {"item_error", h.item_error == hrizn_item_error::status ? "status" : "object"},
            {"html", h.html == hrizn_html_form::html ? "html" : "json"}};
    };
    if (req.method() == http::verb::get) return reply(http::status::ok, settings_json());
    if (req.method() != http::verb::post)
        return reply(http::status::not_found, {{"error", "GET or POST /_sim/hrizn"}});
    auto body = parse_object(req);
    if (!body) return reply(http::status::bad_request, {{"error", "body must be a JSON object"}});

    hrizn_settings h = st_.opt.hrizn;
    bool limits_changed = false;
    std::string error;
    auto number = [&](const json::value& v, double& out, double min) {
        if (!v.is_number() || v.to_number<double>() < min) return false;
        out = v.to_number<double>();
        return true;
    };
    for (const auto& [name, v] : *body) {
        double d = 0;
        bool ok = true;
        if (name == "rate_limit" && (ok = number(v, d, 0)))
            h.rate_limit = static_cast<unsigned>(d);
        else if (name == "rate_window_s" && (ok = number(v, d, 1e-9)))
            h.rate_window_s = d;
        else if (name == "daily_cap" && (ok = number(v, d, 0)))
            h.daily_cap = static_cast<std::uint64_t>(d);
        else if (name == "day_s" && (ok = number(v, d, 1e-9)))
            h.day_s = d;
        else if (name == "gen_seconds" && (ok = number(v, d, 0)))
            h.gen_seconds = d;
        else if (name == "idempotency_s" && (ok = number(v, d, 1e-9)))
            h.idempotency_s = d;
        else if (name == "rate_mode") {
            ok = v == "strict" || v == "sliding";
            if (ok) h.rate = v == "strict" ? rate_mode::strict : rate_mode::sliding;
        } else if (name == "item_error") {
            ok = v == "status" || v == "object";
            if (ok)
                h.item_error = v == "status" ? hrizn_item_error::status : hrizn_item_error::object;
        } else if (name == "html") {
            ok = v == "html" || v == "json";
            if (ok) h.html = v == "html" ? hrizn_html_form::html : hrizn_html_form::json;
        } else if (name == "keys") {
            // {"<key>": {"state": "active"|"expired"|"revoked", "scopes": ["content:read", ...]}}
            ok = v.is_object();
            for (const auto& [k, spec_v] : ok ? v.get_object() : json::object{}) {
                hrizn_key_spec spec;
                if (!parse_hrizn_key(k, spec, error) || !spec_v.is_object()) {
                    ok = false;
                    break;
                }
                if (auto* old = find_key(h, k)) spec = *old;
                const auto& so = spec_v.get_object();
                if (const auto* st = so.if_contains("state")) {
                    if (*st == "active")
                        spec.state = hrizn_key_state::active;
                    else if (*st == "expired")
                        spec.state = hrizn_key_state::expired;
                    else if (*st == "revoked")
                        spec.state = hrizn_key_state::revoked;
                    else
                        ok = false;
                }
                if (const auto* sc = so.if_contains("scopes")) {
                    ok = ok && sc->is_array();
                    spec.can_read = spec.can_write = false;
                    for (const auto& s : ok ? sc->get_array() : json::array{}) {
                        if (s == "content:read")
                            spec.can_read = true;
                        else if (s == "content:write")
                            spec.can_write = true;
                        else
                            ok = false;
                    }
                }
                if (!ok) break;
                std::erase_if(h.keys, [&](const hrizn_key_spec& x) { return x.key == spec.key; });
                h.keys.push_back(spec);
            }
        } else
            ok = false;
        if (!ok)
            return reply(http::status::bad_request,
                         {{"error", "bad or unknown member: " + std::string(name) +
                                        (error.empty() ? "" : " (" + error + ")")}});
        limits_changed = limits_changed || name == "rate_limit" || name == "rate_window_s" ||
                         name == "rate_mode" || name == "daily_cap" || name == "day_s";
    }
    st_.opt.hrizn = h;
    if (limits_changed) reset_limits();
    return reply(http::status::ok, settings_json());
}

}  // namespace briefd::sim::hrizn
