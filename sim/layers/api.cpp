#include "api.hpp"

#include "../hrizn/content.hpp"
#include "../png.hpp"

#include <boost/url.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>

// GCC 12 mis-pairs Asio's awaitable frame operator new/delete in large coroutines and warns
// (-Wmismatched-new-delete, GCC PR 109224); the pair is Asio's own and matches.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace briefd::sim::layers {

namespace json = boost::json;
namespace urls = boost::urls;
using clock = std::chrono::steady_clock;

enum class scope { none, content_read, content_write, jobs_read };

/// One request as it moves through the pipeline.
struct api::exchange {
    request_context& ctx;
    std::string route;  ///< "METHOD /v1/template", the stats key
    bucket_class cls = bucket_class::read_light;
    unsigned family = family_other;
    scope needs = scope::none;
    std::string request_id;
    std::string key;                ///< the key of an accepted request
    std::vector<std::string> segs;  ///< decoded path segments
    std::optional<urls::url_view> url;
    limit_decision rate;
};

namespace {

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

std::string lower(std::string_view s) {
    std::string o(s);
    for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
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

void check_string(const json::object& o, std::string_view name, std::string_view path,
                  problems& out) {
    const auto* v = o.if_contains(name);
    if (v && !v->is_null() && !v->is_string())
        out.emplace_back(std::string(path), "must be a string");
}

void check_strings(const json::object& o, std::string_view name, std::string_view path,
                   std::size_t max, problems& out, bool platforms = false) {
    const auto* v = o.if_contains(name);
    if (!v || v->is_null()) return;
    if (!v->is_array() || v->get_array().size() > max) {
        out.emplace_back(std::string(path),
                         "must be an array of at most " + std::to_string(max) + " strings");
        return;
    }
    for (const auto& e : v->get_array()) {
        if (!e.is_string()) {
            out.emplace_back(std::string(path), "must contain strings");
            return;
        }
        if (platforms && e != "instagram" && e != "tiktok" && e != "youtube") {
            out.emplace_back(std::string(path), "each must be one of: instagram, tiktok, youtube");
            return;
        }
    }
}

// The generate body (seed 003); `variants` gets variantCount.
problems validate_generate(const json::object& o, unsigned& variants) {
    problems p;
    variants = 1;
    if (const auto* id = o.if_contains("id"); id && !(id->is_string() && is_uuid(id->get_string())))
        p.emplace_back("id", "must be a UUID");
    check_string(o, "projectLayerId", "projectLayerId", p);
    check_string(o, "format", "format", p);
    if (const auto* n = o.if_contains("variantCount")) {
        const bool ok = n->is_int64() && n->get_int64() >= 1 && n->get_int64() <= 5;
        if (!ok)
            p.emplace_back("variantCount", "must be an integer from 1 to 5");
        else
            variants = static_cast<unsigned>(n->get_int64());
    }
    const auto* b = o.if_contains("brief");
    if (!b || !b->is_object()) {
        p.emplace_back("brief", "required: an object");
    } else {
        const auto& brief = b->get_object();
        for (const char* f : {"topic", "angle", "cta", "hook", "influencerId", "language"})
            check_string(brief, f, "brief." + std::string(f), p);
        check_strings(brief, "valuePropositions", "brief.valuePropositions", 20, p);
        check_strings(brief, "targetPlatforms", "brief.targetPlatforms", 3, p, true);
        check_strings(brief, "themeTags", "brief.themeTags", 50, p);
        check_strings(brief, "referenceMediaIds", "brief.referenceMediaIds", 50, p);
    }
    check_strings(o, "targetPlatforms", "targetPlatforms", 3, p, true);
    for (const char* f : {"references", "budget", "metadata"})
        if (const auto* v = o.if_contains(f); v && !v->is_null() && !v->is_object())
            p.emplace_back(f, "must be an object");
    return p;
}

std::optional<json::object> parse_object(const std::string& body) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.get_object());
}

void classify(api::exchange& ex, http::verb method) {
    const auto& s = ex.segs;
    const std::string m(http::to_string(method));
    auto is = [&](http::verb v, std::initializer_list<std::string_view> shape,
                  std::string_view route, bucket_class cls, unsigned family, scope needs) {
        if (method != v || !path_matches(s, shape)) return false;
        ex.route = m + " " + std::string(route);
        ex.cls = cls;
        ex.family = family;
        ex.needs = needs;
        return true;
    };
    using v = http::verb;
    using b = bucket_class;
    // fail-5xx families: batch = generate, runs = job and container reads, other = the rest.
    is(v::post, {"v1", "projects", "*", "content"}, "/v1/projects/{projectId}/content",
       b::long_running, family_batch, scope::content_write) ||
        is(v::get, {"v1", "projects", "*", "content"}, "/v1/projects/{projectId}/content",
           b::read_light, family_runs, scope::content_read) ||
        is(v::get, {"v1", "jobs", "*"}, "/v1/jobs/{jobId}", b::read_light, family_runs,
           scope::jobs_read) ||
        is(v::get, {"v1", "content", "*"}, "/v1/content/{containerId}", b::read_light, family_runs,
           scope::content_read) ||
        is(v::get, {"v1", "content", "*", "assets", "*"},
           "/v1/content/{containerId}/assets/{assetId}", b::read_light, family_other,
           scope::content_read) ||
        is(v::post, {"v1", "content", "*", "approve"}, "/v1/content/{containerId}/approve",
           b::write_light, family_other, scope::content_write) ||
        is(v::post, {"v1", "content", "*", "reject"}, "/v1/content/{containerId}/reject",
           b::write_light, family_other, scope::content_write) ||
        is(v::get, {"v1", "whoami"}, "/v1/whoami", b::read_light, family_other, scope::none);
    if (ex.route.empty()) {
        ex.route = m + " /*";
        ex.cls = method == http::verb::get || method == http::verb::head ? b::read_light
                                                                         : b::write_light;
    }
}

std::int64_t epoch_after(clock::duration d) {
    const auto at = std::chrono::system_clock::now() +
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
    return (ms + 999) / 1000;
}

const layers_key_spec* find_key(const layers_settings& s, std::string_view key) {
    for (const auto& k : s.keys)
        if (k.key == key) return &k;
    return nullptr;
}

bool has_scope(const layers_key_spec& k, scope s) {
    switch (s) {
        case scope::none:
            return true;
        case scope::content_read:
            return k.content_read;
        case scope::content_write:
            return k.content_write;
        case scope::jobs_read:
            return k.jobs_read;
    }
    return false;
}

std::string_view scope_name(scope s) {
    return s == scope::content_read    ? "content:read"
           : s == scope::content_write ? "content:write"
           : s == scope::jobs_read     ? "jobs:read"
                                       : "";
}

json::array scopes_json(const layers_key_spec& k) {
    if (k.content_read && k.content_write && k.jobs_read) return {"*"};
    json::array a;
    if (k.content_read) a.emplace_back("content:read");
    if (k.content_write) a.emplace_back("content:write");
    if (k.jobs_read) a.emplace_back("jobs:read");
    return a;
}

// A strong ETag over the body bytes: CRC-32 and length.
std::string etag_of(std::string_view body) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "\"%08x-%zx\"", crc32(body), body.size());
    return buf;
}

bool etag_matches(std::string_view header, std::string_view etag) {
    // A comma list of (possibly weak) tags, or "*".
    while (!header.empty()) {
        const auto comma = header.find(',');
        std::string_view t = header.substr(0, comma);
        while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
        while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
        if (t.starts_with("W/")) t.remove_prefix(2);
        if (t == "*" || t == etag) return true;
        header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    }
    return false;
}

}  // namespace

api::api(sim_state& st)
    : st_(st),
      measurer_(st, {}),
      store_(st,
             [this](asset& a) {
                 const file_spec spec{a.mime, a.seed};
                 a.size = measurer_.body_size(spec);
                 a.sha256 = measurer_.sha256_hex(spec);
             }),
      limits_({st.opt.layers.read_rpm, st.opt.layers.write_rpm, st.opt.layers.long_rpm},
              st.real(st.opt.layers.window_s), st.opt.layers.daily_write_cap,
              st.real(st.opt.layers.day_s), st.started) {}

void api::reset_limits() {
    const auto& l = st_.opt.layers;
    limits_ = class_limits({l.read_rpm, l.write_rpm, l.long_rpm}, st_.real(l.window_s),
                           l.daily_write_cap, st_.real(l.day_s), clock::now());
}

handler_result api::error_reply(const exchange& ex, http::status status, std::string_view code,
                                std::string_view message, json::value details) const {
    json::object e{{"code", code},
                   {"message", message},
                   {"requestId", ex.request_id},
                   {"details", std::move(details)}};
    return json_response(st_, status, json::object{{"error", std::move(e)}});
}

asio::awaitable<handler_result> api::handle(request_context& ctx) {
    auto& c = st_.counters.layers;
    const auto& cfg = st_.opt.layers;
    exchange ex{ctx,
                {},
                bucket_class::read_light,
                family_other,
                scope::none,
                prefixed_id("req_", st_.request_rng),
                {},
                {},
                std::nullopt,
                {}};
    if (auto u = urls::parse_origin_form(ctx.req.target())) {
        ex.url = *u;
        for (auto seg : u->segments()) ex.segs.push_back(seg);
    }
    classify(ex, ctx.req.method());

    co_await slow_headers(st_, provider_layers);
    const auto now = clock::now();

    std::string auth, x_api_key;
    if (auto it = ctx.req.find(http::field::authorization); it != ctx.req.end())
        auth = std::string(it->value());
    if (auto it = ctx.req.find("X-Api-Key"); it != ctx.req.end())
        x_api_key = std::string(it->value());
    {
        // Neither a Lamina nor a Hrizn key belongs here, whichever header carries it.
        auto foreign = [&](std::string_view k) {
            if (k.empty()) return false;
            if (k.find("lma_") != std::string_view::npos ||
                k.find("hzk_") != std::string_view::npos)
                return true;
            for (const auto& l : st_.opt.keys)
                if (k.find(l) != std::string_view::npos) return true;
            return false;
        };
        if (foreign(auth) || foreign(x_api_key)) ++c.foreign_key_on_layers;
    }
    // Newer docs: Bearer only. Older docs: X-Api-Key first, Bearer as the fallback.
    std::string key;
    if (cfg.accept_x_api_key && !x_api_key.empty())
        key = x_api_key;
    else if (lower(auth.substr(0, 7)) == "bearer ")
        key = auth.substr(7);
    const layers_key_spec* spec = key.empty() ? nullptr : find_key(cfg, key);
    // Budgets are per API key; requests without a known key share one per client address.
    const std::string bucket = spec ? "key:" + key : "client:" + ctx.client;

    std::optional<handler_result> result;
    auto too_many = [&](clock::duration wait, json::object details) {
        const auto secs = std::max<std::int64_t>(1, ceil_seconds(wait));
        details["retryAfter"] = secs;
        handler_result r =
            error_reply(ex, http::status::too_many_requests, "RATE_LIMITED",
                        "Rate limit exceeded. Retry after " + std::to_string(secs) + " seconds.",
                        std::move(details));
        std::get<response>(r).set(http::field::retry_after, std::to_string(secs));
        return r;
    };
    const std::string cls(to_string(ex.cls));
    if (auto storm = storm_left(st_, now, provider_layers)) {
        ex.rate = {limit_verdict::over_class, 0, 0, *storm};
        ex.rate.limit = ex.cls == bucket_class::read_light    ? cfg.read_rpm
                        : ex.cls == bucket_class::write_light ? cfg.write_rpm
                                                              : cfg.long_rpm;
        ++c.storm_429;
        result = too_many(*storm, {{"class", cls}});
    } else {
        ex.rate = limits_.hit(bucket, ex.cls, now);
        if (ex.rate.verdict == limit_verdict::over_day) {
            ++c.over_daily_cap;
            result = too_many(ex.rate.reset, {{"class", cls}, {"scope", "daily_write_cap"}});
        } else if (ex.rate.verdict == limit_verdict::over_class) {
            ++(ex.cls == bucket_class::read_light    ? c.over_read_light
               : ex.cls == bucket_class::write_light ? c.over_write_light
                                                     : c.over_long_running);
            result = too_many(ex.rate.reset, {{"class", cls}});
        }
    }
    if (!result) {
        if (key.empty())
            result = error_reply(ex, http::status::unauthorized, "UNAUTHENTICATED",
                                 "Missing API key. Send it as Authorization: Bearer <key>.");
        else if (!spec)
            result =
                error_reply(ex, http::status::unauthorized, "UNAUTHENTICATED", "Invalid API key.");
        else if (cfg.enforce_scopes && !has_scope(*spec, ex.needs))
            result = error_reply(
                ex, http::status::forbidden, "FORBIDDEN_SCOPE",
                "This API key lacks the scope " + std::string(scope_name(ex.needs)) + ".",
                json::object{{"requiredScope", scope_name(ex.needs)}});
        else
            ex.key = key;
    }
    if (!result && draw_fail_5xx(st_, ex.family, provider_layers)) {
        ++c.faults_5xx;
        result = error_reply(ex, http::status::internal_server_error, "INTERNAL",
                             "Internal server error.");
    }
    if (!result) {
        const auto idem = ctx.req.find("Idempotency-Key");
        result = ctx.req.method() == http::verb::post && idem != ctx.req.end()
                     ? idempotent(ex, idem->value())
                     : dispatch(ex);
    }

    auto& res = std::get<response>(*result);
    if (cfg.ratelimit_headers) {
        res.set("X-RateLimit-Limit", std::to_string(ex.rate.limit));
        res.set("X-RateLimit-Remaining", std::to_string(ex.rate.remaining));
        res.set("X-RateLimit-Reset", std::to_string(cfg.reset_epoch ? epoch_after(ex.rate.reset)
                                                                    : ceil_seconds(ex.rate.reset)));
    }
    res.set("X-RateLimit-Endpoint-Class", cls);
    res.set("X-Request-Id", ex.request_id);
    const unsigned code = res.result_int();
    if (code == 429) ++c.responses_429;
    if (code == 304) ++c.not_modified;
    c.requests.count(ex.route, code);
    if (res[http::field::content_type].starts_with("application/json") &&
        maybe_malform(st_, res, provider_layers))
        ++c.malformed_bodies;
    co_return std::move(*result);
}

handler_result api::idempotent(exchange& ex, std::string_view idem_key) {
    auto& c = st_.counters.layers;
    if (idem_key.empty() || idem_key.size() > 255)
        return error_reply(ex, http::status::bad_request, "VALIDATION_FAILED",
                           "Idempotency-Key must be 1 to 255 characters.",
                           details_of({{"Idempotency-Key", "must be 1 to 255 characters"}}));
    const auto now = clock::now();
    boost::system::error_code ec;
    const json::value body = json::parse(ex.ctx.req.body(), ec);
    const std::string fingerprint = std::string(ex.ctx.req.target()) + "\n" +
                                    (ec ? ex.ctx.req.body() : hrizn::canonical_json(body));
    const std::string slot = ex.key + "\n" + std::string(idem_key);
    if (auto it = idempotency_.find(slot); it != idempotency_.end()) {
        if (it->second.expires <= now) {
            idempotency_.erase(it);
        } else if (it->second.fingerprint != fingerprint) {
            ++c.idempotency_conflicts;
            return error_reply(ex, http::status::conflict, "IDEMPOTENCY_CONFLICT",
                               "This Idempotency-Key was already used with a different body.");
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
        idempotency_[slot] = {fingerprint, now + st_.real(st_.opt.layers.idempotency_s), res};
    }
    return r;
}

handler_result api::dispatch(exchange& ex) {
    const std::string_view r = ex.route;
    const auto now = clock::now();
    if (r == "POST /v1/projects/{projectId}/content") return generate(ex);
    if (r == "GET /v1/projects/{projectId}/content") return list(ex);
    if (r == "GET /v1/jobs/{jobId}") return get_job(ex);
    if (r == "GET /v1/whoami") {
        const auto* spec = find_key(st_.opt.layers, ex.key);
        return json_response(st_, http::status::ok,
                             json::object{{"organizationId", "org_briefsim"},
                                          {"workspaceId", "ws_briefsim"},
                                          {"organizationName", "briefsim"},
                                          {"scopes", scopes_json(*spec)},
                                          {"parentOrganizationId", nullptr},
                                          {"rateLimitTier", "standard"},
                                          {"apiKeyId", "key_briefsim"}});
    }
    if (subscriptions && ex.url)
        if (auto res = subscriptions(ex.ctx.req, std::string(ex.url->path()), ex.key))
            return std::move(*res);
    if (r.starts_with("POST /v1/content/{containerId}/"))
        return review(ex, r.ends_with("/approve"));
    if (r.starts_with("GET /v1/content/")) {
        container* ct = store_.find_container(ex.segs[2]);
        if (!ct)
            return error_reply(ex, http::status::not_found, "NOT_FOUND", "Container not found.");
        json::object o = store_.container_json(*ct, now);
        if (r == "GET /v1/content/{containerId}") return json_response(st_, http::status::ok, o);
        for (const auto& a : o.at("assets").as_array())
            if (a.at("assetId").as_string() == ex.segs[4]) {
                json::object out = a.as_object();
                out["containerId"] = ct->id;
                out.erase("checksumSha256");
                return json_response(st_, http::status::ok, std::move(out));
            }
        return error_reply(ex, http::status::not_found, "NOT_FOUND", "Asset not found.");
    }
    return error_reply(ex, http::status::not_found, "NOT_FOUND", "Route not found.");
}

handler_result api::generate(exchange& ex) {
    auto& c = st_.counters.layers;
    auto& cfg = st_.opt.layers;
    const auto now = clock::now();
    const std::string project = ex.segs[2];
    auto body = parse_object(ex.ctx.req.body());
    if (!body)
        return error_reply(ex, http::status::bad_request, "VALIDATION_FAILED",
                           "Request body must be a JSON object.",
                           details_of({{"body", "must be a JSON object"}}));
    unsigned variants = 1;
    problems p = validate_generate(*body, variants);
    if (!is_uuid(project)) p.emplace(p.begin(), "projectId", "must be a UUID");
    if (!p.empty())
        return error_reply(ex, http::status::bad_request, "VALIDATION_FAILED", joined(p),
                           details_of(p));
    if (project == missing_project)
        return error_reply(ex, http::status::not_found, "NOT_FOUND", "Project not found.",
                           json::object{{"projectId", project}});
    const auto* layer = body->if_contains("projectLayerId");
    if (project == two_layer_project) {
        if (!layer || layer->is_null()) {
            json::array candidates;
            for (auto l : two_layers) candidates.emplace_back(l);
            return error_reply(ex, http::status::conflict, "CONFLICT",
                               "Multiple content layers on this project. Pass projectLayerId.",
                               json::object{{"candidates", std::move(candidates)}});
        }
        if (std::find(two_layers.begin(), two_layers.end(), layer->get_string()) ==
            two_layers.end())
            return error_reply(ex, http::status::not_found, "NOT_FOUND",
                               "projectLayerId is not a content layer of this project.",
                               json::object{{"projectLayerId", layer->get_string()}});
    }
    // `id` UPSERT: the same id and body replays the first answer; another body is a conflict.
    std::string first_id;
    if (const auto* id = body->if_contains("id")) {
        first_id = std::string(id->get_string());
        const std::string fingerprint = project + "\n" + hrizn::canonical_json(*body);
        if (auto it = ids_.find(first_id); it != ids_.end()) {
            if (it->second.fingerprint != fingerprint)
                return error_reply(ex, http::status::conflict, "CONFLICT",
                                   "A container with this id exists with a different brief.",
                                   json::object{{"id", first_id}});
            ++c.id_replays;
            return it->second.res;
        }
        if (store_.find_container(first_id))
            return error_reply(ex, http::status::conflict, "CONFLICT",
                               "A container with this id exists.", json::object{{"id", first_id}});
    }
    const auto& brief = body->at("brief").as_object();
    if (const auto* topic = brief.if_contains("topic");
        topic && topic->is_string() &&
        lower(topic->get_string()).find(lower(cfg.moderation_word)) != std::string::npos)
        return error_reply(ex, http::status::unprocessable_entity, "MODERATION_BLOCKED",
                           "The brief failed the safety review.",
                           json::object{{"field", "brief.topic"}});
    const std::int64_t cost = cfg.cost * static_cast<std::int64_t>(variants);
    if (cfg.credits < cost) {
        ++c.billing_refusals;
        return error_reply(ex, http::status::payment_required, "BILLING_EXHAUSTED",
                           "Insufficient content-generation credits.",
                           json::object{{"required", cost}, {"available", cfg.credits}});
    }
    clock::duration soonest{};
    if (const auto running = store_.running(now, &soonest); running >= cfg.max_jobs) {
        ++c.over_jobs_cap;
        const auto secs = std::max<std::int64_t>(1, ceil_seconds(soonest));
        handler_result r =
            error_reply(ex, http::status::too_many_requests, "RATE_LIMITED",
                        "Too many running jobs for this organization (" + std::to_string(running) +
                            " of " + std::to_string(cfg.max_jobs) + ").",
                        json::object{{"scope", "concurrent_jobs"},
                                     {"limit", cfg.max_jobs},
                                     {"running", running},
                                     {"retryAfter", secs}});
        std::get<response>(r).set(http::field::retry_after, std::to_string(secs));
        return r;
    }
    cfg.credits -= cost;
    job& j = store_.create(project, *body, variants, first_id, now);
    json::object out{{"jobId", j.id},
                     {"kind", "content_generate"},
                     {"status", "running"},
                     {"stage", "queued"},
                     {"projectId", project}};
    if (cfg.container_ids) {
        json::array ids;
        for (const auto* ct : j.containers) ids.emplace_back(ct->id);
        out["containerIds"] = std::move(ids);
    } else {
        out["containerId"] = j.containers.front()->id;
    }
    out["format"] = j.format;
    out["locationUrl"] = "/v1/jobs/" + j.id;
    out["startedAt"] = iso_millis(j.created_wall);
    handler_result r = json_response(st_, http::status::accepted, std::move(out));
    if (!first_id.empty())
        ids_[first_id] = {project + "\n" + hrizn::canonical_json(*body), clock::time_point::max(),
                          std::get<response>(r)};
    return r;
}

handler_result api::get_job(exchange& ex) {
    job* j = store_.find_job(ex.segs[2]);
    if (!j) return error_reply(ex, http::status::not_found, "NOT_FOUND", "Job not found.");
    handler_result r = json_response(st_, http::status::ok, store_.job_json(*j, clock::now()));
    auto& res = std::get<response>(r);
    const std::string etag = etag_of(res.body());
    res.set(http::field::etag, etag);
    if (auto inm = ex.ctx.req.find(http::field::if_none_match);
        inm != ex.ctx.req.end() && etag_matches(inm->value(), etag)) {
        response nm{http::status::not_modified, 11};
        nm.set(http::field::etag, etag);
        return nm;
    }
    return r;
}

handler_result api::list(exchange& ex) {
    problems p;
    std::size_t limit = 25;
    if (auto l = query_param(ex.url, "limit")) {
        auto r = std::from_chars(l->data(), l->data() + l->size(), limit);
        if (r.ec != std::errc{} || r.ptr != l->data() + l->size() || limit < 1 || limit > 200)
            p.emplace_back("limit", "must be an integer from 1 to 200");
    }
    // The cursor is opaque to clients: "c" + the sequence number of the last item they got.
    std::uint64_t before = UINT64_MAX;
    if (auto cur = query_param(ex.url, "cursor"); cur && !cur->empty()) {
        auto r = cur->size() > 1 && (*cur)[0] == 'c'
                     ? std::from_chars(cur->data() + 1, cur->data() + cur->size(), before)
                     : std::from_chars_result{cur->data(), std::errc::invalid_argument};
        if (r.ec != std::errc{} || r.ptr != cur->data() + cur->size())
            p.emplace_back("cursor", "invalid cursor");
    }
    const std::string status = query_param(ex.url, "status").value_or("");
    if (!status.empty() && status != "queued" && status != "processing" && status != "completed" &&
        status != "failed" && status != "canceled")
        p.emplace_back("status", "must be one of: queued, processing, completed, failed, canceled");
    std::optional<std::chrono::system_clock::time_point> since;
    if (auto s = query_param(ex.url, "since"); s && !s->empty()) {
        since = parse_iso(*s);
        if (!since) p.emplace_back("since", "must be an ISO 8601 UTC timestamp");
    }
    if (!p.empty())
        return error_reply(ex, http::status::bad_request, "VALIDATION_FAILED", joined(p),
                           details_of(p));
    if (ex.segs[2] == missing_project)
        return error_reply(ex, http::status::not_found, "NOT_FOUND", "Project not found.");
    auto page = store_.list(ex.segs[2], status, since, before, limit + 1);
    const bool more = page.size() > limit;
    if (more) page.pop_back();
    const auto now = clock::now();
    json::array items;
    for (container* ct : page) items.emplace_back(store_.container_json(*ct, now));
    return json_response(
        st_, http::status::ok,
        json::object{{"items", std::move(items)},
                     {"nextCursor", more ? json::value("c" + std::to_string(page.back()->seq))
                                         : json::value(nullptr)}});
}

handler_result api::review(exchange& ex, bool approve) {
    container* ct = store_.find_container(ex.segs[2]);
    if (!ct) return error_reply(ex, http::status::not_found, "NOT_FOUND", "Container not found.");
    if (ct->approval != "pending")
        return error_reply(
            ex, http::status::conflict, "CONFLICT",
            "Container is not pending approval (approvalStatus: " + ct->approval + ").",
            json::object{{"approvalStatus", ct->approval}});
    ct->approval = approve ? "approved" : "rejected";
    return json_response(st_, http::status::ok, store_.container_json(*ct, clock::now()));
}

std::optional<file_spec> api::media(std::string_view container_id, std::string_view asset_id,
                                    std::string_view ext, bool download) {
    auto& c = st_.counters.layers;
    container* ct = store_.find_container(container_id);
    if (!ct || store_.container_status(*ct, clock::now()) != "completed") return std::nullopt;
    for (auto& a : ct->assets) {
        if (a.id != asset_id || a.ext != ext) continue;
        file_spec spec{a.mime, a.seed};
        if (!download) return spec;
        ++c.asset_downloads;
        if (a.downloads++ == 0 && st_.chance(st_.opt.layers.corrupt)) {
            // Other bytes of the very same length: the checksum is what tells them apart.
            ++c.corrupted_downloads;
            spec.seed = ~spec.seed;
        }
        return spec;
    }
    return std::nullopt;
}

handler_result api::control(const request& req) {
    auto reply = [](http::status s, json::value v) {
        response r{s, 11};
        r.set(http::field::content_type, "application/json");
        r.body() = json::serialize(v);
        return handler_result{std::move(r)};
    };
    auto settings_json = [&] {
        const auto& l = st_.opt.layers;
        json::object keys;
        for (const auto& k : l.keys) keys[k.key] = {{"scopes", scopes_json(k)}};
        return json::object{{"keys", std::move(keys)},
                            {"read_rpm", l.read_rpm},
                            {"write_rpm", l.write_rpm},
                            {"long_rpm", l.long_rpm},
                            {"window_s", l.window_s},
                            {"daily_write_cap", l.daily_write_cap},
                            {"day_s", l.day_s},
                            {"max_jobs", l.max_jobs},
                            {"credits", l.credits},
                            {"cost", l.cost},
                            {"gen_seconds", l.gen_seconds},
                            {"idempotency_s", l.idempotency_s},
                            {"corrupt", l.corrupt},
                            {"reset", l.reset_epoch ? "epoch" : "delta"},
                            {"ratelimit_headers", l.ratelimit_headers},
                            {"accept", l.container_ids ? "ids" : "single"},
                            {"auth", l.accept_x_api_key ? "both" : "bearer"},
                            {"scopes", l.enforce_scopes ? "enforce" : "ignore"},
                            {"moderation_word", l.moderation_word},
                            {"running_jobs", store_.running(clock::now())},
                            {"projects",
                             {{"missing", missing_project},
                              {"two_layers", two_layer_project},
                              {"approval", approval_project}}}};
    };
    if (req.method() == http::verb::get) return reply(http::status::ok, settings_json());
    if (req.method() != http::verb::post)
        return reply(http::status::not_found, {{"error", "GET or POST /_sim/layers"}});
    auto body = parse_object(req.body());
    if (!body) return reply(http::status::bad_request, {{"error", "body must be a JSON object"}});

    layers_settings l = st_.opt.layers;
    bool limits_changed = false;
    job* cancel = nullptr;
    std::string error;
    auto number = [&](const json::value& v, double& out, double min) {
        if (!v.is_number() || v.to_number<double>() < min) return false;
        out = v.to_number<double>();
        return true;
    };
    auto choice = [&](const json::value& v, std::string_view a, std::string_view b, bool& out) {
        if (!v.is_string() || (v.get_string() != a && v.get_string() != b)) return false;
        out = v.get_string() == a;
        return true;
    };
    for (const auto& [name, v] : *body) {
        double d = 0;
        bool ok = true;
        bool limit = true;
        if (name == "read_rpm" && (ok = number(v, d, 0)))
            l.read_rpm = static_cast<unsigned>(d);
        else if (name == "write_rpm" && (ok = number(v, d, 0)))
            l.write_rpm = static_cast<unsigned>(d);
        else if (name == "long_rpm" && (ok = number(v, d, 0)))
            l.long_rpm = static_cast<unsigned>(d);
        else if (name == "window_s" && (ok = number(v, d, 1e-9)))
            l.window_s = d;
        else if (name == "daily_write_cap" && (ok = number(v, d, 0)))
            l.daily_write_cap = static_cast<std::uint64_t>(d);
        else if (name == "day_s" && (ok = number(v, d, 1e-9)))
            l.day_s = d;
        else if (name == "tier")
            ok = v.is_string() && apply_layers_tier(l, v.get_string());
        else {
            limit = false;
            if (name == "max_jobs" && (ok = number(v, d, 0)))
                l.max_jobs = static_cast<unsigned>(d);
            else if (name == "credits" && (ok = v.is_int64()))
                l.credits = v.get_int64();
            else if (name == "cost" && (ok = number(v, d, 0)))
                l.cost = static_cast<std::int64_t>(d);
            else if (name == "gen_seconds" && (ok = number(v, d, 0)))
                l.gen_seconds = d;
            else if (name == "idempotency_s" && (ok = number(v, d, 1e-9)))
                l.idempotency_s = d;
            else if (name == "corrupt" && (ok = number(v, d, 0) && d <= 1))
                l.corrupt = d;
            else if (name == "reset")
                ok = choice(v, "epoch", "delta", l.reset_epoch);
            else if (name == "ratelimit_headers" && (ok = v.is_bool()))
                l.ratelimit_headers = v.get_bool();
            else if (name == "accept")
                ok = choice(v, "ids", "single", l.container_ids);
            else if (name == "auth")
                ok = choice(v, "both", "bearer", l.accept_x_api_key);
            else if (name == "scopes")
                ok = choice(v, "enforce", "ignore", l.enforce_scopes);
            else if (name == "moderation_word" && (ok = v.is_string() && !v.get_string().empty()))
                l.moderation_word = std::string(v.get_string());
            else if (name == "cancel")
                ok = v.is_string() && (cancel = store_.find_job(v.get_string())) &&
                     cancel->status_at(clock::now()) == job_status::running;
            else if (name == "keys") {
                // {"<key>": {"scopes": ["content:read", ...]}}: adds or replaces keys.
                ok = v.is_object();
                for (const auto& [k, spec_v] : ok ? v.get_object() : json::object{}) {
                    layers_key_spec spec;
                    std::string text(k);
                    const auto* sc =
                        spec_v.is_object() ? spec_v.get_object().if_contains("scopes") : nullptr;
                    if (sc && sc->is_array()) {
                        text += "=";
                        for (const auto& s : sc->get_array())
                            text += (s.is_string() ? std::string(s.get_string()) : "?") + ",";
                        if (sc->get_array().empty()) text += ",";
                    }
                    if (!spec_v.is_object() || (sc && !sc->is_array()) ||
                        !parse_layers_key(text, spec, error)) {
                        ok = false;
                        break;
                    }
                    std::erase_if(l.keys, [&](const auto& x) { return x.key == spec.key; });
                    l.keys.push_back(spec);
                }
            } else
                ok = false;
        }
        if (!ok)
            return reply(http::status::bad_request,
                         {{"error", "bad or unknown member: " + std::string(name) +
                                        (error.empty() ? "" : " (" + error + ")")}});
        limits_changed = limits_changed || limit;
    }
    st_.opt.layers = l;
    if (limits_changed) reset_limits();
    if (cancel) store_.cancel(*cancel, clock::now());
    return reply(http::status::ok, settings_json());
}

}  // namespace briefd::sim::layers
