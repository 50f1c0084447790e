// Capped exponential backoff with full jitter (AWS Architecture Blog "Exponential Backoff And
// Jitter"): delay = uniform(0, min(cap, base * 2^attempt)). Full jitter spreads a crowd of
// retrying clients over the whole interval instead of synchronising them at its end.
#pragma once

#include <chrono>
#include <random>

namespace briefd::ratelimit {

struct backoff_policy {
    using clock = std::chrono::steady_clock;
    clock::duration base{std::chrono::milliseconds(500)};  ///< the ceiling for attempt 0
    clock::duration cap{std::chrono::seconds(60)};         ///< no delay is ever longer than this
};

/// The ceiling of the delay for `attempt` (0-based): min(cap, base * 2^attempt), without overflow
/// however large `attempt` is. Zero when base or cap is not positive.
inline backoff_policy::clock::duration backoff_ceiling(const backoff_policy& p,
                                                       unsigned attempt) noexcept {
    using duration = backoff_policy::clock::duration;
    if (p.base <= duration::zero() || p.cap <= duration::zero()) {
        return duration::zero();
    }
    if (p.base >= p.cap) {
        return p.cap;
    }
    // base < cap here; doubling stops as soon as it would pass cap, so nothing overflows.
    duration d = p.base;
    for (unsigned i = 0; i < attempt; ++i) {
        if (d > p.cap / 2) {
            return p.cap;
        }
        d *= 2;
    }
    return d;
}

/// A delay drawn uniformly from [0, backoff_ceiling(policy, attempt)] with `rng` (inject a seeded
/// engine in tests).
template <class URBG>
backoff_policy::clock::duration backoff_delay(const backoff_policy& policy, unsigned attempt,
                                              URBG& rng) {
    using duration = backoff_policy::clock::duration;
    const auto ceiling = backoff_ceiling(policy, attempt);
    std::uniform_int_distribution<duration::rep> dist(0, ceiling.count());
    return duration(dist(rng));
}

}  // namespace briefd::ratelimit
