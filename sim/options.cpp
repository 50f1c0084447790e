#include "options.hpp"

#include <charconv>
#include <chrono>
#include <sstream>

namespace briefd::sim {

namespace {

template <class T>
bool parse_num(std::string_view s, T& out) {
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

bool parse_seconds(std::string_view s, double& out) {
    return parse_num(s, out) && out > 0;
}

}  // namespace

bool is_hrizn_key(std::string_view key) noexcept {
    if (key.size() != 68 || !key.starts_with("hzk_")) return false;
    for (char c : key.substr(4))
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

bool parse_hrizn_key(std::string_view text, hrizn_key_spec& out, std::string& error) {
    const auto eq = text.find('=');
    out = hrizn_key_spec{};
    out.key = std::string(text.substr(0, eq));
    if (!is_hrizn_key(out.key)) {
        error = "a Hrizn key is hzk_ and 64 lower-case hex digits";
        return false;
    }
    if (eq == std::string_view::npos) return true;
    out.can_read = out.can_write = false;
    std::string_view scopes = text.substr(eq + 1);
    while (!scopes.empty()) {
        const auto comma = scopes.find(',');
        const auto scope = scopes.substr(0, comma);
        if (scope == "content:read")
            out.can_read = true;
        else if (scope == "content:write")
            out.can_write = true;
        else if (!scope.empty()) {
            error =
                "unknown Hrizn scope '" + std::string(scope) + "' (content:read, content:write)";
            return false;
        }
        scopes = comma == std::string_view::npos ? std::string_view{} : scopes.substr(comma + 1);
    }
    return true;
}

bool is_layers_key(std::string_view key) noexcept {
    return key.size() > 8 && (key.starts_with("lp_test_") || key.starts_with("lp_live_"));
}

bool parse_layers_key(std::string_view text, layers_key_spec& out, std::string& error) {
    const auto eq = text.find('=');
    out = layers_key_spec{};
    out.key = std::string(text.substr(0, eq));
    if (!is_layers_key(out.key)) {
        error = "a Layers key starts lp_test_ or lp_live_";
        return false;
    }
    if (eq == std::string_view::npos) return true;
    out.content_read = out.content_write = out.jobs_read = false;
    std::string_view scopes = text.substr(eq + 1);
    while (!scopes.empty()) {
        const auto comma = scopes.find(',');
        const auto scope = scopes.substr(0, comma);
        if (scope == "content:read")
            out.content_read = true;
        else if (scope == "content:write")
            out.content_write = true;
        else if (scope == "jobs:read")
            out.jobs_read = true;
        else if (scope == "*")
            out.content_read = out.content_write = out.jobs_read = true;
        else if (!scope.empty()) {
            error = "unknown Layers scope '" + std::string(scope) +
                    "' (content:read, content:write, jobs:read, *)";
            return false;
        }
        scopes = comma == std::string_view::npos ? std::string_view{} : scopes.substr(comma + 1);
    }
    return true;
}

bool parse_lamina_on(std::string_view v, webhook_settings& w) {
    bool failed = false, cancelled = false;
    while (!v.empty()) {
        const auto comma = v.find(',');
        const auto part = v.substr(0, comma);
        if (part == "failed")
            failed = true;
        else if (part == "cancelled")
            cancelled = true;
        else if (part != "completed")
            return false;
        v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
    }
    w.lamina_failed = failed;
    w.lamina_cancelled = cancelled;
    return true;
}

bool parse_event_list(std::string_view text, std::vector<std::string>& out) {
    std::vector<std::string> events;
    while (true) {
        const auto comma = text.find(',');
        const auto e = text.substr(0, comma);
        if (e.empty()) return false;
        events.emplace_back(e);
        if (comma == std::string_view::npos) break;
        text = text.substr(comma + 1);
    }
    out = std::move(events);
    return true;
}

namespace {

// One webhook option (see help_text); false with `error` empty means a bad value, and
// `handled` false means `name` is not a webhook option.
template <class Need>
bool parse_webhook_option(std::string_view name, Need& need, std::string_view& value,
                          webhook_settings& w, bool& handled) {
    handled = true;
    auto loopback_url = [&](std::string& out) {
        out = std::string(value);
        return value.starts_with("http://") || value.empty();
    };
    if (name == "lamina-webhook-on") return need() && parse_lamina_on(value, w);
    if (name == "hrizn-webhook") return need() && loopback_url(w.hrizn_url);
    if (name == "hrizn-webhook-secret")
        return need() && !value.empty() && (w.hrizn_secret = std::string(value), true);
    if (name == "hrizn-webhook-events") return need() && parse_event_list(value, w.hrizn_events);
    if (name == "layers-webhook") return need() && loopback_url(w.layers_url);
    if (name == "layers-webhook-secret")
        return need() && !value.empty() && (w.layers_secret = std::string(value), true);
    if (name == "layers-webhook-events") return need() && parse_event_list(value, w.layers_events);
    if (name == "webhook-timeout-s") return need() && parse_seconds(value, w.timeout_s);
    if (name == "webhook-oversize-bytes")
        return need() && parse_num(value, w.oversize_bytes) && w.oversize_bytes > 0;
    handled = false;
    return false;
}

}  // namespace

bool apply_layers_tier(layers_settings& l, std::string_view tier) {
    if (tier == "standard")
        l.read_rpm = 120, l.write_rpm = 60, l.long_rpm = 20, l.daily_write_cap = 10000;
    else if (tier == "pilot")
        l.read_rpm = 1200, l.write_rpm = 600, l.long_rpm = 60, l.daily_write_cap = 100000;
    else if (tier == "partner")
        l.read_rpm = 6000, l.write_rpm = 3000, l.long_rpm = 300, l.daily_write_cap = 500000;
    else
        return false;
    return true;
}

// The help text is laid out by hand, as it prints.
// clang-format off
std::string help_text() {
    std::ostringstream o;
    o << "briefsim: a local simulator of the Lamina /v1 API (HTTP or HTTPS), a files origin that\n"
         "serves run outputs, the Hrizn public API and the Layers Partner API on origins of their own.\n"
         "Prints one line when ready:\n"
         "  briefsim listening api=http://HOST:PORT files=http://HOST:PORT hrizn=http://HOST:PORT/v1/public"
         " layers=http://HOST:PORT\n"
         "and exits 0 on SIGTERM or SIGINT.\n\n"
         "usage: briefsim [options]\n\n"
         "server:\n"
         "  --host ADDR            listen address for both origins (default 127.0.0.1)\n"
         "  --port N               API origin port, 0 = any free port (default 0)\n"
         "  --files-port N         files origin port, 0 = any free port (default 0)\n"
         "  --key KEY              accepted API key (repeatable; default lma_briefsim_key)\n"
         "  --tls-cert FILE        PEM certificate chain; with --tls-key, both origins speak HTTPS\n"
         "  --tls-key FILE         PEM private key\n"
         "  --quiet                no per-request log lines on stderr\n\n"
         "behaviour:\n"
         "  --time-scale S         divide every API duration by S: run length, ping interval (15 s),\n"
         "                         stream limit (10 min), wait timeout, rate window (default 1)\n"
         "  --run-seconds T        mean run length in API seconds, +-25% seeded jitter (default 20)\n"
         "  --seed N               seed for ids, jitter and all fault decisions (default 1)\n"
         "  --rate-limit N         requests per window per client address over all /v1 (default 100)\n"
         "  --rate-window-s T      rate window in API seconds (default 60)\n"
         "  --rate-mode fixed|sliding  window kind (default fixed, like express-rate-limit)\n"
         "  --output-bytes N       pad each image (PNG private chunk) / size each video to N bytes\n"
         "  --credits N            starting credit balance for /v1/account/usage (default 100000)\n\n"
         "hrizn (base URL <hrizn origin>/v1/public; runtime changes: POST /_sim/hrizn):\n"
         "  --hrizn-port N         Hrizn origin port, 0 = any free port (default 0)\n"
         "  --hrizn-key KEY[=SCOPES]  accepted X-API-Key (repeatable), scopes content:read,content:write\n"
         "                         (default both); e.g. KEY=content:read is a read-only key. Default key:\n"
         "                         " << default_hrizn_key << "\n"
         "  --hrizn-expired-key KEY  a key answered 401 key_expired (repeatable)\n"
         "  --hrizn-revoked-key KEY  a key answered 401 key_revoked (repeatable)\n"
         "  --hrizn-rate-limit N   requests per window per key (default 60)\n"
         "  --hrizn-rate-window-s T  window in API seconds (default 60)\n"
         "  --hrizn-rate-mode strict|sliding  strict: refused requests stay in the window and extend\n"
         "                         the backoff, as Hrizn documents (default); sliding: they do not\n"
         "  --hrizn-daily-cap N    accepted requests per key per day (default 10000)\n"
         "  --hrizn-day-s T        day length in API seconds; days roll over at start + n*T (default 86400)\n"
         "  --hrizn-gen-seconds T  mean generation time in API seconds, +-25% seeded jitter (default 120)\n"
         "  --hrizn-idempotency-s T  X-Idempotency-Key replay window in API seconds (default 86400)\n"
         "  --hrizn-item-error status|object  failed batch item: {\"status\":\"failed\",\"error\":\"...\"}\n"
         "                         (default) or {\"error\":{\"code\",\"message\"}} without status\n"
         "  --hrizn-html html|json GET /content/{id}/html: text/html (default) or {\"data\":{\"html\":...}}\n\n"
         "layers (base URL <layers origin>; runtime changes: POST /_sim/layers):\n"
         "  --layers-port N        Layers origin port, 0 = any free port (default 0)\n"
         "  --layers-key KEY[=SCOPES]  accepted Bearer key (repeatable), scopes content:read,content:write,\n"
         "                         jobs:read or * (default all). Default key:\n"
         "                         " << default_layers_key << "\n"
         "  --layers-tier standard|pilot|partner  the documented per-class limits and daily write cap\n"
         "  --layers-read-rpm N    read-light (every GET) requests per window per key (default 120)\n"
         "  --layers-write-rpm N   write-light requests per window per key (default 60)\n"
         "  --layers-long-rpm N    long-running starts (generate) per window per key (default 20)\n"
         "  --layers-window-s T    sliding window of every class in API seconds (default 60)\n"
         "  --layers-daily-write-cap N  accepted writes per key per day (default 10000)\n"
         "  --layers-day-s T       day length in API seconds (default 86400)\n"
         "  --layers-max-jobs N    the org's concurrent running jobs cap (default 10)\n"
         "  --layers-credits N     credit balance (default 1000)\n"
         "  --layers-cost N        credits per variant of a generate (default 20)\n"
         "  --layers-gen-seconds T mean job length in API seconds, +-25% seeded jitter (default 60)\n"
         "  --layers-idempotency-s T  Idempotency-Key replay window in API seconds (default 86400)\n"
         "  --layers-corrupt P     share of first asset downloads served corrupted (same length)\n"
         "  --layers-reset epoch|delta  X-RateLimit-Reset as epoch seconds (default) or seconds left\n"
         "  --layers-no-ratelimit-headers  omit X-RateLimit-Limit/Remaining/Reset (names unconfirmed)\n"
         "  --layers-accept ids|single  202 body: containerIds[] (default) or the older containerId\n"
         "  --layers-auth bearer|both  bearer only (default, newer docs) or also X-Api-Key (older docs)\n"
         "  --layers-scopes enforce|ignore  403 FORBIDDEN_SCOPE (default) or scopes not enforced\n"
         "  --layers-moderation-word W  a brief topic containing W is MODERATION_BLOCKED (default blockme)\n\n"
         "webhooks (sim/README.md \"Webhooks\"; runtime changes: POST /_sim/webhooks):\n"
         "  --lamina-webhook-on LIST  run endings delivered to ?webhook=: completed (always), failed,\n"
         "                         cancelled (default completed,failed)\n"
         "  --hrizn-webhook URL    Hrizn subscription (http:// on loopback) for every key's content\n"
         "  --hrizn-webhook-secret S  its HMAC-SHA256 secret (default hzwh_briefsim_5ec7e7)\n"
         "  --hrizn-webhook-events LIST  subscribed events (default content.completed,content.failed;\n"
         "                         content.progress adds one event per finished component)\n"
         "  --layers-webhook URL   Layers webhook endpoint (http:// on loopback) for every project\n"
         "  --layers-webhook-secret S  its signing secret (default whsec_briefsim_5ec7e7)\n"
         "  --layers-webhook-events LIST  subscribed events (default job.completed,job.failed,\n"
         "                         job.canceled,content.generated)\n"
         "  --webhook-timeout-s T  receiver timeout per attempt, API seconds, >= 1 real s (default 15)\n"
         "  --webhook-oversize-bytes N  body size sent by the webhook-oversize fault (default 2 MiB)\n\n"
         "faults (also settable at runtime: POST /_sim/faults with {\"name\": value, ...}):\n";
    for (const auto& s : fault_switches()) {
        std::string head = "  --" + std::string(s.name) + (s.arg.empty() ? "" : " " + std::string(s.arg));
        o << head << (head.size() < 25 ? std::string(25 - head.size(), ' ') : std::string("\n") + std::string(25, ' '))
          << s.help << "\n";
    }
    o << "\n  --help                 this text\n";
    return o.str();
}
// clang-format on

namespace {

// One --layers-* option; false with `error` empty means a bad value.
template <class Need>
bool parse_layers_option(std::string_view name, bool has_value, Need& need, std::string_view& value,
                         layers_settings& l, bool& any_key, std::string& error) {
    const std::string_view n = name.substr(7);
    if (n == "no-ratelimit-headers") {
        if (has_value) return false;
        l.ratelimit_headers = false;
        return true;
    }
    if (!need()) return false;
    if (n == "key") {
        layers_key_spec k;
        if (!parse_layers_key(value, k, error)) return error = "--layers-key: " + error, false;
        any_key = true;
        l.keys.push_back(k);
        return true;
    }
    if (n == "tier") return apply_layers_tier(l, value);
    if (n == "read-rpm") return parse_num(value, l.read_rpm);
    if (n == "write-rpm") return parse_num(value, l.write_rpm);
    if (n == "long-rpm") return parse_num(value, l.long_rpm);
    if (n == "window-s") return parse_seconds(value, l.window_s);
    if (n == "daily-write-cap") return parse_num(value, l.daily_write_cap);
    if (n == "day-s") return parse_seconds(value, l.day_s);
    if (n == "max-jobs") return parse_num(value, l.max_jobs);
    if (n == "credits") return parse_num(value, l.credits);
    if (n == "cost") return parse_num(value, l.cost) && l.cost >= 0;
    if (n == "gen-seconds") return parse_num(value, l.gen_seconds) && l.gen_seconds >= 0;
    if (n == "idempotency-s") return parse_seconds(value, l.idempotency_s);
    if (n == "corrupt") return parse_num(value, l.corrupt) && l.corrupt >= 0 && l.corrupt <= 1;
    if (n == "reset")
        return (value == "epoch" || value == "delta") && (l.reset_epoch = value == "epoch", true);
    if (n == "accept")
        return (value == "ids" || value == "single") && (l.container_ids = value == "ids", true);
    if (n == "auth")
        return (value == "bearer" || value == "both") &&
               (l.accept_x_api_key = value == "both", true);
    if (n == "scopes")
        return (value == "enforce" || value == "ignore") &&
               (l.enforce_scopes = value == "enforce", true);
    if (n == "moderation-word") {
        l.moderation_word = std::string(value);
        return !value.empty();
    }
    error = "unknown option: --" + std::string(name);
    return false;
}

}  // namespace

bool parse_options(int argc, char** argv, options& out, bool& help, std::string& error) {
    help = false;
    bool any_hrizn_key = false;
    bool any_layers_key = false;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--help" || a == "-h") {
            help = true;
            return true;
        }
        if (!a.starts_with("--")) {
            error = "unexpected argument: " + std::string(a);
            return false;
        }
        std::string_view name = a.substr(2);
        std::string_view value;
        bool has_value = false;
        if (auto eq = name.find('='); eq != std::string_view::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
            has_value = true;
        }
        auto need = [&]() -> bool {
            if (has_value) return true;
            if (i + 1 >= argc) {
                error = "--" + std::string(name) + " needs a value";
                return false;
            }
            value = argv[++i];
            has_value = true;
            return true;
        };
        auto bad = [&]() {
            error = "bad value for --" + std::string(name) + ": '" + std::string(value) + "'";
            return false;
        };
        if (name == "quiet") {
            out.quiet = true;
        } else if (name == "host") {
            if (!need()) return false;
            out.host = value;
        } else if (name == "port") {
            if (!need() || !parse_num(value, out.port)) return error.empty() ? bad() : false;
        } else if (name == "files-port") {
            if (!need() || !parse_num(value, out.files_port)) return error.empty() ? bad() : false;
        } else if (name == "key") {
            if (!need()) return false;
            out.keys.emplace_back(value);
        } else if (name == "tls-cert") {
            if (!need()) return false;
            out.tls_cert = value;
        } else if (name == "tls-key") {
            if (!need()) return false;
            out.tls_key = value;
        } else if (name == "time-scale") {
            if (!need() || !parse_num(value, out.time_scale) || out.time_scale <= 0)
                return error.empty() ? bad() : false;
        } else if (name == "run-seconds") {
            if (!need() || !parse_num(value, out.run_seconds) || out.run_seconds < 0)
                return error.empty() ? bad() : false;
        } else if (name == "seed") {
            if (!need() || !parse_num(value, out.seed)) return error.empty() ? bad() : false;
        } else if (name == "rate-limit") {
            if (!need() || !parse_num(value, out.rate_limit)) return error.empty() ? bad() : false;
        } else if (name == "rate-window-s") {
            if (!need() || !parse_num(value, out.rate_window_s) || out.rate_window_s <= 0)
                return error.empty() ? bad() : false;
        } else if (name == "rate-mode") {
            if (!need()) return false;
            if (value == "fixed")
                out.rate = rate_mode::fixed;
            else if (value == "sliding")
                out.rate = rate_mode::sliding;
            else
                return bad();
        } else if (name == "output-bytes") {
            if (!need() || !parse_num(value, out.output_bytes))
                return error.empty() ? bad() : false;
        } else if (name == "credits") {
            if (!need() || !parse_num(value, out.credits)) return error.empty() ? bad() : false;
        } else if (name == "hrizn-port") {
            if (!need() || !parse_num(value, out.hrizn_port)) return error.empty() ? bad() : false;
        } else if (name == "hrizn-key" || name == "hrizn-expired-key" ||
                   name == "hrizn-revoked-key") {
            if (!need()) return false;
            hrizn_key_spec k;
            if (!parse_hrizn_key(value, k, error))
                return error = "--" + std::string(name) + ": " + error, false;
            if (name == "hrizn-expired-key") k.state = hrizn_key_state::expired;
            if (name == "hrizn-revoked-key") k.state = hrizn_key_state::revoked;
            any_hrizn_key = any_hrizn_key || name == "hrizn-key";
            out.hrizn.keys.push_back(k);
        } else if (name == "hrizn-rate-limit") {
            if (!need() || !parse_num(value, out.hrizn.rate_limit))
                return error.empty() ? bad() : false;
        } else if (name == "hrizn-rate-window-s") {
            if (!need() || !parse_seconds(value, out.hrizn.rate_window_s))
                return error.empty() ? bad() : false;
        } else if (name == "hrizn-rate-mode") {
            if (!need()) return false;
            if (value == "strict")
                out.hrizn.rate = rate_mode::strict;
            else if (value == "sliding")
                out.hrizn.rate = rate_mode::sliding;
            else
                return bad();
        } else if (name == "hrizn-daily-cap") {
            if (!need() || !parse_num(value, out.hrizn.daily_cap))
                return error.empty() ? bad() : false;
        } else if (name == "hrizn-day-s") {
            if (!need() || !parse_seconds(value, out.hrizn.day_s))
                return error.empty() ? bad() : false;
        } else if (name == "hrizn-gen-seconds") {
            if (!need() || !parse_num(value, out.hrizn.gen_seconds) || out.hrizn.gen_seconds < 0)
                return error.empty() ? bad() : false;
        } else if (name == "hrizn-idempotency-s") {
            if (!need() || !parse_seconds(value, out.hrizn.idempotency_s))
                return error.empty() ? bad() : false;
        } else if (name == "hrizn-item-error") {
            if (!need()) return false;
            if (value == "status")
                out.hrizn.item_error = hrizn_item_error::status;
            else if (value == "object")
                out.hrizn.item_error = hrizn_item_error::object;
            else
                return bad();
        } else if (name == "hrizn-html") {
            if (!need()) return false;
            if (value == "html")
                out.hrizn.html = hrizn_html_form::html;
            else if (value == "json")
                out.hrizn.html = hrizn_html_form::json;
            else
                return bad();
        } else if (bool handled = false;
                   !parse_webhook_option(name, need, value, out.webhooks, handled) && handled) {
            return error.empty() ? bad() : false;
        } else if (handled) {
        } else if (name == "layers-port") {
            if (!need() || !parse_num(value, out.layers_port)) return error.empty() ? bad() : false;
        } else if (name.starts_with("layers-")) {
            if (!parse_layers_option(name, has_value, need, value, out.layers, any_layers_key,
                                     error))
                return error.empty() ? bad() : false;
        } else {
            const fault_switch* sw = nullptr;
            for (const auto& s : fault_switches())
                if (s.name == name) sw = &s;
            if (!sw) {
                error = "unknown option: --" + std::string(name);
                return false;
            }
            if (!sw->arg.empty() && !need()) return false;
            if (!apply_fault(out.faults, name, has_value ? value : std::string_view{}, start,
                             error))
                return false;
        }
    }
    if (out.tls_cert.empty() != out.tls_key.empty()) {
        error = "--tls-cert and --tls-key go together";
        return false;
    }
    if (out.keys.empty()) out.keys.push_back("lma_briefsim_key");
    // The default key stays usable beside expired or revoked keys, unless --hrizn-key names others.
    if (!any_hrizn_key) out.hrizn.keys.push_back({std::string(default_hrizn_key)});
    if (!any_layers_key) out.layers.keys.push_back({std::string(default_layers_key)});
    return true;
}

}  // namespace briefd::sim
