#include "limits.hpp"

#include <algorithm>

namespace briefd::sim::hrizn {

limit_decision key_limits::hit(const std::string& bucket, clock::time_point now) {
    limit_decision d;
    d.limit = minute_.limit();
    const std::int64_t day = day_.count() > 0 ? (now - origin_) / day_ : 0;
    day_count& used = days_[bucket];
    if (used.day != day) used = {day, 0};
    if (used.used >= cap_) {
        d.verdict = limit_verdict::over_day;
        d.reset = origin_ + (day + 1) * day_ - now;
        return d;
    }
    const rate_decision m = minute_.hit(bucket, now);
    d.reset = m.reset;
    if (!m.allowed) {
        d.verdict = limit_verdict::over_minute;
        return d;
    }
    ++used.used;
    d.remaining = static_cast<unsigned>(std::min<std::uint64_t>(m.remaining, cap_ - used.used));
    return d;
}

}  // namespace briefd::sim::hrizn
