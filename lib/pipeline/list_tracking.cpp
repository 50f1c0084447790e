// The driver of list_tracker for one provider slot: one sweep of list pages every poll interval
// tracks every run of that provider at once; a run the list keeps missing gets a status request
// of its own. Runs end here exactly as they do in track_run (on_run_view).
#include "pipeline/detail/engine_impl.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace briefd::pipeline::detail {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

void engine_impl::track_by_list(provider_slot& slot, job_ctx& job, std::size_t index) {
    const auto& run_id = job.rec.items[index].run_id;
    slot.list_runs[run_id] = {job.rec.job_id, index};
    slot.lists.add(run_id);
    log.debug("run.tracking",
              {{"job", job.rec.job_id}, {"item", index}, {"run", run_id}, {"channel", "list"}});
    if (!slot.list_loop_running) {
        slot.list_loop_running = true;
        spawn(list_loop(slot), false);
    } else {
        slot.list_wake.cancel();
    }
}

asio::awaitable<void> engine_impl::list_loop(provider_slot& slot) {
    std::map<std::string, bool, std::less<>> input_sent;
    std::map<std::string, unsigned, std::less<>> not_found;
    auto forget = [&](const std::string& run_id) {
        slot.lists.remove(run_id);
        slot.list_runs.erase(run_id);
        input_sent.erase(run_id);
        not_found.erase(run_id);
        --running_runs;
        slot.host->run_ended();
    };
    auto report = [&](const providers::run_view& v) {
        auto it = slot.list_runs.find(v.run_id);
        if (it == slot.list_runs.end()) return;
        auto [job_id, index] = it->second;
        not_found.erase(v.run_id);
        auto* job = find(job_id);
        bool go_on = job && job->rec.items[index].state == jobs::item_state::submitted &&
                     !job->rec.items[index].outputs_known &&
                     on_run_view(job_id, index, v, input_sent[v.run_id]);
        if (!go_on) forget(v.run_id);
    };

    while (!stopping) {
        auto next = slot.lists.next_sweep();
        if (!next) {
            slot.list_wake.expires_at(clock::time_point::max());
            co_await slot.list_wake.async_wait(use_tuple);
            continue;
        }
        if (*next > clock::now()) co_await nap_until(*next);
        if (stopping) break;
        auto cursor = slot.lists.begin_sweep(clock::now());
        for (;;) {
            auto res = co_await slot.host->async_call(
                slot.request(slot.api.list(cursor, slot.api.list_page_limit())),
                scheduler::priority::track, scheduler::retry_mode::idempotent);
            if (stopping || res.ec == errc::shutting_down) co_return;
            auto page = res.ec ? std::nullopt : slot.api.parse_list(res.resp.body);
            if (!page) {
                log.info("tracking.list_failed",
                         {{"provider", slot.name()},
                          {"error", res.ec ? res.ec.message() : "unreadable list"}});
                slot.lists.on_page_failed();
                break;
            }
            auto out = slot.lists.on_page(*page);
            for (const auto& v : out.seen) report(v);
            if (!out.next_cursor) break;
            cursor = *out.next_cursor;
        }
        for (const auto& run_id : slot.lists.take_overdue()) {
            if (stopping) break;
            auto res = co_await slot.host->async_call(slot.request(slot.api.status(run_id)),
                                                      scheduler::priority::track,
                                                      scheduler::retry_mode::idempotent);
            if (stopping || res.ec == errc::shutting_down) co_return;
            if (res.ec == errc::not_found) {
                // Gone at the provider (two answers in a row, as for any run): the item fails.
                if (++not_found[run_id] >= 2) {
                    auto it = slot.list_runs.find(run_id);
                    if (it != slot.list_runs.end()) {
                        auto [job_id, index] = it->second;
                        forget(run_id);
                        if (auto* job = find(job_id))
                            item_failed(*job, index,
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
    slot.list_loop_running = false;
}

}  // namespace briefd::pipeline::detail
