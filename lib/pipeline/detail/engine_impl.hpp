// The engine's state, shared by engine.cpp (intake, jobs, filing, recovery), submit.cpp,
// tracking.cpp and download.cpp. Private to lib/pipeline.
#pragma once

#include "brief/brief.hpp"
#include "config/config.hpp"
#include "core/log.hpp"
#include "http/client.hpp"
#include "jobs/job.hpp"
#include "pipeline/batcher.hpp"
#include "pipeline/engine.hpp"
#include "pipeline/tracker_fsm.hpp"
#include "providers/lamina/api.hpp"
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

struct job_ctx {
    jobs::job_record rec;
    brief::brief_file brief;
    bool filing = false;        ///< finalisation under way
    bool validated = false;     ///< app inputs checked against their schemas
};

/// A counting semaphore for coroutines on one thread.
class semaphore {
public:
    semaphore(asio::any_io_executor ex, std::size_t n) : ex_(ex), free_(n) {}
    asio::awaitable<void> acquire();
    void release();

private:
    asio::any_io_executor ex_;
    std::size_t free_;
    std::deque<asio::steady_timer*> waiters_;
};

struct engine_impl : std::enable_shared_from_this<engine_impl> {
    engine_impl(asio::any_io_executor ex, config::config cfg, std::map<std::string, secret> keys,
                logger& log);

    // ---- plumbing
    asio::any_io_executor ex;
    config::config cfg;
    const config::provider_config* lamina_cfg = nullptr;
    logger& log;
    spool::layout layout;
    http::client client;
    boost::urls::url base_url;
    std::unique_ptr<scheduler::host> host;
    std::mt19937_64 rng;

    // ---- jobs
    std::map<std::string, std::unique_ptr<job_ctx>, std::less<>> jobs;
    std::size_t items_in_flight = 0;   ///< items of jobs not yet filed (caps claiming)
    std::size_t running_runs = 0;
    std::size_t filed_done = 0, filed_failed = 0, queued_seen = 0;
    std::map<std::string, brief::app_schema, std::less<>> schemas;

    // ---- batching
    pipeline::batcher batches;
    asio::steady_timer batch_timer;

    // ---- intake
    asio::steady_timer intake_wake;
    bool intake_kicked = true;
    spool::settle_tracker settle;
    std::string disk_problem;   ///< non-empty while intake is paused by a file-system error
    spool::name_index names;    ///< taken job ids and spool names: built in recover(), no rescans
    std::vector<std::string> unclaimed_in_active;  ///< briefs recover() found without a state
    asio::thread_pool file_pool{1};  ///< claims, parsing, state writes: off the event loop

    // ---- downloads
    semaphore downloads;
    std::set<std::tuple<std::string, std::size_t, std::size_t>> downloading;  ///< (job, item, output) in flight

    // ---- lifecycle
    bool stopping = false;
    bool forced = false;
    std::size_t drain_tasks = 0;   ///< submissions, downloads, filing: may finish during drain
    std::size_t other_tasks = 0;   ///< trackers, loops: cancelled at stop
    asio::steady_timer drained;
    asio::steady_timer drain_deadline;
    std::set<http::client::body_stream*> open_streams;
    std::set<asio::steady_timer*> naps;   ///< pauses (backoff, retry later); stop() ends them

    // engine.cpp
    asio::awaitable<std::error_code> run(std::function<void()> ready);
    void spawn(asio::awaitable<void> task, bool drain);
    /// A pause that stop() cuts short, so no backoff outlives the drain; callers check `stopping`.
    asio::awaitable<void> nap_until(clock::time_point t);
    asio::awaitable<void> nap(clock::duration d) { return nap_until(clock::now() + d); }
    void kick_intake();
    asio::awaitable<void> intake_loop();
    /// Refuses a non-regular or oversized incoming/ entry (false), else lets settle observe it.
    bool note_incoming(const spool::entry& e, clock::time_point now);
    /// Claims incoming/<name>… (or, with in_active, adopts active/<name>… found by recovery) on
    /// file_pool — renames, parsing and state files, their fsyncs grouped — then, back on the
    /// event loop, refuses the invalid ones and starts the others. Completes when all are done.
    asio::awaitable<void> intake_batch(std::vector<std::string> batch, bool in_active);
    /// Reads and parses active/<name>; nullopt (with `why`) when the file cannot be read.
    std::optional<brief::parse_result> parse_active(const std::string& name, std::string& why) const;
    /// Writes failed/<name>.error.json, then moves `from` into failed/ (renaming the error file if
    /// the brief's name had to be suffixed). Returns the brief's final name.
    std::pair<std::error_code, std::string> file_failed(const std::filesystem::path& from,
                                                        const std::string& name,
                                                        const std::string& error_text);
    void refuse(const std::filesystem::path& from, const std::string& name,
                const std::vector<brief::problem>& problems);
    void start_job(job_ctx& job);
    void recover();
    void persist(job_ctx& job);
    void maybe_file(job_ctx& job);
    asio::awaitable<void> file_job(std::string job_id);
    std::filesystem::path job_dir(const job_ctx& job) const;
    tracker_config tracker_cfg() const;

    // submit.cpp
    void enqueue_item(job_ctx& job, std::size_t index);
    asio::awaitable<void> batch_loop();
    asio::awaitable<void> submit_batch(pipeline::batch b);
    asio::awaitable<void> validate_apps(std::string job_id);
    asio::awaitable<std::optional<brief::app_schema>> get_schema(std::string app_id, bool refresh);
    asio::awaitable<void> submit_app_run(std::string job_id, std::size_t index);
    void item_failed(job_ctx& job, std::size_t index, std::string why, const diagnostics& d = {});
    void uncertain(job_ctx& job, std::size_t index, std::string_view what);
    http::request api_request(boost::beast::http::verb v, std::string_view path, std::string body = {}) const;

    // tracking.cpp
    void start_tracking(job_ctx& job, std::size_t index);
    asio::awaitable<void> track_run(std::string job_id, std::size_t index, std::string run_id);
    void run_finished(const std::string& job_id, std::size_t index,
                      const providers::lamina::run_status& run, run_phase phase);

    // download.cpp
    void start_downloads(job_ctx& job, std::size_t index);
    asio::awaitable<void> download_output(std::string job_id, std::size_t item, std::size_t out);

    job_ctx* find(std::string_view job_id) {
        auto it = jobs.find(job_id);
        return it == jobs.end() ? nullptr : it->second.get();
    }
};

run_phase phase_of(std::string_view status);
std::int64_t unix_now();

}  // namespace briefd::pipeline::detail
