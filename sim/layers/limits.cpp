#include "limits.hpp"

#include <algorithm>

namespace briefd::sim::layers {

std::string_view to_string(bucket_class c) noexcept {
    switch (c) {
        case bucket_class::read_light:
            return "read-light";
        case bucket_class::write_light:
            return "write-light";
        case bucket_class::long_running:
            return "long-running";
    }
    return "read-light";
}

class_limits::class_limits(std::array<unsigned, 3> rpm, clock::duration window,
                           std::uint64_t daily_cap, clock::duration day, clock::time_point origin)
    : windows_{rate_limiter(rpm[0], window, rate_mode::sliding),
               rate_limiter(rpm[1], window, rate_mode::sliding),
               rate_limiter(rpm[2], window, rate_mode::sliding)},
      cap_(daily_cap),
      day_(day),
      origin_(origin) {}

limit_decision class_limits::hit(const std::string& bucket, bucket_class c, clock::time_point now) {
    auto& window = windows_[static_cast<std::size_t>(c)];
    limit_decision d;
    d.limit = window.limit();
    const bool write = c != bucket_class::read_light;
    day_count* used = nullptr;
    if (write) {
        const std::int64_t day = day_.count() > 0 ? (now - origin_) / day_ : 0;
        used = &days_[bucket];
        if (used->day != day) *used = {day, 0};
        if (used->used >= cap_) {
            d.verdict = limit_verdict::over_day;
            d.reset = origin_ + (day + 1) * day_ - now;
            return d;
        }
    }
    const rate_decision m = window.hit(bucket, now);
    d.reset = m.reset;
    if (!m.allowed) {
        d.verdict = limit_verdict::over_class;
        return d;
    }
    d.remaining = m.remaining;
    if (used) {
        ++used->used;
        d.remaining =
            static_cast<unsigned>(std::min<std::uint64_t>(d.remaining, cap_ - used->used));
    }
    return d;
}

}  // namespace briefd::sim::layers
