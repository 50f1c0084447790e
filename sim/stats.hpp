// Counters that tests and benchmarks read from `GET /_sim/stats`. Single-threaded: the whole
// simulator runs on one io_context thread, so plain integers suffice.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <map>
#include <string>

namespace briefd::sim {

struct gauge {
    std::int64_t current = 0;
    std::int64_t peak = 0;
    void up() noexcept {
        if (++current > peak) peak = current;
    }
    void down() noexcept { --current; }
};

struct stats {
    /// "METHOD /route/template" -> status code -> count, e.g. "GET /v1/runs/{id}" -> 200 -> 7.
    std::map<std::string, std::map<unsigned, std::uint64_t>> requests;
    std::uint64_t responses_429 = 0;             ///< every 429 sent (limiter and storm)
    std::uint64_t over_limit = 0;                ///< requests that arrived with the budget exhausted
    std::uint64_t storm_429 = 0;                 ///< 429s sent because of a storm-429 window
    std::uint64_t faults_5xx = 0;                ///< injected 500/503 responses
    std::uint64_t malformed_bodies = 0;          ///< injected broken JSON bodies
    std::uint64_t truncated_downloads = 0;       ///< injected short file bodies
    gauge connections;                           ///< TCP connections, both origins
    gauge streams;                               ///< open SSE responses
    std::uint64_t sse_events = 0;                ///< SSE events written (pings included)
    std::uint64_t batches = 0;                   ///< accepted batch requests
    std::uint64_t batch_items = 0;               ///< items in accepted batch requests
    std::uint64_t runs_created = 0;
    std::uint64_t runs_cancelled = 0;
    std::uint64_t duplicate_submissions = 0;     ///< same brief text, or same app + inputs, seen again
    std::uint64_t output_requests = 0;           ///< requests to the files origin
    std::uint64_t output_requests_with_api_key = 0;  ///< ...carrying x-api-key or Authorization: must stay 0
    std::uint64_t last_event_id_requests = 0;    ///< stream requests carrying Last-Event-ID
    std::string last_event_id;                   ///< the last Last-Event-ID value seen
    std::uint64_t bytes_served = 0;              ///< response bytes written (heads and bodies)

    void count(const std::string& route, unsigned status) { ++requests[route][status]; }
    boost::json::object to_json() const;
};

}  // namespace briefd::sim
