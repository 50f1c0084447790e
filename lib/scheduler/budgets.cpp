#include "scheduler/budgets.hpp"

#include <algorithm>

namespace briefd::scheduler {

namespace {
// The server counts a request when it arrives, we when we send it; arrival delays differ from one
// request to the next, so the window we enforce is a little longer than the server's.
budgets::clock::duration padded(budgets::clock::duration window) {
    return window + std::max<budgets::clock::duration>(std::chrono::milliseconds(20), window / 200);
}
constexpr auto day = std::chrono::hours(24);
}  // namespace

budgets::budgets(bucket_limits default_limits,
                 std::map<std::string, bucket_limits, std::less<>> classes) {
    buckets_.push_back({"", default_limits,
                        ratelimit::limiter(default_limits.requests, padded(default_limits.window)),
                        std::nullopt, true});
    apply(buckets_.front(), default_limits);
    for (auto& [name, l] : classes) {
        if (name.empty()) continue;
        buckets_.push_back(
            {name, l, ratelimit::limiter(l.requests, padded(l.window)), std::nullopt, true});
        apply(buckets_.back(), l);
    }
}

void budgets::apply(bucket& b, const bucket_limits& l) {
    b.limits = l;
    b.window.set_limit(l.requests, padded(l.window));
    if (!l.per_day)
        b.day.reset();
    else if (b.day)
        b.day->set_limit(l.per_day, day);
    else
        b.day.emplace(l.per_day, day);
}

std::size_t budgets::index_of(std::string_view cls) const {
    if (cls.empty()) return 0;
    for (std::size_t i = 1; i < buckets_.size(); ++i)
        if (buckets_[i].configured && buckets_[i].name == cls) return i;
    return 0;
}

std::size_t budgets::response_bucket(std::string_view header_class,
                                     std::size_t request_bucket) const {
    if (header_class.empty()) return request_bucket < buckets_.size() ? request_bucket : 0;
    return index_of(header_class);
}

budgets::clock::time_point budgets::earliest(std::size_t b, clock::time_point now) const {
    const auto& k = buckets_.at(b);
    auto at = k.window.earliest(now);
    if (k.day) at = std::max(at, k.day->earliest(now));
    return at;
}

bool budgets::try_reserve(std::size_t b, clock::time_point now) {
    auto& k = buckets_.at(b);
    if (k.day && k.day->earliest(now) > now) return false;
    if (!k.window.try_reserve(now)) return false;
    if (k.day) k.day->try_acquire(now);  // checked above: it has room
    return true;
}

budgets::clock::time_point budgets::sent(std::size_t b, clock::time_point now) {
    return buckets_.at(b).window.sent(now);
}

void budgets::answered(std::size_t b, clock::time_point sent_at, clock::time_point now) {
    if (b < buckets_.size()) buckets_[b].window.answered(sent_at, now);
}

void budgets::unreserve(std::size_t b) noexcept {
    if (b < buckets_.size()) buckets_[b].window.unreserve();
}

void budgets::observe(std::size_t b, const ratelimit::rate_info& info, clock::time_point now) {
    buckets_.at(b).window.observe(info, now);
}

budgets::clock::time_point budgets::on_429(std::size_t b, const ratelimit::rate_info& info,
                                           clock::time_point now, clock::duration fallback) {
    auto& k = buckets_.at(b).window;
    k.on_429(info, now, fallback);
    return k.paused_until();
}

std::size_t budgets::available(std::size_t b, clock::time_point now) const {
    const auto& k = buckets_.at(b);
    auto n = k.window.available(now);
    return k.day ? std::min(n, k.day->available(now)) : n;
}

void budgets::set_limits(bucket_limits default_limits,
                         std::map<std::string, bucket_limits, std::less<>> classes) {
    apply(buckets_.front(), default_limits);
    for (std::size_t i = 1; i < buckets_.size(); ++i) {
        auto it = classes.find(buckets_[i].name);
        buckets_[i].configured = it != classes.end();
        if (it != classes.end()) {
            apply(buckets_[i], it->second);
            classes.erase(it);
        }
    }
    for (auto& [name, l] : classes) {
        if (name.empty()) continue;
        buckets_.push_back(
            {name, l, ratelimit::limiter(l.requests, padded(l.window)), std::nullopt, true});
        apply(buckets_.back(), l);
    }
}

}  // namespace briefd::scheduler
