// Small helpers shared by the briefsim tests.
#pragma once

#include "support/sim_process.hpp"

#include <boost/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace briefd::sim_tests {

/// One server-sent event, read line by line (enough for briefsim's own output).
struct sse_event {
    std::string id;
    std::string event = "message";
    std::string data;
};

/// The complete events in `body` (an incomplete trailing event is dropped, as the spec says).
std::vector<sse_event> parse_sse(std::string_view body);

/// Parses a JSON body; a null value if it is not JSON.
boost::json::value parse_json(std::string_view body);

/// Posts a batch of `briefs` (image modality) and returns the run ids of queued items.
std::vector<std::string> submit_batch(const testing::sim_process& sim, const std::vector<std::string>& briefs);

/// CPU time (user + system) process `pid` has used so far, from /proc/<pid>/stat.
double cpu_seconds(int pid);

/// Integer member `key` of stats() (e.g. "over_limit"); nested objects via "connections.peak".
std::int64_t stat(const testing::sim_process& sim, std::string_view key);

}  // namespace briefd::sim_tests
