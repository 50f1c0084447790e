// The one-line STATUS= summary shown by `systemctl status briefd` (DESIGN §9).
#pragma once

#include <cstddef>
#include <string>

namespace briefd::ops {

struct status_counts {
    std::size_t queued = 0;            ///< briefs in incoming/ not yet claimed
    std::size_t active = 0;            ///< briefs claimed into active/
    std::size_t running = 0;           ///< provider runs being tracked
    std::size_t done = 0;              ///< briefs filed to done/ since start
    std::size_t failed = 0;            ///< briefs filed to failed/ since start
    std::size_t budget_available = 0;  ///< requests left in the current rate window
    std::size_t budget_limit = 0;      ///< requests per window; 0 = unknown, the budget is left out
    std::string paused_because;  ///< why submitting is paused (e.g. "API key rejected (401)");
                                 ///< empty = not paused
};

/// "queued 3, active 2, running 14, done 120, failed 1, budget 37/100[, paused: <reason>]".
/// Built from counts and a reason the daemon chose, never from a secret; control characters in the
/// reason become spaces and it is cut to 120 bytes so the line stays one line.
std::string format_status(const status_counts& c);

}  // namespace briefd::ops
