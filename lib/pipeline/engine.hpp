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

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
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

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace briefd::pipeline
