#include "pipeline/engine_metrics.hpp"

namespace briefd::pipeline {

using ops::metrics::job_latency_buckets;
using ops::metrics::request_latency_buckets;

engine_metrics::engine_metrics()
    : requests(registry.counter("briefd_requests_total",
                                "Requests to providers by endpoint class (submit, track, probe, "
                                "stream, download) and HTTP status (error: no response).",
                                {"provider", "endpoint", "code"})),
      request_seconds(registry.histogram(
          "briefd_request_duration_seconds",
          "Time from sending a request to the end of its response (submit, track, probe).",
          {"provider", "endpoint"}, request_latency_buckets())),
      stream_reconnects(registry.counter("briefd_stream_reconnects_total",
                                         "Event streams of a run opened again after the first.",
                                         {"provider"})),
      downloaded_bytes(registry.counter("briefd_downloaded_bytes_total",
                                        "Bytes of output files downloaded and saved.",
                                        {"provider"})),
      outputs(registry.counter("briefd_outputs_total", "Outputs by result (saved, failed).",
                               {"provider", "result"})),
      briefs_filed(registry.counter("briefd_briefs_filed_total",
                                    "Briefs filed by result (done, failed, cancelled).",
                                    {"provider", "result"})),
      briefs_refused(registry.counter("briefd_briefs_refused_total",
                                      "Briefs refused to failed/ before any request (invalid, "
                                      "oversized, not a regular file).")),
      brief_seconds(registry.histogram("briefd_brief_duration_seconds",
                                       "Time from claiming a brief to filing it.",
                                       {"provider", "result"}, job_latency_buckets())),
      runs_cancelled(registry.counter("briefd_runs_cancelled_total",
                                      "Runs the provider confirmed cancelled at an operator's "
                                      "request.",
                                      {"provider"})),
      rate_limited(registry.counter("briefd_rate_limited_total",
                                    "429 responses (each pauses the provider's host).",
                                    {"provider"})),
      retries(registry.counter("briefd_retries_total",
                               "Requests sent again after a 5xx or a network failure.",
                               {"provider"})),
      webhook_deliveries(registry.counter(
          "briefd_webhook_deliveries_total",
          "Webhook deliveries received, by result (accepted, duplicate, refused: the signature "
          "did not verify).",
          {"provider", "result"})),
      webhook_grace_checks(registry.counter(
          "briefd_webhook_grace_checks_total",
          "Status requests for runs tracked by webhook whose delivery did not come in time.",
          {"provider"})),
      briefs_queued(registry.gauge("briefd_briefs_queued", "Briefs waiting in incoming/.")),
      briefs_active(registry.gauge("briefd_briefs_active", "Briefs claimed and not yet filed.",
                                   {"provider"})),
      items(registry.gauge("briefd_items",
                           "Items of active briefs by state (pending, submitting, tracking, "
                           "downloading, finished, failed).",
                           {"provider", "state"})),
      runs_tracked(registry.gauge("briefd_runs_tracked", "Runs being followed to their end.")),
      budget_remaining(registry.gauge("briefd_rate_budget_remaining",
                                      "Requests left in the current rate-limit window.",
                                      {"provider"})),
      budget_limit(registry.gauge("briefd_rate_budget_limit",
                                  "Requests allowed per rate-limit window.", {"provider"})),
      paused(registry.gauge("briefd_paused",
                            "1 while the provider's requests are held back, by reason "
                            "(rate_limited: a 429 pause; account: key rejected or payment "
                            "required).",
                            {"provider", "reason"})),
      intake_paused(registry.gauge("briefd_intake_paused",
                                   "1 while intake is paused by a file-system problem.")),
      in_flight(
          registry.gauge("briefd_requests_in_flight", "Requests on the wire now.", {"provider"})),
      streams_open(
          registry.gauge("briefd_streams_open", "Run event streams open now.", {"provider"})) {}

void engine_metrics::request(std::string_view provider, std::string_view endpoint,
                             unsigned status) {
    const std::string code = status ? std::to_string(status) : std::string("error");
    requests.inc({provider, endpoint, code});
}

void engine_metrics::request(std::string_view provider, std::string_view endpoint, unsigned status,
                             std::chrono::steady_clock::duration took) {
    request(provider, endpoint, status);
    request_seconds.observe({provider, endpoint}, std::chrono::duration<double>(took).count());
}

}  // namespace briefd::pipeline
