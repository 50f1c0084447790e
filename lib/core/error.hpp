// The project's one error enum, its category and the retry classifier (STYLE §6).
//
// Expected failures travel as std::error_code values. Text that comes from a server (error bodies,
// request ids, provider codes) is untrusted and never goes into an error_code's message: it lives in
// `diagnostics`, next to the code.
#pragma once

#include <string>
#include <system_error>

namespace briefd {

enum class errc {
    // transport
    connect_timeout = 1,   ///< TCP connect did not finish within its deadline
    handshake_timeout,     ///< TLS handshake did not finish within its deadline
    write_timeout,         ///< sending a request did not finish within its deadline
    read_timeout,          ///< the response (headers or body) did not arrive within its deadline
    connection_closed,     ///< the peer closed the connection before a complete response
    tls_error,             ///< certificate or TLS protocol failure (not retried: it will not heal)
    resolve_failed,        ///< the host name did not resolve
    proxy_refused,         ///< the proxy answered CONNECT with a non-2xx status (403, 502…): no tunnel
    proxy_auth_required,   ///< the proxy answered CONNECT with 407: fix the proxy URL's credentials

    // HTTP / provider responses
    rate_limited,          ///< 429: the whole host pauses
    server_error,          ///< 5xx or an error body with retryable: true
    unauthorized,          ///< 401 for the whole key: stop submitting, keep the queue
    forbidden,             ///< 403 for the whole key or workspace
    payment_required,      ///< 402 / out of credits: stop submitting, keep the queue
    not_found,             ///< 404 for a resource (run, app)
    rejected,              ///< any other 4xx: final for that item, provider message kept
    malformed_response,    ///< a body that is not the JSON we were promised
    unexpected_status,     ///< a status code outside what the endpoint documents
    body_too_large,        ///< a response or download exceeded its size limit

    // SSE
    sse_refused,           ///< 204, another non-200 status, or a wrong Content-Type: no stream for this run
    sse_idle_timeout,      ///< no bytes (not even a ping) for longer than the idle deadline
    sse_stream_ended,      ///< the server closed the stream before a terminal event

    // downloads
    download_truncated,    ///< fewer bytes than Content-Length
    checksum_mismatch,     ///< the bytes do not match the checksum the provider gave
    download_too_slow,     ///< a download stayed below its minimum rate for a whole window

    // briefs, config, files
    brief_invalid,         ///< a brief failed parsing or validation
    brief_too_large,       ///< a brief file is larger than max_brief_bytes
    brief_not_regular,     ///< a symlink, directory, fifo… dropped into incoming/
    config_invalid,        ///< the configuration file has an error
    secret_unavailable,    ///< the API key file / variable is missing or empty
    unsafe_path,           ///< a server-supplied name would escape its directory

    // run outcomes
    run_failed,            ///< the provider reported the run failed
    run_cancelled,         ///< the provider reported the run cancelled
    outcome_uncertain,     ///< a submission was sent but its result is unknown (crash or timeout)

    // lifecycle
    shutting_down,         ///< the operation stopped because the daemon is stopping
};

const std::error_category& category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), category()};
}

/// True when trying the same request again later may succeed: timeouts, dropped connections, 429,
/// 5xx, truncated downloads, and the transient system errors (ECONNRESET, ECONNREFUSED, EPIPE…).
/// False for everything that will fail the same way again (4xx, TLS, validation, config).
bool is_retryable(std::error_code ec) noexcept;

/// True for errors that concern the file system as a whole, not one file: full (ENOSPC, EDQUOT),
/// read-only (EROFS), not ours to write (EACCES, EPERM), failing (EIO), or out of descriptors or
/// memory. Such an error pauses intake; any other filing error (ENAMETOOLONG, EINVAL, ENOENT…)
/// is a problem of the one file and must never stop the others.
bool is_disk_problem(std::error_code ec) noexcept;

/// Untrusted detail from a server, kept beside an error_code, never inside it.
struct diagnostics {
    int http_status = 0;        ///< 0 when no response was received
    std::string provider_code;  ///< e.g. "VALIDATION_ERROR", "RATE_LIMITED"
    std::string message;        ///< the server's human-readable text, truncated and sanitised
    std::string request_id;     ///< the server's trace id (X-Request-Id / requestId)

    bool empty() const noexcept {
        return http_status == 0 && provider_code.empty() && message.empty() && request_id.empty();
    }
    /// Keeps at most `max` bytes of printable text: control characters become spaces, invalid
    /// UTF-8 becomes U+FFFD, and the cut never splits a character, so the result is always valid
    /// UTF-8 (our JSON files can hold it). Use for every string copied out of a response.
    static std::string clean(std::string_view untrusted, std::size_t max = 1024);
};

}  // namespace briefd

template <>
struct std::is_error_code_enum<briefd::errc> : std::true_type {};
