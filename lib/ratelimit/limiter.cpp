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
    return constraint{scaled(server_->requests, safety_), *server_window()};
}

std::optional<limiter::clock::duration> limiter::server_window() const noexcept {
    if (!server_) return std::nullopt;
    if (server_window_announced_) return server_->window;
    // No `w=`: a limit alone does not say over what. Pacing it over our own window silently
    // multiplied the interval (a server with 10 per 6 s and legacy headers was paced 10 per
    // 60 s). A Reset counts down the server's window, so the longest one seen is a lower bound on
    // it (within its rounding) and the window itself once a response came early in one. If it
    // is still short of the real window, the server's Remaining and Reset on every response hold
    // us, as they always do; the configured limit holds regardless.
    // Padded like the host pads the configured window (20 ms, or 0.5 % of a long one): we count
    // at answers, the server at arrivals, and a Remaining compared across that gap must not read
    // as sends we did not make. Never longer than our own window, which is what was used before:
    // one odd Reset (another policy's, a server's rounding, out-of-order answers) must not slow
    // us below that for good; a server window really longer than ours is still enforced by its
    // Remaining and Reset on every response.
    if (longest_reset_ > clock::duration::zero()) {
        const auto w = std::clamp(longest_reset_, min_inferred_window, max_server_window);
        return std::min(w + std::max<clock::duration>(std::chrono::milliseconds(20), w / 200),
                        window_);
    }
    return window_;  // nothing better known yet: as before, our own window
}

limiter::clock::time_point limiter::leaves(const entry& e, const constraint& c) noexcept {
    return std::min(counted_by(e, c.window) + c.window, e.expires);
}

std::size_t limiter::used(const constraint& c, clock::time_point now) const {
    // Sends counted in (now - window, now]: one counted exactly one window ago no longer counts.
    // An unseen send stops counting at the Reset the server gave with it.
    std::size_t n = pending_;
    for (const auto& e : log_)
        if (leaves(e, c) > now) ++n;
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
    // For N per W the next send must come at least W after the N-th most recent one (by when
    // each stops counting: W after it was counted, or an unseen send's Reset). Moving t later
    // only lowers every window's count, so one pass over the constraints is enough.
    // A pending reservation may leave at any moment from now on: it counts as the newest send.
    std::vector<clock::time_point> counted;
    const auto apply = [&](const constraint& c) {
        if (pending_ >= c.requests) {
            t = clock::time_point::max();  // until a reservation is sent or given back
        } else if (log_.size() + pending_ >= c.requests) {
            // The (N - pending)-th latest of the recorded sends, by when they stop counting.
            counted.clear();
            for (const auto& e : log_) counted.push_back(leaves(e, c));
            const auto nth = counted.end() - static_cast<std::ptrdiff_t>(c.requests - pending_);
            std::nth_element(counted.begin(), nth, counted.end());
            t = std::max(t, *nth);
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
    // An unseen send (already expiring at an earlier Reset) leaves then.
    std::vector<clock::time_point> answers;
    answers.reserve(log_.size());
    auto room = clock::time_point::min();
    const auto apply = [&](const constraint& c) -> bool {
        if (pending_ >= c.requests) return false;
        const std::size_t n = c.requests - pending_;  // the N-th latest counting pending first
        if (log_.size() < n) return true;             // fewer than N ever sent: no bound
        answers.clear();
        for (const auto& e : log_)
            answers.push_back(e.answered == clock::time_point::max()
                                  ? e.answered
                                  : std::min(e.answered + c.window, e.expires));
        auto nth = answers.end() - static_cast<std::ptrdiff_t>(n);
        std::nth_element(answers.begin(), nth, answers.end());
        if (*nth == clock::time_point::max()) return false;
        room = std::max(room, *nth);
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
    observe_holding(info, info.reset, now);
}

// `hold`: how long the server's word in `info` holds — its Reset, or on a 429 its Retry-After.
void limiter::observe_holding(const rate_info& info, std::optional<std::chrono::seconds> hold,
                              clock::time_point now) {
    if (!log_.empty()) {
        now = std::max(now, log_.back().sent);
    }
    // rate_info may come from anywhere: compare in seconds before converting to the clock's
    // nanoseconds, so an absurd value cannot overflow.
    constexpr auto max_server_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(max_server_window);
    // The window a Reset implies (server_window()). Taken as it reads, rounding and all: a
    // Unix-time Reset may read a second longer than the window, but taking that second off made
    // a 6 s window (legacy headers: Reset 6 at a window's start) 5 s, and the send at 5 s a 429.
    if (info.reset && *info.reset > std::chrono::seconds::zero() &&
        *info.reset <= max_server_seconds)
        longest_reset_ = std::max<clock::duration>(longest_reset_, *info.reset);
    if (info.limit && *info.limit > 0) {
        if (!info.window) {
            // Keeps a window announced before (servers send the policy on some responses only).
            server_ = constraint{static_cast<std::size_t>(*info.limit),
                                 server_ ? server_->window : window_};
        } else if (*info.window > std::chrono::seconds::zero() &&
                   *info.window <= max_server_seconds) {
            server_ = constraint{static_cast<std::size_t>(*info.limit), *info.window};
            server_window_announced_ = true;
        }
    }
    if (info.remaining && *info.remaining >= 0) {
        const auto server_free = static_cast<std::size_t>(*info.remaining);
        // Until when the server's count holds: its Reset (its window restarts then, and the next
        // response says again what is left), else a whole window like a send of ours.
        std::optional<clock::duration> holds;
        if (hold) holds = std::clamp(*hold, std::chrono::seconds::zero(), max_server_seconds);
        // The server counted sends we did not see (another client on this IP, requests that
        // failed before reaching our log...): record the difference as sends made just now,
        // counting until the Reset.
        bool unseen = false;
        // free_slots() is a pass over the log; it cannot exceed the smallest limit, so when the
        // server's Remaining is at least that (a generous limit, early in a window) there is
        // nothing to count. A Reset of 0 (the window restarts now) holds nothing.
        std::size_t bound = configured().requests;
        if (const auto s = server()) bound = std::min(bound, s->requests);
        if (!holds || *holds > clock::duration::zero()) {
            const auto expires = holds ? now + *holds : clock::time_point::max();
            for (auto ours = server_free >= bound ? 0 : free_slots(now); ours > server_free;
                 --ours) {
                log_.push_back({now, now, expires});
                unseen = true;
            }
        }
        if (server_free == 0 && holds && *holds > clock::duration::zero()) {
            const auto reset = *holds;
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
                                                           : clock::duration::zero());
                    until = std::clamp(*room + margin_, floor, now + reset);
                }
            }
            blocked_until_ = std::max(blocked_until_, until);
        }
    }
    prune(now);
}

void limiter::on_429(const rate_info& info, clock::time_point now, clock::duration fallback) {
    // Clamp in seconds first: a huge header value must not overflow the nanosecond conversion.
    constexpr auto lo = std::chrono::duration_cast<std::chrono::seconds>(min_pause);
    constexpr auto hi = std::chrono::duration_cast<std::chrono::seconds>(max_pause);
    clock::duration pause = std::clamp(fallback, min_pause, max_pause);
    // Retry-After takes precedence over Reset (PROTOCOLS §2.1), for the pause and for how long
    // the 429's Remaining 0 and unseen sends hold us.
    std::optional<std::chrono::seconds> hold = info.reset;
    if (info.retry_after) {
        hold = std::clamp(*info.retry_after, lo, hi);
        pause = *hold;
    } else if (info.reset) {
        pause = std::clamp(*info.reset, lo, hi);
    }
    observe_holding(info, hold, now);
    // The server counted more than the log says it could have (or sooner): keep a wider margin
    // when trusting the log from now on. It never shrinks: a host that once needed it may again.
    if (trust_log_)
        margin_ = std::min(margin_ == clock::duration::zero() ? trust_margin_step : 2 * margin_,
                           trust_margin_max);
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
    if (const auto w = server_window()) {
        keep_window = std::max(keep_window, *w);
    }
    keep_window += keep_window / 2;  // a send may count as late as its answer (counted_by)
    while (!log_.empty() && log_.front().sent <= now - keep_window) {
        log_.pop_front();
    }
}

}  // namespace briefd::ratelimit
