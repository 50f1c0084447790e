// Intake, jobs, filing and recovery. Submission, tracking and downloads are in their own files.
#include "pipeline/detail/engine_impl.hpp"
#include "pipeline/detail/off_loop.hpp"

#include "store/atomic_file.hpp"
#include "store/read_file.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>

namespace briefd::pipeline {

namespace detail {

namespace fs = std::filesystem;
namespace json = boost::json;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Claiming stops while this many items are in flight, so a flood of briefs waits in incoming/
// instead of in memory.
constexpr std::size_t max_items_in_flight = 5000;
// Briefs claimed per turn of the intake loop: large enough to share fsyncs, small enough that the
// loop turns often.
constexpr std::size_t claim_batch_size = 256;
// Concurrent fsyncs of a batch's state files. Measured on the 2-core VM (ext4): 8 claimed 5,000
// briefs in ~5 s; 3 took 6.5 s, 32 took 12 s and 64 (with 512-brief batches) 22 s and 4x the CPU.
constexpr unsigned claim_fsync_threads = 8;

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch()).count();
}

asio::awaitable<void> semaphore::acquire() {
    if (free_ > 0 && waiters_.empty()) {
        --free_;
        co_return;
    }
    asio::steady_timer t(ex_);
    t.expires_at(asio::steady_timer::time_point::max());
    waiters_.push_back(&t);
    co_await t.async_wait(use_tuple);
    // Either release() handed us its unit, or we were cancelled at shutdown; either way we hold
    // one unit now and the caller releases it.
}

void semaphore::release() {
    if (!waiters_.empty()) {
        auto* t = waiters_.front();
        waiters_.pop_front();
        t->cancel();  // hands the unit over
        return;
    }
    ++free_;
}


engine_impl::engine_impl(asio::any_io_executor ex_, config::config cfg_,
                         std::map<std::string, secret> keys, logger& log_)
    : ex(ex_),
      cfg(std::move(cfg_)),
      log(log_),
      layout{cfg.spool, cfg.outputs},
      rng(std::random_device{}()),
      intake_wake(ex_),
      settle(cfg.settle),
      downloads(ex_, cfg.max_concurrent_downloads),
      drained(ex_),
      drain_deadline(ex_) {
    for (const auto& [name, pc] : cfg.providers) {
        const auto* api = providers::find(name);
        if (!api) continue;  // the config loader refuses unknown names; nothing to drive here
        auto k = keys.find(name);
        slots.emplace(name, std::make_unique<provider_slot>(ex, *api, pc, k == keys.end() ? nullptr : &k->second,
                                                            log, rng()));
    }
    states = std::make_unique<state_writer>(ex, layout.active(), claim_fsync_threads);
    states->on_result([this](const std::string& name, std::uint64_t seq, std::error_code ec) {
        on_state_written(name, seq, ec);
    });
    init_metrics();
    setup_webhooks();
}

provider_slot* engine_impl::slot_of(const job_ctx& job) const {
    auto it = slots.find(job.rec.provider);
    return it == slots.end() ? nullptr : it->second.get();
}

const brief::item& engine_impl::item_of(const job_ctx& job, std::size_t index) const {
    static const brief::item absent{0, brief::content_item{}};
    return index < job.brief.items.size() ? job.brief.items[index] : absent;
}

void engine_impl::spawn(asio::awaitable<void> task, bool drain) {
    (drain ? drain_tasks : other_tasks)++;
    asio::co_spawn(ex, std::move(task), [self = shared_from_this(), drain](std::exception_ptr e) {
        (drain ? self->drain_tasks : self->other_tasks)--;
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                self->log.error("task.crashed", {{"what", ex.what()}});
            } catch (...) {
                self->log.error("task.crashed");
            }
        }
        self->drained.cancel();
    });
}

asio::awaitable<void> engine_impl::nap_until(clock::time_point t) {
    if (stopping || t <= clock::now()) co_return;
    asio::steady_timer timer(ex);
    timer.expires_at(t);
    naps.insert(&timer);
    struct unregister {
        std::set<asio::steady_timer*>& set;
        asio::steady_timer* timer;
        ~unregister() { set.erase(timer); }
    } guard{naps, &timer};
    co_await timer.async_wait(use_tuple);
}

fs::path engine_impl::job_dir(const job_ctx& job) const { return layout.outputs / job.rec.job_id; }

namespace {
std::string state_file(std::string_view job_id) {
    return jobs::state_path({}, job_id).filename().string();
}
}  // namespace

std::error_code engine_impl::persist(job_ctx& job) {
    states->write(state_file(job.rec.job_id), jobs::to_text(jobs::to_json(job.rec)));
    return job.state_dirty ? job.state_error : std::error_code{};
}

asio::awaitable<std::error_code> engine_impl::state_durable(std::string job_id) {
    co_return co_await states->durable(state_file(job_id));
}

void engine_impl::on_state_written(const std::string& name, std::uint64_t, std::error_code ec) {
    constexpr std::string_view suffix = ".state.json";
    if (!name.ends_with(suffix)) return;
    auto* job = find(std::string_view(name).substr(0, name.size() - suffix.size()));
    if (!job) return;  // filed meanwhile (its state file is removed after this write)
    if (!ec) {
        if (job->state_dirty) log.info("state.write_recovered", {{"job", job->rec.job_id}});
        job->state_dirty = false;
        job->state_error = {};
        return;
    }
    log.error("state.write_failed", {{"job", job->rec.job_id}, {"error", ec.message()}});
    disk_problem = "cannot write job state: " + ec.message();
    job->state_error = ec;
    if (!job->state_dirty) {
        job->state_dirty = true;
        spawn(persist_retry(job->rec.job_id), false);
    }
}

asio::awaitable<void> engine_impl::persist_retry(std::string job_id) {
    // The in-memory state is ahead of the disk: keep trying, so a job never stalls on one failed
    // write. (Recovery from the older state on disk is always safe: it only redoes work.) A later
    // successful write of the job (on_state_written) ends this too.
    for (;;) {
        co_await nap(std::chrono::seconds(2));
        auto* job = find(job_id);
        if (!job || stopping || !job->state_dirty) co_return;
        persist(*job);
        if (!co_await state_durable(job_id)) co_return;  // on_state_written logged the recovery
    }
}

// ---- intake -------------------------------------------------------------------------------

void engine_impl::kick_intake() {
    intake_kicked = true;
    intake_wake.cancel();
}

asio::awaitable<void> engine_impl::intake_loop() {
    auto watch = spool::watcher::open(layout.incoming());
    std::optional<asio::posix::stream_descriptor> sd;
    if (watch.first) {
        log.warning("spool.inotify_unavailable", {{"error", watch.first.message()},
                                                  {"fallback", "periodic rescan only"}});
    } else {
        sd.emplace(ex, ::dup(watch.second.fd()));
        // Readiness of the inotify fd wakes the intake loop; the loop drains it.
        spawn([](engine_impl* self, asio::posix::stream_descriptor* s) -> asio::awaitable<void> {
            while (!self->stopping) {
                auto [ec] = co_await s->async_wait(asio::posix::stream_descriptor::wait_read, use_tuple);
                if (ec || self->stopping) break;
                self->kick_intake();
                // Give the intake loop a turn before waiting again, so one burst is one drain.
                asio::steady_timer t(self->ex);
                t.expires_after(std::chrono::milliseconds(20));
                co_await t.async_wait(use_tuple);
            }
        }(this, &*sd), false);
    }

    // Briefs recovery found in active/ without a state file: claimed just before a crash.
    while (!unclaimed_in_active.empty() && !stopping) {
        const auto n = std::min(claim_batch_size, unclaimed_in_active.size());
        std::vector<std::string> b(unclaimed_in_active.end() - static_cast<std::ptrdiff_t>(n),
                                   unclaimed_in_active.end());
        unclaimed_in_active.resize(unclaimed_in_active.size() - n);
        co_await intake_batch(std::move(b), true);
    }

    // Work per wake-up is O(changes): inotify names are looked at one by one, ready files come
    // out of the settle tracker in deadline order, and the whole of incoming/ is listed only at
    // start-up, every rescan_interval, and after an inotify overflow.
    auto last_sweep = clock::time_point{};
    auto next_rescan = clock::time_point{};  // the start-up scan
    bool probe = false;                      // one claim tests whether the disk has room again
    while (!stopping) {
        auto now = clock::now();
        bool rescan = now >= next_rescan;
        if (intake_kicked) {
            intake_kicked = false;
            if (sd) {
                std::error_code wec;
                auto b = watch.second.drain(wec);
                if (b.overflow) log.notice("spool.overflow", {{"action", "rescan"}});
                if (b.overflow || b.watch_lost || wec) rescan = true;
                for (const auto& n : b.names) {
                    if (auto e = spool::stat_incoming(layout, n); e && note_incoming(*e, now))
                        settle.mark_closed(n);
                }
                // Created in place: a symlink is refused now; a file being written starts settling.
                for (const auto& n : b.created) {
                    if (auto e = spool::stat_incoming(layout, n)) note_incoming(*e, now);
                }
            }
        }
        if (rescan) {
            // A failed state write paused claiming, and nothing else clears it: each rescan
            // (every 5 s while paused) lets one claim probe again; if the disk is still full it
            // fails the same way and the brief goes back to incoming/.
            if (disk_problem.starts_with("cannot write job state")) {
                disk_problem.clear();
                probe = true;
            }
            std::error_code ec;
            auto entries = spool::scan_incoming(layout, ec);
            if (ec) {
                if (disk_problem.empty())
                    log.error("spool.scan_failed", {{"dir", layout.incoming().string()}, {"error", ec.message()}});
                disk_problem = "cannot read incoming/: " + ec.message();
            } else {
                if (disk_problem.starts_with("cannot read incoming/")) disk_problem.clear();
                for (const auto& e : entries) {
                    if (stopping) break;
                    note_incoming(e, now);
                }
            }
            next_rescan = now + (disk_problem.empty() ? std::chrono::milliseconds(cfg.rescan_interval)
                                                      : std::chrono::milliseconds(5000));
        }
        // One batch per turn, so draining inotify (and everything else on the loop) interleaves
        // with a burst; capacity bounds what leaves incoming/.
        bool more = false;
        if (!stopping && disk_problem.empty() && items_in_flight < max_items_in_flight) {
            const std::size_t room = probe ? 1 : std::min(claim_batch_size, max_items_in_flight - items_in_flight);
            auto batch = settle.take_ready(now, room);
            if (!batch.empty()) {
                probe = false;
                co_await intake_batch(std::move(batch), false);
                more = settle.any_ready(clock::now());
            }
        }
        queued_seen = settle.tracked();
        if (cfg.retention.count() > 0 && now - last_sweep > std::chrono::minutes(10)) {
            last_sweep = now;
            std::error_code sec;
            if (auto n = spool::sweep_retention(layout, cfg.retention, sec, &names); n > 0)
                log.info("spool.retention", {{"removed", n}});
        }
        if (more) {
            co_await asio::post(ex, asio::use_awaitable);  // let trackers and downloads run
            continue;
        }
        // Sleep until the next rescan, the next settle check, or a kick (inotify, capacity freed).
        auto wake = next_rescan;
        if (auto t = settle.next_check(); t && *t < wake) wake = *t;
        if (!intake_kicked && !stopping) {
            intake_wake.expires_at(wake);
            co_await intake_wake.async_wait(use_tuple);
        }
    }
}

bool engine_impl::note_incoming(const spool::entry& e, clock::time_point now) {
    if (!e.regular) {
        refuse(layout.incoming() / e.name, e.name,
               {{e.name, std::nullopt, "file",
                 e.symlink ? "is a symbolic link; briefd never follows links — drop the file itself"
                           : "is not a regular file"}});
        return false;
    }
    if (e.size > cfg.max_brief_bytes) {
        refuse(layout.incoming() / e.name, e.name,
               {{e.name, std::nullopt, "file",
                 "is " + std::to_string(e.size) + " bytes, more than max_brief_bytes (" +
                     std::to_string(cfg.max_brief_bytes) + ")"}});
        return false;
    }
    settle.observe(e, now);
    return true;
}

std::optional<brief::parse_result> engine_impl::parse_active(const std::string& name, std::string& why) const {
    auto [rec, bytes] = store::read_regular_file(layout.active() / name, cfg.max_brief_bytes, why);
    if (store::unreadable_for_good(rec))  // a FIFO swapped in, too large…: refused, never retried
        return brief::parse_result{std::nullopt, {{name, std::nullopt, "file", why}}};
    if (rec) return std::nullopt;
    brief::limits lim;
    lim.max_brief_bytes = cfg.max_brief_bytes;
    return brief::parse(name, bytes, cfg.default_provider, providers::item_schemas(), lim);
}

namespace {
/// One brief of an intake batch, filled in on the file pool.
struct intake_item {
    std::string name;  ///< in incoming/ (or active/ when adopted)
    std::string job_id;
    std::error_code claim_ec;
    std::string active_name;
    std::string read_error;  ///< the file could not be read
    std::optional<brief::parse_result> parsed;
    std::optional<jobs::job_record> rec;  ///< accepted: its state file was written (state_ec)
    std::error_code state_ec;
};

struct intake_params {
    spool::layout layout;
    std::size_t max_brief_bytes;
    std::string default_provider;
    std::set<std::string, std::less<>> providers;  ///< the ones with a slot: their briefs are accepted
    bool in_active;
};

/// What the worker thread gets: one heap object, shared, never copied between threads.
struct intake_work {
    intake_params params;
    std::vector<intake_item> items;
};

/// Runs on the file pool and touches nothing of the engine: claims by rename (fsyncs deferred),
/// reads and parses, and writes the accepted briefs' state files with one group of fsyncs that also
/// makes the claims durable. A brief whose state cannot be written goes back to incoming/.
void claim_and_persist(const intake_params& p, std::vector<intake_item>& batch) {
    std::vector<store::pending_file> states;
    std::vector<intake_item*> owners;
    brief::limits lim;
    lim.max_brief_bytes = p.max_brief_bytes;
    for (auto& it : batch) {
        if (p.in_active) {
            it.active_name = it.name;
        } else {
            std::tie(it.claim_ec, it.active_name) = spool::claim_deferred(p.layout, it.name);
            if (it.claim_ec) continue;
        }
        auto [rec_ec, bytes] = store::read_regular_file(p.layout.active() / it.active_name, p.max_brief_bytes,
                                                        it.read_error);
        if (store::unreadable_for_good(rec_ec)) {
            // A FIFO or device swapped in after the scan, or grown too large: refused, never retried.
            it.parsed = brief::parse_result{std::nullopt, {{it.active_name, std::nullopt, "file", it.read_error}}};
            continue;
        }
        if (rec_ec) continue;
        it.parsed = brief::parse(it.active_name, bytes, p.default_provider, providers::item_schemas(), lim);
        if (!it.parsed->ok() || !p.providers.count(it.parsed->brief->provider)) continue;
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
        states.push_back({jobs::state_path(p.layout.active(), rec.job_id),
                          json::serialize(jobs::to_json(rec))});
        it.rec = std::move(rec);
        owners.push_back(&it);
    }
    std::vector<fs::path> dirs{p.layout.active()};
    if (!p.in_active) dirs.push_back(p.layout.incoming());
    auto results = store::write_files_durably(states, dirs, claim_fsync_threads);
    for (std::size_t i = 0; i < owners.size(); ++i) {
        auto& it = *owners[i];
        it.state_ec = results[i];
        if (!it.state_ec) continue;
        // Without durable state nothing may be sent. Put the brief back (the engine pauses intake).
        std::error_code rm;
        fs::remove(states[i].target, rm);
        fs::rename(p.layout.active() / it.active_name, p.layout.incoming() / it.active_name, rm);
    }
}

// A plain coroutine with a by-value shared_ptr: GCC 12 mishandles lambda coroutines' captures
// when co_spawn moves them to another thread.
asio::awaitable<void> claim_and_persist_on_pool(std::shared_ptr<intake_work> w) {
    claim_and_persist(w->params, w->items);
    co_return;
}
}  // namespace

asio::awaitable<void> engine_impl::intake_batch(std::vector<std::string> batch, bool in_active) {
    std::set<std::string, std::less<>> driven;
    for (const auto& [name, slot] : slots) driven.insert(name);
    auto work = std::make_shared<intake_work>(
        intake_work{{layout, cfg.max_brief_bytes, cfg.default_provider, std::move(driven), in_active},
                    std::vector<intake_item>(batch.size())});
    for (std::size_t i = 0; i < batch.size(); ++i) {
        auto& it = work->items[i];
        it.name = std::move(batch[i]);
        // The index picks the id without a scan; the renames below still decide every race.
        it.job_id = names.reserve_job_id(it.name, in_active ? std::string_view(it.name) : std::string_view{});
    }
    co_await asio::co_spawn(file_pool, claim_and_persist_on_pool(work), asio::use_awaitable);

    for (auto& it : work->items) {
        // Only an accepted brief keeps its job id; any other gets it back (a brief returned to
        // incoming/ by a full disk must not come back as "name-2").
        if (it.claim_ec || !it.rec || it.state_ec) names.remove_output(it.job_id);
        if (it.claim_ec) {
            // ENOENT: another process (or the producer) took the file first.
            if (it.claim_ec != std::errc::no_such_file_or_directory)
                log.warning("brief.claim_failed", {{"file", it.name}, {"error", it.claim_ec.message()}});
            continue;
        }
        if (!in_active) {
            names.add_spool_name(it.active_name);
            log.info("brief.claimed", {{"file", it.name}, {"job", it.job_id}});
        }
        auto path = layout.active() / it.active_name;
        if (!it.parsed) {
            log.error("brief.read_failed", {{"file", it.active_name}, {"error", it.read_error}});
            continue;
        }
        auto& res = *it.parsed;
        if (!res.ok()) {
            log.warning("brief.invalid", {{"file", it.active_name}, {"problems", res.problems.size()},
                                          {"first", res.problems.front().to_string()}});
            refuse(path, it.active_name, res.problems);
            continue;
        }
        if (!it.rec) {
            refuse(path, it.active_name,
                   {{it.active_name, std::nullopt, "provider",
                     "provider " + res.brief->provider +
                         (cfg.providers.count(res.brief->provider)
                              ? " is not supported by this version of briefd yet"
                              : " is not configured under providers:")}});
            continue;
        }
        if (it.state_ec) {
            log.error("state.write_failed", {{"job", it.job_id}, {"error", it.state_ec.message()}});
            disk_problem = "cannot write job state: " + it.state_ec.message();
            if (!in_active) names.remove_spool_name(it.active_name);  // back in incoming/
            continue;
        }
        names.add_spool_name(jobs::state_path({}, it.job_id).filename().string());
        auto job = std::make_unique<job_ctx>();
        job->rec = std::move(*it.rec);
        job->brief = std::move(*res.brief);
        log.info("job.accepted", {{"job", job->rec.job_id}, {"file", it.active_name},
                                  {"items", job->rec.items.size()}});
        auto& ref = *job;
        items_in_flight += ref.rec.items.size();
        jobs.emplace(ref.rec.job_id, std::move(job));
        // The state is durable: a job accepted during shutdown resumes at the next start.
        if (!stopping) start_job(ref);
    }
}

std::pair<std::error_code, std::string> engine_impl::file_failed(const fs::path& from,
                                                                 const std::string& name,
                                                                 const std::string& error_text) {
    // The error file is written first under the name the brief will most likely get, so a crash
    // in between never leaves a failed brief without its reason.
    auto predicted = layout.failed() / spool::error_file_name(name);
    if (auto ec = store::write_file_atomic(predicted, error_text)) return {ec, {}};
    auto [ec, final_name] = spool::file_brief(layout, from, spool::outcome::failed);
    std::error_code fs_ec;
    if (ec) fs::remove(predicted, fs_ec);
    else if (final_name != name)
        fs::rename(predicted, layout.failed() / spool::error_file_name(final_name), fs_ec);
    if (!ec) for (const auto& n : {final_name, spool::error_file_name(final_name)}) names.add_spool_name(n);
    return {ec, final_name};
}

void engine_impl::refuse(const fs::path& from, const std::string& name,
                         const std::vector<brief::problem>& problems) {
    json::array list;
    for (const auto& p : problems) list.push_back(p.to_json());
    json::object err{{"file", name}, {"status", "invalid"}, {"failed_at", unix_now()},
                     {"problems", std::move(list)}};
    auto [ec, final_name] = file_failed(from, name, jobs::to_text(std::move(err)));
    if (ec) {
        // Left where it is: a brief in incoming/ is refused again on the next scan, one in
        // active/ at the next start.
        log.error("brief.file_failed", {{"file", name}, {"error", ec.message()}});
        return;
    }
    ++filed_failed;
    metrics.briefs_refused.inc({});
    log.warning("brief.refused", {{"file", name}, {"filed_as", final_name},
                                  {"reason", problems.empty() ? "" : problems.front().to_string()}});
}

void engine_impl::start_job(job_ctx& job) {
    auto* slot = slot_of(job);
    if (!job.validated && slot) {
        for (auto& it : job.rec.items) {
            if (it.state != jobs::item_state::pending) continue;
            if (slot->api.schema_key(item_of(job, it.index))) {
                spawn(validate_inputs(job.rec.job_id), true);
                return;
            }
        }
        job.validated = true;
    }
    std::set<std::string> replayed;
    for (std::size_t i = 0; i < job.rec.items.size(); ++i) {
        auto& it = job.rec.items[i];
        switch (it.state) {
            case jobs::item_state::pending: enqueue_item(job, i); break;
            case jobs::item_state::submitting:
                if (slot && !it.submit_key.empty()) replay_uncertain(job, i, replayed);
                else uncertain(job, i, "the daemon stopped after sending it");
                break;
            case jobs::item_state::submitted:
                if (it.outputs_known) start_downloads(job, i);
                else start_tracking(job, i);
                break;
            case jobs::item_state::finished: start_downloads(job, i); break;
            case jobs::item_state::failed: break;
        }
    }
    maybe_file(job);
}

void engine_impl::maybe_file(job_ctx& job) {
    if (job.filing || !job.rec.complete() || stopping) return;
    job.filing = true;
    spawn(file_job(job.rec.job_id), true);
}

asio::awaitable<void> engine_impl::file_job(std::string job_id) {
    co_await state_durable(job_id);  // the state the manifest reports is on disk before filing
    auto* job = find(job_id);
    if (!job) co_return;
    const auto& rec = job->rec;  // stays put: only this coroutine erases a job, and only once
    auto dir = job_dir(*job);
    auto now = unix_now();
    auto status = rec.overall_status();
    auto from = layout.active() / rec.brief_name;
    // The directory, the manifest and (completed) the rename into done/, with their fsyncs, on
    // the commit pool: the loop goes on meanwhile, and concurrent filings share journal commits.
    // (A named local, never a temporary inside the co_await expression: GCC 12 destroys those
    // twice.)
    auto file_it = [l = layout, dir, from, manifest = jobs::manifest_json(rec, now),
                    completed =
                        status == "completed"]() -> std::pair<std::error_code, std::string> {
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (!ec) fs::permissions(dir, fs::perms(0750), ec);
        if (!ec) ec = store::write_file_atomic(dir / "manifest.json", manifest);
        if (ec || !completed) return {ec, {}};
        return spool::file_brief(l, from, spool::outcome::done);
    };
    auto filed = co_await off_loop(commit_pool, std::move(file_it));
    auto [ec, final_name] = std::move(filed);
    if (!ec && status == "completed")
        names.add_spool_name(final_name);
    else if (!ec)
        std::tie(ec, final_name) = file_failed(from, rec.brief_name, jobs::error_json(rec, now));
    if (ec) {
        // Disk full or unwritable: nothing is lost (the state still says what is done); retry.
        // Only a file-system-wide error pauses intake; one brief's own (ENAMETOOLONG, EINVAL…)
        // is retried slowly and stops nothing else.
        log.error("job.file_failed", {{"job", job_id}, {"error", ec.message()}});
        if (is_disk_problem(ec)) disk_problem = "cannot file finished jobs: " + ec.message();
        co_await nap(std::chrono::seconds(is_disk_problem(ec) ? 5 : 60));
        if (auto* j = find(job_id)) {
            j->filing = false;
            maybe_file(*j);
        }
        co_return;
    }
    if (disk_problem.starts_with("cannot file")) disk_problem.clear();
    states->remove(state_file(job_id));  // after any write still queued; its fsync grouped
    std::size_t outputs = 0;
    for (const auto& it : rec.items)
        for (const auto& o : it.outputs) outputs += o.saved ? 1 : 0;
    const std::string_view result = status == "completed" ? "done"
                                    : job->cancelled      ? "cancelled"
                                                          : "failed";
    metrics.briefs_filed.inc({rec.provider, result});
    if (rec.claimed_at > 0)
        metrics.brief_seconds.observe(
            {rec.provider, result},
            static_cast<double>(std::max<std::int64_t>(now - rec.claimed_at, 0)));
    if (status == "completed") {
        ++filed_done;
        log.notice("brief.done", {{"job", job_id}, {"file", final_name}, {"items", rec.items.size()},
                                  {"outputs", outputs}, {"dir", dir.string()}});
    } else {
        ++filed_failed;
        log.warning("brief.failed", {{"job", job_id}, {"file", final_name}, {"status", status},
                                     {"items", rec.items.size()}, {"outputs", outputs}});
    }
    items_in_flight -= rec.items.size();
    jobs.erase(job_id);
    kick_intake();
}

// ---- recovery -----------------------------------------------------------------------------

void engine_impl::recover() {
    auto progress = [&](std::string_view step, std::size_t done) {
        if (recovery_progress) recovery_progress(step, done);
    };
    progress("spool", 0);
    std::error_code ec;
    names = spool::name_index::load(layout, ec);
    if (ec) throw std::system_error(ec, "cannot list the spool");
    std::set<std::string> referenced;
    std::vector<job_ctx*> recovered;
    std::size_t retrack = 0, redownload = 0, pending_items = 0, uncertain_items = 0;
    std::vector<fs::path> states;
    for (const auto& de : fs::directory_iterator(layout.active(), ec)) {
        auto n = de.path().filename().string();
        if (n.ends_with(".state.json") && !n.starts_with(".")) states.push_back(de.path());
    }
    std::sort(states.begin(), states.end());
    progress("jobs", 0);
    for (const auto& sp : states) {
        if (auto n = static_cast<std::size_t>(&sp - states.data()); n && n % 64 == 0)
            progress("jobs", n);
        std::ifstream in(sp);
        std::stringstream ss;
        ss << in.rdbuf();
        auto rec = jobs::from_json(ss.str());
        if (!rec) {
            log.error("state.corrupt", {{"file", sp.filename().string()},
                                        {"action", "moved aside; its brief is failed, not resubmitted"}});
            std::error_code mv;
            fs::rename(sp, fs::path(sp).concat(".corrupt"), mv);
            continue;
        }
        referenced.insert(rec->brief_name);
        auto brief_path = layout.active() / rec->brief_name;
        if (!fs::exists(brief_path)) {  // filed already; the crash came before the state was removed
            std::error_code rm;
            fs::remove(sp, rm);
            continue;
        }
        std::error_code tec;
        if (fs::exists(layout.outputs / rec->job_id)) {
            auto n = store::remove_stale_temps(layout.outputs / rec->job_id, tec);
            for (const auto& de : fs::directory_iterator(layout.outputs / rec->job_id, tec)) {
                auto fn = de.path().filename().string();
                if (fn.starts_with(".") && fn.ends_with(".dl")) {
                    fs::remove(de.path(), tec);
                    ++n;
                }
            }
            if (n) log.info("recovery.removed_partial", {{"job", rec->job_id}, {"files", n}});
        }
        std::string why;
        auto res = parse_active(rec->brief_name, why).value_or(brief::parse_result{});
        if (!res.ok() || res.brief->items.size() != rec->items.size()) {
            log.error("recovery.brief_changed", {{"job", rec->job_id}, {"file", rec->brief_name}});
            for (auto& it : rec->items)
                if (it.state == jobs::item_state::pending) {
                    it.state = jobs::item_state::failed;
                    it.error = "the brief file changed or became unreadable while its job was active";
                }
        }
        auto job = std::make_unique<job_ctx>();
        job->rec = std::move(*rec);
        if (res.ok()) job->brief = std::move(*res.brief);
        else job->brief.items.resize(0);
        for (const auto& it : job->rec.items) {
            switch (it.state) {
                case jobs::item_state::pending: ++pending_items; break;
                case jobs::item_state::submitting: ++uncertain_items; break;
                case jobs::item_state::submitted: it.outputs_known ? ++redownload : ++retrack; break;
                case jobs::item_state::finished: ++redownload; break;
                default: break;
            }
        }
        auto* p = job.get();
        items_in_flight += p->rec.items.size();
        jobs.emplace(p->rec.job_id, std::move(job));
        recovered.push_back(p);
    }
    // Briefs claimed just before a crash, before their state was written.
    progress("unclaimed", states.size());
    std::vector<std::string> unreferenced;
    for (const auto& de : fs::directory_iterator(layout.active(), ec)) {
        auto n = de.path().filename().string();
        if (n.starts_with(".") || n.ends_with(".state.json") || n.ends_with(".corrupt")) continue;
        if (spool::classify_name(n) != spool::name_kind::brief) continue;
        if (!referenced.count(n)) unreferenced.push_back(n);
    }
    std::error_code tec;
    store::remove_stale_temps(layout.active(), tec);
    store::remove_stale_temps(layout.failed(), tec);
    store::remove_stale_temps(layout.done(), tec);
    log.notice("recovery.done", {{"jobs", recovered.size()}, {"retrack", retrack},
                                 {"redownload", redownload}, {"pending", pending_items},
                                 {"uncertain", uncertain_items}, {"unclaimed", unreferenced.size()}});
    for (auto* j : recovered) {
        // Jobs whose brief could not be re-read keep only items that need no brief data.
        if (j->brief.items.size() != j->rec.items.size()) {
            j->validated = true;
            for (auto& it : j->rec.items)
                if (it.state == jobs::item_state::pending) it.state = jobs::item_state::failed;
        }
        start_job(*j);
    }
    unclaimed_in_active = std::move(unreferenced);  // the intake loop adopts them first
}

// ---- run ----------------------------------------------------------------------------------

asio::awaitable<std::error_code> engine_impl::run(std::function<void()> ready) {
    if (auto ec = spool::ensure_dirs(layout)) {
        log.error("spool.unusable", {{"spool", layout.root.string()}, {"error", ec.message()}});
        co_return ec;
    }
    // Before recovery, so recovered runs that report by webhook are reachable from the start.
    if (!start_webhooks()) co_return make_error_code(errc::config_invalid);
    try {
        recover();
    } catch (const std::system_error& e) {
        log.error("recovery.failed", {{"error", e.what()}});
        co_return e.code();
    }
    ready();
    spawn(intake_loop(), false);
    for (auto& [name, slot] : slots) spawn(batch_loop(*slot), false);
    while (drain_tasks + other_tasks > 0) {
        drained.expires_at(clock::time_point::max());
        co_await drained.async_wait(use_tuple);
        if (stopping && drain_tasks == 0 && !forced) {
            // Drained: whatever still runs (trackers, waits) is cancelled; it resumes next start.
            forced = true;
            for (auto& [name, slot] : slots) {
                slot->host->stop();
                slot->client.cancel_all();
            }
            for (auto* s : open_streams) s->close();
        }
    }
    drain_deadline.cancel();
    // What the last steps queued is on disk before run() completes (a failure is logged).
    co_await states->durable_all();
    co_return std::error_code{};
}

}  // namespace detail

// ---- engine facade ------------------------------------------------------------------------

struct engine::impl : detail::engine_impl {
    using engine_impl::engine_impl;
};

engine::engine(boost::asio::any_io_executor ex, config::config cfg, std::map<std::string, secret> keys,
               logger& log)
    : impl_(std::make_shared<impl>(ex, std::move(cfg), std::move(keys), log)) {}

engine::~engine() = default;

boost::asio::awaitable<std::error_code> engine::async_run(std::function<void()> ready) {
    co_return co_await impl_->run(std::move(ready));
}

void engine::on_recovery_progress(std::function<void(std::string_view, std::size_t)> f) {
    impl_->recovery_progress = std::move(f);
}

void engine::stop() {
    auto& s = *impl_;
    if (s.stopping) return;
    s.stopping = true;
    s.log.notice("daemon.stopping", {{"in_flight", s.drain_tasks},
                                     {"drain_timeout_ms", s.cfg.drain_timeout.count()}});
    for (auto& [name, slot] : s.slots) {
        slot->host->stop();  // waiting requests give up; those on the wire finish
        slot->batch_timer.cancel();
        slot->list_wake.cancel();
    }
    for (auto* st : s.open_streams) st->close();
    s.stop_webhooks();
    s.intake_wake.cancel();
    for (auto* t : s.naps) t->cancel();  // a pause before a retry is not work in flight
    s.drained.cancel();
    s.drain_deadline.expires_after(s.cfg.drain_timeout);
    s.drain_deadline.async_wait([self = impl_](boost::system::error_code ec) {
        if (!ec && !self->forced) {
            self->log.warning("daemon.drain_timeout", {{"cancelled", self->drain_tasks}});
            self->forced = true;
            for (auto& [name, slot] : self->slots) slot->client.cancel_all();
            for (auto* st : self->open_streams) st->close();
            self->drained.cancel();
        }
    });
}

void engine::force_stop() {
    stop();
    auto& s = *impl_;
    if (s.forced) return;
    s.forced = true;
    for (auto& [name, slot] : s.slots) slot->client.cancel_all();
    for (auto* st : s.open_streams) st->close();
    s.drained.cancel();
}

std::vector<std::string> engine::reload(const config::config& cfg, std::map<std::string, secret> keys) {
    auto& s = *impl_;
    auto restart = config::restart_required(s.cfg, cfg);
    log_level lvl{};
    if (parse_log_level(cfg.log_level, lvl)) s.log.set_level(lvl);
    s.cfg.log_level = cfg.log_level;
    s.cfg.rescan_interval = cfg.rescan_interval;
    s.cfg.retention = cfg.retention;
    s.cfg.on_uncertain = cfg.on_uncertain;
    s.cfg.drain_timeout = cfg.drain_timeout;
    s.cfg.webhooks.grace = cfg.webhooks.grace;
    s.cfg.webhooks.fallback_after = cfg.webhooks.fallback_after;
    for (auto& [name, slot] : s.slots) {
        auto n = cfg.providers.find(name);
        if (n == cfg.providers.end()) continue;  // removal needs a restart (listed above)
        slot->reload(n->second);
        s.cfg.providers.at(name) = slot->cfg;
        if (auto k = keys.find(name); k != keys.end()) slot->set_key(k->second);
        slot->host->resume();  // a reload is the operator's word that the key may work now
    }
    s.disk_problem.clear();
    s.kick_intake();
    return restart;
}

engine_status engine::status() const {
    return impl_->status_snapshot();
}

boost::asio::awaitable<std::optional<cancel_result>> engine::async_cancel(
    std::string job_id, std::chrono::milliseconds wait) {
    auto self = impl_;  // the engine object may go while this waits
    co_return co_await self->cancel_job(std::move(job_id), wait);
}

engine_metrics& engine::metrics() {
    return impl_->metrics;
}

engine_counts engine::counts() const {
    const auto& s = *impl_;
    engine_counts c;
    c.queued = s.queued_seen;
    c.active = s.jobs.size();
    c.running = s.running_runs;
    c.done = s.filed_done;
    c.failed = s.filed_failed;
    for (const auto& [name, slot] : s.slots) {
        c.budget_available += slot->host->budget_available();
        c.budget_limit += slot->host->budget_limit();
        if (slot->host->blocked()) {
            if (!c.paused_because.empty()) c.paused_because += "; ";
            c.paused_because += name + ": " + slot->host->blocked_reason();
        }
    }
    if (c.paused_because.empty()) c.paused_because = s.disk_problem;
    return c;
}

}  // namespace briefd::pipeline
