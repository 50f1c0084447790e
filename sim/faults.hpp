// Fault injection settings. Every switch has one name, used both as a command-line flag
// (`--fail-5xx 0.1`) and as a key of the JSON body of `POST /_sim/faults` ({"fail-5xx": 0.1};
// snake_case spellings are accepted too). Random decisions come from the simulator's seeded
// generator, so a run with the same --seed and the same request sequence repeats exactly.
#pragma once

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace briefd::sim {

/// Which /v1 endpoint families `fail-5xx` applies to (a bit set).
enum endpoint_family : unsigned {
    family_batch = 1,   ///< POST /v1/content/batch, POST /v1/content/create
    family_runs = 2,    ///< POST /v1/apps/{id}/runs and /v1/runs/{id}[, /wait, /cancel]
    family_stream = 4,  ///< GET /v1/runs/{id}/stream
    family_other = 8,   ///< everything else under /v1
    family_all = 15,
};

/// Which provider surfaces the per-request faults (fail-5xx, storm-429, slow-headers,
/// malformed-json) apply to (a bit set).
enum provider_bit : unsigned {
    provider_lamina = 1,
    provider_hrizn = 2,
    provider_layers = 4,
    provider_all = 7,
};

enum class sse_refusal { none, not_found, no_content, wrong_type };

/// A 429 storm: every /v1 request in [origin + start, origin + start + duration) (API seconds,
/// scaled by the time scale) is answered 429.
struct storm_window {
    double start_s = 0;
    double duration_s = 0;
    std::chrono::steady_clock::time_point origin;  ///< server start (flag) or the control POST
};

struct fault_settings {
    double fail_5xx = 0;                 ///< share of /v1 responses replaced by 500/503
    unsigned fail_5xx_on = family_all;   ///< endpoint families fail_5xx applies to
    std::optional<storm_window> storm_429;
    unsigned sse_drop_after = 0;         ///< close streams abruptly after N events (0 = never)
    bool sse_stall = false;              ///< streams send headers, then nothing at all
    bool sse_trickle = false;            ///< streams send one byte every 100 ms and never end a line
    sse_refusal sse_refuse = sse_refusal::none;
    unsigned slow_headers_ms = 0;        ///< real milliseconds before every /v1 response head
    double truncate_downloads = 0;       ///< share of file responses cut off mid-body
    double malformed_json = 0;           ///< share of /v1 2xx JSON bodies sent broken
    bool extra_fields = false;           ///< add an unknown field to every JSON object sent
    bool no_video = false;               ///< the workspace has no video-capable app
    double fail_rate = 0;                ///< share of runs that end `failed`
    bool hostile_labels = false;         ///< output labels that try to escape a download folder
    unsigned faults_on = provider_all;   ///< providers fail-5xx, storm-429, slow-headers, malformed-json hit
    // Webhook delivery faults: shares (0..1) of webhook events, for the providers in faults_on.
    double webhook_drop = 0;       ///< never sent at all
    double webhook_duplicate = 0;  ///< sent once more after a 2xx (same event id and body)
    double webhook_reorder = 0;    ///< an older event follows the terminal one
    double webhook_forge = 0;      ///< signature that does not verify
    double webhook_stale = 0;      ///< signed with a timestamp 400 s in the past
    double webhook_oversize = 0;   ///< body padded to --webhook-oversize-bytes (still signed)
};

/// Description of one switch, for --help and the README.
struct fault_switch {
    std::string_view name;
    std::string_view arg;  ///< empty for a flag without a value
    std::string_view help;
};
const std::vector<fault_switch>& fault_switches();

/// Applies `name` (without leading dashes) = `value`. `now` is the origin of a storm window.
/// Returns false with `error` set when the name is unknown or the value does not parse.
bool apply_fault(fault_settings& f, std::string_view name, std::string_view value,
                 std::chrono::steady_clock::time_point now, std::string& error);

/// Applies every member of a control-endpoint body; values may be JSON numbers, booleans,
/// strings, or null (= switch off). Atomic: on error nothing is changed.
bool apply_faults_json(fault_settings& f, const boost::json::object& body,
                       std::chrono::steady_clock::time_point now, std::string& error);

boost::json::object to_json(const fault_settings& f);

}  // namespace briefd::sim
