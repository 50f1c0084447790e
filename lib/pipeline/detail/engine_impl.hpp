// The engine's state: the jobs, the provider slots, the lifecycle, and the components that carry a
// job from incoming/ to done/. Private to lib/pipeline. Intake, recovery, filing, submission, run
// tracking and downloads are components with their own interfaces (intake.hpp, recovery.hpp,
// filing.hpp, submission.hpp, run_tracking.hpp, downloads.hpp, webhook_channel.hpp) that never see
// it: the run-time ones hold the job_services it implements. What is still the engine's own: jobs
// and their state (engine.cpp), /status, /metrics and cancel (operations.cpp).
//
// Everything provider-specific is reached through a provider_slot: one per configured provider,
// with its own HTTP client (so its key is bound to its own origin), request scheduler host (rate
// budget, 429 pauses, account block and probe) and list tracker (submission keeps its batcher). A
// brief goes to its provider's slot; one provider's outage, rejected key or exhausted quota never
// stalls another's.
#pragma once

#include "brief/brief.hpp"
#include "config/config.hpp"
#include "core/log.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "jobs/job.hpp"
#include "pipeline/batcher.hpp"
#include "pipeline/detail/job_ctx.hpp"
#include "pipeline/detail/job_services.hpp"
#include "pipeline/detail/provider_slot.hpp"
#include "pipeline/detail/schema_cache.hpp"
#include "pipeline/downloads.hpp"
#include "pipeline/engine.hpp"
#include "pipeline/filing.hpp"
#include "pipeline/intake.hpp"
#include "pipeline/list_tracker.hpp"
#include "pipeline/run_tracking.hpp"
#include "pipeline/state_writer.hpp"
#include "pipeline/submission.hpp"
#include "pipeline/submit_decider.hpp"
#include "pipeline/tracker_fsm.hpp"
#include "pipeline/webhook_channel.hpp"
#include "providers/provider.hpp"
#include "scheduler/host.hpp"
#include "spool/spool.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <map>
#include <memory>
#include <random>
#include <set>
#include <tuple>

namespace briefd::pipeline::detail {

namespace asio = boost::asio;

struct engine_impl : job_services, std::enable_shared_from_this<engine_impl> {
    engine_impl(asio::any_io_executor ex, config::config cfg, std::map<std::string, secret> keys,
                logger& log);

    // ---- plumbing
    asio::any_io_executor ex;
    config::config cfg;
    logger& log;
    /// engine::on_recovery_progress's callback (may be empty).
    std::function<void(std::string_view step, std::size_t done)> recovery_progress;
    spool::layout layout;
    std::mt19937_64 rng;
    std::map<std::string, std::unique_ptr<provider_slot>, std::less<>> slots;

    // ---- jobs
    std::map<std::string, std::unique_ptr<job_ctx>, std::less<>> jobs;
    /// Claimed jobs waiting to start, and items in flight (intake.hpp): what may start when.
    pipeline::job_windows windows;

    // ---- intake and filing
    std::string disk_problem;        ///< non-empty while intake is paused by a file-system error
    asio::thread_pool file_pool{1};  ///< claims, parsing, state writes: off the event loop
    pipeline::intake intake;  ///< incoming/ → jobs; owns the settle tracker and the name index
    pipeline::filer filing;   ///< done/ and failed/; records what it files in intake's name index

    // ---- job state (durable): written off the loop, grouped fsyncs (state_writer.hpp)
    std::unique_ptr<state_writer> states;

    // ---- run tracking: submitted runs followed to their outcome (run_tracking.hpp)
    run_tracking tracking;

    // ---- downloads: finished runs' outputs into outputs/<job>/ (downloads.hpp)
    pipeline::downloads downloads;
    /// Filing's directory, manifest and brief moves (with their fsyncs) run here, off the event
    /// loop; concurrent fsyncs share the file system's journal commits. Downloads have their own.
    asio::thread_pool commit_pool{8};

    // ---- lifecycle
    bool stop_requested = false;
    bool forced = false;
    std::size_t drain_tasks = 0;  ///< submissions, downloads, filing: may finish during drain
    std::size_t other_tasks = 0;  ///< trackers, loops: cancelled at stop
    asio::steady_timer drained;
    asio::steady_timer drain_deadline;
    std::set<asio::steady_timer*> naps;  ///< pauses (backoff, retry later); stop() ends them

    // engine.cpp
    asio::awaitable<std::error_code> run(std::function<void()> ready);
    void spawn(asio::awaitable<void> task, bool drain) override;
    /// A pause that stop() cuts short, so no backoff outlives the drain; callers check
    /// `stop_requested`.
    asio::awaitable<void> nap_until(clock::time_point t) override;
    bool stopping() const override { return stop_requested; }
    void kick_intake() { intake.kick(); }
    /// filing.refuse(), counted in the metrics.
    void refuse(const std::filesystem::path& from, const std::string& name,
                const std::vector<brief::problem>& problems);
    /// A job record with its brief becomes a job; not started yet, nor counted in `windows`.
    job_ctx& add_job(jobs::job_record rec, brief::brief_file brief);
    /// Starts the oldest waiting jobs that the in-flight window has room for (none at stop).
    void start_waiting();
    void start_job(job_ctx& job);
    /// recover_spool(), then the jobs it found are added and started, and intake gets the rest.
    /// Throws std::system_error when the spool cannot be listed.
    void recover();
    /// Writes the job's state atomically. On failure the error is logged, intake pauses, and a
    /// retry is scheduled (the in-memory state stays ahead of the disk until it succeeds); the
    /// caller decides whether it may go on (a submission may not: its intent must be durable).
    ///
    /// The write itself happens later, on the state writer's thread, grouped with others: when this
    /// returns the snapshot is queued, not durable. The error returned is that of this job's last
    /// failed write while it is not yet repaired (empty otherwise). Where the next step needs the
    /// state on disk (a submission's intent, a webhook's 2xx, filing), co_await state_durable().
    std::error_code persist(job_ctx& job) override;
    asio::awaitable<void> persist_retry(std::string job_id);
    /// Completes when the newest state snapshot of `job_id` queued so far is durable (no error), or
    /// with the error that kept it from the disk (persist() has then scheduled the retry).
    asio::awaitable<std::error_code> state_durable(std::string job_id) override;
    /// The state writer's report of one attempted snapshot (on the loop).
    void on_state_written(const std::string& name, std::uint64_t seq, std::error_code ec);
    void item_failed(job_ctx& job, std::size_t index, std::string why,
                     const diagnostics& d = {}) override;
    void maybe_file(job_ctx& job) override;
    asio::awaitable<void> file_job(std::string job_id);
    std::filesystem::path job_dir(const job_ctx& job) const override;
    provider_slot* slot_of(const job_ctx& job) const override;
    /// The brief item behind a job's item (an empty stand-in when the brief could not be re-read).
    const brief::item& item_of(const job_ctx& job, std::size_t index) const override;

    // ---- submission (submission.hpp): pending items → provider runs
    submission submissions;

    // ---- the webhook channel (webhook_channel.hpp): the receiver, runs that report by delivery
    webhook_channel hooks;

    // operations.cpp: /metrics, /status and cancel
    engine_metrics metrics;
    /// Host observers and the scrape-time collector; called once the slots exist.
    void init_metrics();
    engine_status status_snapshot() const;
    asio::awaitable<std::optional<cancel_result>> cancel_job(std::string job_id,
                                                             std::chrono::milliseconds wait);
    /// Cancels one run at the provider when it offers that; completes with true when confirmed.
    asio::awaitable<bool> cancel_run(provider_slot& slot, std::string run_id);
    /// Remembers what the latest view of a run says for /status (progress).
    void note_view(const std::string& job_id, std::size_t index, const providers::run_view& v);
    /// The item's state word for /status and /metrics.
    static std::string_view item_state_word(const jobs::item_record& it);

    job_ctx* find(std::string_view job_id) override {
        auto it = jobs.find(job_id);
        return it == jobs.end() ? nullptr : it->second.get();
    }
};

using pipeline::unix_now;

}  // namespace briefd::pipeline::detail
