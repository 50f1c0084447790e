// The simulator's pure pieces: checksums, the PNG writer, the limiters (explicit time points).
#include <doctest/doctest.h>

#include "hrizn/limits.hpp"
#include "png.hpp"
#include "ratelimit.hpp"

#include <cstring>
#include <string>
#include <vector>

using namespace briefd::sim;
using namespace std::chrono_literals;

namespace {
std::uint32_t be32(const std::string& s, std::size_t at) {
    auto b = [&](std::size_t i) {
        return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + i]));
    };
    return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}
}  // namespace

TEST_CASE("crc32 and adler32 match their reference check values") {
    CHECK(crc32(std::string_view("123456789")) == 0xCBF43926u);
    CHECK(crc32(std::string_view("")) == 0u);
    // Piecewise CRC equals whole CRC.
    CHECK(crc32(std::string_view("6789"), crc32(std::string_view("12345"))) == 0xCBF43926u);
    const std::string w = "Wikipedia";
    CHECK(adler32({reinterpret_cast<const unsigned char*>(w.data()), w.size()}) == 0x11E60398u);
}

TEST_CASE("adler32 over many blocks of its deferred modulo equals the per-byte definition") {
    // 0xFF bytes are the worst case for overflow; lengths straddle the 5,552-byte block.
    for (std::size_t n : {5551u, 5552u, 5553u, 12400u, 40000u}) {
        std::vector<unsigned char> bytes(n);
        for (std::size_t i = 0; i < n; ++i) bytes[i] = i % 3 ? 0xFF : static_cast<unsigned char>(i);
        std::uint32_t a = 1, b = 0;
        for (unsigned char c : bytes) {
            a = (a + c) % 65521;
            b = (b + a) % 65521;
        }
        CHECK(adler32(bytes) == ((b << 16) | a));
        // Piecewise equals whole, across a split inside a block.
        const std::span<const unsigned char> all(bytes);
        CHECK(adler32(all.subspan(n / 3), adler32(all.first(n / 3))) == adler32(bytes));
    }
}

TEST_CASE("make_png writes a structurally valid PNG, distinct per seed") {
    const std::string a = make_png(64, 64, 1), b = make_png(64, 64, 2);
    REQUIRE(a.size() > 8 + 25 + 12);
    CHECK(a.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
    CHECK(a.substr(12, 4) == "IHDR");
    CHECK(be32(a, 16) == 64);
    CHECK(be32(a, 20) == 64);
    std::size_t pos = 8;
    std::vector<std::string> types;
    while (pos < a.size()) {
        const std::uint32_t len = be32(a, pos);
        const std::string_view typed(a.data() + pos + 4, 4 + len);
        CHECK(crc32(typed) == be32(a, pos + 8 + len));
        types.emplace_back(a.substr(pos + 4, 4));
        pos += 12 + len;
    }
    CHECK(pos == a.size());
    CHECK(types == std::vector<std::string>{"IHDR", "IDAT", "IEND"});
    CHECK(a != b);
    CHECK(a == make_png(64, 64, 1));
}

TEST_CASE("fixed window: every request counts, the budget returns whole when the window ends") {
    const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
    rate_limiter rl(3, 10s, rate_mode::fixed);
    CHECK(rl.hit("a", t0).remaining == 2);
    CHECK(rl.hit("a", t0 + 1s).remaining == 1);
    auto d = rl.hit("a", t0 + 2s);
    CHECK(d.allowed);
    CHECK(d.remaining == 0);
    d = rl.hit("a", t0 + 3s);
    CHECK_FALSE(d.allowed);
    CHECK(d.reset == 7s);
    CHECK(rl.hit("b", t0 + 3s).allowed);  // per client
    d = rl.hit("a", t0 + 10s);
    CHECK(d.allowed);
    CHECK(d.remaining == 2);
}

TEST_CASE("sliding log: refused requests do not count, one slot returns when the oldest expires") {
    const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
    rate_limiter rl(2, 10s, rate_mode::sliding);
    CHECK(rl.hit("a", t0).allowed);
    CHECK(rl.hit("a", t0 + 4s).allowed);
    auto d = rl.hit("a", t0 + 5s);
    CHECK_FALSE(d.allowed);
    CHECK(d.reset == 5s);
    d = rl.hit("a", t0 + 10s);  // the first request has left the window
    CHECK(d.allowed);
    CHECK(d.remaining == 0);
    CHECK_FALSE(rl.hit("a", t0 + 13s).allowed);
    CHECK(rl.hit("a", t0 + 14s).allowed);
}

TEST_CASE(
    "strict sliding log: refused requests count too, so sending while refused extends the "
    "backoff") {
    const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
    rate_limiter rl(2, 10s, rate_mode::strict);
    CHECK(rl.hit("a", t0).allowed);
    CHECK(rl.hit("a", t0 + 4s).allowed);
    auto d = rl.hit("a", t0 + 5s);
    CHECK_FALSE(d.allowed);
    CHECK(d.remaining == 0);
    CHECK(d.reset == 9s);  // the log is now {4s, 5s}: a slot returns at 14 s
    CHECK_FALSE(
        rl.hit("a", t0 + 12s).allowed);  // sliding would allow this one; the log is {5s, 12s}
    d = rl.hit("a", t0 + 15s);           // 5 s has left: one slot
    CHECK(d.allowed);
    CHECK(d.remaining == 0);
    CHECK(rl.hit("b", t0 + 12s).allowed);  // per client
    rate_limiter none(0, 10s, rate_mode::strict);
    CHECK_FALSE(none.hit("a", t0).allowed);
}

TEST_CASE(
    "hrizn key limits: minute window and daily cap per key; the cap lasts until the rollover") {
    using briefd::sim::hrizn::key_limits;
    using briefd::sim::hrizn::limit_verdict;
    const auto origin = std::chrono::steady_clock::time_point{} + 1h;
    key_limits kl(2, 60s, rate_mode::strict, 3, 1000s, origin);
    auto d = kl.hit("k", origin + 10s);
    CHECK(d.verdict == limit_verdict::allowed);
    CHECK(d.limit == 2);
    CHECK(d.remaining == 1);
    CHECK(kl.hit("k", origin + 11s).remaining == 0);
    d = kl.hit("k", origin + 12s);
    CHECK(d.verdict == limit_verdict::over_minute);
    CHECK(d.reset == 59s);  // strict: the refusal at 12 s is in the log with the one at 11 s
    // Third accepted request of the day: the day's budget (3) is what remains, not the window's.
    d = kl.hit("k", origin + 80s);
    CHECK(d.verdict == limit_verdict::allowed);
    CHECK(d.remaining == 0);
    d = kl.hit("k", origin + 200s);
    CHECK(d.verdict == limit_verdict::over_day);
    CHECK(d.remaining == 0);
    CHECK(d.reset == 800s);  // runs to the rollover at origin + 1000 s
    CHECK(kl.hit("other", origin + 200s).verdict == limit_verdict::allowed);  // per key
    d = kl.hit("k", origin + 1000s);                                          // a new day
    CHECK(d.verdict == limit_verdict::allowed);
    CHECK(d.remaining == 1);
    CHECK(kl.hit("k", origin + 2999s).verdict == limit_verdict::allowed);
    CHECK(kl.hit("k", origin + 3100s).remaining == 1);  // day 3 starts with a fresh budget
}
