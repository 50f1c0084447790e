// The driver of list_tracker for one provider slot: one sweep of list pages every poll interval
// tracks every run of that provider at once; a run the list keeps missing gets a status request
// of its own. Runs end here exactly as they do in track_run (on_run_view).
//
// A provider may keep one list per scope (Layers: per project), and each scope with tracked runs
// is swept on its own. A provider whose list shows a run's children instead of the run (Layers:
// the job's containers) has its runs followed through them: once every child of a run shows an
// end, or one shows failed or cancelled, or a child is missing from the list too long, the run's
// own status request says how it ended (a finished job still gets its GET, then its containers
// are expanded as for any completed run). A run with no children known is tracked by track_run.
#include "pipeline/run_tracking.hpp"

#include "pipeline/detail/provider_slot.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <set>

namespace briefd::pipeline::detail {

namespace asio = boost::asio;
using clock = job_services::clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {
list_tracker_config list_cfg(const provider_slot& slot) {
    list_tracker_config l;
    l.interval = slot.cfg.tracking.poll_interval / std::max(slot.cfg.tracking.schedule_scale, 1u);
    l.page_limit = slot.api.list_page_limit();
    return l;
}
}  // namespace

run_tracking::list_channel& run_tracking::list_of(provider_slot& slot) {
    auto [it, added] = list_channels_.try_emplace(slot.name());
    if (added) {
        it->second = {&slot, std::make_unique<list_channel>(ex_)};
        it->second.second->config = list_cfg(slot);
    }
    return *it->second.second;
}

void run_tracking::reload() {
    for (auto& [name, ch] : list_channels_) {
        ch.second->config = list_cfg(*ch.first);
        for (auto& [scope, t] : ch.second->lists) t.set_config(ch.second->config);
    }
}

void run_tracking::track_by_list(provider_slot& slot, job_ctx& job, std::size_t index) {
    auto& ch = list_of(slot);
    const auto& it = job.rec.items[index];
    const auto& run_id = it.run_id;
    std::vector<std::string> ids{run_id};
    if (slot.api.list_shows_children()) {
        ids.clear();
        for (const auto& c : it.children) ids.push_back(slot.api.list_key(c));
        if (ids.empty()) {  // nothing the list would show: the run's own channel
            svc_.spawn(track_run(slot, job.rec.job_id, index, run_id), false);
            return;
        }
    }
    auto scope = slot.api.list_scope(svc_.item_of(job, index));
    ch.runs[run_id] = {job.rec.job_id, index};
    auto& tracker = ch.lists.try_emplace(scope, ch.config).first->second;
    for (const auto& id : ids) {
        ch.ids[id] = {scope, run_id};
        tracker.add(id);
    }
    log_.debug("run.tracking", {{"job", job.rec.job_id},
                                {"item", index},
                                {"run", run_id},
                                {"channel", "list"},
                                {"listed", ids.size()}});
    if (!ch.loop_running) {
        ch.loop_running = true;
        svc_.spawn(list_loop(slot), false);
    } else {
        ch.wake.cancel();
    }
}

asio::awaitable<void> run_tracking::list_loop(provider_slot& slot) {
    auto& ch = list_of(slot);
    const bool by_children = slot.api.list_shows_children();
    std::map<std::string, bool, std::less<>> input_sent;
    std::map<std::string, unsigned, std::less<>> not_found;
    std::map<std::string, providers::run_phase, std::less<>> child_phase;  ///< by listed id
    auto listed_of = [&](const std::string& run_id) {
        std::vector<std::string> out;
        for (const auto& [id, owner] : ch.ids)
            if (owner.second == run_id) out.push_back(id);
        return out;
    };
    auto forget = [&](const std::string& run_id) {
        for (const auto& id : listed_of(run_id)) {
            auto o = ch.ids.find(id);
            if (auto t = ch.lists.find(o->second.first); t != ch.lists.end())
                t->second.remove(id);  // an empty tracker is dropped between sweeps
            ch.ids.erase(o);
            child_phase.erase(id);
        }
        ch.runs.erase(run_id);
        input_sent.erase(run_id);
        not_found.erase(run_id);
        run_ended(slot);
    };
    auto report = [&](const providers::run_view& v) {
        auto it = ch.runs.find(v.run_id);
        if (it == ch.runs.end()) return;
        auto [job_id, index] = it->second;
        not_found.erase(v.run_id);
        auto* job = svc_.find(job_id);
        bool go_on = job && job->rec.items[index].state == jobs::item_state::submitted &&
                     !job->rec.items[index].outputs_known &&
                     on_run_view(job_id, index, v, input_sent[v.run_id]);
        if (!go_on) forget(v.run_id);
    };
    auto settled = [&](const std::string& run_id) {
        std::vector<std::optional<providers::run_phase>> phases;
        for (const auto& id : listed_of(run_id)) {
            auto p = child_phase.find(id);
            phases.push_back(p == child_phase.end() ? std::nullopt : std::optional(p->second));
        }
        return children_settled(phases);
    };

    while (!svc_.stopping()) {
        std::erase_if(ch.lists, [](const auto& e) { return e.second.size() == 0; });
        std::optional<clock::time_point> next;
        std::string scope;
        for (const auto& [s, t] : ch.lists)
            if (auto n = t.next_sweep(); n && (!next || *n < *next)) {
                next = n;
                scope = s;
            }
        if (!next || *next > clock::now()) {
            // Woken early by track_by_list when a run (maybe of a new scope) is added.
            ch.wake.expires_at(next ? *next : clock::time_point::max());
            co_await ch.wake.async_wait(use_tuple);
            continue;
        }
        auto tracker = ch.lists.find(scope);
        if (tracker == ch.lists.end()) continue;
        auto& lt = tracker->second;
        auto cursor = lt.begin_sweep(clock::now());
        std::vector<std::string> ask;  // runs whose own status request is due, in order
        auto ask_about = [&](const std::string& run_id) {
            if (std::find(ask.begin(), ask.end(), run_id) == ask.end()) ask.push_back(run_id);
        };
        for (;;) {
            auto res = co_await slot.host->async_call(
                slot.request(slot.api.list_in(scope, cursor, ch.config.page_limit)),
                scheduler::priority::track, scheduler::retry_mode::idempotent);
            if (svc_.stopping() || res.ec == errc::shutting_down) co_return;
            auto page = res.ec ? std::nullopt : slot.api.parse_list(res.resp.body);
            if (!page) {
                log_.info("tracking.list_failed",
                          {{"provider", slot.name()},
                           {"scope", scope},
                           {"error", res.ec ? res.ec.message() : "unreadable list"}});
                lt.on_page_failed();
                break;
            }
            auto out = lt.on_page(*page);
            for (const auto& v : out.seen) {
                if (!by_children) {
                    report(v);
                    continue;
                }
                auto o = ch.ids.find(v.run_id);
                if (o == ch.ids.end()) continue;
                child_phase[v.run_id] = v.phase;
                if (settled(o->second.second)) ask_about(o->second.second);
            }
            if (!out.next_cursor) break;
            cursor = *out.next_cursor;
        }
        for (const auto& id : lt.take_overdue()) {
            auto o = ch.ids.find(id);
            if (o != ch.ids.end()) ask_about(o->second.second);
        }
        for (const auto& run_id : ask) {
            if (svc_.stopping()) break;
            if (!ch.runs.count(run_id)) continue;  // ended meanwhile
            auto res = co_await slot.host->async_call(slot.request(slot.api.status(run_id)),
                                                      scheduler::priority::track,
                                                      scheduler::retry_mode::idempotent);
            if (svc_.stopping() || res.ec == errc::shutting_down) co_return;
            if (res.ec == errc::not_found) {
                // Gone at the provider (two answers in a row, as for any run): the item fails.
                if (++not_found[run_id] >= 2) {
                    auto it = ch.runs.find(run_id);
                    if (it != ch.runs.end()) {
                        auto [job_id, index] = it->second;
                        forget(run_id);
                        if (auto* job = svc_.find(job_id))
                            svc_.item_failed(*job, index,
                                             "run " + run_id + " no longer exists at the provider");
                    }
                }
                continue;
            }
            if (res.ec) continue;  // the next sweep tries again
            if (auto v = slot.api.parse_status(res.resp.body)) {
                if (v->run_id.empty()) v->run_id = run_id;
                if (v->run_id == run_id) report(*v);
            }
        }
    }
    ch.loop_running = false;
}

}  // namespace briefd::pipeline::detail
