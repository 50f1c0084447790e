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

/// Requests by route and status: "METHOD /route/template" -> status code -> count.
struct route_counts {
    std::map<std::string, std::map<unsigned, std::uint64_t>> by_route;
    void count(const std::string& route, unsigned status) { ++by_route[route][status]; }
    /// {"<route>":{"<status>":n,"total":n}}; `total` gets the sum over all routes.
    boost::json::object to_json(std::uint64_t& total) const;
};

/// The Hrizn surface's counters (`hrizn` in GET /_sim/stats).
struct hrizn_stats {
    route_counts requests;               ///< e.g. "GET /v1/public/content/{id}" -> 200 -> 7
    std::uint64_t responses_429 = 0;     ///< every 429 sent (minute window, daily cap, storm)
    std::uint64_t over_limit = 0;        ///< requests that arrived with the minute window full
    std::uint64_t over_daily_cap = 0;    ///< requests that arrived with the day's cap spent
    std::uint64_t storm_429 = 0;         ///< 429s sent because of a storm-429 window
    std::uint64_t faults_5xx = 0;        ///< injected 500 internal_error responses
    std::uint64_t malformed_bodies = 0;  ///< injected broken JSON bodies
    std::uint64_t batches = 0;           ///< accepted POST /content/batch requests
    std::uint64_t batch_items = 0;       ///< items in accepted batch requests
    std::uint64_t items_created = 0;     ///< content items created (batch and single)
    std::uint64_t items_rejected = 0;    ///< batch items refused by per-item validation (no id)
    std::uint64_t generations = 0;       ///< generations started (simple create, or generate)
    std::uint64_t duplicate_generations = 0;  ///< ...of an item body this key had generated before
    std::uint64_t idempotent_replays = 0;     ///< POSTs answered from the idempotency store
    std::uint64_t idempotency_conflicts = 0;  ///< 409 idempotency_conflict sent
    std::uint64_t hrizn_key_on_lamina = 0;    ///< a hzk_ key sent to the Lamina API origin
    std::uint64_t hrizn_key_on_files = 0;     ///< a hzk_ key sent to the files origin
    std::uint64_t lamina_key_on_hrizn = 0;    ///< a Lamina key sent to the Hrizn origin

    boost::json::object to_json() const;
};

/// The Layers surface's counters (`layers` in GET /_sim/stats).
struct layers_stats {
    route_counts requests;  ///< e.g. "GET /v1/jobs/{jobId}" -> 304 -> 12
    std::uint64_t responses_429 =
        0;  ///< every 429 sent (class windows, daily cap, jobs cap, storm)
    std::uint64_t over_read_light = 0;    ///< requests that arrived with the read-light window full
    std::uint64_t over_write_light = 0;   ///< ...the write-light window full
    std::uint64_t over_long_running = 0;  ///< ...the long-running window full
    std::uint64_t over_daily_cap = 0;     ///< writes that arrived with the day's cap spent
    std::uint64_t over_jobs_cap = 0;      ///< generates refused by the concurrent-jobs cap
    std::uint64_t storm_429 = 0;          ///< 429s sent because of a storm-429 window
    std::uint64_t faults_5xx = 0;         ///< injected 500 responses
    std::uint64_t malformed_bodies = 0;   ///< injected broken JSON bodies
    std::uint64_t not_modified = 0;       ///< 304s sent for If-None-Match
    std::uint64_t jobs_created = 0;       ///< accepted generate requests (one job each)
    std::uint64_t containers_created = 0;     ///< containers of those jobs (one per variant)
    std::uint64_t duplicate_generations = 0;  ///< same project + body generated again, no replay
    std::uint64_t idempotent_replays = 0;     ///< POSTs answered from the Idempotency-Key store
    std::uint64_t idempotency_conflicts = 0;  ///< 409 IDEMPOTENCY_CONFLICT sent
    std::uint64_t id_replays = 0;             ///< generates answered from the `id` UPSERT store
    std::uint64_t billing_refusals = 0;       ///< 402 BILLING_EXHAUSTED sent
    std::uint64_t asset_downloads = 0;        ///< asset GETs on the files origin
    std::uint64_t corrupted_downloads = 0;    ///< ...of them served with corrupted bytes
    std::uint64_t concurrent_jobs_peak = 0;   ///< most jobs running at once
    std::uint64_t layers_key_on_lamina = 0;   ///< an lp_ key sent to the Lamina API origin
    std::uint64_t layers_key_on_files = 0;    ///< an lp_ key sent to the files origin
    std::uint64_t layers_key_on_hrizn = 0;    ///< an lp_ key sent to the Hrizn origin
    std::uint64_t foreign_key_on_layers = 0;  ///< a Lamina or Hrizn key sent to the Layers origin

    boost::json::object to_json() const;
};

/// One provider's webhook deliveries (`webhooks.<provider>` in GET /_sim/stats).
struct webhook_counts {
    std::uint64_t events = 0;         ///< events that became due (before the drop fault)
    std::uint64_t sent = 0;           ///< POST attempts made, retries and duplicates included
    std::uint64_t delivered_2xx = 0;  ///< attempts answered 2xx
    std::uint64_t rejected_4xx = 0;   ///< attempts answered 4xx
    std::uint64_t failed_5xx = 0;     ///< attempts answered 5xx (or another non-2xx, non-4xx)
    std::uint64_t errors = 0;         ///< attempts without an answer: connect, timeout, reset
    std::uint64_t retries = 0;        ///< attempts after the first of a delivery
    std::uint64_t abandoned = 0;      ///< deliveries given up (retries spent, or a final 4xx)
    std::uint64_t dropped = 0;        ///< events never sent (the webhook-drop fault)
    std::uint64_t not_loopback = 0;   ///< events for a URL that is not http:// to loopback
    std::uint64_t duplicates = 0;     ///< events sent once more after a 2xx (webhook-duplicate)
    std::uint64_t reordered = 0;      ///< older events sent after the terminal (webhook-reorder)
    std::uint64_t forged = 0;         ///< events sent with a signature that does not verify
    std::uint64_t stale = 0;          ///< events signed with a timestamp 400 s in the past
    std::uint64_t oversized = 0;      ///< events padded beyond --webhook-oversize-bytes

    boost::json::object to_json() const;
};

struct webhook_stats {
    webhook_counts lamina, hrizn, layers;
    boost::json::object to_json() const;
};

struct stats {
    route_counts requests;                  ///< e.g. "GET /v1/runs/{id}" -> 200 -> 7
    std::uint64_t responses_429 = 0;        ///< every 429 sent (limiter and storm)
    std::uint64_t over_limit = 0;           ///< requests that arrived with the budget exhausted
    std::uint64_t storm_429 = 0;            ///< 429s sent because of a storm-429 window
    std::uint64_t faults_5xx = 0;           ///< injected 500/503 responses
    std::uint64_t malformed_bodies = 0;     ///< injected broken JSON bodies
    std::uint64_t truncated_downloads = 0;  ///< injected short file bodies
    gauge connections;                      ///< TCP connections, both origins
    gauge streams;                          ///< open SSE responses
    std::uint64_t sse_events = 0;           ///< SSE events written (pings included)
    std::uint64_t batches = 0;              ///< accepted batch requests
    std::uint64_t batch_items = 0;          ///< items in accepted batch requests
    std::uint64_t runs_created = 0;
    std::uint64_t runs_cancelled = 0;
    std::uint64_t duplicate_submissions = 0;  ///< same brief text, or same app + inputs, seen again
    std::uint64_t output_requests = 0;        ///< requests to the files origin
    std::uint64_t output_requests_with_api_key =
        0;  ///< ...carrying x-api-key or Authorization: must stay 0
    std::uint64_t last_event_id_requests = 0;  ///< stream requests carrying Last-Event-ID
    std::string last_event_id;                 ///< the last Last-Event-ID value seen
    std::uint64_t bytes_served = 0;            ///< response bytes written (heads and bodies)
    hrizn_stats hrizn;                         ///< the Hrizn origin's own counters
    layers_stats layers;                       ///< the Layers origin's own counters
    webhook_stats webhooks;                    ///< webhook deliveries, per provider

    void count(const std::string& route, unsigned status) { requests.count(route, status); }
    boost::json::object to_json() const;
};

}  // namespace briefd::sim
