// briefd's configuration: plain structs with chrono defaults, loaded from YAML (DESIGN §6).
//
// yaml-cpp stays inside this component. Every error names the file, the 1-based line and the dotted
// key, so an operator can fix a typo from the journal alone. The API key is never in the file: only
// where to find it (a file such as a systemd credential, or an environment variable).
#pragma once

#include "core/secret.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace briefd::config {

/// How a run is tracked: auto = webhooks where configured and offered, else SSE falling back to
/// wait/poll when streams fail; webhook = webhooks required (a grace check polls a silent run).
enum class tracking_mode { auto_, sse, wait, poll, webhook };
/// What to do with a submission whose outcome is unknown and the provider has no idempotency key.
enum class uncertain_policy { fail, resubmit };

struct rate_limit_config {
    std::size_t requests = 100;                  ///< at most this many requests in any window of per_seconds
    std::chrono::seconds per_seconds{60};        ///< the window length
    std::size_t per_day = 0;                     ///< optional daily cap (0 = none): at most this many in any 24 h
};

struct batch_config {
    std::size_t max_items = 10;                  ///< items per request, 1..10
    std::chrono::milliseconds linger{1500};      ///< flush a partial batch after this long (key linger_ms)
};

struct tracking_config {
    tracking_mode mode = tracking_mode::auto_;   ///< auto | sse | wait | poll | webhook
    std::chrono::milliseconds poll_interval{4000};     ///< between polls of one run (key poll_interval_ms)
    std::chrono::seconds wait_timeout{60};             ///< ?timeout= of GET /runs/{id}/wait, 1..120 (key wait_timeout_s)
    std::chrono::milliseconds sse_idle_timeout{45000}; ///< a stream silent this long is dead (key sse_idle_timeout_ms)
    unsigned sse_max_failures = 3;               ///< stream failures for one run before falling back
    /// A provider's documented poll schedule (Layers: 2 s ×1.3 up to 10 s) runs this many times
    /// faster. 1 in production; tests and benchmarks against a time-scaled briefsim set its scale.
    unsigned schedule_scale = 1;
    /// When the provider has a list that shows many runs at once (Hrizn, Layers), auto and poll
    /// track through it; false keeps one status poll per run (key list).
    bool list = true;
};

struct timeouts_config {
    std::chrono::milliseconds connect{10000};        ///< TCP connect + TLS handshake (key connect_ms)
    std::chrono::milliseconds request{30000};        ///< one whole API request/response (key request_ms)
    std::chrono::milliseconds download_idle{60000};  ///< a download receiving nothing this long fails (key download_idle_ms)
    std::uint64_t download_min_bytes_per_s = 1024;   ///< a download averaging less over a window fails, retryably; 0 = off
    std::chrono::milliseconds download_rate_window{30000};  ///< that window (key download_rate_window_ms)
};

struct retry_config {
    std::chrono::milliseconds base{500};         ///< first backoff (key base_ms), full jitter
    std::chrono::milliseconds cap{60000};        ///< largest backoff (key cap_ms)
    unsigned max_attempts = 8;                   ///< attempts of one request before the item fails
};

/// The forward proxy for API and download requests (key proxy:, for every provider).
struct proxy_config {
    bool from_environment = true;                ///< no proxy: key: HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY as curl reads them
    std::string url;                             ///< http://[user:password@]host[:port]; empty = direct (proxy.url: none)
    std::vector<std::string> no_proxy;           ///< targets that go direct: host suffixes, IPs, CIDR ranges, "*", optional :port
};

struct provider_config {
    std::string name;                            ///< lamina | hrizn | layers (the key under providers:)
    std::string base_url;                        ///< http(s) URL, without trailing slash; http only for loopback
    std::string api_key_file;                    ///< file holding the key (trailing newline ignored); or:
    std::string api_key_env;                     ///< environment variable holding the key
    std::string ca_file;                         ///< extra CA bundle for private gateways, trusted besides the system store
    bool ca_file_only = false;                   ///< trust ca_file alone, not the system store (pinning; needs ca_file)
    rate_limit_config rate_limit;                ///< client-side request budget for this provider's host (the default bucket)
    /// Budgets of their own for bucket classes, by the class's X-RateLimit-Endpoint-Class value
    /// (Layers: write-light 60/60 s and long-running 20/60 s + 10,000 a day unless configured);
    /// requests of other classes draw from rate_limit.
    std::map<std::string, rate_limit_config> rate_limit_classes;
    std::size_t max_concurrent_jobs = 0;         ///< jobs running at once (Layers 10); 0 = no cap
    batch_config batch;                          ///< how items are grouped into requests
    tracking_config tracking;                    ///< how runs are followed to the end
    timeouts_config timeouts;                    ///< deadlines of network operations
    retry_config retry;                          ///< backoff for retryable failures
    proxy_config proxy;                          ///< the top-level proxy: key, copied here by load() for the provider's client
    std::string webhook_secret_file;             ///< file holding the webhook signing secret (Hrizn, Layers); or:
    std::string webhook_secret_env;              ///< environment variable holding it
};

/// The webhook receiver (key webhooks:; DESIGN §12). Off unless the section is present.
struct webhooks_config {
    bool enabled = false;                        ///< the section is present
    std::string listen = "127.0.0.1:8787";       ///< host:port to bind; loopback behind the site's TLS proxy
    std::string public_url;                      ///< what providers are told: <public_url>/<provider> (required)
    std::chrono::seconds grace{0};               ///< key grace_s: a run without a callback this long gets one status request; 0 = by run type (3–5 min)
    std::chrono::seconds tolerance{300};         ///< key tolerance_s: signed timestamps further from now are stale
    std::size_t max_body_bytes = 256 * 1024;     ///< larger deliveries are answered 413
    std::chrono::seconds key_refetch{60};        ///< key key_refetch_s: Lamina's signing key is fetched again at most this often when a signature fails
    unsigned fallback_after = 3;                 ///< runs found finished by a grace check with no delivery, in a row, before that provider falls back to its request-based tracking
};

/// The status server: GET /metrics, /status, /healthz and POST /jobs/<job>/cancel (key status:).
struct status_config {
    /// IP literal and port ("127.0.0.1:9464", "[::1]:9464"; port 0 = any free port), or empty
    /// when `listen: off`. Loopback by default: it shows job names and lets anyone who can
    /// connect cancel jobs, so exposing it beyond the host is a deliberate choice.
    std::string listen = "127.0.0.1:9464";
    /// The file names status.listen. The default address is best effort (taken by another
    /// daemon: briefd logs it and runs without); an address the operator chose must be bound or
    /// the daemon does not start.
    bool listen_explicit = false;
};

/// Defaults of max_items_waiting and max_items_in_flight (the README's "A flood of briefs" says
/// how they were chosen).
inline constexpr std::size_t default_max_items_waiting = 10000;
inline constexpr std::size_t default_max_items_in_flight = 5000;

struct config {
    std::filesystem::path source;                ///< the file it was loaded from
    std::filesystem::path spool;                 ///< absolute; holds incoming/ active/ done/ failed/
    std::filesystem::path outputs;               ///< absolute; outputs/<job>/ go here
    std::string default_provider = "lamina";     ///< for briefs without provider:
    std::map<std::string, provider_config> providers;  ///< by name
    std::size_t max_brief_bytes = 1 << 20;       ///< larger briefs are refused to failed/
    std::uint64_t max_output_bytes = 2ull << 30; ///< largest single download
    std::chrono::milliseconds settle{2000};      ///< key settle_ms: an in-place file's size/mtime unchanged this long before it is taken
    std::chrono::milliseconds rescan_interval{30000}; ///< key rescan_interval_ms: periodic rescan of incoming/
    std::chrono::hours retention{0};             ///< key retention_hours; 0 = keep done/ and failed/ forever
    uncertain_policy on_uncertain = uncertain_policy::fail;  ///< key on_uncertain: fail | resubmit
    std::chrono::milliseconds drain_timeout{20000};  ///< key drain_timeout_ms: SIGTERM waits this long for in-flight work
    std::size_t max_concurrent_downloads = 16;   ///< output transfers at once (all providers)
    /// Items of claimed briefs waiting to start: claiming from incoming/ pauses at this many
    /// (a flood is claimed and validated this far at once; ~3 KiB a waiting single-item job).
    std::size_t max_items_waiting = default_max_items_waiting;
    /// Items of started jobs (batched, submitted, tracked, downloaded) not yet filed: waiting jobs
    /// start, oldest first, only while fewer are in flight (~10–17 KiB a single-item job).
    std::size_t max_items_in_flight = default_max_items_in_flight;
    std::string log_level = "info";              ///< error | warning | notice | info | debug
    proxy_config proxy;                          ///< key proxy: forward proxy (else from the environment)
    status_config status;                        ///< key status: the status server
    webhooks_config webhooks;                    ///< key webhooks: the receiver (off when absent)
};

/// Where and why loading failed.
struct load_error {
    std::string file;       ///< the config file
    int line = 0;           ///< 1-based; 0 when not about one line (e.g. the file cannot be read)
    std::string key;        ///< dotted key, e.g. "providers.lamina.batch.max_items"; may be empty
    std::string problem;    ///< what is wrong, in words
    /// "file:line: key: problem" (line and key left out when absent).
    std::string to_string() const;
};

/// Loads and validates the config file. Unknown keys, wrong types and impossible values are errors.
std::variant<config, load_error> load(const std::filesystem::path& file);
/// The same, from text; `name` is used as the file name in errors and as config::source.
std::variant<config, load_error> load_from_string(std::string_view yaml, const std::filesystem::path& name);

/// Reads the provider's API key from api_key_file (trailing newline stripped) or api_key_env; names the source on error, never the value.
std::variant<briefd::secret, std::string /*error text*/> load_api_key(const provider_config&);

/// Reads a provider's webhook signing secret from webhook_secret_file or webhook_secret_env (an
/// empty secret when neither is configured); names the source on error, never the value.
std::variant<briefd::secret, std::string /*error text*/> load_webhook_secret(const provider_config&);

/// Effective config as YAML with every default filled in; secrets never appear (there are none in the file; the key source is shown, e.g. api_key_file: /path).
std::string to_yaml(const config&);

/// Which fields differ in a way that needs a restart (spool, outputs, providers' base_url, ...), for SIGHUP reload.
/// Reloadable without restart: rate_limit, rate_limit_classes, max_concurrent_jobs, batch (max_items, linger_ms), tracking, retry, the API key
/// source (the key is re-read on reload), log_level, rescan_interval_ms, retention_hours, on_uncertain,
/// drain_timeout_ms, max_items_waiting, max_items_in_flight. Everything else that differs is listed by dotted key.
std::vector<std::string> restart_required(const config& running, const config& reloaded);

/// Names for log lines and to_yaml: "auto", "sse", "wait", "poll", "webhook"; "fail", "resubmit".
std::string_view to_string(tracking_mode);
std::string_view to_string(uncertain_policy);

}  // namespace briefd::config
