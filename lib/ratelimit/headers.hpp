// Reads what a response says about the server's rate limit (PROTOCOLS §2): the IETF RateLimit-*
// fields in their draft-6 (separate fields), draft-7 (`RateLimit: limit=, remaining=, reset=`) and
// draft-8 (`RateLimit: "p";r=;t=`) shapes, the legacy X-RateLimit-* fields, Retry-After, and the
// `retryAfter` of an error body. Sans-I/O: a header map and a body in, plain values out.
//
// Everything is validated and malformed values are ignored, never thrown (draft §7: "A client MUST
// validate the values received"). Choices made where servers disagree:
// - `RateLimit-Reset` (and `reset=`/`t=`) is delta-seconds by the drafts; `X-RateLimit-Reset` is
//   a Unix timestamp (express-rate-limit, Hrizn). Servers mix them up (Lamina's units are unknown,
//   PROVIDERS §1.8), so every Reset field takes both: a value below 1e9 is a delta, a larger one a
//   Unix timestamp (1e12 or more: in milliseconds), converted to a delta against the response
//   `Date` (falling back to `now`) so local clock skew does not matter.
// - Fractional seconds are rounded up: waiting a little longer is harmless, a little shorter is a
// 429.
// - A reset already in the past becomes 0 s. A reset more than an hour away is ignored: every
//   window we know of is a minute, so such a value is far likelier a unit mix-up (milliseconds,
//   a misread timestamp) than a real wait, and parking the whole host on it would be worse than
//   letting Retry-After on the next 429 decide.
// - Retry-After is an explicit instruction, so it is kept but saturated at 24 h; the limiter
//   applies the tighter operational bound (15 min). A date in the past becomes 0 s.
#pragma once

#include <boost/beast/http/fields.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace briefd::ratelimit {

struct rate_info {
    std::optional<std::int64_t> limit;          ///< requests allowed per window
    std::optional<std::int64_t> remaining;      ///< requests left in the current window
    std::optional<std::chrono::seconds> reset;  ///< time until the window resets (a delta)
    std::optional<std::chrono::seconds>
        retry_after;                             ///< from Retry-After, else the body's retryAfter
    std::optional<std::chrono::seconds> window;  ///< from a `w=` quota policy
    /// How much later than the real moment `reset` may point: servers send whole seconds rounded
    /// up, so 1 s for a delta; 2 s for a Unix timestamp, which is a whole second compared with a
    /// whole-second Date (or the local clock). The limiter's lower bound on the real reset.
    std::chrono::seconds reset_rounding{1};

    bool empty() const noexcept {
        return !limit && !remaining && !reset && !retry_after && !window;
    }
};

/// Longest reset accepted from any *-Reset field; anything larger is ignored as malformed.
inline constexpr std::chrono::seconds max_reset{3600};
/// Retry-After values (header or body) saturate here.
inline constexpr std::chrono::seconds max_retry_after{24 * 3600};

/// Reads the rate-limit state from a response's header fields and (for 429 bodies such as Lamina's
/// `{"code":"RATE_LIMITED","retryAfter":30}` or Hrizn's `{"error":{"details":{"retry_after":12}}}`)
/// its body. `now` is the local receive time, used only when the response has no valid `Date`.
rate_info read_rate_headers(const boost::beast::http::fields& h,
                            std::chrono::system_clock::time_point now, std::string_view body = {});

/// Parses an HTTP-date in any of the three RFC 9110 §5.6.7 forms: IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`; two-digit years
/// below 70 are 20xx) and asctime (`Sun Nov  6 08:49:37 1994`). The weekday name must be a
/// weekday but is not checked against the date. nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view s);

}  // namespace briefd::ratelimit
