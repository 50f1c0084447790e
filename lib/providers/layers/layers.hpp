// Layers as a provider (PROVIDERS.md §3, seed 003, DESIGN §12): one brief item is one content
// job, `POST /v1/projects/{projectId}/content` (≤ 5 variants), sent with `Idempotency-Key` and a
// container `id` derived from that key, so a retried or uncertain submission never generates
// twice. The 202 names the job and one container per variant. The job is polled with
// `GET /v1/jobs/{jobId}` and `If-None-Match` on the documented schedule (2 s ×1.3, capped at 10 s,
// plus ≤ 500 ms jitter) until it leaves `running`; a completed job's outputs are then read from
// every container (`GET /v1/content/{containerId}`, expand()), each asset with its size and
// SHA-256 to verify the download against, and caption, hook and approval status for the
// manifest. Many jobs are tracked at once through their project's content list
// (`GET /v1/projects/{projectId}/content`), which shows every container's status: a job whose
// containers all show an end gets its own GET to say how it ended (list_tracking.cpp). Success
// bodies are bare (a `{data: …}` wrapper is tolerated); errors come in the envelope
// `{"error":{"code","message","requestId","details"}}`.
#pragma once

#include "providers/layers/schema.hpp"
#include "providers/provider.hpp"

#include <chrono>
#include <random>

namespace briefd::providers::layers {

/// running → running (whatever the stage), queued → queued, completed, failed,
/// canceled/cancelled → cancelled; anything else unknown.
run_phase phase_of(std::string_view status);

/// A container's status word: queued → queued, processing (older copy: generating) → running,
/// completed, failed, canceled/cancelled → cancelled; anything else unknown.
run_phase container_phase_of(std::string_view status);

/// The key a container id is matched by in the project's content list: the id may be written
/// `cnt_`-prefixed or as a bare UUID (PROVIDERS §3.4), so the prefix is dropped and the rest
/// lowercased.
std::string container_key(std::string_view id);

/// The documented job polling loop: min(2 s × 1.3^n, 10 s) + uniform jitter in [0, 500] ms,
/// where n is the number of polls already made (0 for the first).
std::chrono::milliseconds poll_delay(unsigned n, std::mt19937_64& rng);

/// The rate-limit bucket class of a request: "read-light" for every GET, "long-running" for the
/// job-starting generate POST, "write-light" for everything else.
std::string_view bucket_class(const api_call& call);
/// The response header naming the class whose X-RateLimit-* headers a response carries.
inline constexpr std::string_view bucket_class_header = "X-RateLimit-Endpoint-Class";

/// A 429 that refuses a generate because the organisation's concurrent-running-jobs cap is
/// reached (PROVIDERS §3.5: its exact code is not documented): `error.details.scope` naming
/// concurrent jobs, or an error code or message about concurrent or running jobs. An ordinary
/// RATE_LIMITED 429 (a bucket class or the daily write cap) is not one.
bool concurrency_refusal(unsigned status, std::string_view body);

/// `job_` followed by 1–100 ASCII letters, digits or '_'.
bool valid_job_id(std::string_view id);
/// `cnt_` followed by 1–100 ASCII letters, digits, '_' or '-', or a canonical UUID.
bool valid_container_id(std::string_view id);

/// A name-based UUID (RFC 4122 version 5: SHA-1 of the namespace's 16 bytes and the name),
/// lowercase; empty when `namespace_uuid` is not a canonical UUID.
std::string name_uuid(std::string_view namespace_uuid, std::string_view name);
/// The container `id` sent with a generate request: a name-based UUID (RFC 4122 version 5,
/// SHA-1) of the idempotency key, so the same job and item always name the same container.
std::string container_uuid(std::string_view idempotency_key);

/// One container as `GET /v1/content/{containerId}` describes it.
struct container {
    std::string id;
    std::string status;  ///< queued, processing/generating, completed, failed, canceled
    std::string error;   ///< lastError, when the container failed
    /// One per asset, in order: label "<kind>-<asset index>", the asset's url, mime type, size
    /// and checksum (lowercase hex), and meta {containerId, assetId, variant, caption, hook,
    /// approvalStatus}. `variant` is the container's position in the job.
    std::vector<output_view> outputs;
};
/// Reads a container (bare or wrapped in `data`); nullopt when the body is not one.
std::optional<container> parse_container(std::string_view body, std::size_t variant = 0);

class provider final : public providers::provider {
  public:
    std::string_view name() const override { return "layers"; }
    const brief::item_schema& items() const override { return item_schema(); }
    std::string credential_header() const override { return "Authorization"; }
    std::string credential_value(std::string_view key) const override {
        return "Bearer " + std::string(key);
    }
    api_call probe() const override;

    std::size_t max_items_per_request() const override { return 1; }
    std::optional<std::string> group_key(const brief::item&) const override { return std::nullopt; }
    std::string idempotency_header() const override { return "Idempotency-Key"; }
    /// Without a key: the body carries the brief's own `id` if any, else none.
    api_call submit(const std::vector<const brief::item*>& items) const override;
    /// The body carries the brief's own `id` if any, else container_uuid(key).
    api_call submit_with_key(const std::vector<const brief::item*>& items,
                             std::string_view idempotency_key) const override;
    std::optional<std::vector<submit_result>> parse_submit(
        const std::vector<const brief::item*>& items, std::string_view body) const override;

    /// The job poll, the project's content list (its containers' statuses, many jobs in one
    /// request), which auto and poll tracking prefer, and signed deliveries.
    unsigned channels(const brief::item&) const override {
        return channel_poll | channel_list | channel_webhook;
    }
    /// Job ids and container ids (both reach request paths).
    bool valid_run_id(std::string_view id) const override;
    api_call status(std::string_view run_id) const override;
    std::optional<run_view> parse_status(std::string_view body) const override;
    api_call status_since(std::string_view run_id, std::string_view etag) const override;
    std::optional<run_view> parse_status_response(unsigned http_status,
                                                  const boost::beast::http::fields& headers,
                                                  std::string_view body) const override;
    std::optional<std::chrono::milliseconds> poll_delay(unsigned polls_done,
                                                        std::mt19937_64& rng) const override {
        return layers::poll_delay(polls_done, rng);
    }

    /// Video jobs take minutes.
    std::chrono::seconds webhook_grace(const brief::item&) const override {
        return std::chrono::seconds(300);
    }
    /// `{"id","type":"job.completed|job.failed|job.canceled","data":{"jobId","kind",…}}`; other
    /// types are acknowledged with phase unknown. X-Layers-Event-Id (stable across retries), else
    /// the payload id, is the dedupe key.
    std::optional<webhook_event> parse_webhook(const boost::beast::http::fields& headers,
                                               std::string_view body) const override;
    /// `GET /v1/projects/{scope}/content?limit=&cursor=`: one page of the project's containers,
    /// newest first. list() (no project) asks for the project "" and is not used.
    api_call list(std::string_view cursor, std::size_t limit) const override;
    api_call list_in(std::string_view scope, std::string_view cursor,
                     std::size_t limit) const override;
    /// `{items[], nextCursor}` (a `data` wrapper, `next_cursor` and `hasMore` tolerated): one
    /// run_view per container, run_id container_key(id), phase container_phase_of(status);
    /// items without an id are skipped, unknown fields ignored; nullopt when the body is not an
    /// object with an `items` array.
    std::optional<list_page> parse_list(std::string_view body) const override;
    std::size_t list_page_limit() const override { return 200; }  // documented maximum
    /// The item's projectId: one list per project.
    std::string list_scope(const brief::item& it) const override;
    bool list_shows_children() const override { return true; }
    std::string list_key(std::string_view id) const override { return container_key(id); }

    std::vector<api_call> expand(const brief::item& it, const run_view& run,
                                 const std::vector<std::string>& children) const override;
    std::optional<std::vector<output_view>> parse_expansion(std::size_t part, std::string_view body,
                                                            std::string& why) const override;
    /// The expanded outputs; when there are none, one failed output saying so (a completed job
    /// never passes for one without files).
    std::vector<output_view> outputs(const brief::item& it, const run_view& run) const override;

    std::error_code classify_error(unsigned status, std::string_view body,
                                   diagnostics& diag) const override;

    std::string_view bucket_class(const api_call& call) const override {
        return layers::bucket_class(call);
    }
    std::string_view bucket_class_header() const override { return layers::bucket_class_header; }

    bool concurrency_refusal(unsigned status, std::string_view body) const override {
        return layers::concurrency_refusal(status, body);
    }
};

}  // namespace briefd::providers::layers
