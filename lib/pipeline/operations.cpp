// What operators see and do while the engine runs: the metrics it keeps (engine_metrics), the
// /status snapshot, and cancelling a job. Read-only views are built from the engine's own state
// when asked, so keeping them costs the engine nothing between scrapes.
#include "pipeline/detail/engine_impl.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <cmath>

namespace briefd::pipeline::detail {

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string_view endpoint_of(scheduler::priority p) {
    switch (p) {
        case scheduler::priority::submit:
            return "submit";
        case scheduler::priority::track:
            return "track";
        case scheduler::priority::probe:
            return "probe";
    }
    return "other";
}

std::int64_t ceil_seconds(clock::duration d) {
    if (d <= clock::duration::zero()) return 0;
    return static_cast<std::int64_t>(std::ceil(std::chrono::duration<double>(d).count()));
}

constexpr std::array<std::string_view, 6> item_states{"pending",     "submitting", "tracking",
                                                      "downloading", "finished",   "failed"};

}  // namespace

std::string_view engine_impl::item_state_word(const jobs::item_record& it) {
    switch (it.state) {
        case jobs::item_state::pending:
            return "pending";
        case jobs::item_state::submitting:
            return "submitting";
        case jobs::item_state::submitted:
            return it.outputs_known ? "downloading" : "tracking";
        case jobs::item_state::finished:
            return "finished";
        case jobs::item_state::failed:
            return "failed";
    }
    return "pending";
}

void engine_impl::init_metrics() {
    for (auto& [name, slot] : slots) {
        slot->host->set_observer(
            [this, provider = name](scheduler::priority p, unsigned status, clock::duration took) {
                metrics.request(provider, endpoint_of(p), status, took);
            });
    }
    // Gauges of live state, and the counters the scheduler hosts keep, read at scrape time. Every
    // configured provider gets every series (zeros included), so a dashboard sees 0, not absence.
    metrics.registry.add_collector([this] {
        auto& m = metrics;
        const auto now = clock::now();
        m.briefs_queued.set({}, static_cast<double>(intake.queued()));
        m.runs_tracked.set({}, static_cast<double>(tracking.running()));
        m.intake_paused.set({}, disk_problem.empty() ? 0 : 1);
        m.briefs_active.clear();
        m.items.clear();
        for (const auto& [name, slot] : slots) {
            const auto& host = *slot->host;
            m.rate_limited.set({name}, static_cast<double>(host.stats().responses_429));
            m.retries.set({name}, static_cast<double>(host.stats().retries));
            const auto hooked = hooks.counted(name);
            m.webhook_deliveries.set({name, "accepted"}, static_cast<double>(hooked.delivered));
            m.webhook_deliveries.set({name, "duplicate"}, static_cast<double>(hooked.duplicates));
            m.webhook_deliveries.set({name, "refused"}, static_cast<double>(hooked.refused));
            m.webhook_grace_checks.set({name}, static_cast<double>(hooked.grace_checks));
            m.budget_remaining.set({name}, static_cast<double>(host.budget_available()));
            m.budget_limit.set({name}, static_cast<double>(host.budget_limit()));
            m.paused.set({name, "rate_limited"}, host.paused_until() > now ? 1 : 0);
            m.paused.set({name, "account"}, host.blocked() ? 1 : 0);
            m.in_flight.set({name}, static_cast<double>(host.in_flight()));
            m.streams_open.set({name}, static_cast<double>(tracking.streams_open(name)));
            m.briefs_active.set({name}, 0);
            for (auto st : item_states) m.items.set({name, st}, 0);
        }
        std::map<std::pair<std::string_view, std::string_view>, std::size_t> items;
        std::map<std::string_view, std::size_t> active;
        for (const auto& [id, job] : jobs) {
            ++active[job->rec.provider];
            for (const auto& it : job->rec.items) ++items[{job->rec.provider, item_state_word(it)}];
        }
        for (const auto& [p, n] : active) m.briefs_active.set({p}, static_cast<double>(n));
        for (const auto& [k, n] : items) m.items.set({k.first, k.second}, static_cast<double>(n));
    });
}

void engine_impl::note_view(const std::string& job_id, std::size_t index,
                            const providers::run_view& v) {
    if (v.progress_percent < 0) return;
    auto* job = find(job_id);
    if (!job || index >= job->rec.items.size()) return;
    if (job->progress.size() < job->rec.items.size())
        job->progress.resize(job->rec.items.size(), -1);
    job->progress[index] = std::min(v.progress_percent, 100);
}

engine_status engine_impl::status_snapshot() const {
    engine_status st;
    st.stopping = stop_requested;
    st.spool = layout.root.string();
    st.disk_problem = disk_problem;
    const auto now = clock::now();
    std::map<std::string_view, std::size_t> queued;
    st.jobs.reserve(jobs.size());
    for (const auto& [id, job] : jobs) {
        job_status js;
        js.job = id;
        js.provider = job->rec.provider;
        js.state = job->cancelled ? "cancelling" : job->filing ? "filing" : "active";
        js.items.reserve(job->rec.items.size());
        for (std::size_t i = 0; i < job->rec.items.size(); ++i) {
            const auto& it = job->rec.items[i];
            item_status is;
            is.item = it.index;
            is.state = item_state_word(it);
            is.run_id = it.run_id;
            if (it.state == jobs::item_state::finished)
                is.progress = 100;
            else if (i < job->progress.size())
                is.progress = job->progress[i];
            for (const auto& o : it.outputs) is.outputs_saved += o.saved ? 1 : 0;
            if (it.state == jobs::item_state::failed) is.error = it.error;
            if (it.state == jobs::item_state::pending) ++queued[job->rec.provider];
            js.items.push_back(std::move(is));
        }
        st.jobs.push_back(std::move(js));
    }
    for (const auto& [name, slot] : slots) {
        const auto& host = *slot->host;
        provider_status ps;
        ps.name = name;
        ps.budget_limit = host.budget_limit();
        ps.budget_remaining = host.budget_available();
        ps.budget_reset_in_s = ps.budget_remaining ? 0 : ceil_seconds(host.next_slot_at() - now);
        if (host.blocked()) {
            ps.paused_reason = host.blocked_reason();
        } else if (host.paused_until() > now) {
            ps.paused_reason = "rate limited (429)";
            ps.paused_until_in_s = ceil_seconds(host.paused_until() - now);
        }
        ps.in_flight = host.in_flight();
        ps.streams = tracking.streams_open(name);
        ps.webhooks = hooks.mode(name);
        if (auto q = queued.find(name); q != queued.end()) ps.queued_items = q->second;
        st.providers.push_back(std::move(ps));
    }
    return st;
}

asio::awaitable<bool> engine_impl::cancel_run(provider_slot& slot, std::string run_id) {
    auto call = slot.api.cancel(run_id);
    if (!call || !slot.api.valid_run_id(run_id)) co_return false;  // tracking just stops
    auto res = co_await slot.host->async_call(slot.request(*call), scheduler::priority::submit,
                                              scheduler::retry_mode::idempotent);
    if (res.ec) {
        log.warning("run.cancel_failed", {{"provider", slot.name()},
                                          {"run", run_id},
                                          {"error", res.ec.message()},
                                          {"status", res.resp.status}});
        co_return false;
    }
    metrics.runs_cancelled.inc({slot.name()});
    log.info("run.cancelled", {{"provider", slot.name()}, {"run", run_id}});
    co_return true;
}

asio::awaitable<std::optional<cancel_result>> engine_impl::cancel_job(
    std::string job_id, std::chrono::milliseconds wait) {
    auto* job = find(job_id);
    if (!job || job->filing) co_return std::nullopt;
    auto* slot = slot_of(*job);
    cancel_result r;
    job->cancelled = true;
    std::vector<std::string> runs;
    for (auto& it : job->rec.items) {
        // Items on the wire (`submitting`) are settled by their submission's answer: an accepted
        // run is cancelled by tracking.start(), a requeued item fails in enqueue_item(). Outputs
        // of finished runs are already paid for: their downloads complete.
        const bool tracking = it.state == jobs::item_state::submitted && !it.outputs_known;
        if (it.state != jobs::item_state::pending && !tracking) continue;
        if (tracking && !it.run_id.empty()) runs.push_back(it.run_id);
        it.state = jobs::item_state::failed;
        it.error = "cancelled by operator";
        ++r.items;
    }
    log.notice("job.cancelled", {{"job", job_id}, {"items", r.items}, {"runs", runs.size()}});
    persist(*job);
    maybe_file(*job);
    co_await state_durable(job_id);  // the cancellation is on disk before the operator hears of it
    if (!slot || runs.empty()) co_return r;

    // Each cancel runs on its own (a paused host may hold it for long); the caller waits for all
    // of them or for `wait`, whichever comes first.
    struct progress_state {
        explicit progress_state(asio::any_io_executor e) : done(e) {}
        asio::steady_timer done;
        std::size_t pending = 0, confirmed = 0;
    };
    auto shared = std::make_shared<progress_state>(ex);
    shared->pending = runs.size();
    shared->done.expires_after(wait);
    for (auto& run : runs)
        spawn(
            [](engine_impl* self, provider_slot* s, std::string id,
               std::shared_ptr<progress_state> ps) -> asio::awaitable<void> {
                if (co_await self->cancel_run(*s, std::move(id))) ++ps->confirmed;
                if (--ps->pending == 0) ps->done.cancel();
            }(this, slot, run, shared),
            false);
    co_await shared->done.async_wait(use_tuple);
    r.cancelled_runs = shared->confirmed;
    co_return r;
}

}  // namespace briefd::pipeline::detail
