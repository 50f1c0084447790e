// Reading rate-limit state from responses (PROTOCOLS §2.1–2.3, PROVIDERS §1.7–1.8, §2.5).
#include "ratelimit/headers.hpp"

#include <boost/beast/http/fields.hpp>

#include <array>

using briefd::ratelimit::parse_http_date;
using briefd::ratelimit::rate_info;
using briefd::ratelimit::read_rate_headers;
using namespace std::chrono_literals;
using std::chrono::system_clock;

namespace {

// Sun, 06 Nov 1994 08:49:37 GMT
const system_clock::time_point rfc_example = system_clock::time_point(784111777s);

boost::beast::http::fields make(
    std::initializer_list<std::pair<std::string_view, std::string_view>> list) {
    boost::beast::http::fields h;
    for (const auto& [name, value] : list) {
        h.insert(name, value);
    }
    return h;
}

const system_clock::time_point now = system_clock::time_point(1'700'000'000s);

}  // namespace

TEST_CASE("parse_http_date accepts the three RFC 9110 forms of the same instant") {
    CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == rfc_example);
    CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == rfc_example);
    CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == rfc_example);
    CHECK(parse_http_date("Sun Nov 16 08:49:37 1994") == rfc_example + 10 * 24h);
    CHECK(parse_http_date("  Sun, 06 Nov 1994 08:49:37 GMT ") == rfc_example);
}

TEST_CASE("parse_http_date handles years, leap days and two-digit years") {
    CHECK(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT") == system_clock::time_point{});
    CHECK(parse_http_date("Thu, 29 Feb 2024 12:00:00 GMT") ==
          system_clock::time_point(1709208000s));
    CHECK(parse_http_date("Tuesday, 01-Jan-30 00:00:00 GMT") ==
          system_clock::time_point(1893456000s));  // 2030
    CHECK(parse_http_date("Thursday, 01-Jan-70 00:00:00 GMT") ==
          system_clock::time_point{});                                             // 1970
    CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:60 GMT") == rfc_example + 23s);  // leap second
}

TEST_CASE("parse_http_date rejects malformed dates") {
    for (const char* bad : {"",
                            "GMT",
                            "Sun, 06 Nov 1994 08:49:37",
                            "Sun, 06 Nov 1994 08:49:37 UTC",
                            "sun, 06 Nov 1994 08:49:37 GMT",
                            "Sun, 6 Nov 1994 08:49:37 GMT",
                            "Sun, 06 nov 1994 08:49:37 GMT",
                            "Sun, 31 Feb 1994 08:49:37 GMT",
                            "Sun, 30 Feb 2024 08:49:37 GMT",
                            "Sun, 06 Nov 1994 24:00:00 GMT",
                            "Sun, 06 Nov 1994 08:60:00 GMT",
                            "Sun, 06 Nov 1994 08:49:61 GMT",
                            "Sun, 06 Nov 1994 08:49:37 GMTx",
                            "Sun, 06 Nov 94 08:49:37 GMT",
                            "Sund, 06 Nov 1994 08:49:37 GMT",
                            "Sun,06 Nov 1994 08:49:37 GMT",
                            "Sunday, 06-Nov-1994 08:49:37 GMT",
                            "Sun Nov 6 08:49:37 1994",
                            "Sun Nov  6 08:49:37 94",
                            "Sun, 00 Nov 1994 08:49:37 GMT",
                            "1994-11-06T08:49:37Z",
                            "120",
                            "Sun, 06 Nov 1994 08:49:3"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_http_date(bad).has_value());
    }
}

TEST_CASE("parse_http_date rejects dates a system_clock time_point cannot hold") {
    CHECK_FALSE(parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT").has_value());
    CHECK_FALSE(parse_http_date("Mon, 01 Jan 0001 00:00:00 GMT").has_value());
    CHECK(parse_http_date("Fri, 31 Dec 2260 23:59:59 GMT").has_value());
    // And as a Retry-After it is simply malformed.
    CHECK_FALSE(read_rate_headers(make({{"Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT"}}), now)
                    .retry_after);
}

TEST_CASE("express-rate-limit draft-6 headers (what Lamina most likely sends)") {
    const auto h = make({{"RateLimit-Policy", "100;w=60"},
                         {"RateLimit-Limit", "100"},
                         {"RateLimit-Remaining", "42"},
                         {"RateLimit-Reset", "17"}});
    const auto info = read_rate_headers(h, now);
    CHECK(info.limit == 100);
    CHECK(info.remaining == 42);
    CHECK(info.reset == 17s);
    CHECK(info.window == 60s);
    CHECK_FALSE(info.retry_after.has_value());
}

TEST_CASE("RateLimit-Limit with quota policies gives the window of the expiring limit") {
    CHECK(read_rate_headers(make({{"RateLimit-Limit", "100, 100;w=60"}}), now).window == 60s);
    const auto multi =
        read_rate_headers(make({{"RateLimit-Limit", "10, 1000;w=3600, 10;w=1"}}), now);
    CHECK(multi.limit == 10);
    CHECK(multi.window == 1s);
    // No policy has the same quota: take the first window given.
    CHECK(read_rate_headers(make({{"RateLimit-Limit", "5, 100;w=60;comment=\"a,b;c\""}}), now)
              .window == 60s);
    CHECK_FALSE(read_rate_headers(make({{"RateLimit-Limit", "100"}}), now).window.has_value());
    // w=0 or garbage is not a window.
    CHECK_FALSE(
        read_rate_headers(make({{"RateLimit-Limit", "100, 100;w=0"}}), now).window.has_value());
    CHECK_FALSE(
        read_rate_headers(make({{"RateLimit-Limit", "100, 100;w=x"}}), now).window.has_value());
}

TEST_CASE("the combined RateLimit field of draft-7 and draft-8") {
    const auto d7 = read_rate_headers(
        make({{"RateLimit", "limit=100, remaining=5, reset=30"}, {"RateLimit-Policy", "100;w=60"}}),
        now);
    CHECK(d7.limit == 100);
    CHECK(d7.remaining == 5);
    CHECK(d7.reset == 30s);
    CHECK(d7.window == 60s);

    const auto d8 =
        read_rate_headers(make({{"RateLimit", "\"default\";r=7;t=12"},
                                {"RateLimit-Policy", "\"default\";q=100;w=60;pk=:YWJj:"}}),
                          now);
    CHECK(d8.limit == 100);
    CHECK(d8.remaining == 7);
    CHECK(d8.reset == 12s);
    CHECK(d8.window == 60s);
}

TEST_CASE("legacy X-RateLimit-Reset is an epoch, converted against the response Date") {
    // The local clock is an hour off; the server's Date keeps the delta right.
    const auto h = make({{"Date", "Tue, 14 Nov 2023 22:13:20 GMT"},  // 1700000000
                         {"X-RateLimit-Limit", "60"},
                         {"X-RateLimit-Remaining", "0"},
                         {"X-RateLimit-Reset", "1700000025"}});
    const auto info = read_rate_headers(h, now + 1h);
    CHECK(info.limit == 60);
    CHECK(info.remaining == 0);
    CHECK(info.reset == 25s);
}

TEST_CASE("X-RateLimit-Reset without Date is converted against now") {
    CHECK(read_rate_headers(make({{"X-RateLimit-Reset", "1700000040"}}), now).reset == 40s);
    // An unparseable Date is ignored, not trusted.
    CHECK(read_rate_headers(make({{"Date", "yesterday"}, {"X-RateLimit-Reset", "1700000040"}}), now)
              .reset == 40s);
}

TEST_CASE("X-RateLimit-Reset tolerates deltas, milliseconds and fractions") {
    CHECK(read_rate_headers(make({{"X-RateLimit-Reset", "30"}}), now).reset == 30s);  // a delta
    CHECK(read_rate_headers(make({{"X-RateLimit-Reset", "1700000040000"}}), now).reset ==
          40s);  // epoch ms
    CHECK(read_rate_headers(make({{"X-RateLimit-Reset", "1700000040.2"}}), now).reset ==
          41s);  // rounded up
    CHECK(read_rate_headers(make({{"X-RateLimit-Reset", "1699999990"}}), now).reset ==
          0s);  // already past
}

TEST_CASE("absurd resets are ignored rather than parking the host") {
    CHECK_FALSE(read_rate_headers(make({{"RateLimit-Reset", "7200"}}), now).reset.has_value());
    CHECK_FALSE(
        read_rate_headers(make({{"X-RateLimit-Reset", "1700007200"}}), now).reset.has_value());
    CHECK(read_rate_headers(make({{"RateLimit-Reset", "3600"}}), now).reset ==
          3600s);  // the bound itself is fine
}

TEST_CASE("timestamps far in the future are ignored without overflowing") {
    CHECK_FALSE(read_rate_headers(make({{"X-RateLimit-Reset", "999999999999999999"}}), now)
                    .reset.has_value());
    CHECK_FALSE(
        read_rate_headers(make({{"X-RateLimit-Reset", "99999999999"}}), now).reset.has_value());
}

TEST_CASE("unterminated quotes and trailing escapes in structured fields are survived") {
    for (const char* v :
         {"\"", "\"\\", "\"a\\", "100, \"\\", ";", ",", ",,;;", "\"x\";q=5;w=60\\\""}) {
        CAPTURE(v);
        const auto h = make({{"RateLimit-Limit", v}, {"RateLimit-Policy", v}, {"RateLimit", v}});
        const auto info = read_rate_headers(h, now);
        CHECK_FALSE(info.remaining.has_value());
    }
    // A quoted comma or semicolon does not split a parameter.
    const auto info =
        read_rate_headers(make({{"RateLimit-Policy", "\"a,b;w=1\";q=100;w=60"}}), now);
    CHECK(info.limit == 100);
    CHECK(info.window == 60s);
}

TEST_CASE("RateLimit-* fields win over the combined field and the legacy ones") {
    const auto h = make({{"RateLimit-Limit", "100"},
                         {"RateLimit-Remaining", "9"},
                         {"RateLimit-Reset", "3"},
                         {"RateLimit", "limit=50, remaining=1, reset=40"},
                         {"X-RateLimit-Limit", "10"},
                         {"X-RateLimit-Remaining", "0"},
                         {"X-RateLimit-Reset", "1700000050"}});
    const auto info = read_rate_headers(h, now);
    CHECK(info.limit == 100);
    CHECK(info.remaining == 9);
    CHECK(info.reset == 3s);
}

TEST_CASE("field names are case-insensitive") {
    const auto info =
        read_rate_headers(make({{"ratelimit-remaining", "3"}, {"RETRY-AFTER", "5"}}), now);
    CHECK(info.remaining == 3);
    CHECK(info.retry_after == 5s);
}

TEST_CASE("Retry-After as delta-seconds") {
    CHECK(read_rate_headers(make({{"Retry-After", "120"}}), now).retry_after == 120s);
    CHECK(read_rate_headers(make({{"Retry-After", "0"}}), now).retry_after == 0s);
    // Saturates at a day instead of overflowing.
    CHECK(read_rate_headers(make({{"Retry-After", "99999999999999999999999"}}), now).retry_after ==
          24h);
    CHECK(read_rate_headers(make({{"Retry-After", "999999999"}}), now).retry_after == 24h);
}

TEST_CASE("Retry-After as an HTTP-date, in every form, against Date when present") {
    const auto date = "Sun, 06 Nov 1994 08:49:37 GMT";
    CHECK(read_rate_headers(
              make({{"Date", date}, {"Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT"}}), now)
              .retry_after == 30s);
    CHECK(read_rate_headers(
              make({{"Date", date}, {"Retry-After", "Sunday, 06-Nov-94 08:50:07 GMT"}}), now)
              .retry_after == 30s);
    CHECK(
        read_rate_headers(make({{"Date", date}, {"Retry-After", "Sun Nov  6 08:50:07 1994"}}), now)
            .retry_after == 30s);
    // Without Date, against now.
    CHECK(read_rate_headers(make({{"Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT"}}),
                            rfc_example + 10s)
              .retry_after == 20s);
    // A date in the past means "now".
    CHECK(read_rate_headers(
              make({{"Date", date}, {"Retry-After", "Sun, 06 Nov 1994 08:00:00 GMT"}}), now)
              .retry_after == 0s);
}

TEST_CASE("Retry-After and Date centuries apart do not overflow (fuzz finding)") {
    // 1678 against a 2023 `now`: 345 years apart, beyond the ±292 years of a nanosecond difference.
    // The old subtraction was signed overflow (UB) and read this past date as a 24 h wait.
    CHECK(read_rate_headers(make({{"Retry-After", "Sun, 01 Jan 1678 00:00:00 GMT"}}), now)
              .retry_after == 0s);
    CHECK(read_rate_headers(make({{"Date", "Sat, 31 Dec 2261 23:59:59 GMT"},
                                  {"Retry-After", "Sun, 01 Jan 1678 00:00:00 GMT"}}),
                            now)
              .retry_after == 0s);
    CHECK(read_rate_headers(make({{"Date", "Sun, 01 Jan 1678 00:00:00 GMT"},
                                  {"Retry-After", "Sat, 31 Dec 2261 23:59:59 GMT"}}),
                            now)
              .retry_after == 24h);
}

TEST_CASE("Lamina's JSON 429 body supplies retryAfter when the header is absent") {
    const std::string_view body =
        R"({"error":"Too many requests","code":"RATE_LIMITED","retryable":true,"retryAfter":30,"requestId":"x"})";
    CHECK(read_rate_headers({}, now, body).retry_after == 30s);
    // The header takes precedence.
    CHECK(read_rate_headers(make({{"Retry-After", "5"}}), now, body).retry_after == 5s);
    // A malformed header does not hide the body.
    CHECK(read_rate_headers(make({{"Retry-After", "soon"}}), now, body).retry_after == 30s);
}

TEST_CASE("Hrizn's nested retry_after body is understood") {
    const std::string_view body =
        R"({"error":{"code":"rate_limit_exceeded","message":"Retry after 12 seconds.","details":{"retry_after":12}}})";
    CHECK(read_rate_headers({}, now, body).retry_after == 12s);
}

TEST_CASE("bodies that do not carry a usable retryAfter are ignored") {
    for (const std::string_view body :
         {std::string_view("Too many requests from this IP, please try again in a minute"),
          std::string_view(R"({"error":"x","retryAfter":"30"})"),
          std::string_view(R"({"retryAfter":-4})"), std::string_view(R"({"retryAfter":null})"),
          std::string_view(R"({"retryAfter":30)"), std::string_view(R"([{"retryAfter":30}])"),
          std::string_view(R"({"error":{"details":[12]}})"),
          std::string_view(R"({"error":"flat"})"), std::string_view("")}) {
        CAPTURE(body);
        CHECK_FALSE(read_rate_headers({}, now, body).retry_after.has_value());
    }
    CHECK(read_rate_headers({}, now, R"(  {"retryAfter":1.5})").retry_after == 2s);
    CHECK(read_rate_headers({}, now, R"({"retryAfter":1e30})").retry_after == 24h);
}

TEST_CASE("malformed numeric fields are ignored, not guessed") {
    const auto info = read_rate_headers(make({{"RateLimit-Limit", "ten"},
                                              {"RateLimit-Remaining", "-1"},
                                              {"RateLimit-Reset", "1e3"},
                                              {"X-RateLimit-Limit", "1 00"},
                                              {"X-RateLimit-Remaining", "+3"},
                                              {"X-RateLimit-Reset", ""},
                                              {"Retry-After", "-5"}}),
                                        now);
    CHECK_FALSE(info.limit.has_value());
    CHECK_FALSE(info.remaining.has_value());
    CHECK_FALSE(info.reset.has_value());
    CHECK_FALSE(info.retry_after.has_value());
    CHECK(info.empty());
    CHECK(read_rate_headers({}, now).empty());
}

TEST_CASE("a malformed RateLimit-* field falls back to the legacy field") {
    const auto info = read_rate_headers(
        make({{"RateLimit-Remaining", "lots"}, {"X-RateLimit-Remaining", "4"}}), now);
    CHECK(info.remaining == 4);
}

TEST_CASE("random bytes in every field never crash the reader") {
    std::mt19937 rng(12345);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> len(0, 40);
    const std::string_view alphabet = "0123456789 ,;=\".-:GMTSunNov\\wqrtlimit";
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    const std::array<std::string_view, 10> names = {"RateLimit-Limit",       "RateLimit-Remaining",
                                                    "RateLimit-Reset",       "RateLimit",
                                                    "RateLimit-Policy",      "X-RateLimit-Limit",
                                                    "X-RateLimit-Remaining", "X-RateLimit-Reset",
                                                    "Retry-After",           "Date"};
    std::size_t parsed_something = 0;
    for (int round = 0; round < 2000; ++round) {
        boost::beast::http::fields h;
        for (const auto name : names) {
            std::string v;
            const int n = len(rng);
            for (int i = 0; i < n; ++i) {
                // Mostly characters that look like real values, sometimes arbitrary bytes.
                v.push_back(round % 4 == 0 ? static_cast<char>(byte(rng)) : alphabet[pick(rng)]);
            }
            // Beast rejects CR/LF/NUL in values by contract; real responses never contain them.
            std::erase_if(v, [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
            h.insert(name, v);
        }
        const auto info = read_rate_headers(h, now, R"({"retryAfter":7})");
        CHECK((!info.reset || (info.reset >= 0s && info.reset <= 3600s)));
        CHECK((!info.retry_after || (info.retry_after >= 0s && info.retry_after <= 24h)));
        CHECK((!info.limit || *info.limit >= 0));
        CHECK((!info.remaining || *info.remaining >= 0));
        parsed_something += info.limit || info.remaining || info.reset ? 1 : 0;
    }
    CHECK(parsed_something > 0);  // the generator does produce valid values sometimes
}

TEST_CASE("RateLimit-Reset as a Unix time is converted, not discarded (units unknown for Lamina)") {
    // QA reset_epoch: `RateLimit-Reset: <now + 5>` was dropped as absurd (> 1 h), so a 429 with
    // Remaining 0 paused for the 1 s floor and its unseen sends held the host for a whole window.
    const auto sep = read_rate_headers(
        make({{"Date", "Tue, 14 Nov 2023 22:13:20 GMT"}, {"RateLimit-Reset", "1700000005"}}),
        now + 1h);
    CHECK(sep.reset == 5s);
    CHECK(sep.reset_rounding == 2s);
    const auto d7 =
        read_rate_headers(make({{"RateLimit", "limit=100, remaining=0, reset=1700000007"}}), now);
    CHECK(d7.reset == 7s);
    CHECK(d7.reset_rounding == 2s);
    const auto d8 =
        read_rate_headers(make({{"RateLimit", "\"default\";r=0;t=1700000009000"}}), now);
    CHECK(d8.reset == 9s);
    // A delta keeps its 1 s rounding.
    const auto delta = read_rate_headers(make({{"RateLimit-Reset", "4"}}), now);
    CHECK(delta.reset == 4s);
    CHECK(delta.reset_rounding == 1s);
}
