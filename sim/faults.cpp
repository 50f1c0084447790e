#include "faults.hpp"

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <utility>

namespace briefd::sim {

namespace {

bool parse_double(std::string_view s, double& out) {
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

bool parse_unsigned(std::string_view s, unsigned& out) {
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

bool parse_rate(std::string_view s, double& out) { return parse_double(s, out) && out >= 0 && out <= 1; }

bool parse_bool(std::string_view s, bool& out) {
    if (s.empty() || s == "1" || s == "true" || s == "on" || s == "yes") return out = true, true;
    if (s == "0" || s == "false" || s == "off" || s == "no") return out = false, true;
    return false;
}

// A comma list of names, each standing for some bits; false for an unknown name or no bits.
bool parse_bits(std::string_view s, std::initializer_list<std::pair<std::string_view, unsigned>> names,
                unsigned& out) {
    unsigned bits = 0;
    while (!s.empty()) {
        auto comma = s.find(',');
        auto part = s.substr(0, comma);
        auto it = std::find_if(names.begin(), names.end(), [&](const auto& n) { return n.first == part; });
        if (it == names.end()) return false;
        bits |= it->second;
        s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
    }
    if (bits == 0) return false;
    out = bits;
    return true;
}

bool parse_families(std::string_view s, unsigned& out) {
    return parse_bits(s, {{"batch", family_batch}, {"runs", family_runs}, {"stream", family_stream},
                          {"other", family_other}, {"all", family_all}}, out);
}

bool parse_providers(std::string_view s, unsigned& out) {
    return parse_bits(s, {{"lamina", provider_lamina}, {"hrizn", provider_hrizn}, {"layers", provider_layers}, {"all", provider_all}}, out);
}

std::string families_string(unsigned bits) {
    if (bits == family_all) return "all";
    std::string s;
    auto add = [&](unsigned b, const char* n) {
        if (bits & b) s += (s.empty() ? "" : ","), s += n;
    };
    add(family_batch, "batch");
    add(family_runs, "runs");
    add(family_stream, "stream");
    add(family_other, "other");
    return s;
}

std::string normalise(std::string_view name) {
    std::string n(name);
    for (char& c : n)
        if (c == '_') c = '-';
    return n;
}

}  // namespace

const std::vector<fault_switch>& fault_switches() {
    static const std::vector<fault_switch> s = {
        {"fail-5xx", "RATE", "share (0..1) of /v1 responses replaced by 500 INTERNAL_ERROR or 503 RESOURCE_UNAVAILABLE (retryable: true); the request has no effect"},
        {"fail-5xx-on", "LIST", "comma list of endpoint families fail-5xx applies to: batch (content/batch, content/create), runs (apps/{id}/runs, runs/{id}, wait, cancel), stream, other, all (default)"},
        {"storm-429", "START:DURATION", "API seconds after start (flag) or after the control POST during which every /v1 request gets 429 RATE_LIMITED"},
        {"sse-drop-after", "N", "close every stream abruptly (no final chunk) after N events, pings included (0 = off)"},
        {"sse-stall", "", "streams send their headers, then nothing (no events, no pings) until the client leaves"},
        {"sse-trickle", "", "streams send their headers, then one byte every 100 real ms that never completes a line (a comment that never ends), until the client leaves"},
        {"sse-refuse", "404|204|ctype", "the stream endpoint answers 404 NOT_FOUND, 204 No Content, or 200 with Content-Type text/plain (none = off)"},
        {"slow-headers", "MS", "delay every /v1 response head by MS real milliseconds (not scaled)"},
        {"truncate-downloads", "RATE", "share of file responses closed after half of the announced Content-Length"},
        {"malformed-json", "RATE", "share of /v1 2xx JSON bodies sent cut in half (invalid JSON)"},
        {"extra-fields", "", "add an unknown member \"simExtra\" to every JSON object sent (bodies and SSE data)"},
        {"no-video", "", "the workspace has no video-capable app: video batch items fail, video apps are hidden"},
        {"fail-rate", "RATE", "share of new runs that end failed (errorMessage set, unfinished outputs error)"},
        {"hostile-labels", "", "content runs get output labels like \"../../evil\", \"/tmp/briefsim-hostile\" and \"a/b\\0c\" (path escapes for clients)"},
        {"faults-on", "LIST", "providers that fail-5xx, storm-429, slow-headers, malformed-json and the webhook-* faults hit: lamina, hrizn, layers, all (default); comma list"},
        {"webhook-drop", "RATE", "share of webhook events never sent (counted as dropped)"},
        {"webhook-duplicate", "RATE", "share of webhook events sent once more after a 2xx (same event id and body, fresh signature)"},
        {"webhook-reorder", "RATE", "share of terminal webhook events followed by an older one (Lamina: a running status; Hrizn: content.progress; Layers: content.generated after job.completed)"},
        {"webhook-forge", "RATE", "share of webhook events sent with a signature that does not verify"},
        {"webhook-stale", "RATE", "share of webhook events signed with a timestamp 400 s in the past (Hrizn: the payload timestamp only)"},
        {"webhook-oversize", "RATE", "share of webhook events padded to --webhook-oversize-bytes (valid JSON, correctly signed)"},
    };
    return s;
}

bool apply_fault(fault_settings& f, std::string_view raw_name, std::string_view value,
                 std::chrono::steady_clock::time_point now, std::string& error) {
    const std::string name = normalise(raw_name);
    bool ok = false;
    if (name == "fail-5xx") ok = parse_rate(value, f.fail_5xx);
    else if (name == "fail-5xx-on") ok = parse_families(value, f.fail_5xx_on);
    else if (name == "storm-429") {
        if (value.empty() || value == "none" || value == "off") {
            f.storm_429.reset();
            ok = true;
        } else if (auto colon = value.find(':'); colon != std::string_view::npos) {
            storm_window w;
            w.origin = now;
            ok = parse_double(value.substr(0, colon), w.start_s) &&
                 parse_double(value.substr(colon + 1), w.duration_s) && w.start_s >= 0 && w.duration_s >= 0;
            if (ok) f.storm_429 = w;
        }
    } else if (name == "sse-drop-after") ok = parse_unsigned(value, f.sse_drop_after);
    else if (name == "sse-stall") ok = parse_bool(value, f.sse_stall);
    else if (name == "sse-trickle") ok = parse_bool(value, f.sse_trickle);
    else if (name == "sse-refuse") {
        ok = true;
        if (value == "404") f.sse_refuse = sse_refusal::not_found;
        else if (value == "204") f.sse_refuse = sse_refusal::no_content;
        else if (value == "ctype") f.sse_refuse = sse_refusal::wrong_type;
        else if (value.empty() || value == "none" || value == "off") f.sse_refuse = sse_refusal::none;
        else ok = false;
    } else if (name == "slow-headers") ok = parse_unsigned(value, f.slow_headers_ms);
    else if (name == "truncate-downloads") ok = parse_rate(value, f.truncate_downloads);
    else if (name == "malformed-json") ok = parse_rate(value, f.malformed_json);
    else if (name == "extra-fields") ok = parse_bool(value, f.extra_fields);
    else if (name == "no-video") ok = parse_bool(value, f.no_video);
    else if (name == "fail-rate") ok = parse_rate(value, f.fail_rate);
    else if (name == "hostile-labels") ok = parse_bool(value, f.hostile_labels);
    else if (name == "faults-on") ok = parse_providers(value, f.faults_on);
    else if (name == "webhook-drop") ok = parse_rate(value, f.webhook_drop);
    else if (name == "webhook-duplicate") ok = parse_rate(value, f.webhook_duplicate);
    else if (name == "webhook-reorder") ok = parse_rate(value, f.webhook_reorder);
    else if (name == "webhook-forge") ok = parse_rate(value, f.webhook_forge);
    else if (name == "webhook-stale") ok = parse_rate(value, f.webhook_stale);
    else if (name == "webhook-oversize") ok = parse_rate(value, f.webhook_oversize);
    else {
        error = "unknown fault switch: " + std::string(raw_name);
        return false;
    }
    if (!ok) error = "bad value for " + std::string(raw_name) + ": '" + std::string(value) + "'";
    return ok;
}

bool apply_faults_json(fault_settings& f, const boost::json::object& body,
                       std::chrono::steady_clock::time_point now, std::string& error) {
    fault_settings copy = f;
    for (const auto& [key, v] : body) {
        std::string text;
        if (v.is_null()) {
            const std::string n = normalise(key);
            text = (n == "sse-refuse" || n == "storm-429") ? "none"
                   : (n == "fail-5xx-on" || n == "faults-on") ? "all"
                                                               : "0";
        } else if (v.is_bool()) text = v.get_bool() ? "true" : "false";
        else if (v.is_string()) text = std::string(v.get_string());
        else if (v.is_int64()) text = std::to_string(v.get_int64());
        else if (v.is_uint64()) text = std::to_string(v.get_uint64());
        else if (v.is_double()) text = std::to_string(v.get_double());
        else if (v.is_object() && normalise(key) == "storm-429") {
            const auto& o = v.get_object();
            auto num = [&](const char* k) -> double {
                auto* p = o.if_contains(k);
                return p && p->is_number() ? p->to_number<double>() : 0.0;
            };
            text = std::to_string(num("start")) + ":" + std::to_string(num("duration"));
        } else {
            error = "bad value type for " + std::string(key);
            return false;
        }
        if (!apply_fault(copy, key, text, now, error)) return false;
    }
    f = copy;
    return true;
}

boost::json::object to_json(const fault_settings& f) {
    boost::json::object o;
    o["fail-5xx"] = f.fail_5xx;
    o["fail-5xx-on"] = families_string(f.fail_5xx_on);
    if (f.storm_429)
        o["storm-429"] = {{"start", f.storm_429->start_s}, {"duration", f.storm_429->duration_s}};
    else
        o["storm-429"] = nullptr;
    o["sse-drop-after"] = f.sse_drop_after;
    o["sse-stall"] = f.sse_stall;
    o["sse-trickle"] = f.sse_trickle;
    switch (f.sse_refuse) {
    case sse_refusal::none: o["sse-refuse"] = nullptr; break;
    case sse_refusal::not_found: o["sse-refuse"] = "404"; break;
    case sse_refusal::no_content: o["sse-refuse"] = "204"; break;
    case sse_refusal::wrong_type: o["sse-refuse"] = "ctype"; break;
    }
    o["slow-headers"] = f.slow_headers_ms;
    o["truncate-downloads"] = f.truncate_downloads;
    o["malformed-json"] = f.malformed_json;
    o["extra-fields"] = f.extra_fields;
    o["no-video"] = f.no_video;
    o["fail-rate"] = f.fail_rate;
    o["hostile-labels"] = f.hostile_labels;
    o["webhook-drop"] = f.webhook_drop;
    o["webhook-duplicate"] = f.webhook_duplicate;
    o["webhook-reorder"] = f.webhook_reorder;
    o["webhook-forge"] = f.webhook_forge;
    o["webhook-stale"] = f.webhook_stale;
    o["webhook-oversize"] = f.webhook_oversize;
    if (f.faults_on == provider_all) {
        o["faults-on"] = "all";
    } else {
        std::string on;
        for (auto [bit, n] : {std::pair{provider_lamina, "lamina"}, {provider_hrizn, "hrizn"}, {provider_layers, "layers"}})
            if (f.faults_on & bit) on += (on.empty() ? "" : ","), on += n;
        o["faults-on"] = on;
    }
    return o;
}

}  // namespace briefd::sim
