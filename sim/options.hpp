// briefsim's command line: plain struct with defaults, one parser, one --help text.
#pragma once

#include "faults.hpp"
#include "ratelimit.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace briefd::sim {

/// The Hrizn key briefsim accepts when no --hrizn-key is given (full scopes).
inline constexpr std::string_view default_hrizn_key =
    "hzk_b71e5f1db71e5f1db71e5f1db71e5f1db71e5f1db71e5f1db71e5f1db71e5f1d";

/// True for `hzk_` followed by exactly 64 lower-case hex digits (PROVIDERS §2.1).
bool is_hrizn_key(std::string_view key) noexcept;

enum class hrizn_key_state { active, expired, revoked };

/// One Hrizn API key: its scopes and whether it still works.
struct hrizn_key_spec {
    std::string key;
    bool can_read = true;   ///< scope content:read
    bool can_write = true;  ///< scope content:write
    hrizn_key_state state = hrizn_key_state::active;
};

/// Parses `KEY[=SCOPE,SCOPE...]` (scopes content:read, content:write; default both).
bool parse_hrizn_key(std::string_view text, hrizn_key_spec& out, std::string& error);

/// Shape of a failed item in a batch response: PROVIDERS §2.2 leaves it unknown.
enum class hrizn_item_error {
    status,  ///< {"status":"failed","error":"message",...} (the seed's table)
    object,  ///< {"error":{"code","message"},...} and no status
};
/// Body of GET /content/{id}/html: unknown (PROVIDERS §2.3).
enum class hrizn_html_form { html, json };

/// Everything about the Hrizn surface that a test may set (also at runtime: POST /_sim/hrizn).
struct hrizn_settings {
    std::vector<hrizn_key_spec> keys;    ///< accepted keys (default: default_hrizn_key)
    unsigned rate_limit = 60;            ///< requests per window per key
    double rate_window_s = 60;           ///< window in API seconds
    rate_mode rate = rate_mode::strict;  ///< refused requests extend the backoff (PROVIDERS §2.5)
    std::uint64_t daily_cap = 10000;     ///< accepted requests per key per day
    double day_s = 86400;                ///< day length in API seconds (rollover = start + n days)
    double gen_seconds = 120;            ///< mean generation time in API seconds (+-25 % jitter)
    double idempotency_s = 86400;        ///< idempotency replay window in API seconds
    hrizn_item_error item_error = hrizn_item_error::status;
    hrizn_html_form html = hrizn_html_form::html;
};

/// The Layers key briefsim accepts when no --layers-key is given (every scope).
inline constexpr std::string_view default_layers_key =
    "lp_test_k1briefsim_5ec7e75ec7e75ec7e75ec7e7";

/// True for `lp_test_` or `lp_live_` followed by at least one more character (PROVIDERS §3.1).
bool is_layers_key(std::string_view key) noexcept;

/// One Layers API key and its scopes (PROVIDERS §3.1).
struct layers_key_spec {
    std::string key;
    bool content_read = true;   ///< scope content:read (container reads, the list)
    bool content_write = true;  ///< scope content:write (generate, approve, reject)
    bool jobs_read = true;      ///< scope jobs:read (job polling)
};

/// Parses `KEY[=SCOPE,SCOPE...]` (content:read, content:write, jobs:read, * ; default all).
bool parse_layers_key(std::string_view text, layers_key_spec& out, std::string& error);

/// Everything about the Layers surface a test may set (also at runtime: POST /_sim/layers).
/// The switches answer what PROVIDERS §3 leaves unknown or sees in two versions.
struct layers_settings {
    std::vector<layers_key_spec> keys;  ///< accepted keys (default: default_layers_key)
    unsigned read_rpm = 120;            ///< read-light requests per window per key (every GET)
    unsigned write_rpm = 60;            ///< write-light requests per window per key
    unsigned long_rpm = 20;             ///< long-running starts per window per key (generate)
    double window_s = 60;               ///< the sliding window of all three classes, API seconds
    std::uint64_t daily_write_cap = 10000;  ///< accepted write-light + long-running per key per day
    double day_s = 86400;           ///< day length in API seconds (rollover = start + n days)
    unsigned max_jobs = 10;         ///< the org's concurrent running jobs cap
    std::int64_t credits = 1000;    ///< credit balance; a generate costs cost * variants
    std::int64_t cost = 20;         ///< credits per variant
    double gen_seconds = 60;        ///< mean job length in API seconds (+-25 % seeded jitter)
    double idempotency_s = 86400;   ///< Idempotency-Key replay window in API seconds
    double corrupt = 0;             ///< share of first asset downloads served with corrupted bytes
    bool reset_epoch = true;        ///< X-RateLimit-Reset: epoch seconds (true) or delta seconds
    bool ratelimit_headers = true;  ///< send X-RateLimit-Limit/Remaining/Reset at all
    bool container_ids = true;      ///< 202 carries containerIds[] (newer) or containerId (older)
    bool accept_x_api_key = false;  ///< also accept X-Api-Key (older docs; preferred when both)
    bool enforce_scopes = true;     ///< 403 FORBIDDEN_SCOPE (newer docs) or scopes ignored (older)
    std::string moderation_word = "blockme";  ///< a brief whose topic contains it is blocked
};

/// Sets the documented limits of `tier` (standard, pilot, partner); false for another name.
bool apply_layers_tier(layers_settings& l, std::string_view tier);

/// Webhook subscribers and delivery settings (sim/webhooks; at runtime: POST /_sim/webhooks).
/// Lamina runs carry their own URL (?webhook=); Hrizn and Layers deliver to one subscription
/// each, set here or through their documented subscription APIs.
struct webhook_settings {
    bool lamina_failed = true;      ///< deliver failed runs too (unknown, PROVIDERS §1.6)
    bool lamina_cancelled = false;  ///< deliver cancelled runs too (unknown, PROVIDERS §1.6)
    std::string hrizn_url;          ///< Hrizn subscription URL (every key's content); "" = none
    std::string hrizn_secret = "hzwh_briefsim_5ec7e7";  ///< its HMAC secret
    std::vector<std::string> hrizn_events = {"content.completed", "content.failed"};
    std::string layers_url;  ///< Layers webhook endpoint URL (every project); "" = none
    std::string layers_secret = "whsec_briefsim_5ec7e7";  ///< its signing secret
    std::vector<std::string> layers_events = {"job.completed", "job.failed", "job.canceled",
                                              "content.generated"};
    double timeout_s = 15;  ///< receiver timeout in API seconds (never under 1 real second)
    std::uint64_t oversize_bytes = 2u << 20;  ///< body size of an oversized delivery
};

/// Parses `--lamina-webhook-on`'s comma list (completed, failed, cancelled) into `w`; false (and
/// `w` unchanged) for another name.
bool parse_lamina_on(std::string_view text, webhook_settings& w);

/// Parses a comma list of event names into `out`; false for an empty list or an empty name.
bool parse_event_list(std::string_view text, std::vector<std::string>& out);

struct options {
    std::string host = "127.0.0.1";  ///< address both origins listen on
    std::uint16_t port = 0;          ///< API origin port (0 = any free port)
    std::uint16_t files_port = 0;    ///< files origin port (0 = any free port)
    std::vector<std::string> keys;   ///< accepted API keys (default: lma_briefsim_key)
    std::string tls_cert, tls_key;   ///< PEM files; both set = HTTPS on both origins
    double time_scale = 1;           ///< every API duration is divided by this
    double run_seconds = 20;         ///< mean run length in API seconds (±25 % seeded jitter)
    std::uint64_t seed = 1;          ///< seeds ids, jitter and every fault decision
    unsigned rate_limit = 100;       ///< requests per window per client address
    double rate_window_s = 60;       ///< window in API seconds
    rate_mode rate = rate_mode::fixed;
    std::uint64_t output_bytes = 0;  ///< pad images / size videos to this many bytes (0 = natural)
    std::int64_t credits = 100000;   ///< starting credit balance
    bool quiet = false;              ///< no per-request log on stderr
    fault_settings faults;
    std::uint16_t hrizn_port = 0;  ///< Hrizn origin port (0 = any free port)
    hrizn_settings hrizn;
    std::uint16_t layers_port = 0;  ///< Layers origin port (0 = any free port)
    layers_settings layers;
    webhook_settings webhooks;
};

/// Parses argv. Returns false with `error` set on a bad option; sets `help` for --help.
bool parse_options(int argc, char** argv, options& out, bool& help, std::string& error);

std::string help_text();

}  // namespace briefd::sim
