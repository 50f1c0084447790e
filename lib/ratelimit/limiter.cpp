#include "ratelimit/limiter.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <vector>

namespace briefd::ratelimit {

namespace {

std::size_t scaled(std::size_t requests, double safety) noexcept {
    const auto n = static_cast<std::size_t>(std::floor(static_cast<double>(requests) * safety));
    return std::max<std::size_t>(n, 1);
}

// The latest the server can have counted a send, as far as pacing goes: its answer when it came
// back within half a window (it arrived before its answer), else its departure (a long poll the
// server held, or no answer yet: the window's pad covers its arrival, as before). Departures alone
// let a request whose departure lagged its stamp (a stream open waiting for a pooled connection,
// a new connection on a loaded machine) be followed a window later by one that arrived at once:
// a sliding-window server refused the second, in bursts.
template <class Entry>
limiter::clock::time_point counted_by(const Entry& e, limiter::clock::duration window) {
    if (e.answered != limiter::clock::time_point::max() && e.answered - e.sent <= window / 2)
        return e.answered;
    return e.sent;
}

}  // namespace

limiter::limiter(std::size_t requests, clock::duration window, double safety)
    : requests_(std::max<std::size_t>(requests, 1)),
      window_(window > clock::duration::zero() ? window : std::chrono::seconds(1)),
      safety_(safety > 0.0 && safety <= 1.0 ? safety : 1.0) {}

limiter::constraint limiter::configured() const noexcept {
    return {scaled(requests_, safety_), window_};
}

std::optional<limiter::constraint> limiter::server() const noexcept {
    if (!server_) {
        return std::nullopt;
    }
    return constraint{scaled(server_->requests, safety_), server_->window};
}

std::size_t limiter::used(const constraint& c, clock::time_point now) const {
    // Sends counted in (now - window, now]: one counted exactly one window ago no longer counts.
    std::size_t n = pending_;
    for (const auto& e : log_)
        if (counted_by(e, c.window) > now - c.window) ++n;
    return n;
}

std::size_t limiter::free_slots(clock::time_point now) const {
    const auto conf = configured();
    const auto u = used(conf, now);
    std::size_t free = conf.requests > u ? conf.requests - u : 0;
    if (const auto s = server()) {
        const auto us = used(*s, now);
        free = std::min(free, s->requests > us ? s->requests - us : 0);
    }
    return free;
}

limiter::clock::time_point limiter::earliest(clock::time_point now) const {
    // Never before the newest recorded send: the log must stay in time order.
    auto t = std::max({now, paused_until(), log_.empty() ? now : log_.back().sent});
    // For N per W the next send must come at least W after the N-th most recent one. Moving t
    // later only lowers every window's count, so one pass over the constraints is enough.
    // A pending reservation may leave at any moment from now on: it counts as the newest send.
    std::vector<clock::time_point> counted;
    const auto apply = [&](const constraint& c) {
        if (pending_ >= c.requests) {
            t = clock::time_point::max();  // until a reservation is sent or given back
        } else if (log_.size() + pending_ >= c.requests) {
            // The (N - pending)-th latest of the recorded sends, by when they were counted.
            counted.clear();
            for (const auto& e : log_) counted.push_back(counted_by(e, c.window));
            const auto nth = counted.end() - static_cast<std::ptrdiff_t>(c.requests - pending_);
            std::nth_element(counted.begin(), nth, counted.end());
            t = std::max(t, *nth + c.window);
        }
    };
    apply(configured());
    if (const auto s = server()) {
        apply(*s);
    }
    return t;
}

bool limiter::try_acquire(clock::time_point now) {
    if (earliest(now) > now) {
        return false;
    }
    log_.push_back({now, now});  // sent at once: counted as arriving when it leaves
    prune(now);
    return true;
}

bool limiter::try_reserve(clock::time_point now) {
    if (earliest(now) > now) return false;
    ++pending_;
    return true;
}

limiter::clock::time_point limiter::sent(clock::time_point now) {
    if (pending_ > 0) --pending_;
    const auto at = log_.empty() ? now : std::max(now, log_.back().sent);
    log_.push_back({at, clock::time_point::max()});
    prune(at);
    return at;
}

void limiter::answered(clock::time_point sent_at, clock::time_point now) {
    // Newest first: the request is almost always among the last few sent.
    for (auto it = log_.rbegin(); it != log_.rend() && it->sent >= sent_at; ++it)
        if (it->sent == sent_at && it->answered == clock::time_point::max()) {
            it->answered = std::max(now, sent_at);
            return;
        }
}

std::optional<limiter::clock::time_point> limiter::room_by_answers() const {
    // The server has room again once fewer than N of the requests it may still count are in its
    // window. A request arrived before its answer, so it leaves the server's window by its
    // answer + window: room comes at the N-th latest answer + window. Pending reservations and
    // unanswered sends may arrive at any time: no bound while N of them are out.
    std::vector<clock::time_point> answers;
    answers.reserve(log_.size());
    for (const auto& e : log_) answers.push_back(e.answered);
    auto room = clock::time_point::min();
    const auto apply = [&](const constraint& c) -> bool {
        if (pending_ >= c.requests) return false;
        const std::size_t n = c.requests - pending_;  // the N-th latest counting pending first
        if (answers.size() < n) return true;          // fewer than N ever sent: no bound
        auto nth = answers.end() - static_cast<std::ptrdiff_t>(n);
        std::nth_element(answers.begin(), nth, answers.end());
        if (*nth == clock::time_point::max()) return false;
        room = std::max(room, *nth + c.window);
        return true;
    };
    if (!apply(configured())) return std::nullopt;
    if (const auto sc = server(); sc && !apply(*sc)) return std::nullopt;
    return room;
}

void limiter::unreserve() noexcept {
    if (pending_ > 0) --pending_;
}

void limiter::observe(const rate_info& info, clock::time_point now) {
    if (!log_.empty()) {
        now = std::max(now, log_.back().sent);
    }
    // rate_info may come from anywhere: compare in seconds before converting to the clock's
    // nanoseconds, so an absurd value cannot overflow.
    constexpr auto max_server_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(max_server_window);
    if (info.limit && *info.limit > 0) {
        if (!info.window) {
            server_ = constraint{static_cast<std::size_t>(*info.limit), window_};
        } else if (*info.window > std::chrono::seconds::zero() &&
                   *info.window <= max_server_seconds) {
            server_ = constraint{static_cast<std::size_t>(*info.limit), *info.window};
        }
    }
    if (info.remaining && *info.remaining >= 0) {
        const auto server_free = static_cast<std::size_t>(*info.remaining);
        // The server counted sends we did not see (another client on this IP, requests that
        // failed before reaching our log...): record the difference as sends made just now.
        bool unseen = false;
        // free_slots() is a pass over the log; it cannot exceed the smallest limit, so when the
        // server's Remaining is at least that (a generous limit, early in a window) there is
        // nothing to count.
        std::size_t bound = configured().requests;
        if (const auto s = server()) bound = std::min(bound, s->requests);
        for (auto ours = server_free >= bound ? 0 : free_slots(now); ours > server_free; --ours) {
            log_.push_back({now, now});
            unseen = true;
        }
        if (server_free == 0 && info.reset && *info.reset > std::chrono::seconds::zero()) {
            const auto reset = std::min(*info.reset, max_server_seconds);
            auto until = now + reset;
            // Reset is whole seconds rounded up: at a short window that is a large share of it.
            // When our log holds everything the server counted (it saw no send we missed), the
            // answer times of our own requests say to the millisecond when its window has room —
            // the departure stamps alone did not: on a loaded machine arrival lagged the pad.
            // Never before the earliest moment the rounded Reset can stand for, so a server whose
            // window is longer than we think (or that counts others' requests) still holds us.
            if (trust_log_ && !unseen) {
                if (const auto room = room_by_answers()) {
                    const auto floor =
                        now + (reset > info.reset_rounding ? reset - info.reset_rounding
                                                           : std::chrono::seconds::zero());
                    until = std::clamp(*room + margin_, floor, now + reset);
                }
            }
            blocked_until_ = std::max(blocked_until_, until);
        }
    }
    prune(now);
}

void limiter::on_429(const rate_info& info, clock::time_point now, clock::duration fallback) {
    observe(info, now);
    // The server counted more than the log says it could have (or sooner): keep a wider margin
    // when trusting the log from now on. It never shrinks: a host that once needed it may again.
    if (trust_log_)
        margin_ = std::min(margin_ == clock::duration::zero() ? trust_margin_step : 2 * margin_,
                           trust_margin_max);
    // Clamp in seconds first: a huge header value must not overflow the nanosecond conversion.
    constexpr auto lo = std::chrono::duration_cast<std::chrono::seconds>(min_pause);
    constexpr auto hi = std::chrono::duration_cast<std::chrono::seconds>(max_pause);
    clock::duration pause = std::clamp(fallback, min_pause, max_pause);
    if (info.retry_after) {
        pause = std::clamp(*info.retry_after, lo, hi);
    } else if (info.reset) {
        pause = std::clamp(*info.reset, lo, hi);
    }
    paused_until_ = std::max(paused_until_, now + pause);
}

void limiter::set_limit(std::size_t requests, clock::duration window) {
    requests_ = std::max<std::size_t>(requests, 1);
    window_ = window > clock::duration::zero() ? window : std::chrono::seconds(1);
    if (!log_.empty()) {
        prune(log_.back().sent);
    }
}

limiter::clock::time_point limiter::paused_until() const noexcept {
    return std::max(paused_until_, blocked_until_);
}

std::size_t limiter::available(clock::time_point now) const {
    if (now < paused_until()) {
        return 0;
    }
    return free_slots(now);
}

void limiter::prune(clock::time_point now) {
    // Keep every send within the longest window any constraint looks at. Pruning by count as well
    // would forget sends when set_limit() lowers N, and a later raise would then allow too many.
    // Memory stays bounded: the configured constraint admits at most N sends per window.
    auto keep_window = window_;
    if (server_) {
        keep_window = std::max(keep_window, server_->window);
    }
    keep_window += keep_window / 2;  // a send may count as late as its answer (counted_by)
    while (!log_.empty() && log_.front().sent <= now - keep_window) {
        log_.pop_front();
    }
}

}  // namespace briefd::ratelimit
