#include "stats.hpp"

namespace briefd::sim {

boost::json::object stats::to_json() const {
    namespace json = boost::json;
    json::object req;
    std::uint64_t total = 0;
    for (const auto& [route, by_status] : requests) {
        json::object o;
        std::uint64_t n = 0;
        for (auto [status, c] : by_status) {
            o[std::to_string(status)] = c;
            n += c;
        }
        o["total"] = n;
        total += n;
        req[route] = std::move(o);
    }
    auto g = [](const gauge& x) { return json::object{{"current", x.current}, {"peak", x.peak}}; };
    return {
        {"requests", std::move(req)},
        {"requests_total", total},
        {"responses_429", responses_429},
        {"over_limit", over_limit},
        {"storm_429", storm_429},
        {"faults_5xx", faults_5xx},
        {"malformed_bodies", malformed_bodies},
        {"truncated_downloads", truncated_downloads},
        {"connections", g(connections)},
        {"streams", g(streams)},
        {"sse_events", sse_events},
        {"batches", batches},
        {"batch_items", batch_items},
        {"runs_created", runs_created},
        {"runs_cancelled", runs_cancelled},
        {"duplicate_submissions", duplicate_submissions},
        {"output_requests", output_requests},
        {"output_requests_with_api_key", output_requests_with_api_key},
        {"last_event_id_requests", last_event_id_requests},
        {"last_event_id", last_event_id},
        {"bytes_served", bytes_served},
    };
}

}  // namespace briefd::sim
