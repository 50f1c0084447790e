// Submission: content items fan into batches of ≤ max_items per group; app runs go one by one,
// after their inputs were checked against the app's published schema. Intent to submit is made
// durable after the rate-limit slot is granted and before the request leaves.
#include "pipeline/detail/engine_impl.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

namespace briefd::pipeline::detail {

namespace json = boost::json;
namespace lamina = providers::lamina;
using verb = boost::beast::http::verb;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

void engine_impl::enqueue_item(job_ctx& job, std::size_t index) {
    const auto& body = job.brief.items[index].body;
    if (const auto* c = std::get_if<brief::content_item>(&body)) {
        batches.add({job.rec.job_id, index, lamina::group_key(*c)}, clock::now());
        batch_timer.cancel();  // a full group is released at once
    } else if (std::holds_alternative<brief::app_run_item>(body)) {
        spawn(submit_app_run(job.rec.job_id, index), true);
    } else {
        item_failed(job, index, "item kind not supported by provider " + job.rec.provider);
    }
}

asio::awaitable<void> engine_impl::batch_loop() {
    while (!stopping) {
        for (auto& b : batches.take_ready(clock::now())) spawn(submit_batch(std::move(b)), true);
        auto next = batches.next_deadline();
        batch_timer.expires_at(next ? *next : clock::time_point::max());
        co_await batch_timer.async_wait(use_tuple);
    }
}

void engine_impl::item_failed(job_ctx& job, std::size_t index, std::string why, const diagnostics& d) {
    auto& it = job.rec.items[index];
    it.state = jobs::item_state::failed;
    if (!d.message.empty()) why += ": " + d.message;
    it.error = std::move(why);
    it.provider_code = d.provider_code;
    log.warning("item.failed", {{"job", job.rec.job_id}, {"item", index}, {"reason", it.error},
                                {"request_id", d.request_id}});
    persist(job);
    maybe_file(job);
}

void engine_impl::uncertain(job_ctx& job, std::size_t index, std::string_view what) {
    auto& it = job.rec.items[index];
    if (cfg.on_uncertain == config::uncertain_policy::resubmit) {
        log.warning("submission.uncertain", {{"job", job.rec.job_id}, {"item", index},
                                             {"cause", what}, {"action", "resubmit"}});
        it.state = jobs::item_state::pending;
        persist(job);
        enqueue_item(job, index);
        return;
    }
    log.warning("submission.uncertain", {{"job", job.rec.job_id}, {"item", index},
                                         {"cause", what}, {"action", "fail"}});
    item_failed(job, index,
                "submission outcome unknown (" + std::string(what) +
                    "); not resubmitted because on_uncertain is fail — to retry, move the brief back "
                    "to incoming/");
}

namespace {
// Puts items back in line after a failure that created nothing, after a pause.
asio::awaitable<void> requeue_later(engine_impl* self, std::vector<batch_item> items,
                                    clock::duration delay) {
    co_await self->nap(delay);
    if (self->stopping) co_return;  // still `pending` on disk: the next start picks them up
    for (auto& bi : items)
        if (auto* j = self->find(bi.job_id)) self->enqueue_item(*j, bi.item_index);
}
}  // namespace

asio::awaitable<void> engine_impl::submit_batch(batch b) {
    std::vector<const brief::content_item*> items;
    std::vector<batch_item> live;
    for (const auto& bi : b.items) {
        auto* j = find(bi.job_id);
        if (!j || j->rec.items[bi.item_index].state != jobs::item_state::pending) continue;
        items.push_back(&std::get<brief::content_item>(j->brief.items[bi.item_index].body));
        live.push_back(bi);
    }
    if (items.empty()) co_return;
    auto req = api_request(verb::post, "/v1/content/batch", lamina::batch_body(items));

    bool sent = false;
    auto mark_submitting = [&]() -> bool {
        try {
            std::set<std::string> touched;
            for (const auto& bi : live) {
                auto* j = find(bi.job_id);
                if (!j) continue;
                auto& it = j->rec.items[bi.item_index];
                it.state = jobs::item_state::submitting;
                ++it.submit_attempts;
                touched.insert(bi.job_id);
            }
            for (const auto& id : touched) persist(*find(id));
            sent = true;
            return true;
        } catch (const std::system_error&) {
            return false;
        }
    };
    auto res = co_await host->async_call(std::move(req), scheduler::priority::submit,
                                         scheduler::retry_mode::submission, mark_submitting);

    auto for_each_item = [&](auto&& f) {
        for (std::size_t k = 0; k < live.size(); ++k)
            if (auto* j = find(live[k].job_id)) f(*j, live[k].item_index, k);
    };
    auto back_to_pending = [&] {
        std::set<std::string> touched;
        for_each_item([&](job_ctx& j, std::size_t i, std::size_t) {
            j.rec.items[i].state = jobs::item_state::pending;
            touched.insert(j.rec.job_id);
        });
        for (const auto& id : touched) persist(*find(id));
    };

    if (res.ec == errc::shutting_down) {
        // Never sent, or every attempt was answered without creating anything (429, 5xx, a
        // rejected key) and it was waiting to retry: the items are pending again. If it was
        // aborted on the wire, the state says `submitting` and the next start applies on_uncertain.
        if (sent && res.created_nothing) back_to_pending();
        co_return;
    }
    if (res.ec == errc::outcome_uncertain) {
        for_each_item([&](job_ctx& j, std::size_t i, std::size_t) {
            uncertain(j, i, "no response to the batch request");
        });
        co_return;
    }
    if (res.ec) {
        if (!sent || is_retryable(res.ec) || res.ec == std::errc::io_error) {
            // Nothing was created (failed before sending, or the server said 5xx): try again later.
            if (sent) back_to_pending();
            log.warning("batch.deferred", {{"items", live.size()}, {"error", res.ec.message()}});
            spawn(requeue_later(this, live, std::chrono::seconds(5)), false);
            co_return;
        }
        for_each_item([&](job_ctx& j, std::size_t i, std::size_t) {
            item_failed(j, i, "batch request rejected (" + std::to_string(res.resp.status) + ")", res.diag);
        });
        co_return;
    }
    auto parsed = lamina::parse_batch_response(res.resp.body, live.size());
    if (!parsed) {
        for_each_item([&](job_ctx& j, std::size_t i, std::size_t) {
            uncertain(j, i, "malformed batch response");
        });
        co_return;
    }
    std::set<std::string> touched;
    std::size_t queued = 0;
    for_each_item([&](job_ctx& j, std::size_t i, std::size_t k) {
        auto& r = (*parsed)[k];
        auto& it = j.rec.items[i];
        if (r.queued) {
            it.state = jobs::item_state::submitted;
            it.run_id = r.run_id;
            ++queued;
        } else {
            it.state = jobs::item_state::failed;
            it.error = "rejected in batch: " + r.error;
        }
        touched.insert(j.rec.job_id);
    });
    for (const auto& id : touched) persist(*find(id));
    std::string job_list;
    for (const auto& id : touched) job_list += (job_list.empty() ? "" : ",") + id;
    log.info("batch.submitted", {{"items", live.size()}, {"queued", queued},
                                 {"failed", live.size() - queued}, {"jobs", job_list},
                                 {"group", b.group_key.size() > 1 ? "shared" : "default"}});
    for_each_item([&](job_ctx& j, std::size_t i, std::size_t) {
        if (j.rec.items[i].state == jobs::item_state::submitted) start_tracking(j, i);
        else log.warning("item.failed", {{"job", j.rec.job_id}, {"item", i}, {"reason", j.rec.items[i].error}});
    });
    for (const auto& id : touched)
        if (auto* j = find(id)) maybe_file(*j);
}

asio::awaitable<std::optional<brief::app_schema>> engine_impl::get_schema(std::string app_id, bool refresh) {
    if (!refresh)
        if (auto it = schemas.find(app_id); it != schemas.end()) co_return it->second;
    auto res = co_await host->async_call(api_request(verb::get, "/v1/apps/" + app_id),
                                         scheduler::priority::submit, scheduler::retry_mode::idempotent);
    if (res.ec) co_return std::nullopt;
    std::error_code ec;
    auto v = json::parse(res.resp.body, ec);
    if (ec) co_return std::nullopt;
    auto schema = brief::parse_app_schema(v);
    if (schema) schemas[app_id] = *schema;
    co_return schema;
}

asio::awaitable<void> engine_impl::validate_apps(std::string job_id) {
    auto* job = find(job_id);
    if (!job) co_return;
    std::vector<brief::problem> problems;
    bool transient = false;
    for (std::size_t i = 0; i < job->rec.items.size(); ++i) {
        if (job->rec.items[i].state != jobs::item_state::pending) continue;
        const auto* app = std::get_if<brief::app_run_item>(&job->brief.items[i].body);
        if (!app) continue;
        auto schema = co_await get_schema(app->app_id, false);
        job = find(job_id);
        if (!job || stopping) co_return;
        if (!schema) {
            // Distinguish "no such app" from "could not ask": only the former is the brief's fault.
            auto res = co_await host->async_call(api_request(verb::get, "/v1/apps/" + app->app_id),
                                                 scheduler::priority::submit,
                                                 scheduler::retry_mode::idempotent);
            job = find(job_id);
            if (!job || stopping) co_return;
            if (res.ec == errc::not_found || res.ec == errc::rejected) {
                problems.push_back({job->rec.brief_name, i, "app",
                                    "no such app: " + app->app_id + (res.diag.message.empty() ? "" : " (" + res.diag.message + ")")});
            } else {
                transient = true;
            }
            continue;
        }
        auto p = brief::validate_inputs(job->rec.brief_name, i, *app, *schema);
        problems.insert(problems.end(), p.begin(), p.end());
    }
    if (transient && problems.empty()) {
        log.warning("job.validation_deferred", {{"job", job_id}});
        co_await nap(std::chrono::seconds(10));
        if (!stopping) spawn(validate_apps(job_id), true);
        co_return;
    }
    if (!problems.empty()) {
        bool anything_sent = std::any_of(job->rec.items.begin(), job->rec.items.end(), [](auto& it) {
            return it.state != jobs::item_state::pending;
        });
        if (!anything_sent) {
            // Rejected whole before any credit was spent, like a brief that fails to parse.
            log.warning("brief.invalid", {{"file", job->rec.brief_name}, {"problems", problems.size()},
                                          {"first", problems.front().to_string()}});
            auto name = job->rec.brief_name;
            auto n = job->rec.items.size();
            std::error_code rm;
            std::filesystem::remove(jobs::state_path(layout.active(), job_id), rm);
            refuse(layout.active() / name, name, problems);
            items_in_flight -= n;
            jobs.erase(job_id);
            kick_intake();
            co_return;
        }
        for (const auto& p : problems) item_failed(*job, *p.item, p.to_string());
    }
    job->validated = true;
    start_job(*job);
}

asio::awaitable<void> engine_impl::submit_app_run(std::string job_id, std::size_t index) {
    auto* job = find(job_id);
    if (!job) co_return;
    const auto app = std::get<brief::app_run_item>(job->brief.items[index].body);
    bool sent = false;
    auto mark_submitting = [&]() -> bool {
        auto* j = find(job_id);
        if (!j) return false;
        try {
            auto& it = j->rec.items[index];
            it.state = jobs::item_state::submitting;
            ++it.submit_attempts;
            persist(*j);
            sent = true;
            return true;
        } catch (const std::system_error&) {
            return false;
        }
    };
    auto res = co_await host->async_call(
        api_request(verb::post, "/v1/apps/" + app.app_id + "/runs", lamina::app_run_body(app)),
        scheduler::priority::submit, scheduler::retry_mode::submission, mark_submitting);
    job = find(job_id);
    if (!job) co_return;
    auto& it = job->rec.items[index];
    if (res.ec == errc::shutting_down) {
        // As in submit_batch: only a request aborted on the wire stays `submitting`.
        if (sent && res.created_nothing && it.state == jobs::item_state::submitting) {
            it.state = jobs::item_state::pending;
            persist(*job);
        }
        co_return;
    }
    if (res.ec == errc::outcome_uncertain) {
        uncertain(*job, index, "no response to the run request");
        co_return;
    }
    if (res.ec) {
        if (!sent || is_retryable(res.ec) || res.ec == std::errc::io_error) {
            if (sent) {
                it.state = jobs::item_state::pending;
                persist(*job);
            }
            spawn(requeue_later(this, {{job_id, index, {}}}, std::chrono::seconds(5)), false);
            co_return;
        }
        if (res.resp.status == 400) {
            // The app may have changed since we cached its schema: look again, and say exactly
            // which input is wrong if we can.
            auto schema = co_await get_schema(app.app_id, true);
            job = find(job_id);
            if (!job) co_return;
            if (schema) {
                auto p = brief::validate_inputs(job->rec.brief_name, index, app, *schema);
                if (!p.empty()) {
                    item_failed(*job, index, p.front().to_string());
                    co_return;
                }
            }
        }
        item_failed(*job, index, "run request rejected (" + std::to_string(res.resp.status) + ")", res.diag);
        co_return;
    }
    std::string why;
    auto run_id = lamina::parse_run_id(res.resp.body, why);
    if (!run_id) {
        uncertain(*job, index, why);
        co_return;
    }
    it.state = jobs::item_state::submitted;
    it.run_id = *run_id;
    persist(*job);
    log.info("run.submitted", {{"job", job_id}, {"item", index}, {"run", *run_id}, {"app", app.app_id}});
    start_tracking(*job, index);
}

}  // namespace briefd::pipeline::detail
