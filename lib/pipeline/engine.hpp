// The engine: everything between a brief landing in incoming/ and its outputs on disk.
//
//   intake (inotify + rescan + settle) → claim → parse/validate → job record (durable)
//     → batcher (≤ max_items per group, linger) / app runs one by one (schema-checked first)
//     → scheduler::host (rate budget, 429 pauses, retries) → submit
//     → one tracker per run (tracker_fsm: SSE, reconnect, wait/poll fallback)
//     → downloads (.part → fsync → rename, sha256) → manifest.json → done/ or failed/
//
// All of it runs as coroutines on one io_context thread, so the engine's state needs no locks. Every
// transition of a job is persisted before the next external effect (jobs/job.hpp), which is what
// makes recover() at start-up safe.
#pragma once

#include "config/config.hpp"
#include "core/log.hpp"
#include "core/secret.hpp"
#include "pipeline/engine_metrics.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace briefd::pipeline {

struct engine_counts {
    std::size_t queued = 0;    ///< briefs waiting in incoming/
    std::size_t active = 0;    ///< jobs claimed and not yet filed
    std::size_t running = 0;   ///< runs submitted and not yet finished
    std::size_t done = 0;      ///< briefs filed to done/ by this process
    std::size_t failed = 0;    ///< briefs filed to failed/ by this process
    std::size_t budget_available = 0, budget_limit = 0;
    std::string paused_because;   ///< non-empty while submission is stopped (bad key, disk full…)
};

/// One provider as /status shows it.
struct provider_status {
    std::string name;
    std::size_t budget_limit = 0;        ///< requests per window
    std::size_t budget_remaining = 0;    ///< left in the current window
    std::int64_t budget_reset_in_s = 0;  ///< until the budget next has room (0 = it has now)
    std::string paused_reason;           ///< empty when not paused
    std::optional<std::int64_t> paused_until_in_s;  ///< a 429 pause's end; nullopt: until fixed
    std::size_t in_flight = 0;                      ///< requests on the wire
    std::size_t streams = 0;                        ///< run event streams open
    std::size_t queued_items = 0;                   ///< items not yet submitted
    /// "on": signed deliveries track its runs; "fallback": they stopped arriving and its runs are
    /// tracked by requests until one verifies again; empty: webhooks are not used for it.
    std::string webhooks;
};

/// One item of an active job as /status shows it.
struct item_status {
    std::size_t item = 0;
    std::string state;  ///< pending, submitting, tracking, downloading, finished, failed
    std::string run_id;
    int progress = -1;  ///< percent as the provider last said; -1 = unknown
    std::size_t outputs_saved = 0;
    std::string error;  ///< why it failed; empty otherwise
};

struct job_status {
    std::string job;
    std::string provider;
    std::string state;  ///< active, filing, cancelling
    std::vector<item_status> items;
};

struct engine_status {
    bool stopping = false;
    std::string spool;
    std::vector<provider_status> providers;
    std::vector<job_status> jobs;  ///< every active job, by job id
    std::string disk_problem;      ///< non-empty while intake is paused by the file system
};

/// The outcome of engine::async_cancel.
struct cancel_result {
    std::size_t cancelled_runs = 0;  ///< runs the provider confirmed cancelled within the deadline
    std::size_t items = 0;           ///< items marked failed "cancelled by operator"
};

class engine {
public:
    /// `keys` holds the API key of each configured provider, by provider name.
    engine(boost::asio::any_io_executor ex, config::config cfg,
           std::map<std::string, secret> keys, logger& log);
    ~engine();
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    /// Recovers every job found in active/ (re-tracks submitted runs, redoes partial downloads,
    /// files finished jobs, applies on_uncertain), calls `ready`, then takes briefs from incoming/
    /// until stop(). Completes once stopped and drained. Errors that prevent starting (spool not
    /// creatable) complete it at once with the error.
    boost::asio::awaitable<std::error_code> async_run(std::function<void()> ready);

    /// `f(step, done)` is called during start-up recovery, which blocks the event loop: before
    /// each step and after every 64 job records read (`done` counts them), on the thread running
    /// async_run. The daemon uses it to ask systemd for more start time (EXTEND_TIMEOUT_USEC).
    void on_recovery_progress(std::function<void(std::string_view step, std::size_t done)> f);

    /// Graceful stop: no more claims; submissions and downloads in flight may finish until the
    /// drain deadline (config drain_timeout_ms), then everything is cancelled. Jobs keep their
    /// durable state and resume at the next start.
    void stop();
    /// Second signal: cancel everything now.
    void force_stop();

    /// Applies what can change live (rate limits, linger, tracking, retry, log level, API keys) and
    /// returns the dotted keys that only take effect after a restart.
    std::vector<std::string> reload(const config::config& cfg, std::map<std::string, secret> keys);

    engine_counts counts() const;

    /// Every active job and every provider, for GET /status.
    engine_status status() const;

    /// Cancels an active job: its items that are not finished fail with "cancelled by
    /// operator", their runs are cancelled at the provider where it offers that (others just
    /// stop being tracked), and the job is filed to failed/ (once downloads of finished items
    /// end). Completes with nullopt when no active job has that id, else when every cancel
    /// request has been answered or `wait` has passed (the rest go on in the background).
    boost::asio::awaitable<std::optional<cancel_result>> async_cancel(
        std::string job_id, std::chrono::milliseconds wait = std::chrono::seconds(10));

    /// The engine's counters and gauges; others (the webhook receiver) may register theirs here.
    engine_metrics& metrics();

  private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace briefd::pipeline
