// Jobs, run, stop and the engine facade; the engine side of intake, recovery, filing and
// submission (the components themselves are intake.cpp, recovery.cpp, filing.cpp and
// submission.cpp). Tracking and downloads are in their own files.
#include "pipeline/detail/engine_impl.hpp"
#include "pipeline/detail/off_loop.hpp"

#include "pipeline/recovery.hpp"
#include "store/atomic_file.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace briefd::pipeline {

namespace detail {

namespace fs = std::filesystem;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

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
      intake(ex_, file_pool, cfg, layout, disk_problem, log,
             intake_port{
                 .spawn = [this](asio::awaitable<void> t) { spawn(std::move(t), false); },
                 .items_waiting = [this] { return windows.waiting(); },
                 .max_waiting = [this] { return windows.limits().waiting; },
                 .providers =
                     [this] {
                         std::set<std::string, std::less<>> driven;
                         for (const auto& [name, slot] : slots) driven.insert(name);
                         return driven;
                     },
                 .accept =
                     [this](jobs::job_record rec, brief::brief_file brief) {
                         auto& job = add_job(std::move(rec), std::move(brief));
                         // It waits its turn in claim order (the in-flight window). Its claim is
                         // durable: accepted during shutdown, it resumes next start.
                         windows.claimed(job.rec.job_id, job.rec.items.size());
                         start_waiting();
                     },
                 .refuse =
                     [this](const fs::path& from, const std::string& name,
                            const std::vector<brief::problem>& problems) {
                         refuse(from, name, problems);
                     },
                 .burst_over = [this] { start_waiting(); },
             }),
      filing(layout, intake.names(), log),
      tracking(
          ex_, *this, log, rng(),
          run_tracking_port{
              .start_downloads = [this](job_ctx& job,
                                        std::size_t index) { downloads.start(job, index); },
              .note_view = [this](const std::string& job_id, std::size_t index,
                                  const providers::run_view& v) { note_view(job_id, index, v); },
              .cancel_run = [this](
                                provider_slot& slot,
                                std::string run_id) { return cancel_run(slot, std::move(run_id)); },
              .tracked_by_webhook =
                  [this](const provider_slot& slot, const brief::item& it) {
                      return hooks.tracked_by_webhook(slot, it);
                  },
              .track_by_webhook = [this](provider_slot& slot, job_ctx& job,
                                         std::size_t index) { hooks.track(slot, job, index); },
              .stream_opened =
                  [this](std::string_view provider, unsigned status, bool reopened) {
                      metrics.request(provider, "stream", status);
                      if (reopened) metrics.stream_reconnects.inc({provider});
                  },
          }),
      downloads(ex_, *this, cfg, log,
                downloads_port{.disk_problem = disk_problem, .metrics = metrics}),
      drained(ex_),
      drain_deadline(ex_),
      submissions(
          ex_, *this, cfg, log,
          submission_port{
              .start_tracking = [this](job_ctx& job,
                                       std::size_t index) { tracking.start(job, index); },
              .webhook_url = [this](const provider_slot& slot) { return hooks.url(slot); },
              .start_job = [this](job_ctx& job) { start_job(job); },
              .refuse_job =
                  [this](const std::string& job_id, const std::vector<brief::problem>& problems) {
                      auto* job = find(job_id);
                      if (!job) return;
                      auto name = job->rec.brief_name;
                      // Through the state writer, so no snapshot still queued brings it back.
                      states->remove(jobs::state_path({}, job_id).filename().string());
                      refuse(layout.active() / name, name, problems);
                      windows.left(job_id, job->rec.items.size());
                      jobs.erase(job_id);
                      start_waiting();
                      kick_intake();
                  },
          }),
      hooks(ex_, *this, cfg, log, tracking,
            webhook_port{
                .find_run = [this](std::string_view provider, std::string_view run_id)
                    -> std::optional<std::pair<std::string, std::size_t>> {
                    for (const auto& [id, j] : jobs) {
                        if (j->rec.provider != provider) continue;
                        std::optional<std::pair<std::string, std::size_t>> found;
                        for (const auto& item : j->rec.items)
                            if (item.run_id == run_id && item.state == jobs::item_state::submitted)
                                found.emplace(id, item.index);
                        if (found) return found;
                    }
                    return std::nullopt;
                },
            }) {
    for (const auto& [name, pc] : cfg.providers) {
        const auto* api = providers::find(name);
        if (!api) continue;  // the config loader refuses unknown names; nothing to drive here
        auto k = keys.find(name);
        slots.emplace(name, std::make_unique<provider_slot>(ex, *api, pc, k == keys.end() ? nullptr : &k->second,
                                                            log, rng()));
    }
    windows.set_limits({cfg.max_items_waiting, cfg.max_items_in_flight});
    states = std::make_unique<state_writer>(ex, layout.active(), /*fsync_threads=*/8, 0640,
                                            state_writer::spare_policy{.cap = active_spare_cap});
    states->on_result([this](const std::string& name, std::uint64_t seq, std::error_code ec) {
        on_state_written(name, seq, ec);
    });
    init_metrics();
    std::vector<provider_slot*> hooked;
    for (auto& [name, slot] : slots) hooked.push_back(slot.get());
    hooks.setup(hooked);
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
    if (stop_requested || t <= clock::now()) co_return;
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
/// How long a snapshot of a downloading job may wait to be superseded (persist()).
constexpr auto download_state_delay = std::chrono::seconds(1);

std::string state_file(std::string_view job_id) {
    return jobs::state_path({}, job_id).filename().string();
}
}  // namespace

std::error_code engine_impl::persist(job_ctx& job) {
    auto name = state_file(job.rec.job_id);
    auto text = jobs::to_text(jobs::to_json(job.rec));
    // Snapshots that only record redoable progress wait, so that the next one can supersede them
    // (issue 13); a crash meanwhile recovers from the previous snapshot, which only redoes work
    // (DESIGN §8). A finished job is filed next, and filing removes its state file: its last
    // snapshot is written only if something awaits it (a cancel), filing fails, or the daemon
    // stops first (a crash after the brief moved leaves a stale state that recovery removes).
    // A job whose every item has its outputs known (downloading) waits at most
    // download_state_delay: at worst a crash re-tracks its runs and downloads again.
    const auto downloading =
        std::all_of(job.rec.items.begin(), job.rec.items.end(), [](const auto& it) {
            return it.state == jobs::item_state::failed || it.state == jobs::item_state::finished ||
                   (it.state == jobs::item_state::submitted && it.outputs_known);
        });
    if (stop_requested || !downloading)
        states->write(name, std::move(text));
    else if (job.rec.complete())
        states->defer(name, std::move(text));
    else
        states->defer(name, std::move(text), download_state_delay);
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
        if (!job || stop_requested || !job->state_dirty) co_return;
        persist(*job);
        if (!co_await state_durable(job_id)) co_return;  // on_state_written logged the recovery
    }
}

job_ctx& engine_impl::add_job(jobs::job_record rec, brief::brief_file brief) {
    auto job = std::make_unique<job_ctx>();
    job->rec = std::move(rec);
    job->brief = std::move(brief);
    auto& ref = *job;
    jobs.emplace(ref.rec.job_id, std::move(job));
    return ref;
}

void engine_impl::start_waiting() {
    for (const auto& id : windows.take_startable(stop_requested, intake.holding_starts()))
        if (auto* job = find(id)) start_job(*job);
}

void engine_impl::refuse(const fs::path& from, const std::string& name,
                         const std::vector<brief::problem>& problems) {
    if (!filing.refuse(from, name, problems, unix_now()).ec) metrics.briefs_refused.inc({});
}

void engine_impl::start_job(job_ctx& job) {
    auto* slot = slot_of(job);
    if (!job.validated && slot) {
        for (auto& it : job.rec.items) {
            if (it.state != jobs::item_state::pending) continue;
            if (slot->api.schema_key(item_of(job, it.index))) {
                spawn(submissions.validate_inputs(job.rec.job_id), true);
                return;
            }
        }
        job.validated = true;
    }
    std::set<std::string> replayed;
    for (std::size_t i = 0; i < job.rec.items.size(); ++i) {
        auto& it = job.rec.items[i];
        switch (it.state) {
            case jobs::item_state::pending: submissions.enqueue_item(job, i); break;
            case jobs::item_state::submitting:
                if (slot && !it.submit_key.empty()) submissions.replay_uncertain(job, i, replayed);
                else submissions.uncertain(job, i, "the daemon stopped after sending it");
                break;
            case jobs::item_state::submitted:
                if (it.outputs_known) downloads.start(job, i);
                else tracking.start(job, i);
                break;
            case jobs::item_state::finished: downloads.start(job, i); break;
            case jobs::item_state::failed: break;
        }
    }
    maybe_file(job);
}

void engine_impl::item_failed(job_ctx& job, std::size_t index, std::string why,
                              const diagnostics& d) {
    auto& it = job.rec.items[index];
    it.state = jobs::item_state::failed;
    if (!d.message.empty()) why += ": " + d.message;
    it.error = std::move(why);
    it.provider_code = d.provider_code;
    log.warning("item.failed", {{"job", job.rec.job_id},
                                {"item", index},
                                {"reason", it.error},
                                {"request_id", d.request_id}});
    persist(job);
    maybe_file(job);
}

void engine_impl::maybe_file(job_ctx& job) {
    if (job.filing || !job.rec.complete() || stop_requested) return;
    job.filing = true;
    spawn(file_job(job.rec.job_id), true);
}

asio::awaitable<void> engine_impl::file_job(std::string job_id) {
    // co_spawn starts a task inline, and this one erases the job: callers still hold it (start_job
    // iterating its items at recovery, item_failed…). Yield first, so it runs after them.
    co_await asio::post(ex, asio::use_awaitable);
    // The finished state is not awaited (nor written: persist() deferred it): the manifest and
    // the brief's move are the durable record of a finished job, and a crash before the move
    // recovers from an older state, which only redoes work.
    auto* job = find(job_id);
    if (!job) co_return;
    const auto& rec = job->rec;  // stays put: only this coroutine erases a job, and only once
    auto dir = job_dir(*job);
    auto now = unix_now();
    auto status = rec.overall_status();
    // The directory, the manifest and the brief's move, with their fsyncs, on the commit pool:
    // the loop goes on meanwhile, and concurrent filings share journal commits. (A named local,
    // never a temporary inside the co_await expression: GCC 12 destroys those twice.)
    auto file_it = [this, r = rec, dir, now] { return filing.file_job_io(r, dir, now); };
    auto filed = co_await off_loop(commit_pool, std::move(file_it));
    filing.note_filed(filed, status == "completed");
    auto& [ec, final_name, taken] = filed;
    if (ec) {
        // Disk full or unwritable: nothing is lost (the state still says what is done); retry.
        // Only a file-system-wide error pauses intake; one brief's own (ENAMETOOLONG, EINVAL…)
        // is retried slowly and stops nothing else.
        log.error("job.file_failed", {{"job", job_id}, {"error", ec.message()}});
        states->flush(state_file(job_id));  // the disk catches up while filing is retried
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
        log.notice("brief.done", {{"job", job_id}, {"file", final_name}, {"items", rec.items.size()},
                                  {"outputs", outputs}, {"dir", dir.string()}});
    } else {
        log.warning("brief.failed", {{"job", job_id}, {"file", final_name}, {"status", status},
                                     {"items", rec.items.size()}, {"outputs", outputs}});
    }
    windows.left(job_id, rec.items.size());
    jobs.erase(job_id);
    start_waiting();
    kick_intake();
}

void engine_impl::recover() {
    auto found =
        recover_spool(layout, {cfg.max_brief_bytes, cfg.default_provider, recovery_progress}, log);
    std::vector<job_ctx*> recovered, waiting;
    for (auto& r : found.jobs) {
        const bool lost = r.brief_lost();
        auto& job = add_job(std::move(r.rec), std::move(r.brief));
        // Jobs whose brief could not be re-read keep only items that need no brief data
        // (recover_spool failed their pending ones).
        if (lost) job.validated = true;
        const bool untouched =
            !lost && std::all_of(job.rec.items.begin(), job.rec.items.end(), [](const auto& it) {
                return it.state == jobs::item_state::pending;
            });
        (untouched ? waiting : recovered).push_back(&job);
    }
    // Jobs that sent nothing yet (a stop with claimed jobs waiting leaves their state) wait their
    // turn again, oldest first, so a restart after a flood keeps to the in-flight window; jobs
    // with items sent are in flight already and resume now, however many.
    std::stable_sort(waiting.begin(), waiting.end(), [](const job_ctx* a, const job_ctx* b) {
        return a->rec.claimed_at < b->rec.claimed_at;
    });
    for (auto* j : recovered) windows.started(j->rec.items.size());
    for (auto* j : waiting) windows.claimed(j->rec.job_id, j->rec.items.size());
    // A brief whose state was corrupt may have sent items: filed, never claimed again.
    for (const auto& [name, id] : found.orphaned)
        filing.refuse(layout.active() / name, name,
                      {{name, std::nullopt, "file",
                        "its job state (active/" + id +
                            ".state.json) was unreadable at start-up and was kept as .corrupt; "
                            "the brief was not run again, since some of its items may already "
                            "have been sent. Check outputs/" + id +
                            "/, then drop the brief into incoming/ again to run it anew"}},
                      unix_now(), "orphaned");
    // intake.run() adopts the unclaimed briefs before it looks at incoming/.
    intake.adopt(std::move(found.names), std::move(found.unclaimed));
    for (auto* j : recovered) start_job(*j);
    start_waiting();
}

// ---- run ----------------------------------------------------------------------------------

asio::awaitable<std::error_code> engine_impl::run(std::function<void()> ready) {
    if (auto ec = spool::ensure_dirs(layout)) {
        log.error("spool.unusable", {{"spool", layout.root.string()}, {"error", ec.message()}});
        co_return ec;
    }
    // Before recovery, so recovered runs that report by webhook are reachable from the start.
    if (!hooks.start()) co_return make_error_code(errc::config_invalid);
    try {
        recover();
    } catch (const std::system_error& e) {
        log.error("recovery.failed", {{"error", e.what()}});
        co_return e.code();
    }
    ready();
    spawn(intake.run(), false);
    for (auto& [name, slot] : slots) spawn(submissions.batch_loop(*slot), false);
    while (drain_tasks + other_tasks > 0) {
        drained.expires_at(clock::time_point::max());
        co_await drained.async_wait(use_tuple);
        if (stop_requested && drain_tasks == 0 && !forced) {
            // Drained: whatever still runs (trackers, waits) is cancelled; it resumes next start.
            forced = true;
            for (auto& [name, slot] : slots) {
                slot->host->stop();
                slot->client.cancel_all();
            }
            tracking.close_streams();
        }
    }
    drain_deadline.cancel();
    // Jobs that never left `pending` may have no state file yet (intake writes none at claim):
    // a clean stop leaves one for each, so the spool says where every job stands.
    for (auto& [id, job] : jobs)
        if (std::all_of(job->rec.items.begin(), job->rec.items.end(),
                        [](const auto& it) { return it.state == jobs::item_state::pending; }))
            persist(*job);
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
    if (s.stop_requested) return;
    s.stop_requested = true;
    s.log.notice("daemon.stopping", {{"in_flight", s.drain_tasks},
                                     {"drain_timeout_ms", s.cfg.drain_timeout.count()}});
    for (auto& [name, slot] : s.slots) {
        slot->host->stop();  // waiting requests give up; those on the wire finish
    }
    s.tracking.stop();  // list loops end, open streams close
    s.hooks.stop();  // the listener closes, grace loops end
    s.submissions.stop();
    s.intake.stop();
    for (auto* t : s.naps) t->cancel();  // a pause before a retry is not work in flight
    s.drained.cancel();
    s.drain_deadline.expires_after(s.cfg.drain_timeout);
    s.drain_deadline.async_wait([self = impl_](boost::system::error_code ec) {
        if (!ec && !self->forced) {
            self->log.warning("daemon.drain_timeout", {{"cancelled", self->drain_tasks}});
            self->forced = true;
            for (auto& [name, slot] : self->slots) slot->client.cancel_all();
            self->tracking.close_streams();
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
    s.tracking.close_streams();
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
    s.cfg.max_items_waiting = cfg.max_items_waiting;
    s.cfg.max_items_in_flight = cfg.max_items_in_flight;
    s.windows.set_limits({cfg.max_items_waiting, cfg.max_items_in_flight});
    s.cfg.webhooks.grace = cfg.webhooks.grace;
    s.cfg.webhooks.fallback_after = cfg.webhooks.fallback_after;
    for (auto& [name, slot] : s.slots) {
        auto n = cfg.providers.find(name);
        if (n == cfg.providers.end()) continue;  // removal needs a restart (listed above)
        slot->reload(n->second);
        s.submissions.reload(*slot);
        s.cfg.providers.at(name) = slot->cfg;
        if (auto k = keys.find(name); k != keys.end()) slot->set_key(k->second);
        slot->host->resume();  // a reload is the operator's word that the key may work now
    }
    s.tracking.reload();
    s.disk_problem.clear();
    s.start_waiting();  // a larger in-flight window has room now
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
    c.queued = s.intake.queued();
    c.active = s.jobs.size();
    c.running = s.tracking.running();
    c.done = s.filing.done();
    c.failed = s.filing.failed();
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
