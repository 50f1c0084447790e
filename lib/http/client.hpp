// An asynchronous HTTP/1.1 client for C++20 coroutines: Beast over plain TCP or asio::ssl (SNI,
// host-name verification, the system trust store plus an optional CA file), keep-alive reuse per
// origin, forward proxies (CONNECT tunnels for https, absolute-form for http), a deadline on every
// step, transport failures as values (briefd::errc), and streaming bodies for SSE and downloads.
//
// Everything runs on one executor (the daemon's io_context); the client is not thread-safe.
#pragma once

#include "core/secret.hpp"
#include "http/proxy.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/url/url.hpp>
#include <boost/url/url_view.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace briefd::http {

namespace asio = boost::asio;
namespace beast = boost::beast;

/// scheme + host + port: the unit of connection reuse and of credential scoping.
struct origin {
    std::string scheme;  ///< "http" or "https"
    std::string host;    ///< lower-case host name or IP address (IPv6 without brackets)
    std::uint16_t port = 0;

    bool operator==(const origin&) const = default;

    /// The origin of an absolute http(s) URL; nullopt for other schemes, a missing host or port 0.
    static std::optional<origin> from_url(boost::urls::url_view u);
    /// "https://api.example.com" or "http://127.0.0.1:8080" (the port only when not the default).
    std::string to_string() const;
    /// The Host header value: host (bracketed if IPv6) plus ":port" when not the default for the
    /// scheme.
    std::string host_header() const;
};

struct request {
    beast::http::verb method = beast::http::verb::get;
    boost::urls::url url;  ///< absolute http(s) URL
    /// Extra headers (Accept, Last-Event-ID…); they replace defaults of the same name.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    /// async_request: deadline for the whole exchange (connect + handshake + write + read).
    /// async_open / async_download: deadline up to the end of the response header; the body is then
    /// bounded per read by their `idle` argument.
    std::chrono::milliseconds timeout{30000};
};

struct response {
    unsigned status = 0;
    beast::http::fields headers;
    std::string body;
};

struct client_options {
    /// PEM bundle trusted in addition to the system store (a private gateway's CA); empty: none.
    std::string ca_file;
    /// false: trust ca_file only, not the system store (pinning a private CA; needs ca_file).
    bool trust_system_store = true;
    /// Forward proxy for API and download requests; empty: direct. The daemon fills it from the
    /// config's `proxy:` or else proxy_options::from_environment(). For an https target the client
    /// opens a CONNECT tunnel (Proxy-Authorization from the proxy URL's userinfo) and speaks TLS
    /// through it to the target (SNI and host-name check against the target), so the proxy never
    /// sees the request or the credential. An http target goes to the proxy as an absolute-form
    /// request, except a request carrying the credential: that one always goes direct (the key is
    /// never shown to a proxy in clear; http base_urls are loopback-only anyway).
    proxy_options proxy;
    /// Resolve + TCP connect, and again for the TLS handshake (both also within request::timeout).
    std::chrono::milliseconds connect_timeout{10000};
    std::size_t max_idle_per_origin = 4;    ///< kept-alive connections parked per origin
    std::size_t max_body_bytes = 8u << 20;  ///< async_request bodies (not streams or downloads)
    std::string user_agent = "briefd/0.1";
};

class client_impl;  // internals, in client.cpp

class client {
  public:
    /// Throws std::system_error if `opts.ca_file` (or the system trust store) cannot be loaded, or
    /// if a proxy URL is unusable (the message never holds its password): a start-up error.
    client(asio::any_io_executor ex, client_options opts);
    /// Aborts everything in flight (operation_aborted) and closes every idle connection.
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// The credential header is added to every request whose origin (scheme, host and port) equals
    /// `o`, the provider's base_url origin, whatever the path, and to no other request: not to
    /// another host, port or scheme (CDNs, a files origin), and never to a proxy (see
    /// client_options::proxy). The client never follows redirects, so a credential cannot follow
    /// one either. `header` like "x-api-key".
    void set_credential(const origin& o, std::string header, briefd::secret value);

    /// Replaces every occurrence of the credential's value in `text` with "[redacted]". A server
    /// that echoes the key ("invalid inputs for key lma_…") must not put it in logs, error files,
    /// state files or manifests: async_request() does this to every response body and header
    /// value before returning it; callers apply it to text from a stream (SSE events). A value
    /// shorter than 8 characters is left alone (it would match ordinary text by chance).
    void redact(std::string& text) const;

    /// One request/response with keep-alive reuse per origin. Completes with {ec, response}; any
    /// HTTP status is success at this level (a 3xx is returned, not followed). ec is for transport:
    /// errc::connect_timeout (also for a proxy's CONNECT answer), handshake_timeout, write_timeout,
    /// read_timeout (req.timeout covers the whole exchange), connection_closed, tls_error,
    /// resolve_failed, proxy_auth_required (the proxy answered CONNECT with 407), proxy_refused
    /// (any other non-2xx answer to CONNECT), body_too_large (> max_body_bytes),
    /// std::errc::invalid_argument (not an absolute http(s) URL, or CR/LF/NUL in a header), or
    /// system errors (connection refused…). A GET that fails on a reused keep-alive connection
    /// before any response byte arrives is retried once on a fresh connection; other methods are
    /// never retried here (a POST could be double-submitted). Cancellation: cancel_all() or
    /// destroying the client completes it with asio::error::operation_aborted (so does a
    /// cancellation signal on the calling coroutine, with Asio's usual rules).
    asio::awaitable<std::pair<std::error_code, response>> async_request(request req);

    /// A response whose header has arrived and whose body is read piece by piece (SSE, downloads).
    class body_stream {
      public:
        struct impl;
        explicit body_stream(std::unique_ptr<impl> p);
        ~body_stream();
        body_stream(const body_stream&) = delete;
        body_stream& operator=(const body_stream&) = delete;

        unsigned status() const;
        const beast::http::fields& headers() const;
        /// Content-Length when the response declared one.
        std::optional<std::uint64_t> content_length() const;

        /// The next piece of body (at most 64 KiB). Completes with {ec, bytes}; the view is valid
        /// until the next call. Non-empty unless the body is over: the last piece may already come
        /// with done()==true, and once done() every call completes with {no error, empty view}.
        /// errc::read_timeout if no byte arrives within `idle` (the caller's idle deadline, e.g.
        /// SSE); errc::connection_closed if the peer closes before the body's end;
        /// errc::body_too_large past the limit given to async_download. Cancelled by cancel_all(),
        /// close() or destroying the client.
        asio::awaitable<std::pair<std::error_code, std::string_view>> async_read_some(
            std::chrono::milliseconds idle);
        /// The same with an absolute deadline for this read (errc::read_timeout once it passes).
        asio::awaitable<std::pair<std::error_code, std::string_view>> async_read_some_until(
            std::chrono::steady_clock::time_point deadline);
        /// Largest piece one read returns (default 8 KiB, enough for SSE); set before the first
        /// read. Downloads use 1 MiB.
        ///
        /// A body framed by Content-Length (not chunked) is read from the connection directly
        /// into this buffer, bypassing the HTTP parser: one copy out of the kernel, and each read
        /// takes everything that has already arrived (for TLS: every record already buffered), up
        /// to the buffer's size and never past the body's end.
        void set_read_size(std::size_t bytes);
        bool done() const;
        /// Drops the connection (never returned to the pool mid-body); a read in flight, and any
        /// later one, completes with operation_aborted. After a clean end of the body a keep-alive
        /// connection has already gone back to the pool. Destroy the stream only when no read is in
        /// flight.
        void close();

      private:
        std::unique_ptr<impl> impl_;
    };

    /// Sends the request and reads the response header only (deadline: req.timeout). Completes with
    /// {ec, stream}; the stream is non-null exactly when ec is empty, whatever the status. Errors
    /// and retry rules as async_request.
    asio::awaitable<std::pair<std::error_code, std::unique_ptr<body_stream>>> async_open(
        request req);

    struct download_info {
        unsigned status = 0;
        std::uint64_t bytes = 0;  ///< bytes handed to the sink
        std::string content_type;
        std::string content_encoding;  ///< as sent (briefd asks for identity; empty when none)
        std::string location;          ///< a 3xx response's Location, as sent (else empty)
        std::optional<std::uint64_t> content_length;
    };

    /// Limits and hooks of one download.
    struct download_options {
        /// errc::body_too_large when Content-Length or the bytes received exceed this.
        std::uint64_t max_bytes = std::uint64_t(-1);
        /// Every body read must bring a byte within this (errc::read_timeout).
        std::chrono::milliseconds idle{60000};
        /// Minimum average rate over each `rate_window` of the body (0: no minimum): a window
        /// that ends with fewer than min_bytes_per_s x window seconds received fails the download
        /// with errc::download_too_slow (retryable), at the window's end even when the peer
        /// trickles bytes that keep resetting `idle`.
        std::uint64_t min_bytes_per_s = 0;
        std::chrono::milliseconds rate_window{30000};
        /// Called once for a 2xx response, after its header and before the first body byte
        /// (e.g. to preallocate Content-Length on disk); a non-zero result aborts with it.
        std::function<std::error_code(const download_info&)> on_start;
    };

    /// Streams a response body into `sink`, chunk by chunk (memory stays flat for multi-GB files).
    /// Only a 2xx body goes to the sink: for any other status it completes at once with {no error,
    /// info} (info.status tells) and the connection is dropped. A sink returning a non-zero
    /// error_code aborts with that code. errc::body_too_large when Content-Length or the bytes
    /// received exceed `max_bytes` (checked before the first byte when Content-Length is known);
    /// errc::download_truncated when the connection ends before the body does (fewer bytes than
    /// Content-Length, or an unfinished chunked body). req.timeout bounds the exchange up to the
    /// response header; `idle` bounds every body read (errc::read_timeout). Cancellation as
    /// async_request.
    ///
    /// The sink gets pieces of up to 1 MiB (give them to one write(2)); between pieces the
    /// coroutine goes back through the executor, and every 8 MiB it yields explicitly, so one fast
    /// download never holds the event loop for more than one piece's worth of work.
    asio::awaitable<std::pair<std::error_code, download_info>> async_download(
        request req, std::uint64_t max_bytes, std::chrono::milliseconds idle,
        std::function<std::error_code(std::string_view)> sink);
    /// The same with every limit in `opts`, plus the minimum rate (errc::download_too_slow) and
    /// the on_start hook.
    asio::awaitable<std::pair<std::error_code, download_info>> async_download(
        request req, download_options opts, std::function<std::error_code(std::string_view)> sink);

    /// Aborts every operation in flight (they complete with operation_aborted) and closes idle
    /// connections. The client stays usable: later requests proceed normally.
    void cancel_all();
    /// Connections parked for reuse, over all origins (for tests of keep-alive reuse).
    std::size_t idle_connections() const;

  private:
    std::shared_ptr<client_impl> impl_;
};

}  // namespace briefd::http
