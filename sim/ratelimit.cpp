#include "ratelimit.hpp"

namespace briefd::sim {

rate_decision rate_limiter::hit(const std::string& client, clock::time_point now) {
    client_state& s = clients_[client];
    rate_decision d;
    d.limit = limit_;
    if (mode_ == rate_mode::fixed) {
        if (s.count == 0 || now >= s.window_start + window_) {
            s.window_start = now;
            s.count = 0;
        }
        ++s.count;
        d.allowed = s.count <= limit_;
        d.remaining = d.allowed ? limit_ - s.count : 0;
        d.reset = s.window_start + window_ - now;
        return d;
    }
    while (!s.log.empty() && s.log.front() + window_ <= now) s.log.pop_front();
    if (mode_ == rate_mode::strict) {
        d.allowed = s.log.size() < limit_;
        s.log.push_back(now);
        if (s.log.size() > limit_) s.log.pop_front();
        d.remaining = d.allowed ? limit_ - static_cast<unsigned>(s.log.size()) : 0;
        d.reset = s.log.empty() ? clock::duration{} : s.log.front() + window_ - now;
        return d;
    }
    if (s.log.size() < limit_) {
        s.log.push_back(now);
        d.allowed = true;
        d.remaining = limit_ - static_cast<unsigned>(s.log.size());
    } else {
        d.allowed = false;
        d.remaining = 0;
    }
    d.reset = s.log.empty() ? clock::duration{} : s.log.front() + window_ - now;
    return d;
}

}  // namespace briefd::sim
