// Intake: incoming/ watched (inotify + rescans), settled briefs claimed in batches on the file
// pool, invalid ones refused, accepted ones started as jobs.
#include "pipeline/intake.hpp"

#include "pipeline/recovery.hpp"

#include "store/atomic_file.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <unistd.h>

#include <utility>

namespace briefd::pipeline {

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace json = boost::json;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

using clock = std::chrono::steady_clock;

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::size_t claim_allowance(const claim_state& s) {
    if (s.stopping || s.disk_problem || s.items_waiting >= s.max_waiting) return 0;
    return s.probe ? 1 : std::min(claim_batch_size, s.max_waiting - s.items_waiting);
}

std::size_t start_allowance(const start_state& s) {
    if (s.stopping || s.hold || s.items_waiting == 0) return 0;
    if (s.items_in_flight == 0) return std::max(s.max_in_flight, s.next_job_items);
    if (s.items_in_flight >= s.max_in_flight) return 0;
    const auto room = s.max_in_flight - s.items_in_flight;
    // A request's worth, but never more than a tenth of the window: a small window must not wait
    // for room it can never have.
    const auto chunk = std::min(
        {start_batch_items, s.items_waiting, std::max<std::size_t>(1, s.max_in_flight / 10)});
    return room < chunk ? 0 : room;
}

bool hold_starts(bool bursting, std::chrono::steady_clock::duration burst_age) {
    return bursting && burst_age < max_start_hold;
}

void job_windows::claimed(const std::string& job_id, std::size_t items) {
    const auto seq = next_seq_++;
    seq_[job_id] = seq;
    queue_.push_back({job_id, items, seq});
    waiting_ += items;
}

void job_windows::started(std::size_t items) {
    in_flight_ += items;
}

void job_windows::left(const std::string& job_id, std::size_t items) {
    if (auto it = seq_.find(job_id); it != seq_.end()) {
        seq_.erase(it);  // its queue entry is stale now: dropped when it comes to the front
        waiting_ -= std::min(items, waiting_);
    } else {
        in_flight_ -= std::min(items, in_flight_);
    }
}

void job_windows::drop_stale() {
    while (!queue_.empty()) {
        auto it = seq_.find(queue_.front().job_id);
        if (it != seq_.end() && it->second == queue_.front().seq) return;
        queue_.pop_front();
    }
}

std::vector<std::string> job_windows::take_startable(bool stopping, bool hold) {
    std::vector<std::string> out;
    drop_stale();
    if (queue_.empty()) return out;
    auto room = start_allowance(
        {stopping, hold, in_flight_, waiting_, queue_.front().items, lim_.in_flight});
    while (!queue_.empty() && queue_.front().items <= room) {
        auto& e = queue_.front();
        room -= e.items;
        waiting_ -= e.items;
        in_flight_ += e.items;
        seq_.erase(e.job_id);
        out.push_back(std::move(e.job_id));
        queue_.pop_front();
        drop_stale();
    }
    return out;
}

intake::intake(asio::any_io_executor ex, asio::thread_pool& file_pool, const config::config& cfg,
               spool::layout layout, std::string& disk_problem, logger& log, intake_port port)
    : ex_(ex),
      file_pool_(file_pool),
      cfg_(cfg),
      layout_(std::move(layout)),
      disk_problem_(disk_problem),
      log_(log),
      port_(std::move(port)),
      wake_(ex),
      settle_(cfg.settle) {}

void intake::adopt(spool::name_index names, std::vector<std::string> unclaimed) {
    names_ = std::move(names);
    unclaimed_ = std::move(unclaimed);
}

void intake::kick() {
    kicked_ = true;
    wake_.cancel();
}

void intake::stop() {
    stopping_ = true;
    wake_.cancel();
}

asio::awaitable<void> intake::run() {
    auto watch = spool::watcher::open(layout_.incoming());
    std::optional<asio::posix::stream_descriptor> sd;
    if (watch.first) {
        log_.warning("spool.inotify_unavailable",
                     {{"error", watch.first.message()}, {"fallback", "periodic rescan only"}});
    } else {
        sd.emplace(ex_, ::dup(watch.second.fd()));
        // Readiness of the inotify fd wakes the intake loop; the loop drains it.
        port_.spawn([](intake* self, asio::posix::stream_descriptor* s) -> asio::awaitable<void> {
            while (!self->stopping_) {
                auto [ec] =
                    co_await s->async_wait(asio::posix::stream_descriptor::wait_read, use_tuple);
                if (ec || self->stopping_) break;
                self->kick();
                // Give the intake loop a turn before waiting again, so one burst is one drain.
                asio::steady_timer t(self->ex_);
                t.expires_after(std::chrono::milliseconds(20));
                co_await t.async_wait(use_tuple);
            }
        }(this, &*sd));
    }

    // Briefs recovery found in active/ without a state file: claimed just before a crash.
    while (!unclaimed_.empty() && !stopping_) {
        const auto n = std::min(claim_batch_size, unclaimed_.size());
        std::vector<spool::ready_file> b;
        for (auto i = unclaimed_.size() - n; i < unclaimed_.size(); ++i)
            b.push_back({.name = std::move(unclaimed_[i]), .closed = true});
        unclaimed_.resize(unclaimed_.size() - n);
        co_await claim_batch(std::move(b), true);
    }

    // Work per wake-up is O(changes): inotify names are looked at one by one, ready files come
    // out of the settle tracker in deadline order, and the whole of incoming/ is listed only at
    // start-up, every rescan_interval, and after an inotify overflow.
    auto last_sweep = clock::time_point{};
    auto next_rescan = clock::time_point{};  // the start-up scan
    bool probe = false;                      // one claim tests whether the disk has room again
    std::shared_ptr<claim_work> ahead;       // being claimed on the file pool
    while (!stopping_) {
        // The batch begun in the last turn first: until it is finished its briefs may still be
        // in incoming/, and a rescan must not observe them again.
        if (ahead) co_await finish_claim(std::exchange(ahead, nullptr));
        auto now = clock::now();
        bool rescan = now >= next_rescan;
        if (kicked_) {
            kicked_ = false;
            if (sd) {
                std::error_code wec;
                auto b = watch.second.drain(wec);
                if (b.overflow) log_.notice("spool.overflow", {{"action", "rescan"}});
                if (b.overflow || b.watch_lost || wec) {
                    rescan = true;
                    returned_.clear();  // their events may be lost: they only settle slower
                }
                for (std::size_t i = 0; i < b.names.size(); ++i) {
                    const auto& n = b.names[i];
                    // Moved in by intake itself, giving back a brief still being written: it
                    // settles again (observed below) unless its writer closed it since.
                    const bool ours = returned_.erase(n) != 0 && !b.closed[i];
                    if (auto e = spool::stat_incoming(layout_, n);
                        e && note_incoming(*e, now) && !ours)
                        settle_.mark_closed(n);
                }
                // Created in place: a symlink is refused now; a file being written starts settling.
                for (const auto& n : b.created) {
                    if (auto e = spool::stat_incoming(layout_, n)) note_incoming(*e, now);
                }
            }
        }
        if (rescan) {
            // A failed state write paused claiming, and nothing else clears it: each rescan
            // (every 5 s while paused) lets one claim probe again; if the disk is still full it
            // fails the same way and the brief goes back to incoming/.
            if (disk_problem_.starts_with("cannot write job state")) {
                disk_problem_.clear();
                probe = true;
            }
            std::error_code ec;
            auto entries = spool::scan_incoming(layout_, ec);
            if (ec) {
                if (disk_problem_.empty())
                    log_.error("spool.scan_failed",
                               {{"dir", layout_.incoming().string()}, {"error", ec.message()}});
                disk_problem_ = "cannot read incoming/: " + ec.message();
            } else {
                if (disk_problem_.starts_with("cannot read incoming/")) disk_problem_.clear();
                for (const auto& e : entries) {
                    if (stopping_) break;
                    note_incoming(e, now);
                }
            }
            next_rescan =
                now + (disk_problem_.empty() ? std::chrono::milliseconds(cfg_.rescan_interval)
                                             : std::chrono::milliseconds(5000));
        }
        // One batch per turn, so draining inotify (and everything else on the loop) interleaves
        // with a burst; the claim window bounds what leaves incoming/. Pipelined: the batch begun
        // in the last turn was finished (handed to the engine) at the top of this one; the next
        // begins now, and the file pool claims it while the loop runs trackers and downloads
        // until our next turn — a burst costs one pass of the loop's queue per batch, not two.
        if (const auto room = claim_allowance({stopping_, !disk_problem_.empty(), probe,
                                               port_.items_waiting(), port_.max_waiting()})) {
            // A file written in place and not closed yet is looked at again (one lstat) as its
            // settle time comes due: its writer may still be writing. Closed and moved-in files
            // are taken as they are.
            auto batch = settle_.take_ready(now, room, [this](std::string_view n) {
                auto e = spool::stat_incoming(layout_, n);
                if (!e)
                    if (auto sl = second_look_.find(n); sl != second_look_.end())
                        second_look_.erase(sl);
                return e;
            });
            if (!batch.empty()) {
                probe = false;
                ahead = begin_claim(std::move(batch), false);
            }
        }
        const bool more = ahead != nullptr;
        if (more && !bursting_) {
            bursting_ = true;
            burst_since_ = clock::now();
        } else if (!more && bursting_) {
            bursting_ = false;
            if (port_.burst_over) port_.burst_over();
        }
        queued_ = settle_.tracked();
        if (cfg_.retention.count() > 0 && now - last_sweep > std::chrono::minutes(10)) {
            last_sweep = now;
            std::error_code sec;
            if (auto n = spool::sweep_retention(layout_, cfg_.retention, sec, &names_); n > 0)
                log_.info("spool.retention", {{"removed", n}});
        }
        if (more) {
            co_await asio::post(ex_, asio::use_awaitable);  // let trackers and downloads run
            continue;
        }
        // Sleep until the next rescan, the next settle check, or a kick (inotify, capacity freed).
        auto wake = next_rescan;
        if (auto t = settle_.next_check(); t && *t < wake) wake = *t;
        if (!kicked_ && !stopping_) {
            wake_.expires_at(wake);
            co_await wake_.async_wait(use_tuple);
        }
    }
    // A batch begun before stop(): its claims are durable, so the engine gets its jobs (they
    // resume at the next start).
    if (ahead) co_await finish_claim(std::move(ahead));
    bursting_ = false;
}

bool intake::note_incoming(const spool::entry& e, clock::time_point now) {
    if (!e.regular) {
        port_.refuse(
            layout_.incoming() / e.name, e.name,
            {{e.name, std::nullopt, "file",
              e.symlink ? "is a symbolic link; briefd never follows links — drop the file itself"
                        : "is not a regular file"}});
        return false;
    }
    if (e.size > cfg_.max_brief_bytes) {
        port_.refuse(layout_.incoming() / e.name, e.name,
                     {{e.name, std::nullopt, "file",
                       "is " + std::to_string(e.size) + " bytes, more than max_brief_bytes (" +
                           std::to_string(cfg_.max_brief_bytes) + ")"}});
        return false;
    }
    settle_.observe(e, now);
    return true;
}

namespace {
/// One brief of an intake batch, filled in on the file pool.
struct intake_item {
    std::string name;        ///< in incoming/ (or active/ when adopted)
    spool::ready_file from;  ///< what the settle tracker knew of it
    /// Given back once already because it was invalid and never closed, and unchanged since:
    /// invalid again, it is refused.
    bool second_look = false;
    std::string job_id;
    std::error_code claim_ec;
    std::string active_name;
    std::string read_error;  ///< the file could not be read
    std::optional<brief::parse_result> parsed;
    std::optional<jobs::job_record> rec;  ///< accepted: its state file was written (state_ec)
    std::error_code state_ec;
    std::error_code room_ec;  ///< not claimed: the spool has no room for its state
    /// Given back to incoming/ (the reason), to settle again: still being written.
    std::string returned;
    bool returned_invalid = false;  ///< given back for a second look (invalid, never closed)
    spool::entry returned_as;       ///< its entry just before (lstat)
};

/// Room a claimed brief needs on the spool's file system for its state file: a snapshot and the
/// temp file of the next one, in blocks, with the directory's growth; generous on purpose.
constexpr std::size_t state_room_bytes = 16 * 1024;

struct intake_params {
    spool::layout layout;
    std::size_t max_brief_bytes;
    std::string default_provider;
    std::set<std::string, std::less<>>
        providers;  ///< the ones with a slot: their briefs are accepted
    bool in_active;
};

}  // namespace

/// What the worker thread gets: one heap object, shared, never copied between threads. `done`
/// and `ready` are the event loop's (set and cancelled there when the pool's part is over).
struct intake::claim_work {
    intake_params params;
    std::vector<intake_item> items;
    bool in_active = false;
    bool done = false;
    std::exception_ptr failed;  ///< the pool's part threw: rethrown by finish_claim()
    std::optional<asio::steady_timer> ready;
};

namespace {

/// Whether a brief just claimed from incoming/ and read is still being written, so that it goes
/// back to incoming/ to settle again (the reason in it.returned) instead of being accepted or
/// refused. A file written in place may be claimed while its writer keeps it open — the writer
/// then writes on into active/ — so the file is looked at again (one lstat, never for a valid
/// brief that was closed or moved in: those are complete on arrival):
///  - changed since the settle tracker last saw it (size or mtime): given back;
///  - invalid and never closed: given back once (its writer may have paused longer than
///    settle_ms; an incomplete brief is invalid); if it settles again unchanged and is still
///    invalid (it.second_look) it is refused.
/// A closed brief that is invalid is refused unless it changed. If the name was taken in
/// incoming/ meanwhile, the brief stays claimed and is judged as it was read.
bool give_back(const intake_params& p, intake_item& it) {
    const bool invalid = !it.parsed->ok();
    if (it.from.closed && !invalid) return false;
    const auto now = spool::stat_active(p.layout, it.active_name);
    if (!now || !now->regular) return false;
    const bool changed =
        it.from.observed && (now->size != it.from.size || now->mtime_ns != it.from.mtime_ns);
    std::string why;
    const bool look_again = !changed && invalid && !it.from.closed && !it.second_look;
    if (changed)
        why = "changed after it settled: still being written";
    else if (look_again)
        why = "invalid and not closed by its writer: looked at again after settle_ms";
    else
        return false;
    if (spool::unclaim_deferred(p.layout, it.active_name, it.name)) return false;
    it.returned = std::move(why);
    it.returned_invalid = look_again;
    it.returned_as = *now;
    it.returned_as.name = it.name;
    it.parsed.reset();
    return true;
}

/// Runs on the file pool and touches nothing of the engine: claims by rename, reads and parses,
/// then makes every claim of the batch durable with one fsync of active/ and one of incoming/.
/// No state file is written here (issue 13): until a job's first transition is recorded (a
/// submission's intent, awaited before anything is sent) the brief in active/ is its whole
/// durable record, and recovery claims a brief found there without a state afresh — nothing
/// was sent for it. A batch whose claims cannot be made durable goes back to incoming/.
void claim_and_persist(const intake_params& p, std::vector<intake_item>& batch) {
    // A job's state is written at its first transition, not here: claim only what the spool has
    // room to record, so that a full disk keeps briefs in incoming/ instead of starting jobs
    // whose state cannot be written.
    if (!p.in_active) {
        if (auto ec = store::check_room(p.layout.active(), batch.size() * state_room_bytes,
                                        batch.size() * 2)) {
            for (auto& it : batch) it.room_ec = ec;
            return;
        }
    }
    std::vector<intake_item*> accepted;
    bool claimed = false;
    for (auto& it : batch) {
        if (p.in_active) {
            it.active_name = it.name;
        } else {
            std::tie(it.claim_ec, it.active_name) = spool::claim_deferred(p.layout, it.name);
            if (it.claim_ec) continue;
            claimed = true;
        }
        // A FIFO or device swapped in after the scan, or grown too large, parses as a problem:
        // refused, never retried.
        it.parsed = read_brief(p.layout.active(), it.active_name, p.max_brief_bytes,
                               p.default_provider, it.read_error);
        if (!p.in_active && it.parsed && give_back(p, it)) continue;
        if (!it.parsed || !it.parsed->ok() || !p.providers.count(it.parsed->brief->provider))
            continue;
        jobs::job_record rec;
        rec.job_id = it.job_id;
        rec.brief_name = it.active_name;
        rec.provider = it.parsed->brief->provider;
        rec.claimed_at = unix_now();
        for (const auto& item : it.parsed->brief->items) {
            jobs::item_record r;
            r.index = item.index;
            rec.items.push_back(std::move(r));
        }
        it.rec = std::move(rec);
        accepted.push_back(&it);
    }
    if (!claimed) return;  // adopted from active/ (durable there already), or nothing moved
    std::error_code ec = store::fsync_dir(p.layout.active());
    if (auto iec = store::fsync_dir(p.layout.incoming()); iec && !ec) ec = iec;
    if (!ec) return;
    // Without a durable claim nothing may start. Put the accepted briefs back (intake pauses);
    // refused ones are filed from active/ all the same.
    for (auto* it : accepted) {
        it->state_ec = ec;
        std::error_code rm;
        fs::rename(p.layout.active() / it->active_name, p.layout.incoming() / it->active_name, rm);
    }
}

// A plain coroutine with a by-value shared_ptr: GCC 12 mishandles lambda coroutines' captures
// when co_spawn moves them to another thread.
asio::awaitable<void> claim_and_persist_on_pool(std::shared_ptr<intake::claim_work> w) {
    claim_and_persist(w->params, w->items);
    co_return;
}
}  // namespace

std::shared_ptr<intake::claim_work> intake::begin_claim(std::vector<spool::ready_file> batch,
                                                        bool in_active) {
    auto work = std::make_shared<claim_work>(claim_work{
        {layout_, cfg_.max_brief_bytes, cfg_.default_provider, port_.providers(), in_active},
        std::vector<intake_item>(batch.size()),
        in_active});
    work->ready.emplace(ex_, asio::steady_timer::time_point::max());
    for (std::size_t i = 0; i < batch.size(); ++i) {
        auto& it = work->items[i];
        it.from = std::move(batch[i]);
        it.name = it.from.name;
        if (auto sl = second_look_.find(it.name); sl != second_look_.end()) {
            it.second_look = !it.from.closed && it.from.observed &&
                             sl->second == std::pair{it.from.size, it.from.mtime_ns};
            second_look_.erase(sl);
        }
        // The index picks the id without a scan; the renames below still decide every race.
        it.job_id = names_.reserve_job_id(
            it.name, in_active ? std::string_view(it.name) : std::string_view{});
    }
    asio::co_spawn(file_pool_, claim_and_persist_on_pool(work),
                   asio::bind_executor(ex_, [work](std::exception_ptr e) {
                       work->done = true;
                       work->failed = e;
                       work->ready->cancel();
                   }));
    return work;
}

asio::awaitable<void> intake::claim_batch(std::vector<spool::ready_file> batch, bool in_active) {
    co_await finish_claim(begin_claim(std::move(batch), in_active));
}

asio::awaitable<void> intake::finish_claim(std::shared_ptr<claim_work> work) {
    while (!work->done) co_await work->ready->async_wait(use_tuple);
    if (work->failed) std::rethrow_exception(work->failed);
    const bool in_active = work->in_active;

    if (!work->items.empty() && work->items.front().room_ec) {
        // Nothing was claimed. A rescan (every 5 s while paused) lets one claim probe again.
        const auto ec = work->items.front().room_ec;
        for (auto& it : work->items) names_.remove_output(it.job_id);
        if (!disk_problem_.starts_with("cannot write job state"))
            log_.error("state.write_failed", {{"dir", layout_.active().string()},
                                              {"error", ec.message()},
                                              {"briefs_waiting", work->items.size()}});
        disk_problem_ = "cannot write job state: " + ec.message();
        co_return;
    }
    for (auto& it : work->items) {
        // Only an accepted brief keeps its job id; any other gets it back (a brief returned to
        // incoming/ by a full disk must not come back as "name-2").
        if (it.claim_ec || !it.rec || it.state_ec) names_.remove_output(it.job_id);
        if (it.claim_ec) {
            // ENOENT: another process (or the producer) took the file first.
            if (it.claim_ec != std::errc::no_such_file_or_directory)
                log_.warning("brief.claim_failed",
                             {{"file", it.name}, {"error", it.claim_ec.message()}});
            continue;
        }
        if (!in_active) log_.info("brief.claimed", {{"file", it.name}, {"job", it.job_id}});
        if (!it.returned.empty()) {
            // Back in incoming/ under its own name, its job id given back above: it settles
            // again from now (its clock restarted), like a file just created.
            log_.info("brief.returned", {{"file", it.name}, {"reason", it.returned}});
            returned_.insert(it.name);
            if (it.returned_invalid)
                second_look_[it.name] = {it.returned_as.size, it.returned_as.mtime_ns};
            settle_.observe(it.returned_as, clock::now());
            continue;
        }
        if (!in_active) names_.add_spool_name(it.active_name);
        auto path = layout_.active() / it.active_name;
        if (!it.parsed) {
            log_.error("brief.read_failed", {{"file", it.active_name}, {"error", it.read_error}});
            continue;
        }
        auto& res = *it.parsed;
        if (!res.ok()) {
            log_.warning("brief.invalid", {{"file", it.active_name},
                                           {"problems", res.problems.size()},
                                           {"first", res.problems.front().to_string()}});
            port_.refuse(path, it.active_name, res.problems);
            continue;
        }
        if (!it.rec) {
            port_.refuse(path, it.active_name,
                         {{it.active_name, std::nullopt, "provider",
                           "provider " + res.brief->provider +
                               (cfg_.providers.count(res.brief->provider)
                                    ? " is not supported by this version of briefd yet"
                                    : " is not configured under providers:")}});
            continue;
        }
        if (it.state_ec) {
            log_.error("state.write_failed",
                       {{"job", it.job_id}, {"error", it.state_ec.message()}});
            disk_problem_ = "cannot write job state: " + it.state_ec.message();
            if (!in_active) names_.remove_spool_name(it.active_name);  // back in incoming/
            continue;
        }
        // Its state file will be active/<job>.state.json: taken from now on.
        names_.add_spool_name(jobs::state_path({}, it.job_id).filename().string());
        log_.info(
            "job.accepted",
            {{"job", it.rec->job_id}, {"file", it.active_name}, {"items", it.rec->items.size()}});
        port_.accept(std::move(*it.rec), std::move(*res.brief));
    }
}

}  // namespace briefd::pipeline
