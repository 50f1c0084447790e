// The server-side limiter: `limit` requests per `window` per client address, like the
// express-rate-limit MemoryStore the real API most likely runs (PROTOCOLS §2.3).
//  - fixed:   a window starts with a client's first request; every request (even a refused one)
//             counts; the budget comes back whole when the window ends.
//  - sliding: a log of accepted requests over the last `window`; refused requests do not count;
//             one slot comes back when the oldest accepted request leaves the window.
//  - strict:  sliding, but refused requests enter the log too (only the newest `limit` are kept):
//             a client that keeps sending while refused keeps itself refused. Hrizn (PROVIDERS
//             §2.5): "Continuing to send requests will extend the backoff period".
// All times here are real (already scaled) durations.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>

namespace briefd::sim {

enum class rate_mode { fixed, sliding, strict };

struct rate_decision {
    bool allowed = true;
    unsigned limit = 0;
    unsigned remaining = 0;
    /// Until the budget grows again (fixed: the window ends; sliding: the oldest request expires).
    std::chrono::steady_clock::duration reset{};
};

class rate_limiter {
  public:
    using clock = std::chrono::steady_clock;

    rate_limiter(unsigned limit, clock::duration window, rate_mode mode)
        : limit_(limit), window_(window), mode_(mode) {}

    /// Counts one request from `client` at `now` and says whether it may be served.
    rate_decision hit(const std::string& client, clock::time_point now);

    unsigned limit() const noexcept { return limit_; }
    clock::duration window() const noexcept { return window_; }
    rate_mode mode() const noexcept { return mode_; }

  private:
    struct client_state {
        clock::time_point window_start{};
        unsigned count = 0;
        std::deque<clock::time_point> log;
    };
    unsigned limit_;
    clock::duration window_;
    rate_mode mode_;
    std::unordered_map<std::string, client_state> clients_;
};

}  // namespace briefd::sim
