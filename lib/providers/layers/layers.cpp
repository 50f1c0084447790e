#include "providers/layers/layers.hpp"

#include <openssl/evp.h>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>

namespace briefd::providers::layers {

namespace json = boost::json;
using verb = boost::beast::http::verb;

namespace {

// briefd's namespace for the container ids it names (a fixed random UUID: changing it would
// change every derived id, and a replayed submission would no longer match its first attempt).
constexpr std::string_view container_namespace = "3f6c2a8e-41d7-4b9a-a5e2-7c1d09b4e6f3";

// The object a success body describes: the body itself, or its `data` object when it is wrapped
// (Layers documents bare bodies; a wrapper is tolerated).
const json::object* payload(const json::value& v, std::string_view key_field) {
    const auto* o = v.if_object();
    if (!o) return nullptr;
    if (!o->contains(key_field))
        if (const auto* d = o->if_contains("data"); d && d->is_object()) return &d->get_object();
    return o;
}

std::string str(const json::object& o, std::string_view key, std::size_t max = 4096) {
    return string_field(o, key, max);
}

// An `error` / `lastError`: a string, or {code, message} (the failed job's shape is not
// documented, so both are read, and anything else is shown as JSON).
std::string error_text(const json::value* e) {
    if (!e || e->is_null()) return {};
    if (e->is_string()) return diagnostics::clean(e->get_string(), 1024);
    if (const auto* eo = e->if_object()) {
        auto code = str(*eo, "code", 64), msg = str(*eo, "message", 1024);
        if (!code.empty() && !msg.empty()) return code + ": " + msg;
        if (!code.empty() || !msg.empty()) return code.empty() ? msg : code;
    }
    return diagnostics::clean(json::serialize(*e), 1024);
}

void add_ids(std::vector<std::string>& out, const json::object& o) {
    auto add = [&](const json::value& v) {
        if (!v.is_string()) return;
        std::string id(v.get_string());
        if (valid_container_id(id) && std::find(out.begin(), out.end(), id) == out.end())
            out.push_back(std::move(id));
    };
    if (const auto* a = o.if_contains("containerIds"); a && a->is_array())
        for (const auto& v : a->get_array()) add(v);
    if (const auto* one = o.if_contains("containerId")) add(*one);
}

std::optional<std::uint64_t> size_of(const json::value* v) {
    if (!v) return std::nullopt;
    if (v->is_uint64()) return v->get_uint64();
    if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
    if (v->is_double()) {
        double d = v->get_double();
        if (d >= 0 && d < 9.0e15 && std::floor(d) == d) return static_cast<std::uint64_t>(d);
    }
    return std::nullopt;
}

// checksumSha256 as lowercase hex; a value that is not 64 hex digits (after an optional
// "sha256:") cannot be checked against and is dropped rather than failing every download.
std::string checksum(std::string_view s) {
    if (s.starts_with("sha256:")) s.remove_prefix(7);
    if (s.size() != 64) return {};
    std::string out;
    for (char c : s) {
        if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

bool short_alnum(std::string_view s) {
    return !s.empty() && s.size() <= 8 && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c));
    });
}

// The file extension of an asset: from its MIME type, else from its URL's last segment.
std::string ext_of(std::string_view mime, std::string_view url) {
    static constexpr std::pair<std::string_view, std::string_view> known[] = {
        {"video/mp4", "mp4"},         {"video/quicktime", "mov"}, {"video/webm", "webm"},
        {"image/jpeg", "jpg"},        {"image/png", "png"},       {"image/webp", "webp"},
        {"image/gif", "gif"},         {"audio/mpeg", "mp3"},      {"audio/mp4", "m4a"},
        {"application/json", "json"}, {"text/plain", "txt"},
    };
    std::string m(mime.substr(0, mime.find(';')));
    for (auto& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    while (!m.empty() && m.back() == ' ') m.pop_back();
    for (const auto& [type, ext] : known)
        if (m == type) return std::string(ext);
    if (auto u = boost::urls::parse_uri(url)) {
        std::string path(u->path());
        auto slash = path.rfind('/');
        auto last = slash == std::string::npos ? path : path.substr(slash + 1);
        if (auto dot = last.rfind('.'); dot != std::string::npos) {
            auto ext = last.substr(dot + 1);
            for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (short_alnum(ext)) return ext;
        }
    }
    if (auto slash = m.find('/'); slash != std::string::npos && short_alnum(m.substr(slash + 1)))
        return m.substr(slash + 1);
    return "bin";
}

bool is_http_url(std::string_view url) {
    auto u = boost::urls::parse_uri(url);
    if (!u || u->host().empty()) return false;
    auto scheme = u->scheme_id();
    return scheme == boost::urls::scheme::https || scheme == boost::urls::scheme::http;
}

json::value string_or_null(const json::object& o, std::string_view key) {
    if (const auto* v = o.if_contains(key); v && v->is_string())
        return json::string(diagnostics::clean(v->get_string(), 8192));
    return nullptr;
}

bool header_safe(std::string_view v) {
    return !v.empty() && v.size() <= 256 &&
           std::all_of(v.begin(), v.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

}  // namespace

run_phase phase_of(std::string_view s) {
    if (s == "running") return run_phase::running;
    if (s == "queued") return run_phase::queued;
    if (s == "completed") return run_phase::completed;
    if (s == "failed") return run_phase::failed;
    if (s == "canceled" || s == "cancelled") return run_phase::cancelled;
    return run_phase::unknown;
}

run_phase container_phase_of(std::string_view s) {
    if (s == "processing" || s == "generating" || s == "running") return run_phase::running;
    return phase_of(s);
}

std::string container_key(std::string_view id) {
    if (id.starts_with("cnt_")) id.remove_prefix(4);
    std::string k(id);
    for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return k;
}

std::chrono::milliseconds poll_delay(unsigned n, std::mt19937_64& rng) {
    constexpr double first_ms = 2000, factor = 1.3, cap_ms = 10000;
    // 1.3^9 already passes the cap: larger n cannot change the result (and cannot overflow).
    double base = std::min(first_ms * std::pow(factor, std::min(n, 64u)), cap_ms);
    std::uniform_int_distribution<int> jitter(0, 500);
    return std::chrono::milliseconds(std::llround(base)) + std::chrono::milliseconds(jitter(rng));
}

std::string_view bucket_class(const api_call& call) {
    if (call.method == verb::get || call.method == verb::head) return "read-light";
    const auto& s = call.segments;
    if (call.method == verb::post && s.size() == 4 && s[0] == "v1" && s[1] == "projects" &&
        s[3] == "content")
        return "long-running";
    return "write-light";
}

bool concurrency_refusal(unsigned status, std::string_view body) {
    if (status != 429) return false;
    auto v = parse_json(body);
    const auto* o = v ? v->if_object() : nullptr;
    const auto* ev = o ? o->if_contains("error") : nullptr;
    const auto* e = ev ? ev->if_object() : nullptr;
    if (!e) return false;
    auto lower = [](std::string s) {
        for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    };
    auto about_jobs = [](const std::string& s) {
        return s.find("concurren") != std::string::npos ||
               s.find("running job") != std::string::npos ||
               s.find("running_job") != std::string::npos;
    };
    if (const auto* d = e->if_contains("details"); d && d->is_object()) {
        auto scope = lower(str(d->get_object(), "scope", 64));
        if (!scope.empty()) return about_jobs(scope);  // daily_write_cap, a class: a rate limit
    }
    return about_jobs(lower(str(*e, "code", 64))) || about_jobs(lower(str(*e, "message", 256)));
}

bool valid_job_id(std::string_view id) {
    if (!id.starts_with("job_") || id.size() <= 4 || id.size() > 104) return false;
    return std::all_of(id.begin() + 4, id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
}

bool valid_container_id(std::string_view id) {
    if (brief::is_uuid(id)) return true;
    if (!id.starts_with("cnt_") || id.size() <= 4 || id.size() > 104) return false;
    return std::all_of(id.begin() + 4, id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
}

std::string name_uuid(std::string_view namespace_uuid, std::string_view name) {
    if (!brief::is_uuid(namespace_uuid)) return {};
    auto nibble = [](char c) {
        return std::isdigit(static_cast<unsigned char>(c))
                   ? c - '0'
                   : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    };
    std::string input;
    std::string_view hexes = namespace_uuid;
    for (std::size_t i = 0; i < hexes.size(); ++i) {
        if (hexes[i] == '-') continue;
        input += static_cast<char>(nibble(hexes[i]) * 16 + nibble(hexes[i + 1]));
        ++i;
    }
    input += name;
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    if (EVP_Digest(input.data(), input.size(), md.data(), &len, EVP_sha1(), nullptr) != 1 ||
        len < 16)
        return {};
    md[6] = static_cast<unsigned char>((md[6] & 0x0f) | 0x50);  // version 5: name-based, SHA-1
    md[8] = static_cast<unsigned char>((md[8] & 0x3f) | 0x80);  // the RFC 4122 variant
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += hex[md[i] >> 4];
        out += hex[md[i] & 0x0f];
    }
    return out;
}

std::string container_uuid(std::string_view idempotency_key) {
    return name_uuid(container_namespace, idempotency_key);
}

std::optional<container> parse_container(std::string_view body, std::size_t variant) {
    auto v = parse_json(body);
    if (!v) return std::nullopt;
    const auto* o = payload(*v, "id");
    if (!o) return std::nullopt;
    const auto* assets = o->if_contains("assets");
    container c;
    c.id = str(*o, "id", 128);
    c.status = str(*o, "status", 64);
    if (c.id.empty() && c.status.empty() && !(assets && assets->is_array())) return std::nullopt;
    c.error = error_text(o->if_contains("lastError"));
    if (c.error.empty()) c.error = error_text(o->if_contains("error"));
    json::object meta;
    meta["containerId"] = c.id.empty() ? json::value(nullptr) : json::value(c.id);
    meta["variant"] = variant;
    meta["caption"] = string_or_null(*o, "caption");
    meta["hook"] = string_or_null(*o, "hook");
    if (meta["hook"].is_null())
        if (const auto* b = o->if_contains("brief"); b && b->is_object())
            meta["hook"] = string_or_null(b->get_object(), "hook");
    meta["approvalStatus"] = string_or_null(*o, "approvalStatus");
    if (!assets || !assets->is_array()) return c;
    std::size_t i = 0;
    for (const auto& a : assets->get_array()) {
        std::size_t index = i++;
        const auto* ao = a.if_object();
        if (!ao) continue;
        output_view out;
        out.type = str(*ao, "kind", 32);
        if (out.type.empty()) out.type = "asset";
        out.label = out.type + "-" + std::to_string(index);
        out.url = str(*ao, "url", 4096);
        out.mime_type = str(*ao, "mimeType", 128);
        out.size_bytes = size_of(ao->if_contains("sizeBytes"));
        out.sha256 = checksum(str(*ao, "checksumSha256", 128));
        out.meta = meta;
        out.meta["assetId"] = string_or_null(*ao, "assetId");
        if (is_http_url(out.url)) {
            out.status = "completed";
            out.ext = ext_of(out.mime_type, out.url);
        } else {
            out.status = "failed";
            out.error =
                "asset " + std::to_string(index) + " of container " + c.id + " has no http(s) URL";
            out.url.clear();
        }
        c.outputs.push_back(std::move(out));
    }
    return c;
}

api_call provider::probe() const {
    return {verb::get, {"v1", "whoami"}};
}

api_call provider::submit(const std::vector<const brief::item*>& items) const {
    return submit_with_key(items, {});
}

api_call provider::submit_with_key(const std::vector<const brief::item*>& items,
                                   std::string_view idempotency_key) const {
    const brief::layers_item* li =
        items.empty() ? nullptr : std::get_if<brief::layers_item>(&items.front()->body);
    if (!li) return {verb::post, {"v1", "projects", "", "content"}, {}, "{}"};  // a caller bug
    json::object body = li->body;
    body.erase("projectId");  // in the path
    if (const auto* id = body.if_contains("id"); (!id || id->is_null()) && !idempotency_key.empty())
        body["id"] = container_uuid(idempotency_key);
    return {verb::post, {"v1", "projects", li->project_id, "content"}, {}, json::serialize(body)};
}

std::optional<std::vector<submit_result>> provider::parse_submit(
    const std::vector<const brief::item*>& items, std::string_view body) const {
    auto v = parse_json(body);
    if (!v) return std::nullopt;
    const auto* o = payload(*v, "jobId");
    if (!o) return std::nullopt;
    auto job = str(*o, "jobId", 256);
    if (job.empty()) return std::nullopt;
    std::vector<submit_result> out(items.size());
    for (std::size_t i = 1; i < out.size(); ++i)
        out[i].error = "Layers takes one item per request; this one was not sent";
    if (out.empty()) return out;
    out[0].accepted = true;
    out[0].run_id = std::move(job);
    add_ids(out[0].children, *o);
    return out;
}

bool provider::valid_run_id(std::string_view id) const {
    return valid_job_id(id) || valid_container_id(id);
}

api_call provider::status(std::string_view run_id) const {
    return {verb::get, {"v1", "jobs", std::string(run_id)}};
}

api_call provider::status_since(std::string_view run_id, std::string_view etag) const {
    auto c = status(run_id);
    if (header_safe(etag)) c.headers.emplace_back("If-None-Match", std::string(etag));
    return c;
}

std::optional<run_view> provider::parse_status(std::string_view body) const {
    auto v = parse_json(body);
    if (!v) return std::nullopt;
    const auto* o = payload(*v, "jobId");
    if (!o) return std::nullopt;
    run_view r;
    r.run_id = str(*o, "jobId", 256);
    r.status = str(*o, "status", 64);
    if (r.run_id.empty() && r.status.empty()) return std::nullopt;
    r.phase = phase_of(r.status);
    r.created_at = str(*o, "startedAt", 64);
    if (const auto* p = o->if_contains("progress"); p && p->is_number()) {
        double f = p->to_number<double>();
        if (f >= 0 && f <= 1) f *= 100;  // documented as 0..1; a percentage is tolerated
        if (f >= 0 && f <= 100) r.progress_percent = static_cast<int>(std::lround(f));
    }
    if (r.phase == run_phase::completed) r.progress_percent = 100;
    r.error = error_text(o->if_contains("error"));
    add_ids(r.children, *o);
    if (const auto* res = o->if_contains("result"); res && res->is_object()) {
        add_ids(r.children, res->get_object());
        if (r.error.empty()) r.error = error_text(res->get_object().if_contains("error"));
    }
    return r;
}

std::optional<run_view> provider::parse_status_response(unsigned,
                                                        const boost::beast::http::fields& headers,
                                                        std::string_view body) const {
    auto r = parse_status(body);
    if (r)
        if (auto it = headers.find(boost::beast::http::field::etag); it != headers.end())
            r->etag = diagnostics::clean(it->value(), 256);
    return r;
}

std::optional<webhook_event> provider::parse_webhook(const boost::beast::http::fields& headers,
                                                     std::string_view body) const {
    auto v = parse_json(body);
    const auto* o = v ? v->if_object() : nullptr;
    if (!o) return std::nullopt;
    const auto type = str(*o, "type", 128);
    const auto* d = o->if_contains("data");
    if (type.empty() || !d || !d->is_object()) return std::nullopt;
    webhook_event e;
    if (auto it = headers.find("X-Layers-Event-Id"); it != headers.end())
        e.event_id = diagnostics::clean(it->value(), 256);
    if (e.event_id.empty()) e.event_id = str(*o, "id", 256);
    if (!type.starts_with("job.")) {
        // content.generated, approvals, posts, test.ping…: not a job's end; acknowledged.
        e.run.run_id = str(d->get_object(), "jobId", 256);
        if (e.run.run_id.empty()) e.run.run_id = str(d->get_object(), "id", 256);
        if (e.event_id.empty()) e.event_id = type + ":" + e.run.run_id;
        return e;
    }
    // The job events carry the job as GET /v1/jobs/{id} would, less its status: the event type
    // says it, so the view is read by the same parser.
    json::object job = d->get_object();
    if (type == "job.completed") job["status"] = "completed";
    else if (type == "job.failed") job["status"] = "failed";
    else if (type == "job.canceled" || type == "job.cancelled") job["status"] = "canceled";
    else job.erase("status");
    auto r = parse_status(json::serialize(job));
    if (!r || r->run_id.empty() || !valid_job_id(r->run_id)) return std::nullopt;
    if (!job.contains("status")) r->phase = run_phase::unknown;
    e.run = std::move(*r);
    if (e.event_id.empty()) e.event_id = e.run.run_id + ":" + type;
    return e;
}

api_call provider::list(std::string_view cursor, std::size_t limit) const {
    return list_in({}, cursor, limit);
}

api_call provider::list_in(std::string_view scope, std::string_view cursor,
                           std::size_t limit) const {
    api_call c{verb::get,
               {"v1", "projects", std::string(scope), "content"},
               {{"limit", std::to_string(std::clamp<std::size_t>(limit, 1, 200))}}};
    if (!cursor.empty()) c.query.emplace_back("cursor", std::string(cursor));
    return c;
}

std::optional<list_page> provider::parse_list(std::string_view body) const {
    auto v = parse_json(body);
    if (!v) return std::nullopt;
    const auto* o = payload(*v, "items");
    if (!o) return std::nullopt;
    const auto* items = o->if_contains("items");
    if (!items || !items->is_array()) return std::nullopt;
    list_page page;
    for (const auto& e : items->get_array()) {
        const auto* eo = e.if_object();
        if (!eo) continue;
        auto id = str(*eo, "id", 128);
        if (!valid_container_id(id)) continue;  // no id, or not one briefd would match
        run_view r;
        r.run_id = container_key(id);
        r.status = str(*eo, "status", 64);
        r.phase = container_phase_of(r.status);
        r.created_at = str(*eo, "createdAt", 64);
        r.error = error_text(eo->if_contains("lastError"));
        page.runs.push_back(std::move(r));
    }
    page.next_cursor = str(*o, "nextCursor", 1024);
    if (page.next_cursor.empty()) page.next_cursor = str(*o, "next_cursor", 1024);
    page.has_more = !page.next_cursor.empty();
    if (const auto* h = o->if_contains("hasMore"); h && h->is_bool() && !h->get_bool())
        page.has_more = false;  // a cursor beside hasMore: false ends the list
    return page;
}

std::string provider::list_scope(const brief::item& it) const {
    const auto* li = std::get_if<brief::layers_item>(&it.body);
    return li ? li->project_id : std::string();
}

std::vector<api_call> provider::expand(const brief::item&, const run_view& run,
                                       const std::vector<std::string>& children) const {
    std::vector<std::string> ids;
    for (const auto* list : {&children, &run.children})
        for (const auto& id : *list)
            if (valid_container_id(id) && std::find(ids.begin(), ids.end(), id) == ids.end())
                ids.push_back(id);
    std::vector<api_call> calls;
    for (auto& id : ids) calls.push_back({verb::get, {"v1", "content", std::move(id)}});
    return calls;
}

std::optional<std::vector<output_view>> provider::parse_expansion(std::size_t part,
                                                                  std::string_view body,
                                                                  std::string& why) const {
    auto c = parse_container(body, part);
    if (!c) {
        why = "the container response is not a Layers container";
        return std::nullopt;
    }
    auto name = c->id.empty() ? "variant " + std::to_string(part) : "container " + c->id;
    if (c->status == "failed" || c->status == "canceled" || c->status == "cancelled") {
        output_view out;
        out.label = "variant-" + std::to_string(part);
        out.type = "container";
        out.status = c->status;
        out.error = name + " " + c->status + (c->error.empty() ? "" : ": " + c->error);
        return std::vector<output_view>{std::move(out)};
    }
    if (c->outputs.empty()) {
        // Fetched before it was populated (unpopulated fields are empty arrays): ask again.
        why = name + " has no assets yet" + (c->status.empty() ? "" : " (" + c->status + ")");
        return std::nullopt;
    }
    return std::move(c->outputs);
}

std::vector<output_view> provider::outputs(const brief::item&, const run_view& run) const {
    if (!run.outputs.empty()) return run.outputs;
    output_view out;
    out.label = "job";
    out.type = "job";
    out.status = "failed";
    out.error =
        "the job completed, and no asset of its containers is known (the containers were "
        "not fetched)";
    return {std::move(out)};
}

std::error_code provider::classify_error(unsigned status, std::string_view body,
                                         diagnostics& diag) const {
    diag.http_status = static_cast<int>(status);
    std::string code;
    if (auto v = parse_json(body); v && v->is_object()) {
        const auto& o = v->get_object();
        if (const auto* ev = o.if_contains("error")) {
            if (ev->is_string()) diag.message = diagnostics::clean(ev->get_string());
            if (const auto* e = ev->if_object()) {
                code = str(*e, "code", 64);
                diag.provider_code = code;
                diag.message = str(*e, "message", 1024);
                diag.request_id = str(*e, "requestId", 128);
                const auto* d = e->if_contains("details");
                const json::value* cand = nullptr;
                if (d && d->is_object()) cand = d->get_object().if_contains("candidates");
                if (cand && cand->is_array()) {
                    // 409 CONFLICT: name the content layers the brief can choose between.
                    std::string names;
                    for (const auto& c : cand->get_array()) {
                        std::string n;
                        if (c.is_string())
                            n = diagnostics::clean(c.get_string(), 128);
                        else if (const auto* co = c.if_object()) {
                            auto id = str(*co, "id", 128), label = str(*co, "name", 128);
                            n = label.empty() ? id : id.empty() ? label : label + " (" + id + ")";
                        }
                        if (!n.empty()) names += (names.empty() ? "" : ", ") + n;
                    }
                    diag.message += " (candidate layers: " + names + "; set projectLayerId)";
                } else if (d && !d->is_null() && !(d->is_object() && d->get_object().empty())) {
                    diag.message += " (" + diagnostics::clean(json::serialize(*d), 512) + ")";
                }
            }
        }
        if (diag.request_id.empty()) diag.request_id = str(o, "requestId", 128);
    } else if (!body.empty()) {
        diag.message = diagnostics::clean(body, 256);
    }
    if (status == 429) return errc::rate_limited;
    if (status >= 500) return errc::server_error;
    if (status >= 400) {
        // The code is stable and says more than the status (branch on it, says the doc).
        if (code == "UNAUTHENTICATED") return errc::unauthorized;
        if (code == "FORBIDDEN_SCOPE") return errc::forbidden;
        if (code == "BILLING_EXHAUSTED") return errc::payment_required;
        if (code == "RATE_LIMITED") return errc::rate_limited;
        if (code == "NOT_FOUND") return errc::not_found;
        if (!code.empty()) return errc::rejected;  // CONFLICT, VALIDATION_FAILED, MODERATION_…
    }
    if (status == 401) return errc::unauthorized;
    if (status == 402) return errc::payment_required;
    if (status == 403) return errc::forbidden;
    if (status == 404) return errc::not_found;
    if (status >= 400) return errc::rejected;
    return errc::unexpected_status;
}

}  // namespace briefd::providers::layers
