// Submission (submission.hpp): batching, input validation, the submit request and the carrying
// out of decide_submission()'s verdict.
#include "pipeline/submission.hpp"
#include "pipeline/detail/provider_slot.hpp"
#include "pipeline/submit_decider.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace briefd::pipeline::detail {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

submission::lane::lane(asio::any_io_executor ex, const provider_slot& slot)
    : batches(std::min(slot.cfg.batch.max_items, slot.api.max_items_per_request()),
              slot.cfg.batch.linger),
      batch_timer(ex),
      schema_ready(ex, asio::steady_timer::time_point::max()) {}

submission::submission(asio::any_io_executor ex, job_services& svc, const config::config& cfg,
                       logger& log, submission_port port)
    : ex_(ex), svc_(svc), cfg_(cfg), log_(log), port_(std::move(port)) {}

submission::~submission() = default;

submission::lane& submission::lane_of(const provider_slot& slot) {
    auto it = lanes_.find(slot.name());
    if (it == lanes_.end())
        it = lanes_.emplace(slot.name(), std::make_unique<lane>(ex_, slot)).first;
    return *it->second;
}

void submission::reload(const provider_slot& slot) {
    auto& l = lane_of(slot);
    l.batches.set_limits(std::min(slot.cfg.batch.max_items, slot.api.max_items_per_request()),
                         slot.cfg.batch.linger);
    l.batch_timer.cancel();
}

void submission::stop() {
    for (auto& [name, l] : lanes_) {
        l->batch_timer.cancel();
        l->schema_ready.cancel();  // a brief waiting for another's schema fetch gives up
    }
}

std::size_t submission::batched(std::string_view provider) const {
    auto it = lanes_.find(provider);
    return it == lanes_.end() ? 0 : it->second->batches.pending();
}

void submission::enqueue_item(job_ctx& job, std::size_t index) {
    auto* slot = svc_.slot_of(job);
    if (!slot || index >= job.brief.items.size()) {
        svc_.item_failed(job, index, "provider " + job.rec.provider + " is not configured");
        return;
    }
    if (job.cancelled) {  // requeued after the operator cancelled the job
        svc_.item_failed(job, index, "cancelled by operator");
        return;
    }
    if (auto key = slot->api.group_key(job.brief.items[index])) {
        auto& l = lane_of(*slot);
        l.batches.add({job.rec.job_id, index, *key}, clock::now());
        l.batch_timer.cancel();  // a full group is released at once
    } else {
        svc_.spawn(submit_items(*slot, {{job.rec.job_id, index, {}}}), true);
    }
}

asio::awaitable<void> submission::batch_loop(provider_slot& slot) {
    auto& l = lane_of(slot);
    while (!svc_.stopping()) {
        for (auto& b : l.batches.take_ready(clock::now()))
            svc_.spawn(submit_items(slot, std::move(b.items)), true);
        auto next = l.batches.next_deadline();
        l.batch_timer.expires_at(next ? *next : clock::time_point::max());
        co_await l.batch_timer.async_wait(use_tuple);
    }
}

void submission::uncertain(job_ctx& job, std::size_t index, std::string_view what) {
    auto& it = job.rec.items[index];
    if (cfg_.on_uncertain == config::uncertain_policy::resubmit) {
        log_.warning(
            "submission.uncertain",
            {{"job", job.rec.job_id}, {"item", index}, {"cause", what}, {"action", "resubmit"}});
        it.state = jobs::item_state::pending;
        svc_.persist(job);
        enqueue_item(job, index);
        return;
    }
    log_.warning("submission.uncertain",
                 {{"job", job.rec.job_id}, {"item", index}, {"cause", what}, {"action", "fail"}});
    svc_.item_failed(
        job, index,
        "submission outcome unknown (" + std::string(what) +
            "); not resubmitted because on_uncertain is fail — to retry, move the brief back "
            "to incoming/");
}

void submission::replay_uncertain(job_ctx& job, std::size_t index,
                                  std::set<std::string>& replayed) {
    auto& it = job.rec.items[index];
    if (!replayed.insert(it.submit_key).second) return;  // this job's other members ride along
    auto* slot = svc_.slot_of(job);
    std::vector<batch_item> members;
    for (const auto& [job_id, i] : it.submit_group) members.push_back({job_id, i, {}});
    log_.notice("submission.replay", {{"job", job.rec.job_id},
                                      {"item", index},
                                      {"items", members.size()},
                                      {"cause", "outcome unknown"},
                                      {"action", "resend under the same idempotency key"}});
    svc_.spawn(submit_items(*slot, std::move(members), it.submit_key), true);
}

asio::awaitable<void> submission::requeue_later(std::vector<batch_item> items,
                                                clock::duration delay) {
    co_await svc_.nap(delay);
    if (svc_.stopping()) co_return;  // still `pending` on disk: the next start picks them up
    for (auto& bi : items)
        if (auto* j = svc_.find(bi.job_id);
            j && j->rec.items[bi.item_index].state == jobs::item_state::pending)
            enqueue_item(*j, bi.item_index);
}

asio::awaitable<void> submission::resend_later(provider_slot* slot, std::vector<batch_item> items,
                                               std::string key, unsigned resends,
                                               clock::duration delay) {
    co_await svc_.nap(delay);
    if (svc_.stopping()) co_return;  // still `submitting` with its key: the next start resends it
    svc_.spawn(submit_items(*slot, std::move(items), std::move(key), resends), true);
}

asio::awaitable<void> submission::submit_items(provider_slot& slot, std::vector<batch_item> members,
                                               std::string replay_key, unsigned resends) {
    // A provider that caps the jobs running at once: wait for room before anything else, so the
    // items stay plainly `pending` (never uncertain) while they wait. The place is given back
    // when this request is done: an accepted run holds its own from start_tracking() on.
    const bool gated = slot.host->jobs_gated();
    if (gated && co_await slot.host->async_job_place()) co_return;
    struct place_guard {
        scheduler::host* h;
        ~place_guard() {
            if (h) h->job_place_release();
        }
    } place{gated ? slot.host.get() : nullptr};

    // The items still waiting for this request: pending ones, or — when resending — those still
    // `submitting` under the same key (a member whose job went away is dropped).
    std::vector<const brief::item*> items;
    std::vector<batch_item> live;
    for (const auto& bi : members) {
        auto* j = svc_.find(bi.job_id);
        if (!j || bi.item_index >= j->rec.items.size() || bi.item_index >= j->brief.items.size())
            continue;
        const auto& it = j->rec.items[bi.item_index];
        bool waiting = replay_key.empty() ? it.state == jobs::item_state::pending
                                          : it.state == jobs::item_state::submitting &&
                                                it.submit_key == replay_key;
        if (!waiting) continue;
        items.push_back(&j->brief.items[bi.item_index]);
        live.push_back(bi);
    }
    if (items.empty()) co_return;
    const bool idempotent = !slot.api.idempotency_header().empty();
    std::vector<std::pair<std::string, std::size_t>> group;
    for (const auto& bi : live) group.emplace_back(bi.job_id, bi.item_index);
    std::string key;
    if (idempotent)
        key = replay_key.empty() ? providers::idempotency_key(slot.name(), group) : replay_key;

    auto call = slot.api.submit_with_key(items, key);
    // Told even while deliveries seem lost, so that a delivery that arrives can restore them.
    if (auto url = port_.webhook_url(slot); !url.empty()) slot.api.add_webhook(call, items, url);
    if (idempotent) call.headers.emplace_back(slot.api.idempotency_header(), key);
    auto req = slot.request(call);

    auto for_each_item = [&](auto&& f) {
        for (std::size_t k = 0; k < live.size(); ++k)
            if (auto* j = svc_.find(live[k].job_id)) f(*j, live[k].item_index, k);
    };
    auto persist_touched = [&](auto&& touched) {
        bool ok = true;
        for (const auto& id : touched)
            if (auto* j = svc_.find(id)) ok = !svc_.persist(*j) && ok;
        return ok;
    };

    bool intent = false;
    // Awaited by async_call after each slot grant, before the request leaves. The references are
    // to this frame's locals, alive while we await async_call below; the closure itself lives in
    // async_call's copy of the std::function for as long as its coroutine runs.
    auto mark_submitting = [&]() -> asio::awaitable<bool> {
        std::set<std::string> touched;
        for_each_item([&](job_ctx& j, std::size_t i, std::size_t) {
            auto& it = j.rec.items[i];
            it.state = jobs::item_state::submitting;
            ++it.submit_attempts;
            it.submit_key = key;
            it.submit_group = idempotent ? group : decltype(group){};
            touched.insert(j.rec.job_id);
        });
        intent = true;
        // Without durable intent nothing may leave: the scheduler abandons the call (io_error).
        // The snapshots share the state writer's group fsyncs with everything queued meanwhile;
        // the request waits for them, the event loop does not.
        persist_touched(touched);
        bool durable = true;
        for (const auto& id : touched)
            if (co_await svc_.state_durable(id)) durable = false;
        co_return durable;
    };
    auto res = co_await slot.host->async_call(std::move(req), scheduler::priority::submit,
                                              scheduler::retry_mode::submission, mark_submitting,
                                              place.h != nullptr);

    std::optional<std::vector<providers::submit_result>> parsed;
    if (!res.ec) parsed = slot.api.parse_submit(items, res.resp.body);
    submit_facts facts{res.ec, intent, res.created_nothing, idempotent, parsed.has_value(),
                       resends};
    auto verdict = decide_submission(facts);

    auto set_state = [&](jobs::item_state st) {
        std::set<std::string> touched;
        for_each_item([&](job_ctx& j, std::size_t i, std::size_t) {
            j.rec.items[i].state = st;
            if (st == jobs::item_state::pending) {
                j.rec.items[i].submit_key.clear();
                j.rec.items[i].submit_group.clear();
            }
            touched.insert(j.rec.job_id);
        });
        persist_touched(touched);
    };

    switch (verdict) {
        case submit_verdict::leave:
            co_return;
        case submit_verdict::requeue:
            if (idempotent && intent && !svc_.stopping()) {
                // Keep the key: if the server did create something after all (a 5xx after the
                // work began), the same request under the same key is answered with it.
                log_.warning("batch.deferred", {{"provider", slot.name()},
                                                {"items", live.size()},
                                                {"error", res.ec ? res.ec.message() : "not sent"}});
                svc_.spawn(resend_later(&slot, live, key, resends, std::chrono::seconds(5)), false);
                co_return;
            }
            if (intent) set_state(jobs::item_state::pending);
            if (svc_.stopping()) co_return;
            log_.warning("batch.deferred", {{"provider", slot.name()},
                                            {"items", live.size()},
                                            {"error", res.ec ? res.ec.message() : "not sent"}});
            svc_.spawn(requeue_later(live, std::chrono::seconds(5)), false);
            co_return;
        case submit_verdict::resend_same:
            log_.warning("submission.resend",
                         {{"provider", slot.name()},
                          {"items", live.size()},
                          {"cause", res.ec ? res.ec.message() : "unreadable response"},
                          {"attempt", resends + 1}});
            svc_.spawn(resend_later(&slot, live, key, resends + 1,
                                    std::chrono::seconds(2) * (resends + 1)),
                       false);
            co_return;
        case submit_verdict::uncertain:
            for_each_item([&](job_ctx& j, std::size_t i, std::size_t) {
                uncertain(
                    j, i,
                    res.ec ? "no response to the request" : "unreadable response to the request");
            });
            co_return;
        case submit_verdict::reject: {
            std::string why = res.ec ? "request rejected (" + std::to_string(res.resp.status) + ")"
                                     : "the provider's responses could not be read";
            if (res.ec && live.size() == 1 && res.resp.status == 400) {
                // An input schema may have changed since it was cached: look again, and say exactly
                // which input is wrong if we can.
                auto* j = svc_.find(live.front().job_id);
                if (j)
                    if (auto k = slot.api.schema_key(j->brief.items[live.front().item_index])) {
                        auto schema = co_await get_schema(slot, *k, true);
                        j = svc_.find(live.front().job_id);
                        if (j && schema) {
                            auto p = slot.api.check_inputs(j->rec.brief_name,
                                                           j->brief.items[live.front().item_index],
                                                           *schema);
                            if (!p.empty()) {
                                svc_.item_failed(*j, live.front().item_index,
                                                 p.front().to_string());
                                co_return;
                            }
                        }
                    }
            }
            for_each_item([&](job_ctx& j, std::size_t i, std::size_t) {
                svc_.item_failed(j, i, why, res.diag);
            });
            co_return;
        }
        case submit_verdict::accepted:
            break;
    }

    std::set<std::string> touched;
    std::size_t queued = 0;
    for_each_item([&](job_ctx& j, std::size_t i, std::size_t k) {
        auto& r = (*parsed)[k];
        auto& it = j.rec.items[i];
        if (r.accepted && !slot.api.valid_run_id(r.run_id)) {
            r.accepted = false;
            r.error = "the provider returned a run id briefd will not use in a request path";
        }
        if (r.accepted) {
            it.state = jobs::item_state::submitted;
            it.run_id = r.run_id;
            it.children = r.children;
            ++queued;
        } else {
            it.state = jobs::item_state::failed;
            it.error = "rejected: " + r.error;
        }
        touched.insert(j.rec.job_id);
    });
    persist_touched(touched);
    std::string job_list;
    for (const auto& id : touched) job_list += (job_list.empty() ? "" : ",") + id;
    log_.info("batch.submitted", {{"provider", slot.name()},
                                  {"items", live.size()},
                                  {"queued", queued},
                                  {"failed", live.size() - queued},
                                  {"jobs", job_list},
                                  {"replay", replay_key.empty() ? "no" : "yes"}});
    for_each_item([&](job_ctx& j, std::size_t i, std::size_t) {
        if (j.rec.items[i].state == jobs::item_state::submitted)
            port_.start_tracking(j, i);
        else
            log_.warning("item.failed",
                         {{"job", j.rec.job_id}, {"item", i}, {"reason", j.rec.items[i].error}});
    });
    for (const auto& id : touched)
        if (auto* j = svc_.find(id)) svc_.maybe_file(*j);
}

asio::awaitable<std::optional<providers::app_schema>> submission::get_schema(
    provider_slot& slot, std::string key, bool recheck, scheduler::call_result* failure) {
    auto& l = lane_of(slot);
    auto& cache = l.schemas;
    for (;;) {
        const auto now = clock::now();
        if (!recheck || !cache.worth_recheck(key, now))
            if (const auto* s = cache.fresh(key, now)) co_return *s;
        if (!cache.begin_fetch(key)) {
            // Another brief is fetching this app's schema: its answer serves this one too.
            co_await l.schema_ready.async_wait(use_tuple);
            if (svc_.stopping()) co_return std::nullopt;
            recheck = false;  // what that fetch got is as new as ours would be
            continue;         // (or it failed, or it was another app's: look again)
        }
        auto res = co_await slot.host->async_call(slot.request(slot.api.schema_request(key)),
                                                  scheduler::priority::submit,
                                                  scheduler::retry_mode::idempotent);
        std::optional<providers::app_schema> schema;
        if (!res.ec) schema = slot.api.parse_schema(res.resp.body);
        if (schema) cache.store(key, *schema, clock::now());
        cache.end_fetch(key);
        l.schema_ready.cancel();  // wakes the briefs waiting for it
        if (!schema && failure) *failure = std::move(res);
        co_return schema;
    }
}

asio::awaitable<void> submission::validate_inputs(std::string job_id) {
    auto* job = svc_.find(job_id);
    if (!job) co_return;
    auto* slot = svc_.slot_of(*job);
    if (!slot) co_return;
    std::vector<brief::problem> problems;
    bool transient = false;
    for (std::size_t i = 0; i < job->rec.items.size(); ++i) {
        if (job->rec.items[i].state != jobs::item_state::pending) continue;
        auto key = slot->api.schema_key(job->brief.items[i]);
        if (!key) continue;
        scheduler::call_result res;
        auto schema = co_await get_schema(*slot, *key, false, &res);
        job = svc_.find(job_id);
        if (!job || svc_.stopping()) co_return;
        if (!schema) {
            // "No such app" is the brief's fault; "could not ask" is not.
            if (res.ec == errc::not_found || res.ec == errc::rejected) {
                problems.push_back(
                    {job->rec.brief_name, i, "app",
                     "no such app: " + *key +
                         (res.diag.message.empty() ? "" : " (" + res.diag.message + ")")});
            } else {
                transient = true;
            }
            continue;
        }
        auto p = slot->api.check_inputs(job->rec.brief_name, job->brief.items[i], *schema);
        if (!p.empty() && lane_of(*slot).schemas.worth_recheck(*key, clock::now())) {
            // The app may have changed since its schema was cached: never refuse on an old copy.
            schema = co_await get_schema(*slot, *key, true);
            job = svc_.find(job_id);
            if (!job || svc_.stopping()) co_return;
            if (schema)
                p = slot->api.check_inputs(job->rec.brief_name, job->brief.items[i], *schema);
        }
        problems.insert(problems.end(), p.begin(), p.end());
    }
    const bool anything_sent =
        std::any_of(job->rec.items.begin(), job->rec.items.end(),
                    [](auto& it) { return it.state != jobs::item_state::pending; });
    switch (decide_validation({problems.size(), transient, anything_sent})) {
        case validation_verdict::retry_later:
            log_.warning("job.validation_deferred", {{"job", job_id}});
            co_await svc_.nap(std::chrono::seconds(10));
            if (!svc_.stopping()) svc_.spawn(validate_inputs(job_id), true);
            co_return;
        case validation_verdict::refuse_brief:
            // Rejected whole before any credit was spent, like a brief that fails to parse.
            log_.warning("brief.invalid", {{"file", job->rec.brief_name},
                                           {"problems", problems.size()},
                                           {"first", problems.front().to_string()}});
            port_.refuse_job(job_id, problems);
            co_return;
        case validation_verdict::fail_items:
            for (const auto& p : problems) svc_.item_failed(*job, *p.item, p.to_string());
            break;
        case validation_verdict::start:
            break;
    }
    job->validated = true;
    port_.start_job(*job);
}

}  // namespace briefd::pipeline::detail
