// What every part of the simulator shares: options, live fault settings, the limiter, the
// seeded generators, the time scale and the counters. One io_context thread: no locks.
#pragma once

#include "faults.hpp"
#include "options.hpp"
#include "ratelimit.hpp"
#include "stats.hpp"

#include <chrono>
#include <random>
#include <string>

namespace briefd::sim {

struct sim_state {
    using clock = std::chrono::steady_clock;

    sim_state(const options& o, stats& s)
        : opt(o),
          counters(s),
          faults(o.faults),
          limiter(o.rate_limit, real(o.rate_window_s), o.rate),
          run_rng(o.seed),
          fault_rng(o.seed ^ 0x5EEDFA017ull),
          request_rng(o.seed ^ 0x2E9E57ull) {}

    options opt;
    stats& counters;
    fault_settings faults;
    rate_limiter limiter;
    clock::time_point started = clock::now();
    std::mt19937_64 run_rng;    ///< ids, run jitter, fail-rate draws
    std::mt19937_64 fault_rng;  ///< per-request fault draws
    std::mt19937_64 request_rng;  ///< request ids (kept apart so they do not shift run ids)
    std::string files_base;     ///< e.g. "http://127.0.0.1:40123", set once listening

    /// A duration in API seconds as a real duration under the time scale.
    clock::duration real(double api_seconds) const {
        return std::chrono::duration_cast<clock::duration>(
            std::chrono::duration<double>(api_seconds / opt.time_scale));
    }
    /// True with probability p, from the fault generator.
    bool chance(double p) {
        if (p <= 0) return false;
        return std::uniform_real_distribution<double>(0, 1)(fault_rng) < p;
    }
    /// A random version-4 UUID from the run generator (reproducible under --seed).
    std::string uuid() { return uuid(run_rng); }
    static std::string uuid(std::mt19937_64& g);
};

}  // namespace briefd::sim
