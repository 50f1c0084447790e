// The concurrent-jobs gate of one provider host (`max_concurrent_jobs`, DESIGN §12): a provider
// that caps how many jobs an organisation may have running (Layers: 429 on the generate POST that
// would exceed it, PROVIDERS §3.5) is never sent more job starts than it has room for, so
// submissions wait in briefd instead of failing or pausing the whole provider.
//
// What counts as running: every run briefd tracks for this provider (from the moment its
// submission is accepted, or from recovery after a restart, until tracking sees it end) plus every
// job start on its way. A "too many concurrent jobs" refusal teaches two things: other clients
// of the same organisation hold some of the room, so the cap briefd uses drops to what it holds
// now (never below 1), and no start is sent until one of briefd's jobs ends (or, if none is
// running, until the server's Retry-After has passed). The learned cap is forgotten `relearn`
// after the last refusal, so room the other clients free is found again at the price of at most
// one refusal per `relearn`.
//
// Sans-I/O and deterministic: the host (host.cpp) drives it and passes the clock.
#pragma once

#include <chrono>
#include <cstddef>

namespace briefd::scheduler {

class job_gate {
  public:
    using clock = std::chrono::steady_clock;

    /// Shortest and longest hold after a refusal when no job of ours ends to lift it.
    static constexpr clock::duration min_hold = std::chrono::seconds(1);
    static constexpr clock::duration max_hold = std::chrono::minutes(15);
    /// How long a cap learned from a refusal holds.
    static constexpr clock::duration relearn = std::chrono::minutes(1);

    /// At most `cap` jobs at once; 0: no gate (every start may go).
    explicit job_gate(std::size_t cap = 0) : cap_(cap), learned_(cap) {}

    bool enabled() const noexcept { return cap_ > 0; }
    /// May one more job start at `now`?
    bool can_start(clock::time_point now) const noexcept;
    /// When can_start() may next turn true by itself (the end of a refusal hold); max() when only
    /// a job ending (or a reload) can open the gate; `now` when it is open.
    clock::time_point next_chance(clock::time_point now) const noexcept;

    /// A job start leaves, or a run is being tracked: one more place taken.
    void take() noexcept { ++running_; }
    /// A place given back without news about the cap (a start that created nothing, or whose
    /// accepted run now holds its own place).
    void give_back() noexcept;
    /// One of our jobs ended: its place is free and a refusal hold is lifted.
    void finished() noexcept;
    /// The server refused a start because too many jobs run (the refused start's place is given
    /// back): starts wait until a job of ours ends, or until now + `retry_after` (clamped to
    /// [min_hold, max_hold]) when none of ours is running.
    void refused(clock::time_point now, clock::duration retry_after) noexcept;

    /// Reload: a new configured cap (the learned one is reset to it).
    void set_cap(std::size_t cap) noexcept {
        cap_ = cap;
        learned_ = cap;
        learned_until_ = {};
    }

    std::size_t running() const noexcept { return running_; }
    std::size_t cap() const noexcept { return cap_; }
    /// The cap in force at `now`: the configured one, or lower within `relearn` of a refusal.
    std::size_t effective_cap(clock::time_point now) const noexcept {
        return now < learned_until_ && learned_ < cap_ ? learned_ : cap_;
    }
    bool held(clock::time_point now) const noexcept { return held_ && now < hold_until_; }

  private:
    std::size_t cap_;
    std::size_t learned_;
    std::size_t running_ = 0;
    bool held_ = false;
    clock::time_point hold_until_{};
    clock::time_point learned_until_{};
};

}  // namespace briefd::scheduler
