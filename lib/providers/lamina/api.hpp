// Lamina's /v1 API as data: the request bodies briefd sends and the responses it reads back
// (PROVIDERS.md §1, seeds 000, 001, 004). No I/O here; the pipeline does the sending.
//
// Responses are read tolerantly: unknown fields are ignored, `{"data": …}` envelopes and bare objects are
// both accepted (the SSE `data:` of progress/complete/error is most likely bare), and a run without a
// known status is "unknown", never an error.
#pragma once

#include "brief/brief.hpp"
#include "core/error.hpp"

#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace briefd::providers::lamina {

/// Lamina accepts at most this many items per POST /v1/content/batch.
inline constexpr std::size_t max_batch_items = 10;

// ---- requests -------------------------------------------------------------------------------

/// Body of POST /v1/content/batch. All items must share brandProfileId and campaignId (they are
/// batch-level at Lamina); the first item's values are sent.
std::string batch_body(const std::vector<const brief::content_item*>& items);

/// Body of POST /v1/apps/{appId}/runs: {"inputs": {...}} plus "outputs" when the brief names some.
std::string app_run_body(const brief::app_run_item& item);

/// The key batch items are grouped by: only items with equal keys may share a batch request.
std::string group_key(const brief::content_item& item);

/// The key briefd uses to recognise the "same submission" (brief text, or app + inputs): used by
/// logs and by tests that count duplicate submissions.
std::string submission_fingerprint(const brief::item& item);

// ---- responses ------------------------------------------------------------------------------

struct batch_item_result {
    std::size_t index = 0;    ///< index within the request's items[]
    bool queued = false;      ///< false: the item failed at submission (error holds why)
    std::string run_id;
    std::string error;        ///< provider text, cleaned
};

/// POST /v1/content/batch response → one result per request item (missing items are reported as
/// failed with "missing from batch response"). nullopt when the body is not the documented shape.
std::optional<std::vector<batch_item_result>> parse_batch_response(std::string_view body,
                                                                   std::size_t items_sent);

/// How `why_not` begins when the answer is readable and its status says no run was started.
inline constexpr std::string_view not_dispatched = "not dispatched: ";

/// POST /v1/apps/{appId}/runs and POST /v1/content/create responses: the run id, or nullopt.
/// (content/create may answer needs_input / unmatched without a runId: that is a failure, and
/// `why_not` then begins with not_dispatched and names the status and any reason.)
std::optional<std::string> parse_run_id(std::string_view body, std::string& why_not);

struct output {
    std::string id;
    std::string label;
    std::string type;         ///< image, video, text, audio, pending, or anything else
    std::string status;       ///< pending, completed, error, cancelled, …
    std::string value;        ///< URL for media, the content for text; empty when null
    bool value_is_url = false;
    std::string error;
    std::string mime_type;    ///< optional SDK field
};

struct run_status {
    std::string run_id;
    std::string status;       ///< queued, running, completed, failed, cancelled, or unknown text
    std::vector<output> outputs;
    std::string error_message;
};

/// A run object from GET /v1/runs/{id}, /wait, the SSE progress/complete/error events, or a
/// webhook. Accepts `{"data": run}` and bare `run`. nullopt if it is not a JSON object with at least
/// a status or runId.
std::optional<run_status> parse_run(std::string_view body);

/// GET /v1/runs/{id}/wait: the run plus whether the wait timed out (top-level "timeout": true).
std::optional<std::pair<run_status, bool>> parse_wait(std::string_view body);

/// True for statuses after which a run never changes.
bool is_terminal_status(std::string_view status);

// ---- errors ---------------------------------------------------------------------------------

/// Maps a non-2xx response to the project error and keeps the server's words in `diag`.
/// 401 → unauthorized, 402 → payment_required, 403 → forbidden, 404 → not_found, 429 →
/// rate_limited, 5xx and `retryable: true` → server_error, other 4xx → rejected. Copes with the
/// documented envelope, the older flat {"error": "..."} form and non-JSON bodies.
std::error_code classify_error(unsigned status, std::string_view body, diagnostics& diag);

}  // namespace briefd::providers::lamina
