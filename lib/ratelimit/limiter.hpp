// A client-side limiter for one host (PROTOCOLS §2.5): at most N requests in ANY window of length
// W, enforced with a sliding-window log of send times. A token bucket is deliberately not used: a
// full bucket plus its refill lets 2N requests through across a window edge, which is exactly the
// burst a fixed- or sliding-window server answers with 429.
//
// Deterministic and sans-I/O: every method takes `now` (tests drive a fake clock). Jitter on a
// 429 pause is the caller's job. Call try_acquire() right before sending, so the log holds only
// requests the server will count.
//
// The send log is exact: a request is stamped when it leaves (try_reserve() holds its slot until
// sent()), and answered() bounds when the server can have counted it (it arrived before its
// answer). With that, a `Remaining: 0` whose whole-second Reset is rounded up is not obeyed to
// the second when the log accounts for every request the server counted: the log says to the
// millisecond when the oldest of them leaves the server's window (trust_log_on_reset).
#pragma once

#include "ratelimit/headers.hpp"

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>

namespace briefd::ratelimit {

class limiter {
  public:
    using clock = std::chrono::steady_clock;

    /// Longest pause a 429 can impose; a longer Retry-After is cut to this and the next 429
    /// decides.
    static constexpr clock::duration max_pause = std::chrono::minutes(15);
    /// Shortest pause after a 429, so `Retry-After: 0` cannot turn into a tight retry loop.
    static constexpr clock::duration min_pause = std::chrono::seconds(1);
    /// Longest server-announced window the limiter paces for (longer ones, e.g. daily quotas, are
    /// left to the server's 429s: pacing for them would need a day of send times).
    static constexpr clock::duration max_server_window = std::chrono::hours(1);

    /// At most `requests` per `window`, scaled by `safety` in (0, 1] (e.g. 0.9 keeps a 10 %
    /// margin). `requests` below 1 counts as 1, a non-positive window as 1 s, a safety outside
    /// (0, 1] as 1: the limiter is never more permissive than configured.
    limiter(std::size_t requests, clock::duration window, double safety = 1.0);

    /// When the next request may be sent: `now` if it may be sent now, otherwise later.
    clock::time_point earliest(clock::time_point now) const;

    /// Records a send at `now` and returns true if one is allowed now; otherwise changes nothing.
    bool try_acquire(clock::time_point now);

    /// Like try_acquire, but for a request that leaves later (a durable intent write, or a busy
    /// event loop, sits in between): the slot is held as pending — it counts as a send at every
    /// moment from now on — until sent() stamps it with its real departure, which is what the
    /// server counts, or unreserve() gives it back. Every reservation needs one of the two.
    bool try_reserve(clock::time_point now);
    /// A reserved request leaves now: its send is recorded at `now` (never before the newest
    /// recorded send, so the log stays in order). Returns the time recorded, the key for
    /// answered().
    clock::time_point sent(clock::time_point now);
    /// The request recorded at `sent_at` got its answer (or its transport failed) at `now`: the
    /// server cannot have counted it later than that. A send never answered is not trusted to
    /// have arrived at any time, so a Remaining == 0 it counts toward falls back to Reset.
    void answered(clock::time_point sent_at, clock::time_point now);
    /// A reserved request will not be sent.
    void unreserve() noexcept;
    /// Reservations not yet sent or given back.
    std::size_t pending() const noexcept { return pending_; }

    /// Learns from any response: adopts a lower server limit (with its `w=` window if given, else
    /// over the window its Resets imply, see server_window()), counts sends the server saw but we
    /// did not when its Remaining is below ours, and with Remaining == 0 allows nothing before the
    /// server's window has room again: now + Reset, or — when the log proves room earlier
    /// (trust_log_on_reset) — the moment the log says the oldest request the server counted
    /// leaves its window, plus the learned margin, but never before now + Reset − reset_rounding
    /// (the earliest the real reset can be).
    ///
    /// The server's word holds only as long as it says: with a Reset, the unseen sends count
    /// until now + Reset, not for a whole window (its window restarts then; the next response
    /// says again what is left). Without a Reset they count for the window, as sends would.
    void observe(const rate_info& info, clock::time_point now);

    /// A 429: pauses the whole host until now + Retry-After, else + Reset, else + `fallback`,
    /// clamped to [min_pause, max_pause]. Also observe()s `info` (calling both is harmless), with
    /// Retry-After taking Reset's place (PROTOCOLS §2.1: it takes precedence), so a Remaining 0
    /// or unseen sends on a 429 never hold the host past its Retry-After. Widens the margin kept
    /// when trusting the log (the server counted something we did not expect: a slower arrival,
    /// another client, a skewed clock).
    void on_429(const rate_info& info, clock::time_point now, clock::duration fallback);

    /// The window the server's limit is paced over: its `w=` when announced; else the longest
    /// Reset seen so far (a Reset never exceeds the window it counts down, so that is a lower
    /// bound on the server's window within its 1–2 s rounding, and after a response early in a
    /// window, the window itself), at least min_inferred_window, padded like the host pads the
    /// configured one (+20 ms or 0.5 %), and never longer than the configured window (what was
    /// used before: a Reset only ever shortens it); before any Reset, the configured window.
    /// nullopt while the server announced no limit.
    std::optional<clock::duration> server_window() const noexcept;
    /// Shortest window inferred from Resets.
    static constexpr clock::duration min_inferred_window = std::chrono::seconds(1);

    /// Whether a `Remaining: 0` may be answered from the log instead of the whole-second Reset
    /// (default on). Off, Reset is obeyed as sent.
    void trust_log_on_reset(bool on) noexcept { trust_log_ = on; }
    /// The margin added to the log's moment when trusting it: zero until a 429, then doubling
    /// from trust_margin_step with every 429, up to trust_margin_max.
    clock::duration trust_margin() const noexcept { return margin_; }
    static constexpr clock::duration trust_margin_step = std::chrono::milliseconds(25);
    static constexpr clock::duration trust_margin_max = std::chrono::seconds(2);

    /// Live reload of the configured limit; the send log is kept, so a reload never opens a burst.
    /// (Lengthening the window counts only the sends still within the longest window so far.)
    void set_limit(std::size_t requests, clock::duration window);

    /// No request before this (a 429 pause or a Remaining == 0 block); epoch when none.
    clock::time_point paused_until() const noexcept;

    /// Requests that could be sent at `now` without waiting (0 while paused).
    std::size_t available(clock::time_point now) const;

  private:
    struct constraint {
        std::size_t requests;
        clock::duration window;
    };

    struct entry {
        clock::time_point sent;
        /// When its answer came (the latest the server can have counted it); max: not yet.
        clock::time_point answered = clock::time_point::max();
        /// A send the server counted but we did not make (observe): it stops counting here,
        /// the Reset the server gave with it. max: counts for the whole window, like ours.
        clock::time_point expires = clock::time_point::max();
    };
    /// When `e` stops counting against `c`.
    static clock::time_point leaves(const entry& e, const constraint& c) noexcept;
    void observe_holding(const rate_info& info, std::optional<std::chrono::seconds> hold,
                         clock::time_point now);

    constraint configured() const noexcept;
    std::optional<constraint> server() const noexcept;
    std::size_t used(const constraint& c, clock::time_point now) const;
    std::size_t free_slots(clock::time_point now) const;
    /// When the log proves every window has room again, by the answer times of the requests the
    /// server counted; nullopt when one of them has no answer yet.
    std::optional<clock::time_point> room_by_answers() const;
    void prune(clock::time_point now);

    std::deque<entry> log_;  // sends, oldest first (plus unseen sends, see observe)
    std::size_t requests_;
    clock::duration window_;
    double safety_;
    std::size_t pending_ = 0;               // reserved, not yet sent: count as sends "now"
    std::optional<constraint> server_;      // the server's own limit, as last announced
    bool server_window_announced_ = false;  // server_->window came from `w=`
    clock::duration longest_reset_{};       // the longest valid Reset seen (0: none yet)
    clock::time_point paused_until_{};      // after a 429
    clock::time_point blocked_until_{};     // Remaining == 0 until Reset (or the log's moment)
    bool trust_log_ = true;
    clock::duration margin_{};  // learned from 429s, see trust_margin()
};

}  // namespace briefd::ratelimit
