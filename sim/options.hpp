// briefsim's command line: plain struct with defaults, one parser, one --help text.
#pragma once

#include "faults.hpp"
#include "ratelimit.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace briefd::sim {

struct options {
    std::string host = "127.0.0.1";       ///< address both origins listen on
    std::uint16_t port = 0;               ///< API origin port (0 = any free port)
    std::uint16_t files_port = 0;         ///< files origin port (0 = any free port)
    std::vector<std::string> keys;        ///< accepted API keys (default: lma_briefsim_key)
    std::string tls_cert, tls_key;        ///< PEM files; both set = HTTPS on both origins
    double time_scale = 1;                ///< every API duration is divided by this
    double run_seconds = 20;              ///< mean run length in API seconds (±25 % seeded jitter)
    std::uint64_t seed = 1;               ///< seeds ids, jitter and every fault decision
    unsigned rate_limit = 100;            ///< requests per window per client address
    double rate_window_s = 60;            ///< window in API seconds
    rate_mode rate = rate_mode::fixed;
    std::uint64_t output_bytes = 0;       ///< pad images / size videos to this many bytes (0 = natural)
    std::int64_t credits = 100000;        ///< starting credit balance
    bool quiet = false;                   ///< no per-request log on stderr
    fault_settings faults;
};

/// Parses argv. Returns false with `error` set on a bad option; sets `help` for --help.
bool parse_options(int argc, char** argv, options& out, bool& help, std::string& error);

std::string help_text();

}  // namespace briefd::sim
