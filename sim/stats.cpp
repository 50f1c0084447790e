#include "stats.hpp"

namespace briefd::sim {

namespace json = boost::json;

json::object route_counts::to_json(std::uint64_t& total) const {
    json::object req;
    for (const auto& [route, by_status] : by_route) {
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
    return req;
}

json::object hrizn_stats::to_json() const {
    std::uint64_t total = 0;
    json::object req = requests.to_json(total);
    return {
        {"requests", std::move(req)},
        {"requests_total", total},
        {"responses_429", responses_429},
        {"over_limit", over_limit},
        {"over_daily_cap", over_daily_cap},
        {"storm_429", storm_429},
        {"faults_5xx", faults_5xx},
        {"malformed_bodies", malformed_bodies},
        {"batches", batches},
        {"batch_items", batch_items},
        {"items_created", items_created},
        {"items_rejected", items_rejected},
        {"generations", generations},
        {"duplicate_generations", duplicate_generations},
        {"idempotent_replays", idempotent_replays},
        {"idempotency_conflicts", idempotency_conflicts},
        {"keys_misplaced",
         {{"hrizn_key_on_lamina", hrizn_key_on_lamina},
          {"hrizn_key_on_files", hrizn_key_on_files},
          {"lamina_key_on_hrizn", lamina_key_on_hrizn},
          {"total", hrizn_key_on_lamina + hrizn_key_on_files + lamina_key_on_hrizn}}},
    };
}

json::object layers_stats::to_json() const {
    std::uint64_t total = 0;
    json::object req = requests.to_json(total);
    return {
        {"requests", std::move(req)},
        {"requests_total", total},
        {"responses_429", responses_429},
        {"over_limit",
         {{"read-light", over_read_light},
          {"write-light", over_write_light},
          {"long-running", over_long_running},
          {"daily", over_daily_cap},
          {"jobs", over_jobs_cap}}},
        {"storm_429", storm_429},
        {"faults_5xx", faults_5xx},
        {"malformed_bodies", malformed_bodies},
        {"not_modified", not_modified},
        {"jobs_created", jobs_created},
        {"containers_created", containers_created},
        {"duplicate_generations", duplicate_generations},
        {"idempotent_replays", idempotent_replays},
        {"idempotency_conflicts", idempotency_conflicts},
        {"id_replays", id_replays},
        {"billing_refusals", billing_refusals},
        {"asset_downloads", asset_downloads},
        {"corrupted_downloads", corrupted_downloads},
        {"concurrent_jobs_peak", concurrent_jobs_peak},
        {"keys_misplaced",
         {{"layers_key_on_lamina", layers_key_on_lamina},
          {"layers_key_on_files", layers_key_on_files},
          {"layers_key_on_hrizn", layers_key_on_hrizn},
          {"foreign_key_on_layers", foreign_key_on_layers},
          {"total", layers_key_on_lamina + layers_key_on_files + layers_key_on_hrizn +
                        foreign_key_on_layers}}},
    };
}

json::object stats::to_json() const {
    std::uint64_t total = 0;
    json::object req = requests.to_json(total);
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
        {"hrizn", hrizn.to_json()},
        {"layers", layers.to_json()},
        {"webhooks", webhooks.to_json()},
    };
}

json::object webhook_counts::to_json() const {
    return {
        {"events", events},
        {"sent", sent},
        {"delivered_2xx", delivered_2xx},
        {"rejected_4xx", rejected_4xx},
        {"failed_5xx", failed_5xx},
        {"errors", errors},
        {"retries", retries},
        {"abandoned", abandoned},
        {"dropped", dropped},
        {"not_loopback", not_loopback},
        {"duplicates", duplicates},
        {"reordered", reordered},
        {"forged", forged},
        {"stale", stale},
        {"oversized", oversized},
    };
}

json::object webhook_stats::to_json() const {
    return {{"lamina", lamina.to_json()}, {"hrizn", hrizn.to_json()}, {"layers", layers.to_json()}};
}

}  // namespace briefd::sim
