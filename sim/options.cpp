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

// The help text is laid out by hand, as it prints.
// clang-format off
std::string help_text() {
    std::ostringstream o;
    o << "briefsim: a local simulator of the Lamina /v1 API (HTTP or HTTPS), a files origin that\n"
         "serves run outputs, and the Hrizn public API on an origin of its own. Prints one line when ready:\n"
         "  briefsim listening api=http://HOST:PORT files=http://HOST:PORT hrizn=http://HOST:PORT/v1/public\n"
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

bool parse_options(int argc, char** argv, options& out, bool& help, std::string& error) {
    help = false;
    bool any_hrizn_key = false;
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
    return true;
}

}  // namespace briefd::sim
