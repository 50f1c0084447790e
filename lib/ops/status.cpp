#include "ops/status.hpp"

#include <algorithm>

namespace briefd::ops {

std::string format_status(const status_counts& c) {
    std::string s = "queued " + std::to_string(c.queued) + ", active " + std::to_string(c.active) +
                    ", running " + std::to_string(c.running) + ", done " + std::to_string(c.done) +
                    ", failed " + std::to_string(c.failed);
    if (c.budget_limit > 0)
        s +=
            ", budget " + std::to_string(c.budget_available) + "/" + std::to_string(c.budget_limit);
    if (!c.paused_because.empty()) {
        constexpr std::size_t max_reason = 120;
        std::size_t n = std::min(c.paused_because.size(), max_reason);
        // Never cut a UTF-8 sequence in half: back off over continuation bytes (10xxxxxx).
        while (n < c.paused_because.size() && n > 0 &&
               (static_cast<unsigned char>(c.paused_because[n]) & 0xC0) == 0x80)
            --n;
        std::string reason = c.paused_because.substr(0, n);
        for (char& ch : reason) {
            auto u = static_cast<unsigned char>(ch);
            if (u < 0x20 || u == 0x7f) ch = ' ';
        }
        s += ", paused: " + reason;
    }
    return s;
}

}  // namespace briefd::ops
