// Downloads (DESIGN §9): a finished run's outputs become files in outputs/<job>/. Each media
// output is streamed to outputs/<job>/.<item>-<output>.dl.part, hashed on the way, checked against
// the provider's size and sha256 when it gave them, fsynced and renamed to its final name (whose
// extension comes from the response's Content-Type, else the URL, else the output type). An output
// the API itself serves (output_record::fetch: Hrizn's article HTML and components) is one
// rate-budgeted request through the provider's scheduler host instead, turned into bytes by the
// provider and written atomically. The HTTP client attaches the provider's key only to requests
// for the provider's own origin, so a CDN or files host never sees it; CDN downloads do not go
// through the scheduler and spend none of the API budget.
//
// The component owns the limit on transfers at once (max_concurrent_downloads), the set of outputs
// in flight, and the thread pool that opens output directories and commits finished files. The
// engine reaches it through start()/in_flight(); it reaches the engine through job_services and
// downloads_port. Whether to save, retry, wait for the disk or give up is decided by
// decide_download() (download_decider.hpp, sans-I/O, unit-tested).
#pragma once

#include "config/config.hpp"
#include "core/log.hpp"
#include "pipeline/detail/job_services.hpp"
#include "pipeline/detail/provider_slot.hpp"
#include "pipeline/engine_metrics.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/url/url.hpp>

#include <cstddef>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <tuple>

namespace briefd::pipeline {

/// Threads that open output directories and commit finished files (fsync, rename). Concurrent
/// fsyncs share the file system's journal commits, so more threads than cores pay off; the pool is
/// the downloads' own, so filing's fsyncs never queue in front of them.
inline constexpr std::size_t download_commit_threads = 8;

/// Attempts at one output before it fails for good (disk waits are not attempts).
inline constexpr unsigned max_download_attempts = 6;

/// What downloads need from the engine beyond job_services.
struct downloads_port {
    /// The engine's file-system trouble line, shared with intake, state writes and filing (intake
    /// pauses claiming while it is set). Downloads wait 2 s before each attempt while any problem
    /// is set, set it to "cannot write outputs: …" when an output cannot be written for a disk
    /// reason (ENOSPC, EROFS, EDQUOT…), and clear only that one, when a later output is saved.
    std::string& disk_problem;
    /// Counted here: requests{provider,"download",status} per CDN attempt,
    /// downloaded_bytes{provider} and outputs{provider,saved|failed} per output.
    engine_metrics& metrics;
};

class downloads {
  public:
    /// `cfg` is the engine's live config: max_output_bytes is read at each download;
    /// max_concurrent_downloads is read once, here (a change needs a restart).
    downloads(boost::asio::any_io_executor ex, detail::job_services& services,
              const config::config& cfg, logger& log, downloads_port port);
    downloads(const downloads&) = delete;
    downloads& operator=(const downloads&) = delete;

    /// The item's outputs are known (a finished run recorded them, or recovery found them): starts
    /// one download task (job_services::spawn, drained at stop) for each output neither saved nor
    /// failed nor already in flight — none once stopping. When every output of the item is saved
    /// or failed, the item becomes finished (persisted) and job_services::maybe_file() is asked.
    ///
    /// A task downloads with up to max_download_attempts attempts (backoff 0.5 s … 30 s between
    /// them). Each attempt waits for one of max_concurrent_downloads places (FIFO) and holds it
    /// for the transfer only: not during a backoff or a disk wait, and not during the commit (which
    /// takes one of as many commit places instead). An output the API serves (Hrizn's article
    /// HTML) takes one of max_concurrent_downloads places of its own provider instead, for all
    /// its attempts: those requests wait for the provider's rate budget in the scheduler, and a
    /// provider whose fetches wait for budget must not hold up another's CDN transfers. It
    /// completes with the
    /// output recorded in the job's state: saved (file, bytes, sha256; the file itself is fsynced
    /// and renamed before the record says saved, but its directory is not fsynced: filing's
    /// manifest, in the same directory, does that for all of them before the brief is filed) or
    /// failed (error text); then the job is persisted (queued for the state writer: durable soon,
    /// not on completion) and the item is looked at again, which finishes it when it was the
    /// last. A crash between the file's rename and the durable state redoes the download at the
    /// next start (the same name is overwritten). A job filed or cancelled meanwhile is left
    /// alone.
    ///
    /// Every call first checks the item's outputs recorded as saved: one whose file is not in
    /// outputs/<job>/ as a regular file of the recorded size (a crash took the rename's
    /// directory entry before any fsync of the directory made it durable) is logged
    /// (output.missing) and downloaded again, never named in a manifest. One fstatat per saved
    /// output: recovery and a run's outputs being recorded call this, a finished download does not.
    ///
    /// At stop (job_services::stopping()): a task waiting for a place or a backoff completes as
    /// soon as it gets one (naps end at stop); a transfer on the wire runs on until it ends or the
    /// engine cancels the HTTP client when the drain ends, and its bytes are discarded; a commit
    /// under way completes but is not recorded. Either way the output is recorded as neither saved
    /// nor failed, so the next start downloads it again.
    void start(detail::job_ctx& job, std::size_t item);

    /// Outputs with a download task now, waiting for a place or transferring: (job, item, output).
    /// A job with an output here is not complete (its item is not finished), so it is not filed.
    const std::set<std::tuple<std::string, std::size_t, std::size_t>>& in_flight() const noexcept {
        return in_flight_;
    }
    /// CDN transfers holding a place now (≤ max_concurrent_downloads).
    std::size_t transferring() const noexcept { return transferring_; }
    /// Outputs the API serves being fetched now (≤ max_concurrent_downloads per provider).
    std::size_t fetching() const noexcept { return fetching_; }

  private:
    /// Outputs of the item recorded as saved whose file is missing (or not the recorded size)
    /// become unsaved again (see start()).
    void forget_missing(detail::job_ctx& job, std::size_t item);
    /// start() without forget_missing(): after a download of this process completed.
    void resume(detail::job_ctx& job, std::size_t item);
    boost::asio::awaitable<void> download_output(std::string job_id, std::size_t item,
                                                 std::size_t o);
    /// One CDN transfer with retries; completes with the error text, empty when saved.
    boost::asio::awaitable<std::string> transfer(detail::provider_slot& slot, std::string job_id,
                                                 std::size_t item, std::size_t o,
                                                 boost::urls::url url);
    /// An output that is an API response (output_record::fetch): fetched through the scheduler,
    /// turned into bytes by the provider, saved. Completes with the error text, empty when saved.
    boost::asio::awaitable<std::string> fetch_output(detail::provider_slot& slot,
                                                     std::string job_id, std::size_t item,
                                                     std::size_t o, boost::urls::url url);
    /// Sets the disk-problem line (logging when it was clear).
    void disk_trouble(const std::string& job_id, const std::error_code& ec);

    boost::asio::any_io_executor ex_;
    detail::job_services& jobs_;
    const config::config& cfg_;
    logger& log_;
    downloads_port port_;
    detail::semaphore places_;   ///< one per transfer attempt (max_concurrent_downloads)
    detail::semaphore commits_;  ///< as many, for finished transfers being committed
    std::size_t transferring_ = 0;
    /// Places for outputs the API serves, per provider (made at its first such output).
    std::map<std::string, std::unique_ptr<detail::semaphore>, std::less<>> fetch_places_;
    std::size_t fetching_ = 0;
    detail::semaphore& fetch_places(const std::string& provider);
    std::set<std::tuple<std::string, std::size_t, std::size_t>> in_flight_;
    std::mt19937_64 rng_;
    boost::asio::thread_pool pool_{download_commit_threads};
};

}  // namespace briefd::pipeline
