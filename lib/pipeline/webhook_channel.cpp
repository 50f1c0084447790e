// The webhook channel (webhook_channel.hpp): the receiver, the grace checks of runs whose delivery
// is late, and the fallback to request-based tracking when deliveries stop.
#include "pipeline/webhook_channel.hpp"

#include "core/error.hpp"
#include "pipeline/detail/provider_slot.hpp"
#include "pipeline/intake.hpp"
#include "pipeline/run_tracking.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <stdexcept>
#include <system_error>
#include <variant>

namespace briefd::pipeline::detail {

namespace asio = boost::asio;
using providers::run_phase;

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

webhook_channel::webhook_channel(asio::any_io_executor ex, job_services& svc,
                                 const config::config& cfg, logger& log, run_tracking& tracking,
                                 webhook_port port)
    : ex_(std::move(ex)),
      svc_(svc),
      cfg_(cfg),
      log_(log),
      tracking_(tracking),
      port_(std::move(port)) {}

webhook_state& webhook_channel::state_of(const provider_slot& slot) {
    return *providers_.at(slot.name()).second;
}

webhook_channel::counts webhook_channel::counted(std::string_view provider) const {
    const auto* h = find_state(provider);
    if (!h) return {};
    return {h->delivered, h->duplicates, h->refused, h->grace_checks};
}

const webhook_state* webhook_channel::find_state(std::string_view provider) const {
    auto it = providers_.find(provider);
    return it == providers_.end() ? nullptr : it->second.second.get();
}

void webhook_channel::setup(const std::vector<provider_slot*>& slots) {
    for (auto* slot : slots)
        providers_.insert_or_assign(slot->name(),
                                    std::pair{slot, std::make_unique<webhook_state>(ex_)});
    if (!cfg_.webhooks.enabled) return;
    base_ = webhooks::base_path(cfg_.webhooks.public_url);
    for (auto& [name, entry] : providers_) {
        auto& [slot, state] = entry;
        auto& h = *state;
        if (!mode_allows_webhooks(slot->cfg.tracking.mode)) continue;
        if (slot->api.webhook_secret_required()) {
            auto s = config::load_webhook_secret(slot->cfg);
            if (auto* err = std::get_if<std::string>(&s)) throw std::runtime_error(*err);
            h.shared_secret = std::get<secret>(std::move(s));
            if (h.shared_secret.empty()) {
                log_.info("webhooks.not_used",
                          {{"provider", name}, {"reason", "no webhook_secret_file or _env"}});
                continue;
            }
        }
        h.offered = true;
        h.keys = webhooks::key_cache(cfg_.webhooks.key_refetch);
    }
}

bool webhook_channel::start() {
    if (!cfg_.webhooks.enabled) return true;
    auto ep = http::parse_listen_endpoint(cfg_.webhooks.listen);
    if (!ep) {
        log_.error("webhooks.listen_failed",
                   {{"listen", cfg_.webhooks.listen},
                    {"error", "not an IP address and port (e.g. 127.0.0.1:8787)"}});
        return false;
    }
    http::server_options o;
    o.max_body_bytes = cfg_.webhooks.max_body_bytes;
    // Providers give up after 15 s (Lamina): a delivery is read within a few seconds or dropped.
    o.read_timeout = std::chrono::seconds(10);
    server_ = std::make_unique<http::server>(
        ex_, [this](const http::server_request& r) { return on_request(r); }, o);
    try {
        server_->listen(*ep);
    } catch (const std::system_error& e) {
        log_.error("webhooks.listen_failed",
                   {{"listen", cfg_.webhooks.listen}, {"error", e.what()}});
        server_.reset();
        return false;
    }
    auto bound = server_->local_endpoint();
    std::string providers_on;
    for (auto& [name, entry] : providers_) {
        if (!entry.second->offered) continue;
        providers_on += (providers_on.empty() ? "" : ",") + name;
        if (entry.first->api.webhook_key_request())
            svc_.spawn(fetch_signing_keys(*entry.first), false);
    }
    log_.notice("webhooks.listening",
                {{"address", bound.address().to_string()},
                 {"port", bound.port()},
                 {"public_url", cfg_.webhooks.public_url},
                 {"providers", providers_on.empty() ? "none" : providers_on}});
    return true;
}

void webhook_channel::stop() {
    // Deliveries from now on are refused at the socket; the providers retry them, and the next
    // start (or a grace check) picks the runs up.
    if (server_) server_->stop();
    for (auto& [name, entry] : providers_) {
        entry.second->wake.cancel();
        entry.second->key_ready.cancel();
    }
}

bool webhook_channel::tracked_by_webhook(const provider_slot& slot, const brief::item& it) const {
    const auto* h = find_state(slot.name());
    return h && h->offered && !h->degraded && (slot.api.channels(it) & providers::channel_webhook);
}

std::string webhook_channel::url(const provider_slot& slot) const {
    const auto* h = find_state(slot.name());
    if (!h || !h->offered) return {};
    return cfg_.webhooks.public_url + "/" + slot.name();
}

std::string_view webhook_channel::mode(std::string_view provider) const {
    const auto* h = find_state(provider);
    if (!h || !h->offered) return {};
    return h->degraded ? "fallback" : "on";
}

std::size_t webhook_channel::waiting(std::string_view provider) const {
    const auto* h = find_state(provider);
    return h ? h->runs.size() : 0;
}

void webhook_channel::track(provider_slot& slot, job_ctx& job, std::size_t index) {
    auto& h = state_of(slot);
    const auto& item = job.rec.items[index];
    const auto grace = cfg_.webhooks.grace.count() > 0
                           ? cfg_.webhooks.grace
                           : slot.api.webhook_grace(svc_.item_of(job, index));
    webhook_run r{job.rec.job_id, index, clock::now() + grace, grace};
    // A terminal delivery recorded before a restart (run_status is set only then) whose outputs
    // were not yet known: check at once instead of waiting for a delivery that will not repeat.
    if (!item.run_status.empty()) r.check_at = clock::now();
    auto [pos, fresh] = h.runs.insert_or_assign(item.run_id, std::move(r));
    (void)fresh;
    log_.debug(
        "run.tracking",
        {{"job", job.rec.job_id}, {"item", index}, {"run", item.run_id}, {"channel", "webhook"}});
    if (auto e = h.early.find(item.run_id); e != h.early.end()) {
        // Its delivery came first. Applied after the caller (submission) is done with the job.
        providers::webhook_event ev{{}, std::move(e->second)};
        h.early.erase(e);
        asio::post(ex_, [this, s = &slot, ev = std::move(ev)] {
            if (!svc_.stopping()) {
                std::string touched;
                apply(*s, ev, touched);
            }
        });
    }
    if (!h.loop_running) {
        h.loop_running = true;
        svc_.spawn(grace_loop(slot), false);
    } else if (pos->second.check_at <= clock::now()) {
        h.wake.cancel();
    }
}

asio::awaitable<void> webhook_channel::grace_loop(provider_slot& slot) {
    auto& h = state_of(slot);
    while (!svc_.stopping()) {
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
            if (svc_.stopping()) break;
            if (!h.runs.count(run_id)) continue;  // a delivery finished it meanwhile
            ++h.grace_checks;
            auto res = co_await slot.host->async_call(slot.request(slot.api.status(run_id)),
                                                      scheduler::priority::track,
                                                      scheduler::retry_mode::idempotent);
            if (svc_.stopping() || res.ec == errc::shutting_down) co_return;
            std::optional<providers::run_view> v;
            if (!res.ec)
                v = slot.api.parse_status_response(res.resp.status, res.resp.headers,
                                                   res.resp.body);
            grace_checked(slot, run_id, res.ec, std::move(v));
        }
    }
    h.loop_running = false;
}

void webhook_channel::grace_checked(provider_slot& slot, const std::string& run_id,
                                    std::error_code ec, std::optional<providers::run_view> v) {
    auto& h = state_of(slot);
    auto it = h.runs.find(run_id);
    if (it == h.runs.end()) return;
    auto& r = it->second;
    const auto grace = r.grace;  // the next safety check
    if (ec == errc::not_found) {
        if (++r.not_found >= 2) {
            auto [job_id, index] = std::pair{r.job_id, r.index};
            forget(slot, run_id);
            if (auto* job = svc_.find(job_id))
                svc_.item_failed(*job, index,
                                 "run " + run_id + " no longer exists at the provider");
        } else {
            r.check_at = clock::now() + std::chrono::seconds(5);
        }
        return;
    }
    if (!v) {
        log_.info("webhooks.grace_check_failed",
                  {{"provider", slot.name()},
                   {"run", run_id},
                   {"error", ec ? ec.message() : "unreadable status"}});
        r.check_at = clock::now() + grace / 4;
        return;
    }
    r.not_found = 0;
    if (v->run_id.empty()) v->run_id = run_id;
    auto job_id = r.job_id;
    auto index = r.index;
    if (!providers::is_terminal(v->phase)) {
        r.check_at = clock::now() + grace;
        bool sent = r.input_sent;
        if (!tracking_.on_run_view(job_id, index, *v, sent))
            forget(slot, run_id);
        else if (auto again = h.runs.find(run_id); again != h.runs.end())
            again->second.input_sent = sent;
        return;
    }
    // Finished, and nobody told us: a lost delivery (one request spent, not the run).
    auto* job = svc_.find(job_id);
    bool recorded = job && !job->rec.items[index].run_status.empty();
    forget(slot, run_id);
    if (!recorded) {
        ++h.missed_in_a_row;
        log_.info(
            "webhooks.delivery_missing",
            {{"provider", slot.name()}, {"run", run_id}, {"missed_in_a_row", h.missed_in_a_row}});
    }
    bool sent = false;
    tracking_.on_run_view(job_id, index, *v, sent);
    if (h.missed_in_a_row >= cfg_.webhooks.fallback_after && !h.degraded) fall_back(slot);
}

void webhook_channel::forget(provider_slot& slot, const std::string& run_id) {
    if (!state_of(slot).runs.erase(run_id)) return;
    tracking_.run_ended(slot);  // its place of the concurrent-jobs gate (Layers) is free again
}

void webhook_channel::fall_back(provider_slot& slot) {
    auto& h = state_of(slot);
    h.degraded = true;
    log_.warning("webhooks.fallback",
                 {{"provider", slot.name()},
                  {"missed_in_a_row", h.missed_in_a_row},
                  {"runs", h.runs.size()},
                  {"action", "request-based tracking until a delivery verifies"}});
    auto runs = std::move(h.runs);
    h.runs.clear();
    for (auto& [run_id, r] : runs) {
        tracking_.run_ended(slot);  // start() counts it again, and takes its gate place again
        if (auto* job = svc_.find(r.job_id)) tracking_.start(*job, r.index);
    }
}

asio::awaitable<void> webhook_channel::fetch_signing_keys(provider_slot& slot) {
    auto call = slot.api.webhook_key_request();
    if (!call) co_return;
    auto& h = state_of(slot);
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
        if (!svc_.stopping())
            log_.warning("webhooks.key_fetch_failed", {{"provider", slot.name()}, {"error", why}});
    } else {
        std::string kids;
        for (const auto& k : keys) kids += (kids.empty() ? "" : ",") + k.kid();
        log_.info("webhooks.key_fetched",
                  {{"provider", slot.name()}, {"keys", keys.size()}, {"kid", kids}});
    }
    h.keys.fetch_done(std::move(keys));
    h.key_ready.cancel();
}

asio::awaitable<http::server_response> webhook_channel::on_request(
    const http::server_request& req) {
    const auto remote = req.remote.address().to_string();
    auto name = webhooks::route(base_, req.target);
    auto pit = name ? providers_.find(*name) : providers_.end();
    if (pit == providers_.end() || !pit->second.second->offered) co_return answer(404, "not found");
    if (req.method != boost::beast::http::verb::post) {
        auto r = answer(405, "method not allowed");
        r.headers.emplace_back("Allow", "POST");
        co_return r;
    }
    if (req.body.size() > cfg_.webhooks.max_body_bytes) co_return answer(413, "too large");
    auto& slot = *pit->second.first;
    auto& h = *pit->second.second;
    if (svc_.stopping()) {
        auto r = answer(503, "stopping");
        r.headers.emplace_back("Retry-After", "30");
        co_return r;
    }

    auto verify = [&] {
        return webhooks::verify_delivery(slot.name(), req.headers, req.body,
                                         {h.shared_secret.reveal(), &h.keys.keys()}, unix_now(),
                                         cfg_.webhooks.tolerance);
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
    if (svc_.stopping()) co_return answer(503, "stopping");
    if (v == webhooks::verdict::no_key) {
        auto r = answer(503, "signing key unavailable");
        r.headers.emplace_back("Retry-After", "60");
        co_return r;
    }
    if (v != webhooks::verdict::ok) {
        ++h.refused;
        // Nothing of the request goes to the log but who sent it and why it was refused.
        log_.warning("webhook.refused", {{"provider", slot.name()},
                                         {"reason", webhooks::to_string(v)},
                                         {"remote", remote},
                                         {"bytes", req.body.size()}});
        co_return answer(401, "signature refused");
    }

    // Verified on the bytes as sent; read with the key redacted, like every API answer.
    std::string body = req.body;
    slot.client.redact(body);
    auto ev = slot.api.parse_webhook(req.headers, body);
    if (!ev) {
        log_.warning("webhook.unreadable", {{"provider", slot.name()}, {"bytes", req.body.size()}});
        co_return answer(400, "unreadable payload");
    }
    // A verified delivery: the provider's deliveries work.
    h.missed_in_a_row = 0;
    if (h.degraded) {
        h.degraded = false;
        log_.notice("webhooks.restored", {{"provider", slot.name()}});
    }
    auto key = slot.name() + "/" + ev->event_id;
    if (seen_.contains(key)) {
        ++h.duplicates;
        log_.debug("webhook.duplicate", {{"provider", slot.name()}, {"event", ev->event_id}});
        co_return answer(200, "duplicate");
    }
    // Recorded durably before the 2xx: the job's state write is awaited (it shares a group fsync
    // with whatever else is queued); a crash before it leaves the provider retrying.
    std::string touched;
    bool recorded = apply(slot, *ev, touched);
    if (recorded && !touched.empty()) recorded = !co_await svc_.state_durable(touched);
    if (!recorded) {
        auto r = answer(503, "could not record the delivery");
        r.headers.emplace_back("Retry-After", "30");
        co_return r;
    }
    seen_.insert(std::move(key));
    ++h.delivered;
    co_return answer(200, "accepted");
}

bool webhook_channel::apply(provider_slot& slot, const providers::webhook_event& ev,
                            std::string& touched) {
    const auto& view = ev.run;
    if (view.phase == run_phase::unknown) return true;  // about something else: acknowledged
    auto& h = state_of(slot);
    // Which item: a run waiting for its delivery, else any item with this run id (a run tracked
    // by requests after a fallback still takes its delivery).
    std::string job_id;
    std::size_t index = 0;
    if (auto it = h.runs.find(view.run_id); it != h.runs.end()) {
        job_id = it->second.job_id;
        index = it->second.index;
    } else if (auto found = port_.find_run(slot.name(), view.run_id)) {
        std::tie(job_id, index) = *found;
    }
    auto* job = job_id.empty() ? nullptr : svc_.find(job_id);
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
        log_.debug("run.progress", {{"job", job_id},
                                    {"item", index},
                                    {"run", view.run_id},
                                    {"status", view.status},
                                    {"channel", "webhook"}});
        return true;
    }
    forget(slot, view.run_id);
    touched = job_id;
    log_.info("run.finished", {{"job", job_id},
                               {"item", index},
                               {"run", view.run_id},
                               {"status", view.status},
                               {"channel", "webhook"}});
    providers::run_view v = view;
    bool input_sent = false;
    tracking_.on_run_view(job_id, index, v, input_sent);
    job = svc_.find(job_id);
    if (!job) return true;
    auto& after = job->rec.items[index];
    // Finishing wrote the record unless the outputs need more requests (Layers' containers):
    // then the delivery itself is recorded, so a restart checks the run at once.
    if (after.state == jobs::item_state::submitted && !after.outputs_known) {
        after.run_status = v.status.empty() ? std::string(providers::to_string(v.phase)) : v.status;
        svc_.persist(*job);
    }
    return !job->state_dirty;
}

}  // namespace briefd::pipeline::detail
