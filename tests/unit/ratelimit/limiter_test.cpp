// The host limiter on a fake clock: N per any window W, learning from responses, 429 pauses.
#include "ratelimit/limiter.hpp"

#include <algorithm>
#include <deque>
#include <limits>
#include <map>
#include <random>

using briefd::ratelimit::limiter;
using briefd::ratelimit::rate_info;
using namespace std::chrono_literals;
using clock_type = limiter::clock;

namespace {

const clock_type::time_point t0 = clock_type::time_point(1000h);  // an arbitrary fake-clock origin

// Largest number of acquisitions in any half-open window [x, x + w).
std::size_t max_in_any_window(const std::vector<clock_type::time_point>& sends,
                              clock_type::duration w) {
    std::size_t best = 0;
    std::size_t lo = 0;
    for (std::size_t hi = 0; hi < sends.size(); ++hi) {
        while (sends[hi] - sends[lo] >= w) {
            ++lo;
        }
        best = std::max(best, hi - lo + 1);
    }
    return best;
}

}  // namespace

TEST_CASE("N requests go at once, the next waits a full window after the first") {
    limiter l(3, 10s);
    CHECK(l.available(t0) == 3);
    CHECK(l.try_acquire(t0));
    CHECK(l.try_acquire(t0 + 1s));
    CHECK(l.try_acquire(t0 + 2s));
    CHECK(l.available(t0 + 2s) == 0);
    CHECK_FALSE(l.try_acquire(t0 + 3s));
    CHECK(l.earliest(t0 + 3s) == t0 + 10s);
    CHECK_FALSE(l.try_acquire(t0 + 10s - 1ns));
    CHECK(l.try_acquire(t0 + 10s));
    CHECK(l.earliest(t0 + 10s) == t0 + 11s);
    CHECK(l.available(t0 + 12s) == 2);
}

TEST_CASE("earliest is never before now and agrees with try_acquire") {
    limiter l(2, 1s);
    CHECK(l.earliest(t0) == t0);
    l.try_acquire(t0);
    l.try_acquire(t0);
    const auto e = l.earliest(t0 + 100ms);
    CHECK(e == t0 + 1s);
    CHECK(l.earliest(t0 + 5s) == t0 + 5s);
    CHECK_FALSE(l.try_acquire(e - 1ns));
    CHECK(l.try_acquire(e));
}

TEST_CASE("no 2N burst across a window edge") {
    limiter l(10, 60s);
    std::vector<clock_type::time_point> sends;
    // Idle, then a full burst just before what a fixed window would call its edge, then another.
    for (auto t = t0 + 59s; t < t0 + 61s; t += 10ms) {
        if (l.try_acquire(t)) {
            sends.push_back(t);
        }
    }
    CHECK(sends.size() == 10);
    CHECK(max_in_any_window(sends, 60s) <= 10);
}

TEST_CASE("the safety factor keeps a margin but never drops to zero") {
    limiter l(10, 60s, 0.9);
    CHECK(l.available(t0) == 9);
    limiter tiny(1, 60s, 0.5);
    CHECK(tiny.available(t0) == 1);
    limiter silly(10, 60s, 7.0);  // more than 1 would be more permissive than configured
    CHECK(silly.available(t0) == 10);
    limiter zero(0, 0s);
    CHECK(zero.available(t0) == 1);
    CHECK(zero.try_acquire(t0));
    CHECK(zero.earliest(t0) == t0 + 1s);
}

TEST_CASE("observe: Remaining 0 blocks until the server's reset") {
    limiter l(100, 60s);
    rate_info info;
    info.remaining = 0;
    info.reset = 30s;
    l.observe(info, t0);
    CHECK(l.available(t0) == 0);
    CHECK(l.paused_until() == t0 + 30s);
    CHECK(l.earliest(t0) >= t0 + 30s);
    CHECK_FALSE(l.try_acquire(t0 + 29s));
}

TEST_CASE("observe: Remaining 0 without a reset still fills the window") {
    limiter l(5, 60s);
    rate_info info;
    info.remaining = 0;
    l.observe(info, t0);
    CHECK(l.available(t0) == 0);
    CHECK(l.earliest(t0) == t0 + 60s);
}

TEST_CASE("observe: a lower server Remaining is trusted, a higher one is not") {
    limiter l(10, 60s);
    REQUIRE(l.try_acquire(t0));
    REQUIRE(l.try_acquire(t0));
    CHECK(l.available(t0) == 8);

    rate_info higher;
    higher.remaining = 9;  // e.g. the server had not yet counted our second request
    l.observe(higher, t0 + 1s);
    CHECK(l.available(t0 + 1s) == 8);

    rate_info lower;
    lower.remaining = 3;  // someone else on this IP is using the quota
    l.observe(lower, t0 + 1s);
    CHECK(l.available(t0 + 1s) == 3);
    // The unseen sends (recorded at t0 + 1 s) age out like real ones, a second after ours.
    CHECK(l.available(t0 + 60s) == 5);
    CHECK(l.available(t0 + 61s) == 10);
}

TEST_CASE("observe: a lower server limit is adopted, a higher one is not") {
    limiter l(100, 60s);
    rate_info lower;
    lower.limit = 20;
    l.observe(lower, t0);
    CHECK(l.available(t0) == 20);

    rate_info higher;
    higher.limit = 500;
    l.observe(higher, t0);
    CHECK(l.available(t0) == 100);
}

TEST_CASE("observe: a server limit with its own window is enforced on that window") {
    limiter l(100, 60s);
    rate_info info;
    info.limit = 5;
    info.window = 1s;  // 5 per second: looser per minute than ours only in bursts
    l.observe(info, t0);
    std::vector<clock_type::time_point> sends;
    for (auto t = t0; t < t0 + 120s; t += 10ms) {
        if (l.try_acquire(t)) {
            sends.push_back(t);
        }
    }
    CHECK(max_in_any_window(sends, 1s) <= 5);
    CHECK(max_in_any_window(sends, 60s) <= 100);
    CHECK(sends.size() == 200);  // still limited by our own 100/min over two minutes
}

TEST_CASE("observe: a daily server window is not paced for") {
    limiter l(100, 60s);
    rate_info info;
    info.limit = 50;
    info.window = 86400s;
    l.observe(info, t0);
    CHECK(l.available(t0) == 100);
}

TEST_CASE("observe with nonsense values changes nothing") {
    limiter l(10, 60s);
    rate_info info;
    info.limit = 0;
    info.remaining = -3;
    l.observe(info, t0);
    CHECK(l.available(t0) == 10);
    l.observe(rate_info{}, t0);
    CHECK(l.available(t0) == 10);
}

TEST_CASE("on_429 pauses for Retry-After, else Reset, else the fallback") {
    rate_info with_retry;
    with_retry.retry_after = 30s;
    with_retry.reset = 50s;
    limiter a(100, 60s);
    a.on_429(with_retry, t0, 10s);
    CHECK(a.paused_until() == t0 + 30s);
    CHECK(a.available(t0 + 29s) == 0);
    CHECK(a.earliest(t0) == t0 + 30s);
    CHECK(a.try_acquire(t0 + 30s));

    rate_info with_reset;
    with_reset.reset = 20s;
    limiter b(100, 60s);
    b.on_429(with_reset, t0, 10s);
    CHECK(b.paused_until() == t0 + 20s);

    limiter c(100, 60s);
    c.on_429(rate_info{}, t0, 10s);
    CHECK(c.paused_until() == t0 + 10s);
}

TEST_CASE("on_429 clamps the pause to [1 s, 15 min]") {
    rate_info zero;
    zero.retry_after = 0s;
    limiter a(100, 60s);
    a.on_429(zero, t0, 10s);
    CHECK(a.paused_until() == t0 + 1s);

    rate_info day;
    day.retry_after = 24h;
    limiter b(100, 60s);
    b.on_429(day, t0, 10s);
    CHECK(b.paused_until() == t0 + 15min);

    limiter c(100, 60s);
    c.on_429(rate_info{}, t0, -5s);
    CHECK(c.paused_until() == t0 + 1s);
}

TEST_CASE("absurd rate_info values built by a caller cannot overflow the clock") {
    using std::chrono::seconds;
    const auto huge = seconds(std::numeric_limits<seconds::rep>::max() / 2);
    rate_info info;
    info.retry_after = huge;
    info.reset = huge;
    info.remaining = 0;
    info.limit = 3;
    info.window = huge;
    limiter l(10, 60s);
    l.on_429(info, t0, 10s);
    // The pause is capped at 15 min; Retry-After takes Reset's place for the Remaining == 0
    // block, so that is held 15 min too (it used to be the Reset's hour).
    CHECK(l.paused_until() == t0 + 15min);
    CHECK(l.earliest(t0) == t0 + 15min);
    info.retry_after.reset();  // without one, the Remaining == 0 block is capped at an hour
    limiter k(10, 60s);
    k.on_429(info, t0, 10s);
    CHECK(k.paused_until() == t0 + 1h);
    CHECK(k.earliest(t0) == t0 + 1h);
    rate_info negative;
    negative.retry_after = -huge;
    limiter m(10, 60s);
    m.on_429(negative, t0, 10s);
    CHECK(m.paused_until() == t0 + 1s);
}

TEST_CASE("a shorter later 429 does not shorten an existing pause") {
    limiter l(100, 60s);
    rate_info longer;
    longer.retry_after = 60s;
    l.on_429(longer, t0, 10s);
    rate_info shorter;
    shorter.retry_after = 5s;
    l.on_429(shorter, t0 + 1s, 10s);
    CHECK(l.paused_until() == t0 + 60s);
}

TEST_CASE("on_429 also learns Remaining 0 from the response") {
    // With nothing saying how long it holds, the server's Remaining 0 fills the window.
    limiter l(10, 60s);
    rate_info info;
    info.remaining = 0;
    l.on_429(info, t0, 2s);
    CHECK(l.available(t0 + 3s) == 0);  // the pause is over but the window is full
    CHECK(l.earliest(t0 + 3s) == t0 + 60s);
    // With a Retry-After it holds until then, not for the window: Retry-After takes precedence
    // (PROTOCOLS §2.1). (This case used to expect t0 + 60 s: the QA stall, issue A.)
    limiter r(10, 60s);
    info.retry_after = 2s;
    r.on_429(info, t0, 10s);
    CHECK(r.available(t0 + 1s) == 0);
    CHECK(r.earliest(t0) == t0 + 2s);
    CHECK(r.available(t0 + 3s) == 10);
}

TEST_CASE("set_limit applies at once and keeps the send log") {
    limiter l(10, 60s);
    for (int i = 0; i < 6; ++i) {
        REQUIRE(l.try_acquire(t0));
    }
    l.set_limit(5, 60s);
    CHECK(l.available(t0 + 1s) == 0);
    CHECK(l.earliest(t0 + 1s) == t0 + 60s);
    l.set_limit(20, 60s);
    CHECK(l.available(t0 + 1s) == 14);
    l.set_limit(20, 120s);
    CHECK(l.available(t0 + 90s) == 14);  // the six sends still count in the longer window
}

TEST_CASE("a send time earlier than one already recorded cannot bypass the log") {
    limiter l(1, 10s);
    REQUIRE(l.try_acquire(t0 + 5s));
    CHECK_FALSE(l.try_acquire(t0));
    CHECK(l.earliest(t0) == t0 + 15s);
}

TEST_CASE("property: random demand never exceeds N in any window of W") {
    struct config {
        std::size_t n;
        clock_type::duration w;
        double safety;
    };
    for (const auto& cfg : {config{100, 60s, 1.0}, config{10, 1s, 1.0}, config{7, 3s, 1.0},
                            config{100, 60s, 0.9}, config{1, 500ms, 1.0}}) {
        for (std::uint32_t seed = 1; seed <= 5; ++seed) {
            CAPTURE(cfg.n);
            CAPTURE(seed);
            std::mt19937 rng(seed);
            limiter l(cfg.n, cfg.w, cfg.safety);
            std::vector<clock_type::time_point> sends;
            // Demand alternates between idle stretches, trickles and floods; responses sometimes
            // report a lower Remaining or a 429.
            std::uniform_int_distribution<int> gap_ms(0, 2000);
            std::uniform_int_distribution<int> burst(1, 50);
            std::uniform_int_distribution<int> dice(0, 99);
            auto t = t0;
            const auto end = t0 + 30min;
            while (t < end) {
                const int mode = dice(rng);
                if (mode < 5) {
                    t += std::chrono::milliseconds(gap_ms(rng) * 20);  // idle
                    continue;
                }
                const int k = mode < 40 ? burst(rng) : 1;
                for (int i = 0; i < k; ++i) {
                    if (l.try_acquire(t)) {
                        sends.push_back(t);
                        if (dice(rng) < 10) {
                            rate_info info;
                            info.remaining = static_cast<std::int64_t>(l.available(t) / 2);
                            info.reset = std::chrono::seconds(dice(rng) % 5);
                            l.observe(info, t);
                        }
                    }
                    REQUIRE(l.earliest(t) >= t);
                }
                if (dice(rng) == 0) {
                    rate_info info;
                    info.retry_after = std::chrono::seconds(dice(rng) % 3);
                    l.on_429(info, t, 1s);
                }
                t += std::chrono::milliseconds(gap_ms(rng) / (mode < 70 ? 10 : 1));
            }
            const auto allowed = std::max<std::size_t>(
                1, static_cast<std::size_t>(static_cast<double>(cfg.n) * cfg.safety));
            CHECK(max_in_any_window(sends, cfg.w) <= allowed);
            CHECK(sends.size() > allowed);  // the test did push against the limit
        }
    }
}

TEST_CASE("property: steady demand gets at least 95% of N per W") {
    for (const auto w : {clock_type::duration(60s), clock_type::duration(1s)}) {
        const std::size_t n = 100;
        limiter l(n, w);
        std::size_t sent = 0;
        const auto duration = 10 * w;
        // A sender that always has work and sleeps until earliest() between requests.
        for (auto t = t0; t < t0 + duration;) {
            if (l.try_acquire(t)) {
                ++sent;
            } else {
                t = l.earliest(t);
            }
        }
        CHECK(static_cast<double>(sent) >= 0.95 * static_cast<double>(n) * 10);
        CHECK(sent <= n * 10);

        // A sender that polls every 50 ms of fake time instead.
        limiter p(n, w);
        std::size_t polled = 0;
        std::vector<clock_type::time_point> sends;
        for (auto t = t0; t < t0 + duration; t += w / 1200) {
            while (p.try_acquire(t)) {
                ++polled;
                sends.push_back(t);
            }
        }
        CHECK(static_cast<double>(polled) >= 0.95 * static_cast<double>(n) * 10);
        CHECK(max_in_any_window(sends, w) <= n);
    }
}

TEST_CASE("a reservation counts as a send from now on, and is stamped when it leaves") {
    limiter l(2, 10s);
    CHECK(l.try_reserve(t0));
    CHECK(l.try_reserve(t0));
    CHECK(l.pending() == 2);
    CHECK(l.available(t0) == 0);
    CHECK_FALSE(l.try_reserve(t0 + 1h));  // however long they take to leave
    CHECK(l.earliest(t0 + 1h) == clock_type::time_point::max());
    l.sent(t0 + 3s);  // the intent write took 3 s
    CHECK(l.pending() == 1);
    CHECK(l.earliest(t0 + 3s) == t0 + 13s);  // the window runs from the departure
    l.unreserve();                           // the other one will not be sent
    CHECK(l.pending() == 0);
    CHECK(l.earliest(t0 + 3s) == t0 + 3s);
    CHECK(l.try_acquire(t0 + 3s));
    CHECK(l.earliest(t0 + 3s) == t0 + 13s);
    l.unreserve();  // nothing pending: harmless
    CHECK(l.pending() == 0);
}

TEST_CASE("property: requests that leave late still never exceed N in any window of departures") {
    // The intent fsync sits between the grant and the departure, and its duration varies: stamping
    // at the grant let two windows' worth of departures crowd into one (the 429s of an earlier
    // attempt). Stamped at departure, and with pending reservations counted, they never do.
    for (std::uint32_t seed = 1; seed <= 5; ++seed) {
        CAPTURE(seed);
        std::mt19937 rng(seed);
        std::uniform_int_distribution<int> delay_ms(0, 700);
        const std::size_t n = 10;
        limiter l(n, 1s);
        std::vector<clock_type::time_point> departures;
        std::multimap<clock_type::time_point, int> in_flight;  // departure time → 0
        for (auto t = t0; t < t0 + 60s; t += 5ms) {
            for (auto it = in_flight.begin(); it != in_flight.end() && it->first <= t;) {
                l.sent(it->first);
                departures.push_back(it->first);
                it = in_flight.erase(it);
            }
            while (l.try_reserve(t))
                in_flight.emplace(t + std::chrono::milliseconds(delay_ms(rng)), 0);
        }
        std::sort(departures.begin(), departures.end());
        CHECK(max_in_any_window(departures, 1s) <= n);
        CHECK(departures.size() > 30 * n);  // and the limit was used, not starved
    }
}

// ---- trusting the send log over a whole-second Reset --------------------------------------------

namespace {

// Sends one request through the reservation path at `t`, answered `rtt` later.
clock_type::time_point send_answered(limiter& l, clock_type::time_point t,
                                     clock_type::duration rtt) {
    REQUIRE(l.try_reserve(t));
    const auto at = l.sent(t);
    l.answered(at, t + rtt);
    return at;
}

rate_info exhausted(std::chrono::seconds reset, std::chrono::seconds rounding = 1s) {
    rate_info info;
    info.remaining = 0;
    info.reset = reset;
    info.reset_rounding = rounding;
    return info;
}

}  // namespace

TEST_CASE(
    "trust: Remaining 0 with a rounded-up Reset waits only until the log's oldest answer "
    "leaves the window") {
    limiter l(3, 10s);
    send_answered(l, t0, 50ms);
    send_answered(l, t0 + 1s, 50ms);
    send_answered(l, t0 + 2s, 300ms);
    // The server counted the first at ~t0 + 10 ms: its window has room at t0 + 10.01 s, which it
    // rounds up to a Reset of 8 s when it answers the third (t0 + 2.3 s): t0 + 10.3 s.
    l.observe(exhausted(8s), t0 + 2300ms);
    CHECK(l.paused_until() == t0 + 10s + 50ms);  // the first one's answer + the window
    CHECK(l.earliest(t0 + 2300ms) == t0 + 10s + 50ms);
    CHECK(l.trust_margin() == 0ms);
    SUBCASE("off, the Reset is obeyed as sent") {
        limiter o(3, 10s);
        send_answered(o, t0, 50ms);
        send_answered(o, t0 + 1s, 50ms);
        send_answered(o, t0 + 2s, 300ms);
        o.trust_log_on_reset(false);
        o.observe(exhausted(8s), t0 + 2300ms);
        CHECK(o.paused_until() == t0 + 10s + 300ms);
    }
}

TEST_CASE("trust: never before the earliest moment the rounded Reset can stand for") {
    // A server whose window is longer than ours (60 s, unannounced): its Reset of 55 s is not a
    // rounding of our log's 10 s. At most the rounding (1 s for a delta, 2 s for an epoch) is
    // taken off it.
    limiter l(2, 10s);
    send_answered(l, t0, 10ms);
    send_answered(l, t0 + 1s, 10ms);
    l.observe(exhausted(55s), t0 + 5s);
    CHECK(l.paused_until() == t0 + 5s + 54s);
    limiter e(2, 10s);
    send_answered(e, t0, 10ms);
    send_answered(e, t0 + 1s, 10ms);
    e.observe(exhausted(55s, 2s), t0 + 5s);
    CHECK(e.paused_until() == t0 + 5s + 53s);
}

TEST_CASE("trust: a server that counted sends the log lacks is obeyed to its Reset") {
    limiter l(3, 10s);
    send_answered(l, t0, 10ms);  // ours: 2 free; the server: none (another client on the key)
    l.observe(exhausted(9s), t0 + 1s);
    CHECK(l.paused_until() == t0 + 10s);
}

TEST_CASE("trust: a counted request still unanswered bounds nothing; Reset is obeyed") {
    limiter l(2, 10s);
    REQUIRE(l.try_reserve(t0));
    l.sent(t0);  // on the wire, no answer yet: it may arrive any time
    send_answered(l, t0 + 1s, 10ms);
    l.observe(exhausted(10s), t0 + 1010ms);
    CHECK(l.paused_until() == t0 + 1010ms + 10s);
}

TEST_CASE("trust: every 429 widens the margin kept past the log's moment, up to a cap") {
    limiter l(2, 10s);
    rate_info r429;
    r429.retry_after = 1s;
    clock_type::duration before{};
    for (int i = 0; i < 12; ++i) {
        l.on_429(r429, t0 + std::chrono::hours(i), 1s);
        CHECK(l.trust_margin() > before);
        CHECK(l.trust_margin() <= limiter::trust_margin_max);
        before = std::min(l.trust_margin(), limiter::trust_margin_max - 1ns);
    }
    CHECK(l.trust_margin() == limiter::trust_margin_max);
    // With the margin, the same exhausted window is trusted later — never past the Reset.
    const auto later = t0 + 24h;
    send_answered(l, later, 10ms);
    send_answered(l, later + 1s, 10ms);
    l.observe(exhausted(9s), later + 1100ms);
    CHECK(l.paused_until() == later + 1100ms + 9s);  // log + 2 s margin is past the Reset
}

TEST_CASE(
    "property: against a strict whole-second-Reset server with arrival jitter, trusting the "
    "log sends >= 97 % of the limit and is never refused") {
    // A fake server like briefsim's Hrizn `strict` mode: a sliding log of arrivals where refused
    // requests count too; every answer says Remaining and a Reset rounded up to whole seconds.
    // The client paces like the host: a padded window, a reservation per request, stamped at
    // departure, answered when its response comes back, learning from every response.
    struct result {
        std::size_t sent = 0, refused = 0;
        std::vector<clock_type::time_point> departures;
    };
    const auto run = [](bool trust, std::uint32_t seed, std::chrono::seconds rounding) {
        const std::size_t n = 60;
        const clock_type::duration w = 2s;  // Hrizn's 60 s at time scale 30
        limiter l(n, w + 20ms);
        l.trust_log_on_reset(trust);
        std::mt19937 rng(seed);
        std::uniform_int_distribution<int> to_server_us(200, 30000), back_us(200, 20000),
            intent_us(0, 15000);
        struct flight {
            clock_type::time_point leave, arrive, answer, stamp;
            bool arrived = false, allowed = false;
            std::size_t remaining = 0;
            clock_type::duration reset{};
        };
        std::vector<flight> flights;
        std::deque<clock_type::time_point> server;     // arrivals within its window, refused too
        std::vector<clock_type::time_point> reserved;  // grant times waiting for their intent write
        result r;
        const auto end = t0 + 60 * w;
        // The limiter is asked again only when something changed it or its own earliest() has
        // come (asking every millisecond gives the same answers, at 100x the cost under ASan).
        auto next_try = t0;
        for (auto t = t0; t < end; t += 1ms) {
            for (auto& f : flights) {
                if (!f.arrived && f.arrive <= t) {
                    f.arrived = true;
                    while (!server.empty() && server.front() + w <= f.arrive) server.pop_front();
                    f.allowed = server.size() < n;
                    server.push_back(f.arrive);
                    if (server.size() > n) server.pop_front();
                    f.remaining = f.allowed ? n - server.size() : 0;
                    f.reset = server.front() + w - f.arrive;
                }
            }
            for (auto it = flights.begin(); it != flights.end();) {
                if (!it->arrived || it->answer > t) {
                    ++it;
                    continue;
                }
                l.answered(it->stamp, t);
                next_try = t;
                rate_info info;
                info.limit = static_cast<std::int64_t>(n);
                info.remaining = static_cast<std::int64_t>(it->remaining);
                // Whole seconds rounded up; 0 is left out (express-rate-limit does the same).
                const auto s = std::chrono::ceil<std::chrono::seconds>(it->reset) + (rounding - 1s);
                if (s > 0s) info.reset = s;
                info.reset_rounding = rounding;
                if (it->allowed) {
                    l.observe(info, t);
                } else {
                    ++r.refused;
                    info.retry_after = s;
                    l.on_429(info, t, 1s);
                }
                it = flights.erase(it);
            }
            for (auto it = reserved.begin(); it != reserved.end();) {
                if (*it > t) {
                    ++it;
                    continue;
                }
                flight f;
                f.leave = t;
                f.stamp = l.sent(t);
                next_try = t;
                f.arrive = t + std::chrono::microseconds(to_server_us(rng));
                f.answer = f.arrive + std::chrono::microseconds(back_us(rng));
                flights.push_back(f);
                ++r.sent;
                r.departures.push_back(f.stamp);
                it = reserved.erase(it);
            }
            if (t < next_try) continue;
            while (l.try_reserve(t))
                reserved.push_back(t + std::chrono::microseconds(intent_us(rng)));
            next_try = l.earliest(t);
        }
        return r;
    };
    for (std::uint32_t seed = 1; seed <= 3; ++seed) {
        CAPTURE(seed);
        for (auto rounding : {1s, 2s}) {
            CAPTURE(rounding.count());
            const auto trusted = run(true, seed, rounding);
            const auto obeyed = run(false, seed, rounding);
            CHECK(trusted.refused == 0);
            CHECK(obeyed.refused == 0);
            CHECK(max_in_any_window(trusted.departures, 2s) <= 60);
            // The steady rate, from the first departure to the last, as a share of 60 per 2 s.
            const auto share = [](const result& r) {
                const double span =
                    std::chrono::duration<double>(r.departures.back() - r.departures.front())
                        .count();
                return static_cast<double>(r.departures.size() - 60) / span * 2.0 / 60.0;
            };
            CHECK(share(trusted) >= 0.97);
            CHECK(share(trusted) > share(obeyed));
            MESSAGE("seed " << seed << ", Reset rounding " << rounding.count()
                            << " s: steady rate trusting the log " << 100 * share(trusted)
                            << " %, obeying Reset " << 100 * share(obeyed) << " %");
        }
    }
}

// QA issue A: after a 429 or a `Remaining: 0`, the limiter stalled a whole configured window,
// whatever Reset and Retry-After said, and a server limit without a window was paced over ours.

TEST_CASE("A: a 429 with Remaining 0 and Reset 4 holds until the Reset, not a window") {
    // QA batch_429_text: RateLimit-Limit 100, Remaining 0, Reset 4 (no Retry-After, no window).
    limiter l(100, 60s);
    REQUIRE(l.try_acquire(t0));
    rate_info info;
    info.limit = 100;
    info.remaining = 0;
    info.reset = 4s;
    const auto at = t0 + 100ms;
    l.on_429(info, at, 1s);
    CHECK(l.paused_until() == at + 4s);
    CHECK(l.available(at + 3s) == 0);
    CHECK(l.earliest(at) == at + 4s);   // was at + 60 s: the unseen sends counted a window
    CHECK(l.available(at + 4s) == 99);  // our own send still counts against our 100 per 60 s
    CHECK(l.try_acquire(at + 4s));
}

TEST_CASE("A: the same with an announced window (structured RateLimit + RateLimit-Policy)") {
    // QA batch_429_sf: `RateLimit: limit=100, remaining=0, reset=4`, `RateLimit-Policy: 100;w=60`.
    limiter l(100, 60s);
    rate_info info;
    info.limit = 100;
    info.remaining = 0;
    info.reset = 4s;
    info.window = 60s;
    l.on_429(info, t0, 1s);
    CHECK(l.earliest(t0) == t0 + 4s);
    CHECK(l.available(t0 + 4s) == 100);
    CHECK(l.server_window() == std::optional<clock_type::duration>(60s));
}

TEST_CASE("A: a Reset given as a Unix time (read as a delta with 2 s rounding) bounds the hold") {
    // QA reset_epoch: the parser turns `RateLimit-Reset: <now + 5>` into 5 s, rounding 2 s.
    limiter l(100, 60s);
    rate_info info;
    info.limit = 100;
    info.remaining = 0;
    info.reset = 5s;
    info.reset_rounding = 2s;
    l.on_429(info, t0, 1s);
    CHECK(l.earliest(t0) == t0 + 5s);
    CHECK(l.available(t0 + 5s) == 100);
}

TEST_CASE("A: Remaining 0 on a 200 holds until its Reset, then the budget is back") {
    // QA rl_remaining0: every batch answer says Limit 100, Remaining 0, Reset 3.
    limiter l(100, 60s);
    REQUIRE(l.try_acquire(t0));
    rate_info info;
    info.limit = 100;
    info.remaining = 0;
    info.reset = 3s;
    l.observe(info, t0 + 50ms);
    CHECK(l.available(t0 + 1s) == 0);
    CHECK(l.earliest(t0 + 50ms) == t0 + 3050ms);
    CHECK(l.available(t0 + 3050ms) == 99);
}

TEST_CASE("A: Retry-After takes precedence over a longer Reset on a 429") {
    limiter l(100, 60s);
    rate_info info;
    info.remaining = 0;
    info.reset = 10s;
    info.retry_after = 2s;
    l.on_429(info, t0, 1s);
    CHECK(l.paused_until() == t0 + 2s);
    CHECK(l.earliest(t0) == t0 + 2s);  // was t0 + 10 s: the Remaining 0 block used the Reset
    CHECK(l.available(t0 + 2s) == 100);
    // A later response may still say otherwise.
    rate_info later;
    later.remaining = 0;
    later.reset = 7s;
    l.observe(later, t0 + 2s);
    CHECK(l.earliest(t0 + 2s) == t0 + 9s);
}

TEST_CASE("A: unseen sends count until the Reset the server gave with them") {
    limiter l(10, 60s);
    REQUIRE(l.try_acquire(t0));
    rate_info info;
    info.remaining = 3;  // ours says 9: six the server counted that we did not send
    info.reset = 5s;
    l.observe(info, t0 + 1s);
    CHECK(l.available(t0 + 1s) == 3);
    CHECK(l.available(t0 + 6s - 1ns) == 3);
    CHECK(l.available(t0 + 6s) == 9);  // was 3 until t0 + 61 s
}

TEST_CASE("A: a server limit without a window is paced over the window its Resets imply") {
    limiter l(100, 60s);
    CHECK_FALSE(l.server_window().has_value());
    rate_info lim;
    lim.limit = 10;
    l.observe(lim, t0);
    CHECK(l.server_window() == std::optional<clock_type::duration>(60s));  // nothing better yet
    rate_info r;
    r.limit = 10;
    r.reset = 6s;
    l.observe(r, t0);
    CHECK(l.server_window() == std::optional<clock_type::duration>(6030ms));  // + 0.5 % pad
    r.reset = 2s;  // shorter Resets (later in a window) never shrink it
    l.observe(r, t0);
    CHECK(l.server_window() == std::optional<clock_type::duration>(6030ms));
    r.reset = 7s;
    r.reset_rounding = 2s;  // a Unix-time Reset is taken as it reads: over rather than under
    l.observe(r, t0);
    CHECK(l.server_window() == std::optional<clock_type::duration>(7035ms));
    r.reset = 7200s;  // absurd (callers may build anything): ignored
    r.reset_rounding = 1s;
    l.observe(r, t0);
    CHECK(l.server_window() == std::optional<clock_type::duration>(7035ms));
    r.reset = 3600s;  // never longer than our own window (what was used before)
    l.observe(r, t0);
    CHECK(l.server_window() == std::optional<clock_type::duration>(60s));
    // An announced window wins, and a later response without the policy keeps it.
    rate_info w;
    w.limit = 10;
    w.window = 30s;
    l.observe(w, t0);
    CHECK(l.server_window() == std::optional<clock_type::duration>(30s));
    l.observe(lim, t0);
    CHECK(l.server_window() == std::optional<clock_type::duration>(30s));
}

namespace {

// A strict sliding-window server (QA strict_rl: N per W, refused requests do not count, Reset =
// whole seconds until the oldest leaves, rounded up) answering at once with a limit and no window,
// like legacy X-RateLimit-* headers. Returns our departures and how many were refused.
struct strict_result {
    std::vector<clock_type::time_point> sends;
    std::size_t refused = 0;
};
// `extra`: what the Reset reads beyond ceil(the real one) (a Unix-time Reset against a whole-second
// Date reads 0 or 1 s more).
strict_result run_strict(limiter& l, std::size_t n, clock_type::duration w,
                         clock_type::duration span, std::chrono::seconds rounding,
                         std::chrono::seconds extra, bool announce_window) {
    strict_result r;
    std::deque<clock_type::time_point> win;
    for (auto t = t0; t < t0 + span; t += 10ms) {
        while (l.try_acquire(t)) {
            r.sends.push_back(t);
            while (!win.empty() && win.front() + w <= t) win.pop_front();
            rate_info info;
            info.limit = static_cast<std::int64_t>(n);
            info.reset_rounding = rounding;
            if (announce_window) info.window = std::chrono::ceil<std::chrono::seconds>(w);
            const bool ok = win.size() < n;
            if (ok) win.push_back(t);
            info.remaining = static_cast<std::int64_t>(n - win.size());
            const auto reset = std::chrono::ceil<std::chrono::seconds>(win.front() + w - t) + extra;
            info.reset = reset;
            if (ok) {
                l.observe(info, t);
            } else {
                ++r.refused;
                info.retry_after = reset;
                l.on_429(info, t, 1s);
            }
        }
    }
    return r;
}

}  // namespace

TEST_CASE("A: a server with 10 per 6 s and no window in its headers is used, not paced 10/min") {
    // QA strict_unmatched: QA_RL_N=10 QA_RL_W=6, legacy headers: requests at t = 0, then nothing
    // until t = 60 s. Now: close to 10 per 6 s, never refused after it learned the limit.
    // Delta Resets, and Unix-time Resets that read as the real one or a second more.
    for (auto [rounding, extra] : {std::pair{1s, 0s}, std::pair{2s, 0s}, std::pair{2s, 1s}}) {
        CAPTURE(rounding.count());
        CAPTURE(extra.count());
        limiter l(100, 60s);
        const auto r = run_strict(l, 10, 6s, 120s, rounding, extra, false);
        CHECK(r.refused == 0);
        CHECK(max_in_any_window(r.sends, 6s) <= 10);
        CHECK(max_in_any_window(r.sends, 60s) <= 100);
        // 10 per 6 s over two minutes is 200; the old pacing allowed 20.
        CHECK(r.sends.size() >= 160);
        MESSAGE("rounding " << rounding.count() << " s: " << r.sends.size() << " sends in 120 s");
    }
}

TEST_CASE("A: the 429 from a server whose limit we did not know lets us resume at its Reset") {
    // QA strict_unmatched's shape: 11 requests at once, the 11th refused with only the 429's
    // `RateLimit-Limit: 10, Remaining: 0, Reset: 6` — the first the limiter hears of the limit.
    limiter l(100, 60s);
    for (int i = 0; i < 11; ++i) REQUIRE(l.try_acquire(t0));
    rate_info info;
    info.limit = 10;
    info.remaining = 0;
    info.reset = 6s;
    info.retry_after = 6s;
    l.on_429(info, t0 + 20ms, 1s);
    CHECK(l.earliest(t0 + 20ms) == t0 + 6030ms);  // was t0 + 60 s; 6 s + 0.5 % pad
    CHECK(l.available(t0 + 6030ms) == 10);
}

TEST_CASE("property A: whatever the server says, our own sends never exceed the configured limit") {
    std::mt19937 rng(7);
    for (int round = 0; round < 20; ++round) {
        CAPTURE(round);
        limiter l(20, 10s);
        std::vector<clock_type::time_point> sends;
        std::uniform_int_distribution<int> pick(0, 9), small(0, 30), secs(0, 15);
        for (auto t = t0; t < t0 + 120s; t += 50ms) {
            if (!l.try_acquire(t)) continue;
            sends.push_back(t);
            rate_info info;
            if (pick(rng) < 7) info.limit = small(rng) + 1;
            if (pick(rng) < 7) info.remaining = small(rng);
            if (pick(rng) < 7) info.reset = std::chrono::seconds(secs(rng));
            if (pick(rng) < 2) info.window = std::chrono::seconds(secs(rng));
            if (pick(rng) < 3) info.reset_rounding = 2s;
            if (pick(rng) == 0) {
                if (pick(rng) < 5) info.retry_after = std::chrono::seconds(secs(rng));
                l.on_429(info, t, 1s);
            } else {
                l.observe(info, t);
            }
        }
        CHECK(max_in_any_window(sends, 10s) <= 20);
        CHECK(sends.size() >= 20);
    }
}
