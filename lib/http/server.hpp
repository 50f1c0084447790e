// A small HTTP/1.1 server (Beast over plain TCP) for the daemon's own endpoints: the status server
// (/metrics, /status, /healthz, cancel) and the webhook receiver, which faces the internet. So it
// is written for hostile peers: a cap on concurrent connections (the excess is accepted and closed
// at once), limits on header and body size (431 / 413, then close), a deadline on reading each
// request so a slow or silent client cannot hold a connection, a deadline on every write, and
// keep-alive between requests. Each request goes to one route handler coroutine.
//
// Everything runs on one executor (the daemon's io_context); the server is not thread-safe.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace briefd::http {

namespace asio = boost::asio;
namespace beast = boost::beast;

struct server_options {
    /// Connections served at once; one more is accepted and closed at once (no bytes are read).
    std::size_t max_connections = 64;
    /// Request line plus header fields; beyond it: 431 and close.
    std::size_t max_header_bytes = 8 * 1024;
    /// Request body (Content-Length or the sum of chunks); beyond it: 413 and close. A declared
    /// Content-Length over the limit is refused before any body byte is read.
    std::size_t max_body_bytes = 64 * 1024;
    /// From the first byte of a request to its last: a client that trickles bytes (slowloris) is
    /// cut off when this runs out, whatever its pace.
    std::chrono::milliseconds read_timeout{10000};
    /// A kept-alive connection waiting for the first byte of its next request is closed after this.
    std::chrono::milliseconds idle_timeout{30000};
    /// Each response write; a peer that does not read is cut off.
    std::chrono::milliseconds write_timeout{10000};
};

/// One request as the handler sees it. `target` is the raw request-target ("/jobs/x/cancel?a=1").
struct server_request {
    beast::http::verb method = beast::http::verb::unknown;
    std::string target;
    beast::http::fields headers;
    std::string body;  ///< the raw bytes, unparsed (a webhook signature covers exactly these)
    asio::ip::tcp::endpoint remote;
};

struct server_response {
    unsigned status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    /// Extra header fields (Allow, Retry-After, Cache-Control…). Content-Type, Content-Length and
    /// Connection are set by the server.
    std::vector<std::pair<std::string, std::string>> headers;
};

/// Called once per request, on the server's executor. May suspend (it is a coroutine); the
/// connection waits for it, other connections do not. An exception becomes a 500 with a generic
/// body (it is logged by nobody: handlers report their own errors as values).
using route_handler = std::function<asio::awaitable<server_response>(const server_request&)>;

/// "127.0.0.1:9464", "[::1]:9464", "0.0.0.0:0": an IP literal (IPv6 in brackets) and a port
/// (0 = any free port). No host names: what a daemon listens on must not depend on DNS. nullopt
/// for anything else.
std::optional<asio::ip::tcp::endpoint> parse_listen_endpoint(std::string_view text);

class server {
  public:
    server(asio::any_io_executor ex, route_handler handler, server_options opts = {});
    /// stop()s. Sessions still suspended in the loop end when it next runs (their sockets are
    /// closed); the handler must stay callable until then or until the loop is destroyed.
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds and listens, then accepts on the executor. Throws std::system_error (a start-up
    /// error) naming the endpoint when it cannot bind (address in use, not local…).
    void listen(const asio::ip::tcp::endpoint& ep);
    /// The bound endpoint (the real port after listening on port 0).
    asio::ip::tcp::endpoint local_endpoint() const;

    /// Closes the listener and every connection (pending reads and writes complete with
    /// operation_aborted). No handler call starts afterwards; one already running finishes and its
    /// answer is dropped. Idempotent.
    void stop();

    std::size_t connections() const noexcept;            ///< open connections now
    std::uint64_t refused_connections() const noexcept;  ///< closed at once: over max_connections

    class impl;

  private:
    std::shared_ptr<impl> impl_;
};

}  // namespace briefd::http
