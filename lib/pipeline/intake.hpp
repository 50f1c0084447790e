// Intake (DESIGN §3): incoming/ watched by inotify and periodic rescans, files tracked until they
// settle, settled briefs claimed in batches — renames and parsing on the file pool, one fsync of
// active/ and incoming/ per batch — then refused (invalid) or handed to the engine as jobs whose
// claim is durable (their state file is first written at their first transition). It owns the
// settle tracker, the index of taken spool names and its wake-up timer; the engine reaches it
// through adopt/run/stop/kick, and it reaches the engine only through intake_port.
//
// Whether to claim, and how many, is decided by claim_allowance(); which claimed jobs start, by
// job_windows and start_allowance() (sans-I/O, unit-tested).
#pragma once

#include "brief/brief.hpp"
#include "config/config.hpp"
#include "core/log.hpp"
#include "jobs/job.hpp"
#include "spool/spool.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace briefd::pipeline {

/// Seconds since the Unix epoch (a job's claimed_at, an error file's failed_at).
std::int64_t unix_now();

/// The two windows that bound a flood (issue 13). Claiming is cheap and bounded by the claim
/// window: items of jobs claimed and validated that wait to start (a job record and its parsed
/// brief, about 3 KiB a job, ~2 KiB an item). Starting a job puts its items in flight —
/// batched, submitted, tracked, downloaded: 10–17 KiB a job — and that is bounded by the in-flight
/// window. Both are fixed, so memory stays flat in the number of briefs waiting in incoming/
/// (there briefd keeps only a name and a size).
struct window_limits {
    /// Items of claimed jobs waiting to start (config key max_items_waiting).
    std::size_t waiting = config::default_max_items_waiting;
    /// Items of started jobs not yet filed (config key max_items_in_flight).
    std::size_t in_flight = config::default_max_items_in_flight;
};

/// What intake may claim in one turn of its loop.
struct claim_state {
    bool stopping = false;
    bool disk_problem = false;      ///< a file-system problem pauses claiming
    bool probe = false;             ///< one claim tests whether the disk has room again
    std::size_t items_waiting = 0;  ///< items of claimed jobs not started yet
    std::size_t max_waiting = window_limits{}.waiting;
};

/// Briefs claimed per turn of the intake loop: large enough to share fsyncs, small enough that
/// the loop turns often (trackers and downloads run between batches).
inline constexpr std::size_t claim_batch_size = 256;
/// Waiting jobs start once this many items have room in flight (or fewer wait): a finished
/// single-item job frees one item, and starting them ten at a time fills a request.
inline constexpr std::size_t start_batch_items = 10;

/// How many settled briefs intake may claim now: none while stopping, while a disk problem
/// pauses intake or with max_waiting items waiting to start; one when probing the disk after a
/// failed state write; else up to claim_batch_size, never past max_waiting (counting a brief as
/// one item: a batch of multi-item briefs may pass it by its extra items).
std::size_t claim_allowance(const claim_state& s);

/// What may start now.
struct start_state {
    bool stopping = false;
    bool hold = false;  ///< a burst is being claimed: starts wait for it (hold_starts())
    std::size_t items_in_flight = 0;  ///< items of started jobs not yet filed
    std::size_t items_waiting = 0;    ///< items of claimed jobs waiting to start
    std::size_t next_job_items = 0;   ///< items of the oldest waiting job
    std::size_t max_in_flight = window_limits{}.in_flight;
};

/// How many items of waiting jobs may start now (the oldest first, whole jobs): none while
/// stopping or holding; the room left in the in-flight window, but only once it holds
/// start_batch_items (or all that waits, or a tenth of the window when that is less); with
/// nothing in flight at least the oldest job, however large.
std::size_t start_allowance(const start_state& s);

/// Starts wait while a burst of briefs is being claimed, at most this long: claiming a burst
/// first (0.1 ms of CPU a brief, off the loop) gets every brief validated and durable before the
/// started jobs' submissions, trackers and downloads take the event loop and the CPU.
inline constexpr std::chrono::milliseconds max_start_hold{2000};

/// Whether starts wait: while intake claims batch after batch (`bursting`, a batch begun
/// whenever the last one is finished), for at most max_start_hold from the burst's first batch.
/// A lone brief is not held: its burst is over once its batch is finished.
bool hold_starts(bool bursting, std::chrono::steady_clock::duration burst_age);

/// Jobs by window (sans-I/O): claimed ones wait in claim order; take_startable() moves the oldest
/// into flight as start_allowance() allows. The engine asks it which jobs to start.
class job_windows {
  public:
    explicit job_windows(window_limits lim = {}) : lim_(lim) {}
    void set_limits(window_limits lim) { lim_ = lim; }
    const window_limits& limits() const noexcept { return lim_; }

    /// A job claimed: it waits to start, after every job claimed before it.
    void claimed(const std::string& job_id, std::size_t items);
    /// A job started without waiting (recovered at start-up): in flight now.
    void started(std::size_t items);
    /// A job went away (filed, refused, cancelled before it started): its items leave the window
    /// that holds them.
    void left(const std::string& job_id, std::size_t items);
    /// The oldest waiting jobs that may start now, in claim order; they are in flight on return.
    /// None while stopping or holding.
    std::vector<std::string> take_startable(bool stopping, bool hold = false);

    std::size_t waiting() const noexcept { return waiting_; }
    std::size_t in_flight() const noexcept { return in_flight_; }
    bool is_waiting(const std::string& job_id) const { return seq_.count(job_id) != 0; }

  private:
    struct entry {
        std::string job_id;
        std::size_t items;
        std::uint64_t seq;  ///< a job id filed and claimed again gets a new one
    };
    void drop_stale();
    window_limits lim_;
    std::deque<entry> queue_;  ///< waiting, oldest first (maybe stale)
    std::map<std::string, std::uint64_t, std::less<>> seq_;  ///< waiting now
    std::uint64_t next_seq_ = 0;
    std::size_t waiting_ = 0, in_flight_ = 0;
};

/// What intake needs from the engine.
struct intake_port {
    /// Runs a background task that the engine cancels and waits for at stop (the inotify reader).
    std::function<void(boost::asio::awaitable<void>)> spawn;
    /// Items of claimed jobs waiting to start (the claim window), and its size.
    std::function<std::size_t()> items_waiting;
    std::function<std::size_t()> max_waiting;
    /// Providers the engine drives (those with a slot); briefs for others are refused.
    std::function<std::set<std::string, std::less<>>()> providers;
    /// A brief claimed durably (in active/, the directories fsynced): the engine makes it a job
    /// (counted in items_waiting) and starts it when the in-flight window has room and no burst
    /// holds starts (holding_starts()), unless stopping. It has no state file yet; recovery claims
    /// a brief in active/ without one afresh, so a crash (or a stop) before its first state write
    /// loses nothing and sends nothing twice.
    std::function<void(jobs::job_record rec, brief::brief_file brief)> accept;
    /// Files a brief that will never become a job to failed/ with its problems (from incoming/
    /// or active/); on failure it is left where it is.
    std::function<void(const std::filesystem::path& from, const std::string& name,
                       const std::vector<brief::problem>& problems)>
        refuse;
    /// A burst of claims is over (nothing more to claim, or the claim window is full): starts
    /// held for it may go (start_waiting).
    std::function<void()> burst_over;
};

class intake {
  public:
    /// `cfg` is the engine's live config (read at each use: rescan_interval and retention change
    /// on reload). `disk_problem`
    /// is the engine's file-system trouble line, set by any component (state writes, outputs,
    /// filing); intake pauses claiming while it is set, and sets and clears its own ("cannot read
    /// incoming/", "cannot write job state"). `file_pool` runs the claims.
    intake(boost::asio::any_io_executor ex, boost::asio::thread_pool& file_pool,
           const config::config& cfg, spool::layout layout, std::string& disk_problem, logger& log,
           intake_port port);

    /// Recovery's index of taken names, and the briefs it found in active/ without a state file
    /// (claimed just before a crash); run() adopts those first. Call before run().
    void adopt(spool::name_index names, std::vector<std::string> unclaimed);
    /// The index of taken job ids and spool names; filing records what it files here.
    spool::name_index& names() { return names_; }

    /// Adopts the unclaimed briefs, then watches incoming/ and claims settled briefs until stop().
    /// Completes after stop(), once the batch in progress is done (its accepted jobs keep their
    /// durable state). Never fails: an unreadable incoming/ is logged, reported in disk_problem
    /// and retried every 5 s.
    boost::asio::awaitable<void> run();
    /// Look again now (capacity freed, a reload, new files).
    void kick();
    /// No more claims; run() completes soon.
    void stop();
    /// Briefs seen in incoming/ and not yet claimed (for /metrics and the STATUS= line).
    std::size_t queued() const noexcept { return queued_; }
    /// Starts wait for the burst being claimed (hold_starts()).
    bool holding_starts() const {
        return hold_starts(bursting_, std::chrono::steady_clock::now() - burst_since_);
    }

    /// A batch being claimed on the file pool (intake.cpp).
    struct claim_work;

  private:
    /// Refuses a non-regular or oversized incoming/ entry (false), else lets settle observe it.
    bool note_incoming(const spool::entry& e, std::chrono::steady_clock::time_point now);
    /// Claims incoming/<name>… (or, with in_active, adopts active/<name>… found by recovery) on
    /// file_pool — renames and parsing, one fsync of each directory for the batch — then, back on
    /// the event loop, refuses the invalid ones and hands the others to the engine. Completes when
    /// all are done. begin_claim() + finish_claim().
    boost::asio::awaitable<void> claim_batch(std::vector<spool::ready_file> batch, bool in_active);
    /// Reserves the batch's job ids and starts its claims on file_pool; returns at once.
    std::shared_ptr<claim_work> begin_claim(std::vector<spool::ready_file> batch, bool in_active);
    /// Waits for the pool's part of a begun batch, then (on the event loop) refuses the invalid
    /// briefs and hands the others to the engine. Completes when all are done.
    boost::asio::awaitable<void> finish_claim(std::shared_ptr<claim_work> work);

    boost::asio::any_io_executor ex_;
    boost::asio::thread_pool& file_pool_;
    const config::config& cfg_;
    spool::layout layout_;
    std::string& disk_problem_;
    logger& log_;
    intake_port port_;
    boost::asio::steady_timer wake_;
    bool kicked_ = true;
    bool stopping_ = false;
    spool::settle_tracker settle_;
    /// Briefs given back to incoming/ (still being written) whose IN_MOVED_TO there, caused by
    /// that rename, has not been read yet: it is no close, so it must not make them ready.
    std::set<std::string, std::less<>> returned_;
    /// Briefs given back because they were invalid and never closed (a writer pausing longer
    /// than settle_ms looks finished): their size and mtime then. Claimed again unchanged and
    /// still invalid, they are refused.
    std::map<std::string, std::pair<std::uint64_t, std::int64_t>, std::less<>> second_look_;
    spool::name_index names_;
    std::vector<std::string> unclaimed_;
    std::size_t queued_ = 0;
    bool bursting_ = false;  ///< a batch is begun whenever the last one is finished
    std::chrono::steady_clock::time_point burst_since_;
};

}  // namespace briefd::pipeline
