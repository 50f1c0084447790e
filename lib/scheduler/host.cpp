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
// The server counts a request when it arrives, we when we send it; arrival delays differ from one
// request to the next, so the window we enforce is a little longer than the server's.
clock::duration padded(clock::duration window) {
    return window + std::max<clock::duration>(std::chrono::milliseconds(20), window / 200);
}

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
      limiter_(opts_.requests, padded(opts_.window)),
      rng_(seed),
      wake_(ex),
      probe_wait_(ex) {
    if (opts_.per_day) day_limiter_.emplace(opts_.per_day, std::chrono::hours(24));
    wake_.expires_at(clock::time_point::max());
    asio::co_spawn(ex_, dispatch_loop(), asio::detached);
}

void host::wake_dispatcher() { wake_.cancel(); }

std::size_t host::waiting() const {
    std::size_t n = 0;
    for (auto& q : queues_) n += q.size();
    return n;
}

std::size_t host::budget_available() const {
    auto now = clock::now();
    auto n = limiter_.available(now);
    return day_limiter_ ? std::min(n, day_limiter_->available(now)) : n;
}

void host::set_limit(std::size_t requests, clock::duration window, std::size_t per_day) {
    opts_.requests = requests;
    opts_.window = window;
    limiter_.set_limit(requests, padded(window));
    if (!per_day) day_limiter_.reset();
    else if (day_limiter_) day_limiter_->set_limit(per_day, std::chrono::hours(24));
    else day_limiter_.emplace(per_day, std::chrono::hours(24));
    opts_.per_day = per_day;
    wake_dispatcher();
}

asio::awaitable<void> host::dispatch_loop() {
    while (!stopped_) {
        bool any = false;
        for (std::size_t c = 0; c < queues_.size(); ++c) {
            // While blocked on an account problem only the probe may talk to the host.
            if (blocked() && c != static_cast<std::size_t>(priority::probe)) continue;
            any = any || !queues_[c].empty();
        }
        if (!any) {
            wake_.expires_at(clock::time_point::max());
            co_await wake_.async_wait(use_tuple);
            continue;
        }
        auto now = clock::now();
        auto at = limiter_.earliest(now);
        if (day_limiter_) at = std::max(at, day_limiter_->earliest(now));
        if (at > now) {
            wake_.expires_at(at);
            co_await wake_.async_wait(use_tuple);
            continue;
        }
        // Pick the next class with a waiter in the weighted round robin.
        for (std::size_t tries = 0; tries < rr_order.size(); ++tries) {
            auto cls = static_cast<std::size_t>(rr_order[rr_ % rr_order.size()]);
            ++rr_;
            if (queues_[cls].empty()) continue;
            if (blocked() && cls != static_cast<std::size_t>(priority::probe)) continue;
            if (!limiter_.try_reserve(now)) break;
            if (day_limiter_) day_limiter_->try_acquire(now);  // earliest() said it has room
            waiter* w = queues_[cls].front();
            queues_[cls].pop_front();
            w->granted = true;
            w->timer.cancel();
            ++stats_.sent;
            break;
        }
    }
}

asio::awaitable<std::error_code> host::async_acquire(priority p) {
    auto ec = co_await reserve_slot(p);
    if (!ec) mark_sent();  // the caller sends right away
    co_return ec;
}

void host::mark_sent() {
    limiter_.sent(clock::now());
    wake_dispatcher();  // a full set of reservations may have been holding the dispatcher
}

void host::unreserve() {
    limiter_.unreserve();
    wake_dispatcher();
}

asio::awaitable<std::error_code> host::reserve_slot(priority p) {
    if (stopped_) co_return errc::shutting_down;
    waiter w(ex_);
    auto& q = queues_[static_cast<std::size_t>(p)];
    q.push_back(&w);
    wake_dispatcher();
    co_await w.timer.async_wait(use_tuple);
    if (!w.granted) {
        // Woken without a slot: stop() or a cancelled coroutine. Leave the queue cleanly.
        std::erase(q, &w);
        co_return errc::shutting_down;
    }
    co_return std::error_code{};
}

void host::stop() {
    stopped_ = true;
    for (auto& q : queues_) {
        for (auto* w : q) w->timer.cancel();  // not granted: they complete with shutting_down
        q.clear();
    }
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
        if (co_await async_acquire(priority::probe)) break;
        auto [ec, resp] = co_await client_.async_request(opts_.probe);
        if (!ec) {
            auto info = ratelimit::read_rate_headers(resp.headers, std::chrono::system_clock::now(), resp.body);
            limiter_.observe(info, clock::now());
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

std::error_code host::observe(unsigned status, const boost::beast::http::fields& headers,
                              std::string_view body) {
    auto now = clock::now();
    auto info = ratelimit::read_rate_headers(headers, std::chrono::system_clock::now(), body);
    if (status == 429) {
        ++stats_.responses_429;
        // Deterministic pause from the limiter, plus a little positive jitter so many clients
        // don't all come back at the same instant.
        auto fallback = ratelimit::backoff_delay(opts_.backoff, 3, rng_);
        limiter_.on_429(info, now, fallback + std::chrono::milliseconds(250));
        log_.warning("host.rate_limited",
                     {{"host", name_},
                      {"pause_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                       limiter_.paused_until() - now).count()}});
        wake_dispatcher();
        return errc::rate_limited;
    }
    limiter_.observe(info, now);
    if (status / 100 == 2) return {};
    diagnostics diag;
    auto ec = classify_(status, body, diag);
    if (ec == errc::unauthorized || ec == errc::payment_required)
        block(std::string(ec.message()) + (diag.provider_code.empty() ? "" : " " + diag.provider_code));
    return ec;
}

asio::awaitable<call_result> host::async_call(http::request req, priority p, retry_mode mode,
                                              std::function<bool()> before_send) {
    unsigned attempts = 0;
    for (;;) {
        // Reaching the top of the loop means no earlier attempt is on the wire and none created
        // anything: the caller may treat a shutdown here as "not sent".
        if (auto ec = co_await reserve_slot(p)) co_return call_result{ec, {}, {}, true};
        if (before_send && !before_send()) {
            unreserve();
            co_return call_result{std::make_error_code(std::errc::io_error), {}, {}};
        }
        // Stamped at departure, not at the grant: the intent write above (and a busy loop before
        // it) sit in between, and the server counts the request when it arrives.
        mark_sent();
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

        auto cls = observe(resp.status, resp.headers, resp.body);
        if (!cls) co_return call_result{{}, std::move(resp), {}};
        if (cls == errc::rate_limited) continue;  // the host is paused; our turn comes again

        diagnostics diag;
        cls = classify_(resp.status, resp.body, diag);
        if (cls == errc::forbidden && !blocked()) {
            // A 403 may concern one app or the whole workspace: let the probe tell them apart.
            if (co_await async_acquire(priority::probe))
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
