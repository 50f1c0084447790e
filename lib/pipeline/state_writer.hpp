// Job-state files written off the event loop with group commit (DESIGN §8; issue 13).
//
// The engine hands over a snapshot (the whole new content of one file in one directory, e.g.
// active/<job>.state.json) and goes on. A worker thread takes every snapshot queued at that moment
// as one group and writes it with store::spare_pool::commit(): each file to a spare (a temp),
// all fsynced together, renamed, and ONE fsync of the directory for the whole group (removals
// included). Snapshots of the same name that wait together are coalesced: only the newest is
// written (each is a whole file, so the older ones would be overwritten anyway). A caller that must
// not go on before its snapshot is on disk — the intent of a submission, a webhook's 2xx, filing a
// brief — co_awaits durable().
//
// Durability contract, per name: a snapshot is durable when durable() completes with no error for
// it or for a later snapshot of the same name; until then a crash leaves the file as an older
// snapshot (or absent), never half-written. Snapshots of one name reach the disk in the order
// they were queued; a removal queued after a write leaves nothing behind. Nothing is promised
// across names, except that one group is all renamed before its directory fsync.
//
// Spare inodes (issue 13): with spare_policy::cap > 0 the writer frees no inode while its pool
// has room (store::spare_pool): each snapshot goes into a spare file (".spare.<n>", hidden in
// `dir`) that is exchanged with the old file (renameat2 RENAME_EXCHANGE), so the old inode becomes
// the next spare, and a removal renames the file to a spare name instead of unlinking it. Same
// contract as above; the spares are empty files, given back (unlinked) after `idle` without a
// write down to `idle_keep`, and all of them on destruction: a stopped writer leaves only the
// state files. Leftovers of a killed process are adopted by the next writer on `dir`.
//
// Threads: every member function is called on the event loop (the executor given to the
// constructor), and every completion and callback runs there. The worker thread touches only the
// queue (under its mutex) and the file system.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace briefd::pipeline {

/// The engine's spare cap for active/. The pool holds at most the peak number of live state files
/// less those live now, and there is one per job in flight: at most max_items_in_flight (5,000;
/// a job has at least one item) plus the jobs recovered at start. So under the engine's own
/// limits no state file ever frees its inode. Full, it costs 8,192 empty inodes: 2 MiB of inode
/// table and ~0.3 MiB of directory, no data blocks — and it is given back when idle and at stop.
inline constexpr std::size_t active_spare_cap = 8192;

/// Spare inodes a state_writer keeps in its directory (see the top of this file).
struct state_spare_policy {
    std::size_t cap = 0;  ///< at most this many spares; 0: none (every change frees inodes)
    std::chrono::steady_clock::duration idle = std::chrono::minutes(10);
    std::size_t idle_keep = 16;  ///< spares kept once `idle` has passed without a write
};

class state_writer {
  public:
    /// Outcome of one written (or removed) snapshot, for the owner's bookkeeping: `seq` is the
    /// number write()/remove() returned for it; ec is empty when it is durable.
    using result_fn =
        std::function<void(const std::string& name, std::uint64_t seq, std::error_code ec)>;

    using spare_policy = state_spare_policy;

    /// Files go into `dir` with `mode`; `dir` must exist by the first write (the worker adopts
    /// leftover spares there at once if it exists, else at the first write). `fsync_threads`: how
    /// many threads fsync a group's files together. Starts the worker thread.
    state_writer(boost::asio::any_io_executor loop, std::filesystem::path dir,
                 unsigned fsync_threads = 8, mode_t mode = 0640, spare_policy spares = {});
    /// Writes what is still queued (a clean stop loses nothing queued), unlinks every spare, then
    /// joins the worker. Waiters still pending are destroyed without completing: call it only
    /// once the loop is done.
    ~state_writer();
    state_writer(const state_writer&) = delete;
    state_writer& operator=(const state_writer&) = delete;

    /// Queues `data` as the whole new content of dir/`name` (a single path component). Returns at
    /// once with the snapshot's sequence number (increasing across all names). Durability: none
    /// yet — see durable(). A snapshot of the same name still waiting is replaced (coalesced).
    std::uint64_t write(const std::string& name, std::string data);
    /// Queues the removal of dir/`name`, after any snapshot of it queued before (which is then
    /// never written if it is still waiting). Durable (the directory fsynced) when durable()
    /// completes. A missing file counts as removed.
    std::uint64_t remove(const std::string& name);
    /// Like write(), for a snapshot that is likely to be superseded before it matters (issue 13:
    /// each snapshot not written saves a temp file, its fsync and a rename). It is kept here, not
    /// queued, until:
    ///  - a later write() or defer() of `name` replaces it (the older one is never written);
    ///  - remove(`name`) drops it: never written;
    ///  - `within` has passed since it was deferred (then it is queued; the default: never);
    ///  - flush(`name`), durable(`name`) or durable_all() queues it, and destruction writes it.
    /// When a snapshot of `name` still waits in the queue, this one is not deferred but takes its
    /// place there, like write(): the disk never stays behind a snapshot already queued (it
    /// costs no extra write). Durability: none until queued; the disk keeps the older snapshot.
    std::uint64_t defer(
        const std::string& name, std::string data,
        std::chrono::steady_clock::duration within = std::chrono::steady_clock::duration::max());
    /// Queues the deferred snapshot of `name`, if any (for a filing that failed: the disk then
    /// catches up while it is retried).
    void flush(const std::string& name);

    /// Completes (on the loop) when the newest snapshot or removal of `name` queued before this
    /// call is durable, with no error; or with the error of the group that should have made it
    /// durable (then the disk holds an older snapshot: queue it again to retry). Completes at once
    /// with no error when nothing of `name` was ever queued or all of it is durable already.
    boost::asio::awaitable<std::error_code> durable(std::string name);
    /// Completes when everything queued (of any name) before this call has been attempted: with
    /// no error when all of it is durable, else with the first error of a group it waited for (a
    /// group may also hold later snapshots, so an error can be someone else's: conservative).
    /// For a drain at shutdown, or a caller that cannot name what it wrote.
    boost::asio::awaitable<std::error_code> durable_all();

    /// Called on the loop for every snapshot the worker attempted (not the coalesced ones), in the
    /// order the worker finished them.
    void on_result(result_fn f) { on_result_ = std::move(f); }

    /// While held, the worker takes no new group (the one it is writing finishes). For tests that
    /// need several snapshots to wait together; release with hold(false).
    void hold(bool on);

    /// Snapshots queued and not yet attempted (for /status and tests).
    std::size_t backlog() const;
    /// Snapshots deferred (defer()) and not yet queued, replaced or dropped.
    std::size_t deferred() const noexcept { return deferred_.size(); }
    /// Deferred snapshots dropped by remove(), never written (for the benchmark and tests).
    std::uint64_t dropped() const noexcept { return dropped_; }
    /// Groups written so far and snapshots they held; coalesced: snapshots replaced before being
    /// written (for the benchmark and tests).
    std::uint64_t groups() const { return groups_; }
    std::uint64_t written() const { return written_; }
    std::uint64_t coalesced() const { return coalesced_; }
    /// Spares ready for reuse after the last group (for tests and the benchmark).
    std::size_t spares() const noexcept { return spares_.load(std::memory_order_relaxed); }

  private:
    struct snapshot {
        std::uint64_t seq = 0;
        bool remove = false;
        std::string data;
    };
    struct outcome {
        std::string name;
        std::uint64_t seq;
        std::error_code ec;
    };
    struct waiter {
        std::uint64_t seq;
        boost::asio::any_completion_handler<void(std::error_code)> done;
    };
    void work();
    void finish_group(std::vector<outcome> results);
    std::uint64_t queue(const std::string& name, snapshot s);
    void flush_all();
    void arm_deadline();
    void flush_due();

    boost::asio::any_io_executor loop_;
    std::filesystem::path dir_;
    unsigned fsync_threads_;
    mode_t mode_;
    spare_policy policy_;
    std::atomic<std::size_t> spares_{0};  ///< written by the worker

    // Shared with the worker, under mu_.
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::map<std::string, snapshot, std::less<>> queued_;
    bool quit_ = false;
    bool held_ = false;

    // Loop only.
    std::uint64_t next_seq_ = 0;
    std::uint64_t attempted_seq_ = 0;  ///< every seq up to here has been attempted or coalesced
    std::map<std::string, std::uint64_t, std::less<>> latest_;    ///< newest seq queued per name
    std::map<std::string, std::uint64_t, std::less<>> settled_;   ///< newest seq attempted per name
    std::map<std::string, std::error_code, std::less<>> failed_;  ///< its error, when it failed
    std::multimap<std::string, waiter, std::less<>> waiters_;
    struct deferred_snapshot {
        snapshot s;
        std::chrono::steady_clock::time_point due;  ///< time_point::max(): only when asked
    };
    std::map<std::string, deferred_snapshot, std::less<>> deferred_;  ///< not yet queued
    /// Deferred snapshots with a due time, earliest first, so that a defer() costs O(log n)
    /// instead of a pass over every deferred snapshot. An entry whose seq is no longer its
    /// name's deferred one (replaced, flushed, removed) is stale and skipped when it surfaces.
    struct due_entry {
        std::chrono::steady_clock::time_point due;
        std::uint64_t seq;
        std::string name;
    };
    struct due_later {
        bool operator()(const due_entry& a, const due_entry& b) const { return a.due > b.due; }
    };
    std::priority_queue<due_entry, std::vector<due_entry>, due_later> due_;
    bool due_is_current(const due_entry& e) const;
    boost::asio::steady_timer deadline_;  ///< armed at the earliest due deferred snapshot
    struct all_waiter {
        std::uint64_t seq;
        std::error_code ec;
        boost::asio::any_completion_handler<void(std::error_code)> done;
    };
    std::vector<all_waiter> all_waiters_;
    result_fn on_result_;
    std::uint64_t groups_ = 0, written_ = 0, coalesced_ = 0, dropped_ = 0;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

    std::thread worker_;  // last: started once everything above exists
};

}  // namespace briefd::pipeline
