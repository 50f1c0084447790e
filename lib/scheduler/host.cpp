#include "scheduler/host.hpp"

#include "ratelimit/headers.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace briefd::scheduler {

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// Weighted round robin over the classes: tracking gets two turns for each submission turn, so
// status of work already paid for is never starved by new work, and new work still moves.
constexpr std::array<priority, 4> rr_order{priority::probe, priority::track, priority::submit,
                                           priority::track};

// Errors that happened before any byte of the request left: nothing can have been created.
bool failed_before_sending(std::error_code ec) {
    return ec == errc::connect_timeout || ec == errc::resolve_failed ||
           ec == errc::handshake_timeout || ec == errc::tls_error || ec == errc::proxy_refused ||
           ec == errc::proxy_auth_required ||
           ec == std::errc::connection_refused ||
           ec == std::error_code(ECONNREFUSED, std::system_category());
}
}  // namespace

struct host::waiter {
    explicit waiter(asio::any_io_executor ex) : timer(ex) {
        timer.expires_at(clock::time_point::max());
    }
    asio::steady_timer timer;
    bool granted = false;
};

host::host(asio::any_io_executor ex, http::client& client, logger& log, std::string name,
           host_options opts, error_classifier classify, std::uint64_t seed)
    : ex_(ex),
      client_(client),
      log_(log),
      name_(std::move(name)),
      opts_(std::move(opts)),
      classify_(std::move(classify)),
      budgets_({opts_.requests, opts_.window, opts_.per_day}, opts_.classes),
      rng_(seed),
      gate_(opts_.max_concurrent_jobs),
      wake_(ex),
      probe_wait_(ex) {
    wake_.expires_at(clock::time_point::max());
    asio::co_spawn(ex_, dispatch_loop(), asio::detached);
}

void host::wake_dispatcher() { wake_.cancel(); }

std::size_t host::waiting() const {
    std::size_t n = 0;
    for (auto& per : queues_)
        for (auto& q : per) n += q.size();
    return n;
}

std::size_t host::budget_available() const { return budgets_.available(0, clock::now()); }

std::size_t host::budget_available(std::string_view cls) const {
    return budgets_.available(budgets_.index_of(cls), clock::now());
}

std::size_t host::bucket_of(const http::request& req) const {
    return opts_.bucket_of ? budgets_.index_of(opts_.bucket_of(req)) : 0;
}

void host::set_limit(std::size_t requests, clock::duration window, std::size_t per_day) {
    opts_.requests = requests;
    opts_.window = window;
    opts_.per_day = per_day;
    budgets_.set_limits({requests, window, per_day}, opts_.classes);
    wake_dispatcher();
}

void host::set_classes(std::map<std::string, bucket_limits, std::less<>> classes) {
    opts_.classes = std::move(classes);
    budgets_.set_limits({opts_.requests, opts_.window, opts_.per_day}, opts_.classes);
    wake_dispatcher();
}

void host::set_max_concurrent_jobs(std::size_t n) {
    opts_.max_concurrent_jobs = n;
    gate_.set_cap(n);
    wake_job_waiters();
}

asio::awaitable<void> host::dispatch_loop() {
    while (!stopped_) {
        const auto now = clock::now();
        bool any = false, granted = false;
        auto next = clock::time_point::max();
        // The weighted round robin over priorities; within one, the buckets in turn, skipping a
        // bucket that has no room (a paused class never holds back the others).
        for (std::size_t tries = 0; tries < rr_order.size() && !granted; ++tries) {
            auto cls = static_cast<std::size_t>(rr_order[rr_ % rr_order.size()]);
            ++rr_;
            // While blocked on an account problem only the probe may talk to the host.
            if (blocked() && cls != static_cast<std::size_t>(priority::probe)) continue;
            auto& per = queues_[cls];
            for (std::size_t k = 0; k < per.size(); ++k) {
                std::size_t b = (bucket_rr_[cls] + k) % per.size();
                if (per[b].empty()) continue;
                any = true;
                auto at = budgets_.earliest(b, now);
                if (at > now || !budgets_.try_reserve(b, now)) {
                    next = std::min(next, std::max(at, now + std::chrono::milliseconds(1)));
                    continue;
                }
                waiter* w = per[b].front();
                per[b].pop_front();
                w->granted = true;
                w->timer.cancel();
                ++stats_.sent;
                bucket_rr_[cls] = b + 1;
                granted = true;
                break;
            }
        }
        if (granted) continue;
        wake_.expires_at(any ? next : clock::time_point::max());
        co_await wake_.async_wait(use_tuple);
    }
}

asio::awaitable<std::error_code> host::async_acquire(priority p, std::string_view cls) {
    auto b = budgets_.index_of(cls);
    auto ec = co_await reserve_slot(p, b);
    if (!ec) mark_sent(b);  // the caller sends right away
    co_return ec;
}

void host::mark_sent(std::size_t bucket) {
    budgets_.sent(bucket, clock::now());
    wake_dispatcher();  // a full set of reservations may have been holding the dispatcher
}

void host::unreserve(std::size_t bucket) {
    budgets_.unreserve(bucket);
    wake_dispatcher();
}

asio::awaitable<std::error_code> host::reserve_slot(priority p, std::size_t bucket) {
    if (stopped_) co_return errc::shutting_down;
    waiter w(ex_);
    auto& per = queues_[static_cast<std::size_t>(p)];
    if (per.size() < budgets_.size()) per.resize(budgets_.size());
    auto& q = per[bucket];
    q.push_back(&w);
    wake_dispatcher();
    co_await w.timer.async_wait(use_tuple);
    if (!w.granted) {
        // Woken without a slot: stop() or a cancelled coroutine. Leave the queue cleanly.
        std::erase(queues_[static_cast<std::size_t>(p)][bucket], &w);
        co_return errc::shutting_down;
    }
    co_return std::error_code{};
}

void host::wake_job_waiters() {
    for (auto* w : job_waiters_) w->timer.cancel();
}

asio::awaitable<std::error_code> host::async_job_place() {
    if (!gate_.enabled()) co_return std::error_code{};
    waiter w(ex_);
    job_waiters_.push_back(&w);
    for (;;) {
        if (stopped_) break;
        auto now = clock::now();
        // First come, first served: only the waiters at the front may take the room there is.
        if (gate_.can_start(now) && job_waiters_.front() == &w) {
            gate_.take();
            job_waiters_.pop_front();
            wake_job_waiters();  // the next in line may have room too
            co_return std::error_code{};
        }
        w.timer.expires_at(gate_.next_chance(now));
        co_await w.timer.async_wait(use_tuple);
    }
    std::erase(job_waiters_, &w);
    co_return errc::shutting_down;
}

void host::job_place_release() {
    if (!gate_.enabled()) return;
    gate_.give_back();
    wake_job_waiters();
}

void host::run_tracked() {
    if (gate_.enabled()) gate_.take();
}

void host::run_ended() {
    if (!gate_.enabled()) return;
    gate_.finished();
    wake_job_waiters();
}

void host::stop() {
    stopped_ = true;
    for (auto& per : queues_)
        for (auto& q : per) {
            for (auto* w : q) w->timer.cancel();  // not granted: they complete with shutting_down
            q.clear();
        }
    wake_job_waiters();
    wake_dispatcher();
    probe_wait_.cancel();  // a blocked host's probe pause must not keep the event loop alive
}

clock::duration host::jitter(clock::duration max) {
    if (max <= clock::duration::zero()) return clock::duration::zero();
    std::uniform_int_distribution<clock::rep> d(0, max.count());
    return clock::duration(d(rng_));
}

asio::awaitable<void> host::sleep(clock::duration d) {
    asio::steady_timer t(ex_);
    t.expires_after(d);
    co_await t.async_wait(use_tuple);
}

void host::block(std::string reason) {
    if (blocked_reason_ == reason) return;
    bool was_blocked = blocked();
    blocked_reason_ = std::move(reason);
    log_.error("host.blocked", {{"host", name_}, {"reason", blocked_reason_},
                                {"action", "submission stopped; briefs stay queued; fix the key and reload (SIGHUP)"}});
    if (!was_blocked && !probe_running_) {
        probe_running_ = true;
        asio::co_spawn(ex_, probe_loop(), asio::detached);
    }
}

void host::resume() {
    if (!blocked()) return;
    log_.notice("host.resumed", {{"host", name_}});
    blocked_reason_.clear();
    wake_dispatcher();
}

asio::awaitable<void> host::probe_loop() {
    while (blocked() && !stopped_) {
        probe_wait_.expires_after(opts_.probe_interval);
        co_await probe_wait_.async_wait(use_tuple);
        if (!blocked() || stopped_) break;
        auto b = bucket_of(opts_.probe);
        if (co_await async_acquire(priority::probe, budgets_.name(b))) break;
        auto [ec, resp] = co_await client_.async_request(opts_.probe);
        if (!ec) {
            auto info = ratelimit::read_rate_headers(resp.headers, std::chrono::system_clock::now(), resp.body);
            budgets_.observe(response_bucket(b, resp.headers), info, clock::now());
            if (resp.status / 100 == 2) {
                log_.notice("host.probe_ok", {{"host", name_}});
                resume();
            } else {
                log_.warning("host.probe_failed", {{"host", name_}, {"status", resp.status}});
            }
        }
    }
    probe_running_ = false;
}

std::size_t host::response_bucket(std::size_t request_bucket,
                                  const boost::beast::http::fields& headers) const {
    std::string_view named;
    if (!opts_.class_header.empty())
        if (auto it = headers.find(opts_.class_header); it != headers.end()) named = it->value();
    return budgets_.response_bucket(named, request_bucket);
}

std::error_code host::observe(unsigned status, const boost::beast::http::fields& headers,
                              std::string_view body) {
    return observe_in(0, status, headers, body);
}

std::error_code host::observe_in(std::size_t bucket, unsigned status,
                                 const boost::beast::http::fields& headers, std::string_view body) {
    auto now = clock::now();
    auto info = ratelimit::read_rate_headers(headers, std::chrono::system_clock::now(), body);
    const auto named = response_bucket(bucket, headers);
    if (status == 429) {
        ++stats_.responses_429;
        // Deterministic pause from the limiter, plus a little positive jitter so many clients
        // don't all come back at the same instant. The bucket the server names pauses, and the
        // request's own too if we had classed it differently (it must not come straight back).
        auto fallback = ratelimit::backoff_delay(opts_.backoff, 3, rng_) + std::chrono::milliseconds(250);
        auto until = budgets_.on_429(named, info, now, fallback);
        if (named != bucket) until = std::max(until, budgets_.on_429(bucket, info, now, fallback));
        paused_until_ = std::max(paused_until_, until);
        log_.warning("host.rate_limited",
                     {{"host", name_},
                      {"class", budgets_.name(named).empty() ? "default" : budgets_.name(named)},
                      {"pause_ms", std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count()}});
        wake_dispatcher();
        return errc::rate_limited;
    }
    budgets_.observe(named, info, now);
    if (status / 100 == 2) return {};
    diagnostics diag;
    auto ec = classify_(status, body, diag);
    if (ec == errc::unauthorized || ec == errc::payment_required)
        block(std::string(ec.message()) + (diag.provider_code.empty() ? "" : " " + diag.provider_code));
    return ec;
}

asio::awaitable<call_result> host::async_call(http::request req, priority p, retry_mode mode,
                                              std::function<asio::awaitable<bool>()> before_send,
                                              bool starts_job) {
    unsigned attempts = 0;
    const auto bucket = bucket_of(req);
    for (;;) {
        // Reaching the top of the loop means no earlier attempt is on the wire and none created
        // anything: the caller may treat a shutdown here as "not sent".
        if (auto ec = co_await reserve_slot(p, bucket)) co_return call_result{ec, {}, {}, true};
        if (before_send && !co_await before_send()) {
            unreserve(bucket);
            co_return call_result{std::make_error_code(std::errc::io_error), {}, {}};
        }
        // Stamped at departure, not at the grant: the intent write above (and a busy loop before
        // it) sit in between, and the server counts the request when it arrives.
        mark_sent(bucket);
        const auto departed = clock::now();
        ++in_flight_;
        auto [ec, resp] = co_await client_.async_request(req);
        --in_flight_;
        if (observer_) observer_(p, ec ? 0u : resp.status, clock::now() - departed);
        if (ec) {
            if (ec == std::error_code(make_error_code(boost::asio::error::operation_aborted)) || stopped_)
                co_return call_result{errc::shutting_down, {}, {}};
            if (mode == retry_mode::submission && !failed_before_sending(ec)) {
                log_.warning("request.uncertain", {{"host", name_}, {"target", req.url.path()},
                                                   {"error", ec.message()}});
                co_return call_result{errc::outcome_uncertain, {}, {}};
            }
            // A submission reaching here failed before anything left (the others returned
            // outcome_uncertain above): nothing can have been created.
            bool nothing = mode == retry_mode::submission;
            if (!is_retryable(ec) && !failed_before_sending(ec)) co_return call_result{ec, {}, {}, nothing};
            if (++attempts >= opts_.max_attempts) {
                log_.warning("host.unreachable", {{"host", name_}, {"target", req.url.path()},
                                                  {"error", ec.message()}, {"attempts", attempts}});
                co_return call_result{ec, {}, {}, nothing};
            }
            ++stats_.retries;
            auto d = ratelimit::backoff_delay(opts_.backoff, attempts, rng_);
            log_.info("request.retry", {{"host", name_}, {"target", req.url.path()},
                                        {"error", ec.message()}, {"attempt", attempts},
                                        {"delay_ms", std::chrono::duration_cast<std::chrono::milliseconds>(d).count()}});
            co_await sleep(d);
            continue;
        }

        if (starts_job && gate_.enabled() && resp.status == 429 && opts_.concurrency_refusal &&
            opts_.concurrency_refusal(resp.status, resp.body)) {
            // Not a rate limit: the organisation runs as many jobs as it may. No bucket pauses;
            // this start waits, holding nothing, until one of our jobs ends.
            auto now = clock::now();
            auto info = ratelimit::read_rate_headers(resp.headers, std::chrono::system_clock::now(), resp.body);
            budgets_.observe(response_bucket(bucket, resp.headers), ratelimit::rate_info{info.limit, info.remaining, info.reset, {}, info.window}, now);
            ++stats_.concurrency_refusals;
            gate_.refused(now, info.retry_after.value_or(std::chrono::seconds(5)));
            log_.warning("host.jobs_cap_reached", {{"host", name_},
                                                   {"running", gate_.running()},
                                                   {"cap", gate_.effective_cap(now)},
                                                   {"action", "job starts wait until a job ends"}});
            wake_job_waiters();
            if (co_await async_job_place()) co_return call_result{errc::shutting_down, {}, {}, true};
            continue;
        }
        auto cls = observe_in(bucket, resp.status, resp.headers, resp.body);
        if (!cls) co_return call_result{{}, std::move(resp), {}};
        if (cls == errc::rate_limited) continue;  // the host is paused; our turn comes again

        diagnostics diag;
        cls = classify_(resp.status, resp.body, diag);
        if (cls == errc::forbidden && !blocked()) {
            // A 403 may concern one app or the whole workspace: let the probe tell them apart.
            if (co_await async_acquire(priority::probe, budgets_.name(bucket_of(opts_.probe))))
                co_return call_result{errc::shutting_down, {}, {}, true};
            auto [pec, presp] = co_await client_.async_request(opts_.probe);
            if (!pec && (presp.status == 401 || presp.status == 403))
                block("access denied (" + std::to_string(presp.status) + ") for the whole key");
        }
        if (blocked()) continue;  // wait in the queue until the key works again; nothing fails
        if (cls == errc::server_error) {
            ++stats_.server_errors;
            if (++attempts < opts_.max_attempts) {
                ++stats_.retries;
                auto d = ratelimit::backoff_delay(opts_.backoff, attempts, rng_);
                log_.info("request.retry", {{"host", name_}, {"target", req.url.path()},
                                            {"status", resp.status}, {"attempt", attempts},
                                            {"delay_ms", std::chrono::duration_cast<std::chrono::milliseconds>(d).count()}});
                co_await sleep(d);
                continue;
            }
        }
        co_return call_result{cls, std::move(resp), std::move(diag)};
    }
}

}  // namespace briefd::scheduler
