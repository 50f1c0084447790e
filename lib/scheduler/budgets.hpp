// The rate budgets of one provider host, one per bucket class (DESIGN §12, PROVIDERS §3.5). A
// provider that keeps several rate-limit buckets per key (Layers: read-light for GETs,
// write-light, long-running for job-starting POSTs) names each request's class; every class that
// has limits of its own (`rate_limit_classes`) gets its own sliding-window limiter, optional daily
// cap and 429 pause, and every other request draws from the default bucket (`rate_limit`). A
// response's X-RateLimit-* headers are learned by the bucket its class header names, and a 429
// pauses that bucket only: a long-running 429 never holds back the polls of running jobs.
//
// Sans-I/O and deterministic: every method takes `now` (tests drive a fake clock). Buckets are
// addressed by index (0 is the default bucket) so a queue can remember where it draws from.
#pragma once

#include "ratelimit/headers.hpp"
#include "ratelimit/limiter.hpp"

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace briefd::scheduler {

/// One bucket's configured limits: at most `requests` in any `window`, and at most `per_day` in
/// any 24 h when non-zero.
struct bucket_limits {
    std::size_t requests = 100;
    std::chrono::steady_clock::duration window = std::chrono::seconds(60);
    std::size_t per_day = 0;
};

class budgets {
  public:
    using clock = std::chrono::steady_clock;

    /// `default_limits` for the default bucket, `classes` for the classes with their own.
    budgets(bucket_limits default_limits,
            std::map<std::string, bucket_limits, std::less<>> classes);

    /// The bucket a request of class `cls` draws from: its class's own when it has limits, else
    /// the default (0). An empty class is the default.
    std::size_t index_of(std::string_view cls) const;
    /// The bucket a response describes: the one its class header names (`header_class`, e.g. the
    /// X-RateLimit-Endpoint-Class value) when it names one, else the request's own bucket.
    std::size_t response_bucket(std::string_view header_class, std::size_t request_bucket) const;
    std::size_t size() const noexcept { return buckets_.size(); }
    /// The class name of bucket `b` ("" for the default).
    const std::string& name(std::size_t b) const { return buckets_.at(b).name; }

    /// When bucket `b` may next send (`now` when it may now).
    clock::time_point earliest(std::size_t b, clock::time_point now) const;
    /// Reserves a send of bucket `b` now if it has room (see ratelimit::limiter::try_reserve);
    /// false and nothing changed otherwise.
    bool try_reserve(std::size_t b, clock::time_point now);
    /// The reserved request of bucket `b` leaves now (returns the time recorded, the key for
    /// answered()) / will not leave.
    clock::time_point sent(std::size_t b, clock::time_point now);
    void unreserve(std::size_t b) noexcept;
    /// The request of bucket `b` recorded at `sent_at` was answered (or failed) at `now`
    /// (ratelimit::limiter::answered).
    void answered(std::size_t b, clock::time_point sent_at, clock::time_point now);

    /// A response's rate-limit state, learned by bucket `b` (response_bucket()).
    void observe(std::size_t b, const ratelimit::rate_info& info, clock::time_point now);
    /// A 429 for bucket `b`: pauses that bucket alone (Retry-After, else Reset, else `fallback`,
    /// as ratelimit::limiter::on_429). Returns when it may send again.
    clock::time_point on_429(std::size_t b, const ratelimit::rate_info& info, clock::time_point now,
                             clock::duration fallback);

    /// Requests bucket `b` could send at `now` without waiting.
    std::size_t available(std::size_t b, clock::time_point now) const;
    /// The configured per-window limit of bucket `b`.
    std::size_t limit(std::size_t b) const { return buckets_.at(b).limits.requests; }

    /// Live reload: new limits for the default and the classes. Send logs are kept (no burst).
    /// A class that loses its own limits keeps its bucket index (queued requests stay where they
    /// are) but new requests of that class draw from the default again.
    void set_limits(bucket_limits default_limits,
                    std::map<std::string, bucket_limits, std::less<>> classes);

  private:
    struct bucket {
        std::string name;
        bucket_limits limits;
        ratelimit::limiter window;
        std::optional<ratelimit::limiter> day;
        bool configured = true;  ///< false: a class whose limits were removed by a reload
    };
    void apply(bucket& b, const bucket_limits& l);
    std::vector<bucket> buckets_;
};

}  // namespace briefd::scheduler
