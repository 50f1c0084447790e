// Hrizn's rate limits (PROVIDERS §2.5), per API key: a sliding minute window (the shared
// rate_limiter, strict mode by default) and a daily cap whose days roll over at origin + n days.
// Sans-I/O: the caller passes the clock. All durations are real (already time-scaled).
#pragma once

#include "../ratelimit.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace briefd::sim::hrizn {

enum class limit_verdict { allowed, over_minute, over_day };

struct limit_decision {
    limit_verdict verdict = limit_verdict::allowed;
    unsigned limit = 0;      ///< per-minute limit (X-RateLimit-Limit)
    unsigned remaining = 0;  ///< the smaller of the minute and day budgets left
    /// Allowed or over_minute: until the minute window gives a slot back. over_day: until the
    /// rollover. X-RateLimit-Reset is now + reset; a 429's Retry-After is reset too.
    std::chrono::steady_clock::duration reset{};
};

class key_limits {
  public:
    using clock = std::chrono::steady_clock;

    /// `per_window` requests per `window`, `daily_cap` accepted requests per `day`, days counted
    /// from `origin`.
    key_limits(unsigned per_window, clock::duration window, rate_mode mode, std::uint64_t daily_cap,
               clock::duration day, clock::time_point origin)
        : minute_(per_window, window, mode), cap_(daily_cap), day_(day), origin_(origin) {}

    /// Counts one request of `bucket` (an API key) at `now`. A request refused by the daily cap
    /// does not touch the minute window; one refused by the minute window does not count
    /// against the day.
    limit_decision hit(const std::string& bucket, clock::time_point now);

  private:
    struct day_count {
        std::int64_t day = -1;
        std::uint64_t used = 0;
    };
    rate_limiter minute_;
    std::uint64_t cap_;
    clock::duration day_;
    clock::time_point origin_;
    std::unordered_map<std::string, day_count> days_;
};

}  // namespace briefd::sim::hrizn
