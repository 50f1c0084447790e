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

}  // namespace

std::string help_text() {
    std::ostringstream o;
    o << "briefsim: a local simulator of the Lamina /v1 API (HTTP or HTTPS) plus a files origin\n"
         "that serves run outputs. Prints one line when ready:\n"
         "  briefsim listening api=http://HOST:PORT files=http://HOST:PORT\n"
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
         "faults (also settable at runtime: POST /_sim/faults with {\"name\": value, ...}):\n";
    for (const auto& s : fault_switches()) {
        std::string head = "  --" + std::string(s.name) + (s.arg.empty() ? "" : " " + std::string(s.arg));
        o << head << (head.size() < 25 ? std::string(25 - head.size(), ' ') : std::string("\n") + std::string(25, ' '))
          << s.help << "\n";
    }
    o << "\n  --help                 this text\n";
    return o.str();
}

bool parse_options(int argc, char** argv, options& out, bool& help, std::string& error) {
    help = false;
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
            if (!need() || !parse_num(value, out.time_scale) || out.time_scale <= 0) return error.empty() ? bad() : false;
        } else if (name == "run-seconds") {
            if (!need() || !parse_num(value, out.run_seconds) || out.run_seconds < 0) return error.empty() ? bad() : false;
        } else if (name == "seed") {
            if (!need() || !parse_num(value, out.seed)) return error.empty() ? bad() : false;
        } else if (name == "rate-limit") {
            if (!need() || !parse_num(value, out.rate_limit)) return error.empty() ? bad() : false;
        } else if (name == "rate-window-s") {
            if (!need() || !parse_num(value, out.rate_window_s) || out.rate_window_s <= 0) return error.empty() ? bad() : false;
        } else if (name == "rate-mode") {
            if (!need()) return false;
            if (value == "fixed") out.rate = rate_mode::fixed;
            else if (value == "sliding") out.rate = rate_mode::sliding;
            else return bad();
        } else if (name == "output-bytes") {
            if (!need() || !parse_num(value, out.output_bytes)) return error.empty() ? bad() : false;
        } else if (name == "credits") {
            if (!need() || !parse_num(value, out.credits)) return error.empty() ? bad() : false;
        } else {
            const fault_switch* sw = nullptr;
            for (const auto& s : fault_switches())
                if (s.name == name) sw = &s;
            if (!sw) {
                error = "unknown option: --" + std::string(name);
                return false;
            }
            if (!sw->arg.empty() && !need()) return false;
            if (!apply_fault(out.faults, name, has_value ? value : std::string_view{}, start, error)) return false;
        }
    }
    if (out.tls_cert.empty() != out.tls_key.empty()) {
        error = "--tls-cert and --tls-key go together";
        return false;
    }
    if (out.keys.empty()) out.keys.push_back("lma_briefsim_key");
    return true;
}

}  // namespace briefd::sim
