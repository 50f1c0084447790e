// What the engine counts for /metrics (DESIGN §13). The engine writes to these families at the
// decision points it already has (a request answered, a stream reopened, an output saved, a brief
// filed); gauges of live state (items by state, budget, pauses, streams) are filled by a collector
// the engine registers, at scrape time, so nothing is kept twice.
//
// Labels are bounded: provider (a configured provider's name), endpoint (the class of request:
// submit, track, probe, stream, download), code (the HTTP status, or "error" when the transport
// failed), state and result words from fixed sets. Never a job id, run id or URL.
#pragma once

#include "ops/metrics.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace briefd::pipeline {

struct engine_metrics {
    engine_metrics();
    engine_metrics(const engine_metrics&) = delete;
    engine_metrics& operator=(const engine_metrics&) = delete;

    ops::metrics::registry registry;

    // Counters written by the engine.
    ops::metrics::family& requests;         ///< briefd_requests_total{provider,endpoint,code}
    ops::metrics::family& request_seconds;  ///< briefd_request_duration_seconds{provider,endpoint}
    ops::metrics::family& stream_reconnects;  ///< briefd_stream_reconnects_total{provider}
    ops::metrics::family& downloaded_bytes;   ///< briefd_downloaded_bytes_total{provider}
    ops::metrics::family& outputs;            ///< briefd_outputs_total{provider,result}
    ops::metrics::family& briefs_filed;       ///< briefd_briefs_filed_total{provider,result}
    ops::metrics::family& briefs_refused;     ///< briefd_briefs_refused_total
    ops::metrics::family& brief_seconds;      ///< briefd_brief_duration_seconds{provider,result}
    ops::metrics::family& runs_cancelled;     ///< briefd_runs_cancelled_total{provider}
    // Mirrored from each provider's scheduler host at scrape time (they count there).
    ops::metrics::family& rate_limited;  ///< briefd_rate_limited_total{provider}
    ops::metrics::family& retries;       ///< briefd_retries_total{provider}
    // Mirrored from the webhook channel at scrape time (it counts there).
    ops::metrics::family& webhook_deliveries;  ///< briefd_webhook_deliveries_total{provider,result}
    ops::metrics::family& webhook_grace_checks;  ///< briefd_webhook_grace_checks_total{provider}
    // Gauges filled at scrape time.
    ops::metrics::family& briefs_queued;     ///< briefd_briefs_queued
    ops::metrics::family& briefs_active;     ///< briefd_briefs_active{provider}
    ops::metrics::family& items;             ///< briefd_items{provider,state}
    ops::metrics::family& runs_tracked;      ///< briefd_runs_tracked
    ops::metrics::family& budget_remaining;  ///< briefd_rate_budget_remaining{provider}
    ops::metrics::family& budget_limit;      ///< briefd_rate_budget_limit{provider}
    ops::metrics::family& paused;            ///< briefd_paused{provider,reason}
    ops::metrics::family& intake_paused;     ///< briefd_intake_paused
    ops::metrics::family& in_flight;         ///< briefd_requests_in_flight{provider}
    ops::metrics::family& streams_open;      ///< briefd_streams_open{provider}

    /// One answered (or failed, status 0) request of `endpoint` class.
    void request(std::string_view provider, std::string_view endpoint, unsigned status,
                 std::chrono::steady_clock::duration took);
    /// One answered (or failed) request without a latency (stream opens: the stream lives on).
    void request(std::string_view provider, std::string_view endpoint, unsigned status);
};

}  // namespace briefd::pipeline
