// A tiny scripted HTTP/1.1 server on 127.0.0.1 (plain or TLS) for the HTTP client's tests.
// Each request goes to a handler coroutine that writes whatever raw bytes the test needs
// (well-formed responses, slow chunked bodies, truncated bodies, nothing at all).
#pragma once

#include "support/certs.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace briefd::http::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bh = boost::beast::http;

class test_server;

/// One accepted connection, as a handler sees it.
class peer {
  public:
    peer(test_server& owner, asio::ip::tcp::socket s, asio::ssl::context* tls);

    /// Sends raw bytes; false when the client has gone.
    asio::awaitable<bool> write(std::string_view bytes);
    /// Waits until the test calls test_server::signal() (or the server stops).
    asio::awaitable<void> wait_signal();
    /// Never answers: waits until the server stops.
    asio::awaitable<void> hang();
    void close();

    std::size_t served = 0;  ///< requests already answered on this connection

  private:
    friend class test_server;
    beast::tcp_stream& tcp_layer() { return tls_ ? tls_->next_layer() : *plain_; }

    test_server& owner_;
    std::optional<beast::tcp_stream> plain_;
    std::optional<asio::ssl::stream<beast::tcp_stream>> tls_;
    beast::flat_buffer buffer_;
};

/// Returns true to keep the connection open for the next request.
using handler = std::function<asio::awaitable<bool>(peer&, const bh::request<bh::string_body>&)>;

class test_server {
  public:
    /// Listens on 127.0.0.1, an ephemeral port; TLS with `pki`'s server certificate when given.
    test_server(asio::io_context& ioc, handler h, const briefd::testing::test_pki* pki = nullptr);
    ~test_server();

    std::uint16_t port() const { return port_; }
    /// "http://127.0.0.1:<port><path>" (https with TLS).
    std::string url(std::string_view path = "/") const;
    std::size_t accepted() const { return accepted_; }
    std::size_t handshake_failures() const { return handshake_failures_; }
    const std::vector<bh::request<bh::string_body>>& requests() const { return requests_; }

    /// Wakes every handler in peer::wait_signal().
    void signal() { signal_.cancel(); }
    /// Closes the listener and every connection and wakes every waiting handler.
    void stop();

  private:
    friend class peer;
    asio::awaitable<void> accept_loop();
    asio::awaitable<void> serve(std::shared_ptr<peer> p);

    asio::io_context& ioc_;
    handler handler_;
    std::optional<asio::ssl::context> tls_;
    asio::ip::tcp::acceptor acceptor_;
    asio::steady_timer signal_;
    asio::steady_timer stopped_;
    std::uint16_t port_ = 0;
    std::size_t accepted_ = 0;
    std::size_t handshake_failures_ = 0;
    bool stopping_ = false;
    std::vector<bh::request<bh::string_body>> requests_;
    std::vector<std::weak_ptr<peer>> peers_;
};

/// A complete serialized response with Content-Length.
std::string make_response(unsigned status, std::string_view body,
                          const std::vector<std::pair<std::string, std::string>>& headers = {},
                          bool keep_alive = true);

/// The header of a chunked response; the test writes the chunks with chunk().
std::string chunked_header(unsigned status, std::string_view content_type);
/// One chunk; an empty `data` is the last chunk.
std::string chunk(std::string_view data);

/// Runs `test` on `ioc` with a watchdog: fails the test case if it takes longer than `limit`. Then
/// calls `cleanup` (stop servers) and lets the loop wind down, again bounded in time.
void run_test(asio::io_context& ioc, std::function<asio::awaitable<void>()> test,
              std::function<void()> cleanup, std::chrono::seconds limit = std::chrono::seconds(10));

/// A PKI made once per test process in a temporary directory; `which` picks independent CAs.
const briefd::testing::test_pki& shared_pki(int which = 0);

}  // namespace briefd::http::testing
