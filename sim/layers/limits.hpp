// Layers' rate limits (PROVIDERS §3.5), per API key: one sliding per-minute window per bucket
// class (read-light, write-light, long-running), plus a daily cap on writes (both write classes)
// whose days roll over at origin + n days. Sans-I/O: the caller passes the clock. All durations
// are real (already time-scaled).
#pragma once

#include "../ratelimit.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace briefd::sim::layers {

enum class bucket_class { read_light, write_light, long_running };

/// The X-RateLimit-Endpoint-Class value: read-light, write-light, long-running.
std::string_view to_string(bucket_class c) noexcept;

enum class limit_verdict { allowed, over_class, over_day };

struct limit_decision {
    limit_verdict verdict = limit_verdict::allowed;
    unsigned limit = 0;      ///< the class's per-window limit (X-RateLimit-Limit)
    unsigned remaining = 0;  ///< the class budget left (for writes: also bounded by the day)
    /// Until the class window gives a slot back, or (over_day) until the rollover.
    std::chrono::steady_clock::duration reset{};
};

class class_limits {
  public:
    using clock = std::chrono::steady_clock;

    /// `rpm[c]` requests of class c per `window`; `daily_cap` accepted writes per `day` from
    /// `origin`.
    class_limits(std::array<unsigned, 3> rpm, clock::duration window, std::uint64_t daily_cap,
                 clock::duration day, clock::time_point origin);

    /// Counts one request of class `c` from `bucket` (an API key) at `now`. A write refused by
    /// the daily cap does not touch its class window; one refused by the window does not count
    /// against the day.
    limit_decision hit(const std::string& bucket, bucket_class c, clock::time_point now);

  private:
    struct day_count {
        std::int64_t day = -1;
        std::uint64_t used = 0;
    };
    std::array<rate_limiter, 3> windows_;
    std::uint64_t cap_;
    clock::duration day_;
    clock::time_point origin_;
    std::unordered_map<std::string, day_count> days_;
};

}  // namespace briefd::sim::layers
