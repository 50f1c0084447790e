// Webhook tracking (DESIGN §12 "Webhooks"): the receiver on the shared HTTP server, and runs
// that report by delivery instead of by stream or poll.
//
//   POST <public_url path>/<provider> → route → verify (before any parsing) → provider's
//   parse_webhook → duplicate? → the run's item: a terminal view finishes it exactly as a terminal
//   SSE event would (on_run_view) and the job record is fsynced → 2xx. Anything that fails before
//   the record is durable is answered 5xx, so the provider delivers again.
//
// A run tracked this way costs no request unless its delivery is late: after its grace period one
// status request checks on it (and again every grace period while it runs). When such checks keep
// finding runs finished whose deliveries never came, the provider's deliveries have stopped: its
// runs go back to request-based tracking, and the log says so, until a delivery verifies again.
#include "pipeline/detail/engine_impl.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace briefd::pipeline::detail {

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// Early deliveries kept for runs not registered yet (a delivery overtaking its submit response).
constexpr std::size_t max_early = 1024;

http::server_response answer(unsigned status, std::string body) {
    http::server_response r;
    r.status = status;
    r.body = std::move(body) + "\n";
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
}

bool mode_allows_webhooks(config::tracking_mode m) {
    return m == config::tracking_mode::auto_ || m == config::tracking_mode::webhook;
}
}  // namespace

void engine_impl::setup_webhooks() {
    if (!cfg.webhooks.enabled) return;
    webhook_base = webhooks::base_path(cfg.webhooks.public_url);
    for (auto& [name, slot] : slots) {
        auto& h = slot->hooks;
        if (!mode_allows_webhooks(slot->cfg.tracking.mode)) continue;
        if (slot->api.webhook_secret_required()) {
            auto s = config::load_webhook_secret(slot->cfg);
            if (auto* err = std::get_if<std::string>(&s)) throw std::runtime_error(*err);
            h.shared_secret = std::get<secret>(std::move(s));
            if (h.shared_secret.empty()) {
                log.info("webhooks.not_used",
                         {{"provider", name}, {"reason", "no webhook_secret_file or _env"}});
                continue;
            }
        }
        h.offered = true;
        h.keys = webhooks::key_cache(cfg.webhooks.key_refetch);
    }
}

bool engine_impl::start_webhooks() {
    if (!cfg.webhooks.enabled) return true;
    auto ep = http::parse_listen_endpoint(cfg.webhooks.listen);
    if (!ep) {
        log.error("webhooks.listen_failed",
                  {{"listen", cfg.webhooks.listen},
                   {"error", "not an IP address and port (e.g. 127.0.0.1:8787)"}});
        return false;
    }
    http::server_options o;
    o.max_body_bytes = cfg.webhooks.max_body_bytes;
    // Providers give up after 15 s (Lamina): a delivery is read within a few seconds or dropped.
    o.read_timeout = std::chrono::seconds(10);
    webhook_server = std::make_unique<http::server>(
        ex, [this](const http::server_request& r) { return on_webhook(r); }, o);
    try {
        webhook_server->listen(*ep);
    } catch (const std::system_error& e) {
        log.error("webhooks.listen_failed", {{"listen", cfg.webhooks.listen}, {"error", e.what()}});
        webhook_server.reset();
        return false;
    }
    auto bound = webhook_server->local_endpoint();
    std::string providers_on;
    for (auto& [name, slot] : slots) {
        if (!slot->hooks.offered) continue;
        providers_on += (providers_on.empty() ? "" : ",") + name;
        if (slot->api.webhook_key_request()) spawn(fetch_signing_keys(*slot), false);
    }
    log.notice("webhooks.listening", {{"address", bound.address().to_string()},
                                      {"port", bound.port()},
                                      {"public_url", cfg.webhooks.public_url},
                                      {"providers", providers_on.empty() ? "none" : providers_on}});
    return true;
}

void engine_impl::stop_webhooks() {
    // Deliveries from now on are refused at the socket; the providers retry them, and the next
    // start (or a grace check) picks the runs up.
    if (webhook_server) webhook_server->stop();
    for (auto& [name, slot] : slots) {
        slot->hooks.wake.cancel();
        slot->hooks.key_ready.cancel();
    }
}

bool engine_impl::tracked_by_webhook(const provider_slot& slot, const brief::item& it) const {
    return slot.hooks.offered && !slot.hooks.degraded &&
           (slot.api.channels(it) & providers::channel_webhook);
}

std::string engine_impl::webhook_url(const provider_slot& slot) const {
    return cfg.webhooks.public_url + "/" + slot.name();
}

void engine_impl::track_by_webhook(provider_slot& slot, job_ctx& job, std::size_t index) {
    const auto& item = job.rec.items[index];
    const auto grace = cfg.webhooks.grace.count() > 0 ? cfg.webhooks.grace
                                                      : slot.api.webhook_grace(item_of(job, index));
    webhook_run r{job.rec.job_id, index, clock::now() + grace, grace};
    // A terminal delivery recorded before a restart (run_status is set only then) whose outputs
    // were not yet known: check at once instead of waiting for a delivery that will not repeat.
    if (!item.run_status.empty()) r.check_at = clock::now();
    auto [pos, fresh] = slot.hooks.runs.insert_or_assign(item.run_id, std::move(r));
    (void)fresh;
    log.debug(
        "run.tracking",
        {{"job", job.rec.job_id}, {"item", index}, {"run", item.run_id}, {"channel", "webhook"}});
    if (auto e = slot.hooks.early.find(item.run_id); e != slot.hooks.early.end()) {
        // Its delivery came first. Applied after the caller (submission) is done with the job.
        providers::webhook_event ev{{}, std::move(e->second)};
        slot.hooks.early.erase(e);
        asio::post(ex, [this, s = &slot, ev = std::move(ev)] {
            if (!stop_requested) {
                std::string touched;
                apply_webhook(*s, ev, touched);
            }
        });
    }
    if (!slot.hooks.loop_running) {
        slot.hooks.loop_running = true;
        spawn(grace_loop(slot), false);
    } else if (pos->second.check_at <= clock::now()) {
        slot.hooks.wake.cancel();
    }
}

asio::awaitable<void> engine_impl::grace_loop(provider_slot& slot) {
    auto& h = slot.hooks;
    auto forget = [&](const std::string& run_id) { forget_webhook_run(slot, run_id); };
    while (!stop_requested) {
        if (h.runs.empty()) {
            h.wake.expires_at(clock::time_point::max());
            co_await h.wake.async_wait(use_tuple);
            continue;
        }
        auto next = clock::time_point::max();
        for (const auto& [id, r] : h.runs) next = std::min(next, r.check_at);
        if (next > clock::now()) {
            h.wake.expires_at(next);
            co_await h.wake.async_wait(use_tuple);
            continue;
        }
        std::vector<std::string> due;
        for (const auto& [id, r] : h.runs)
            if (r.check_at <= clock::now()) due.push_back(id);
        for (const auto& run_id : due) {
            if (stop_requested) break;
            if (!h.runs.count(run_id)) continue;  // a delivery finished it meanwhile
            ++h.grace_checks;
            auto res = co_await slot.host->async_call(slot.request(slot.api.status(run_id)),
                                                      scheduler::priority::track,
                                                      scheduler::retry_mode::idempotent);
            if (stop_requested || res.ec == errc::shutting_down) co_return;
            auto it = h.runs.find(run_id);
            if (it == h.runs.end()) continue;
            auto& r = it->second;
            const auto grace = r.grace;  // the next safety check
            if (res.ec == errc::not_found) {
                if (++r.not_found >= 2) {
                    auto [job_id, index] = std::pair{r.job_id, r.index};
                    forget(run_id);
                    if (auto* job = find(job_id))
                        item_failed(*job, index,
                                    "run " + run_id + " no longer exists at the provider");
                } else {
                    r.check_at = clock::now() + std::chrono::seconds(5);
                }
                continue;
            }
            std::optional<providers::run_view> v;
            if (!res.ec)
                v = slot.api.parse_status_response(res.resp.status, res.resp.headers,
                                                   res.resp.body);
            if (!v) {
                log.info("webhooks.grace_check_failed",
                         {{"provider", slot.name()},
                          {"run", run_id},
                          {"error", res.ec ? res.ec.message() : "unreadable status"}});
                r.check_at = clock::now() + grace / 4;
                continue;
            }
            r.not_found = 0;
            if (v->run_id.empty()) v->run_id = run_id;
            auto job_id = r.job_id;
            auto index = r.index;
            if (!providers::is_terminal(v->phase)) {
                r.check_at = clock::now() + grace;
                bool sent = r.input_sent;
                if (!tracking.on_run_view(job_id, index, *v, sent))
                    forget(run_id);
                else if (auto again = h.runs.find(run_id); again != h.runs.end())
                    again->second.input_sent = sent;
                continue;
            }
            // Finished, and nobody told us: a lost delivery (one request spent, not the run).
            auto* job = find(job_id);
            bool recorded = job && !job->rec.items[index].run_status.empty();
            forget(run_id);
            if (!recorded) {
                ++h.missed_in_a_row;
                log.info("webhooks.delivery_missing", {{"provider", slot.name()},
                                                       {"run", run_id},
                                                       {"missed_in_a_row", h.missed_in_a_row}});
            }
            bool sent = false;
            tracking.on_run_view(job_id, index, *v, sent);
            if (h.missed_in_a_row >= cfg.webhooks.fallback_after && !h.degraded)
                webhooks_fall_back(slot);
        }
    }
    h.loop_running = false;
}

void engine_impl::forget_webhook_run(provider_slot& slot, const std::string& run_id) {
    if (!slot.hooks.runs.erase(run_id)) return;
    tracking.run_ended(slot);  // its place of the concurrent-jobs gate (Layers) is free again
}

void engine_impl::webhooks_fall_back(provider_slot& slot) {
    auto& h = slot.hooks;
    h.degraded = true;
    log.warning("webhooks.fallback",
                {{"provider", slot.name()},
                 {"missed_in_a_row", h.missed_in_a_row},
                 {"runs", h.runs.size()},
                 {"action", "request-based tracking until a delivery verifies"}});
    auto runs = std::move(h.runs);
    h.runs.clear();
    for (auto& [run_id, r] : runs) {
        tracking.run_ended(slot);  // start() counts it again, and takes its gate place again
        if (auto* job = find(r.job_id)) tracking.start(*job, r.index);
    }
}

asio::awaitable<void> engine_impl::fetch_signing_keys(provider_slot& slot) {
    auto call = slot.api.webhook_key_request();
    if (!call) co_return;
    auto& h = slot.hooks;
    h.keys.fetch_started(clock::now());
    h.key_ready.expires_at(clock::time_point::max());
    auto res = co_await slot.host->async_call(slot.request(*call), scheduler::priority::track,
                                              scheduler::retry_mode::idempotent);
    std::string why;
    std::vector<webhooks::ed25519_key> keys;
    if (!res.ec)
        keys = webhooks::parse_jwks(res.resp.body, why);
    else
        why = res.ec.message();
    if (keys.empty()) {
        if (!stop_requested)
            log.warning("webhooks.key_fetch_failed", {{"provider", slot.name()}, {"error", why}});
    } else {
        std::string kids;
        for (const auto& k : keys) kids += (kids.empty() ? "" : ",") + k.kid();
        log.info("webhooks.key_fetched",
                 {{"provider", slot.name()}, {"keys", keys.size()}, {"kid", kids}});
    }
    h.keys.fetch_done(std::move(keys));
    h.key_ready.cancel();
}

asio::awaitable<http::server_response> engine_impl::on_webhook(const http::server_request& req) {
    const auto remote = req.remote.address().to_string();
    auto name = webhooks::route(webhook_base, req.target);
    auto sit = name ? slots.find(*name) : slots.end();
    if (sit == slots.end() || !sit->second->hooks.offered) co_return answer(404, "not found");
    if (req.method != boost::beast::http::verb::post) {
        auto r = answer(405, "method not allowed");
        r.headers.emplace_back("Allow", "POST");
        co_return r;
    }
    if (req.body.size() > cfg.webhooks.max_body_bytes) co_return answer(413, "too large");
    auto& slot = *sit->second;
    auto& h = slot.hooks;
    if (stop_requested) {
        auto r = answer(503, "stopping");
        r.headers.emplace_back("Retry-After", "30");
        co_return r;
    }

    auto verify = [&] {
        return webhooks::verify_delivery(slot.name(), req.headers, req.body,
                                         {h.shared_secret.reveal(), &h.keys.keys()}, unix_now(),
                                         cfg.webhooks.tolerance);
    };
    auto v = verify();
    if (v == webhooks::verdict::no_key || v == webhooks::verdict::forged) {
        // Lamina's key: not fetched yet, or rotated since. Refetched at most once a minute, so
        // forged deliveries cannot turn into a flood of key requests.
        if (slot.api.webhook_key_request()) {
            if (h.keys.may_fetch(clock::now())) {
                co_await fetch_signing_keys(slot);
                v = verify();
            } else if (h.keys.fetching()) {
                co_await h.key_ready.async_wait(use_tuple);
                v = verify();
            }
        }
    }
    if (stop_requested) co_return answer(503, "stopping");
    if (v == webhooks::verdict::no_key) {
        auto r = answer(503, "signing key unavailable");
        r.headers.emplace_back("Retry-After", "60");
        co_return r;
    }
    if (v != webhooks::verdict::ok) {
        ++h.refused;
        // Nothing of the request goes to the log but who sent it and why it was refused.
        log.warning("webhook.refused", {{"provider", slot.name()},
                                        {"reason", webhooks::to_string(v)},
                                        {"remote", remote},
                                        {"bytes", req.body.size()}});
        co_return answer(401, "signature refused");
    }

    auto ev = slot.api.parse_webhook(req.headers, req.body);
    if (!ev) {
        log.warning("webhook.unreadable", {{"provider", slot.name()}, {"bytes", req.body.size()}});
        co_return answer(400, "unreadable payload");
    }
    // A verified delivery: the provider's deliveries work.
    h.missed_in_a_row = 0;
    if (h.degraded) {
        h.degraded = false;
        log.notice("webhooks.restored", {{"provider", slot.name()}});
    }
    auto key = slot.name() + "/" + ev->event_id;
    if (webhook_seen.contains(key)) {
        ++h.duplicates;
        log.debug("webhook.duplicate", {{"provider", slot.name()}, {"event", ev->event_id}});
        co_return answer(200, "duplicate");
    }
    // Recorded durably before the 2xx: the job's state write is awaited (it shares a group fsync
    // with whatever else is queued); a crash before it leaves the provider retrying.
    std::string touched;
    bool recorded = apply_webhook(slot, *ev, touched);
    if (recorded && !touched.empty()) recorded = !co_await state_durable(touched);
    if (!recorded) {
        auto r = answer(503, "could not record the delivery");
        r.headers.emplace_back("Retry-After", "30");
        co_return r;
    }
    webhook_seen.insert(std::move(key));
    ++h.delivered;
    co_return answer(200, "accepted");
}

bool engine_impl::apply_webhook(provider_slot& slot, const providers::webhook_event& ev,
                                std::string& touched) {
    const auto& view = ev.run;
    if (view.phase == run_phase::unknown) return true;  // about something else: acknowledged
    auto& h = slot.hooks;
    // Which item: a run waiting for its delivery, else any item with this run id (a run tracked
    // by requests after a fallback still takes its delivery).
    std::string job_id;
    std::size_t index = 0;
    if (auto it = h.runs.find(view.run_id); it != h.runs.end()) {
        job_id = it->second.job_id;
        index = it->second.index;
    } else {
        for (const auto& [id, j] : jobs) {
            if (j->rec.provider != slot.name()) continue;
            for (const auto& item : j->rec.items)
                if (item.run_id == view.run_id && item.state == jobs::item_state::submitted) {
                    job_id = id;
                    index = item.index;
                }
            if (!job_id.empty()) break;
        }
    }
    auto* job = job_id.empty() ? nullptr : find(job_id);
    if (!job || index >= job->rec.items.size()) {
        // Not a run of ours (yet): a subscription may carry other systems' content, and a
        // delivery can overtake the submit response. Kept briefly in case it is the latter.
        if (providers::is_terminal(view.phase)) {
            if (h.early.size() >= max_early) h.early.erase(h.early.begin());
            h.early.insert_or_assign(view.run_id, view);
        }
        return true;
    }
    auto& item = job->rec.items[index];
    // Settled already, or a later state was seen: never moves a run backwards.
    if (item.state != jobs::item_state::submitted || item.outputs_known) return true;
    if (!providers::is_terminal(view.phase)) {
        log.debug("run.progress", {{"job", job_id},
                                   {"item", index},
                                   {"run", view.run_id},
                                   {"status", view.status},
                                   {"channel", "webhook"}});
        return true;
    }
    forget_webhook_run(slot, view.run_id);
    touched = job_id;
    log.info("run.finished", {{"job", job_id},
                              {"item", index},
                              {"run", view.run_id},
                              {"status", view.status},
                              {"channel", "webhook"}});
    providers::run_view v = view;
    bool input_sent = false;
    tracking.on_run_view(job_id, index, v, input_sent);
    job = find(job_id);
    if (!job) return true;
    auto& after = job->rec.items[index];
    // Finishing wrote the record unless the outputs need more requests (Layers' containers):
    // then the delivery itself is recorded, so a restart checks the run at once.
    if (after.state == jobs::item_state::submitted && !after.outputs_known) {
        after.run_status = v.status.empty() ? std::string(providers::to_string(v.phase)) : v.status;
        persist(*job);
    }
    return !job->state_dirty;
}

}  // namespace briefd::pipeline::detail
