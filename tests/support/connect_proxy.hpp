// A small forward proxy on 127.0.0.1 for tests: CONNECT tunnels (what HTTPS_PROXY means) and
// absolute-form plain-http requests, to loopback targets only. It records every byte a client sent
// it, so a test can assert what a proxy could read (the API key must never be among it), and it can
// demand Proxy-Authorization or refuse tunnels with a chosen status.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace briefd::testing {

class connect_proxy {
  public:
    struct options {
        /// When set, a request without "Proxy-Authorization: Basic base64(user:password)" gets 407.
        std::string user;
        std::string password;
        /// When non-zero, every CONNECT is answered with this status (e.g. 502) and no tunnel.
        unsigned refuse_status = 0;
    };

    /// Listens on 127.0.0.1, an ephemeral port, serving on `ioc`.
    connect_proxy(boost::asio::io_context& ioc, options opts);
    explicit connect_proxy(boost::asio::io_context& ioc);
    ~connect_proxy();
    connect_proxy(const connect_proxy&) = delete;
    connect_proxy& operator=(const connect_proxy&) = delete;

    std::uint16_t port() const { return port_; }
    /// "http://127.0.0.1:<port>".
    std::string url() const;

    std::size_t connections() const { return connections_; }  ///< accepted client connections
    std::size_t tunnels() const { return tunnels_; }          ///< CONNECTs answered with 200
    /// Request heads as received ("CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: …\r\n\r\n"), in order.
    const std::vector<std::string>& heads() const { return heads_; }
    /// Every byte any client sent (heads and tunnelled bytes; capped at 16 MiB).
    const std::string& seen() const { return seen_; }

    /// Closes the listener and every connection.
    void stop();

  private:
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> serve(std::shared_ptr<boost::asio::ip::tcp::socket> client);
    boost::asio::awaitable<void> pump(std::shared_ptr<boost::asio::ip::tcp::socket> from,
                                      std::shared_ptr<boost::asio::ip::tcp::socket> to,
                                      bool record);
    void record(const char* data, std::size_t n);

    boost::asio::io_context& ioc_;
    options opts_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    std::size_t connections_ = 0;
    std::size_t tunnels_ = 0;
    std::vector<std::string> heads_;
    std::string seen_;
    std::vector<std::weak_ptr<boost::asio::ip::tcp::socket>> sockets_;
    bool stopping_ = false;
};

}  // namespace briefd::testing
