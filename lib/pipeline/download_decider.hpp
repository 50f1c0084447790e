// What to do after one attempt at downloading an output. Sans-I/O: download.cpp carries the verdict
// out (tests: tests/unit/pipeline/download_decider_test.cpp).
//
//   the attempt ended with                                   verdict
//   ─────────────────────────────────────────────────────    ─────────────────────────────────────────
//   the bytes, matching the provider's size and checksum     save
//   a disk problem (core's is_disk_problem: ENOSPC, EROFS…)  wait_for_disk (never counts as an attempt:
//                                                              the host's problem, not the output's)
//   a retryable failure (network, 5xx, truncated, too slow)  retry, until max_attempts, then give_up
//     or bytes that do not match the provider's checksum
//   a 404                                                    retry for the first not_found_attempts
//                                                              (a fresh object a CDN has not
//                                                              propagated yet), then give_up
//   larger than max_output_bytes, another 4xx/3xx            give_up (the same request will not heal)
//
// A 2xx body can still not be the output (body_problem): empty, encoded though briefd asked for
// identity, or an HTML page where media was expected (a CDN's error or login page). Such an
// attempt counts as a mismatch: retried, then given up with that reason, never saved.
#pragma once

#include <boost/url/url.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace briefd::pipeline {

enum class download_verdict { save, retry, wait_for_disk, give_up };

struct download_facts {
    std::error_code ec;      ///< transport, sink (disk) or status error of the attempt; empty: got the bytes
    bool mismatch = false;   ///< the bytes differ from the provider's size or sha256
    unsigned attempt = 0;    ///< 0-based number of this attempt (disk waits not counted)
};

/// The error a non-2xx download status stands for (empty for 2xx): 404 → not_found, 5xx →
/// server_error (retryable), anything else → unexpected_status.
std::error_code download_status_error(unsigned http_status);

/// Attempts a 404 gets (0.5 s and 1 s apart with the downloads' backoff) before it is final.
inline constexpr unsigned not_found_attempts = 3;

download_verdict decide_download(const download_facts& f, unsigned max_attempts);

/// Redirects one output download follows (each hop is not an attempt).
inline constexpr unsigned max_download_redirects = 5;

/// Whether a download status is a redirect briefd follows (301, 302, 303, 307, 308).
bool is_redirect(unsigned http_status);

/// Where a redirect from `from` with this `Location` leads: an absolute http(s) URL (the scheme
/// lower-cased), resolved against `from` when it is a path ("/x" or "//host/x"). nullopt when it
/// cannot be followed: empty, another scheme, a relative form other than those two, bytes that are
/// not printable ASCII, or https to http (a downgrade). The API key goes with the request only if
/// the target is the provider's API origin (the HTTP client binds it there), never elsewhere.
std::optional<boost::urls::url> redirect_target(const boost::urls::url& from, std::string_view location);

/// What a 2xx download brought, for body_problem().
struct body_facts {
    std::uint64_t bytes = 0;
    std::string_view content_type;      ///< the response's, as sent
    std::string_view content_encoding;  ///< the response's, as sent
    std::string_view output_type;       ///< the provider's type of the output (image, video…)
};

/// Why these bytes cannot be the output, or empty when they can.
std::string body_problem(const body_facts& f);

}  // namespace briefd::pipeline
