#include "scheduler/job_gate.hpp"

#include <algorithm>

namespace briefd::scheduler {

bool job_gate::can_start(clock::time_point now) const noexcept {
    if (!enabled()) return true;
    return !held(now) && running_ < effective_cap(now);
}

job_gate::clock::time_point job_gate::next_chance(clock::time_point now) const noexcept {
    if (can_start(now)) return now;
    if (running_ >= cap_) return clock::time_point::max();  // only an end opens it
    // Room under the configured cap: it opens when both the hold and the learned cap have passed
    // (or earlier, by an end).
    auto t = held(now) ? hold_until_ : now;
    if (running_ >= effective_cap(t)) t = std::max(t, learned_until_);
    return t;
}

void job_gate::give_back() noexcept {
    if (running_ > 0) --running_;
}

void job_gate::finished() noexcept {
    give_back();
    held_ = false;
}

void job_gate::refused(clock::time_point now, clock::duration retry_after) noexcept {
    give_back();
    // The organisation's other jobs fill the rest: what we hold now is what we may hold.
    learned_ = std::max<std::size_t>(1, std::min(running_, effective_cap(now)));
    learned_until_ = now + relearn;
    held_ = true;
    // Our own jobs' ends lift the hold (finished()); the deadline is for when none is running.
    hold_until_ = now + std::clamp(retry_after, min_hold, max_hold);
}

}  // namespace briefd::scheduler
