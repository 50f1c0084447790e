#include "support/connect_proxy.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <array>

namespace briefd::testing {

namespace asio = boost::asio;
namespace bh = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_seen = 16u << 20;
constexpr std::size_t max_head = 64 * 1024;

/// "user:password" from "Basic <base64>", decoded independently of the client's encoder; empty
/// when the header is not Basic credentials.
std::string basic_credentials(std::string_view header) {
    constexpr std::string_view scheme = "Basic ";
    if (!header.starts_with(scheme)) return {};
    const auto b64 = header.substr(scheme.size());
    if (b64.empty() || b64.size() % 4 != 0) return {};
    std::string out(b64.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(b64.data()),
                                  static_cast<int>(b64.size()));
    if (n < 0) return {};
    // EVP_DecodeBlock counts the bytes '=' padding stands for.
    const auto pad = static_cast<std::size_t>(std::count(b64.end() - 2, b64.end(), '='));
    out.resize(static_cast<std::size_t>(n) - pad);
    return out;
}

bool is_loopback(const std::string& host) {
    boost::system::error_code ec;
    auto a = asio::ip::make_address(host, ec);
    return host == "localhost" || (!ec && a.is_loopback());
}

std::string status_response(unsigned status, std::string_view reason) {
    return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
           "\r\nContent-Length: 0\r\nConnection: close\r\n" +
           (status == 407 ? "Proxy-Authenticate: Basic realm=\"test\"\r\n" : "") + "\r\n";
}

}  // namespace

connect_proxy::connect_proxy(asio::io_context& ioc, options opts)
    : ioc_(ioc),
      opts_(std::move(opts)),
      acceptor_(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
}

connect_proxy::connect_proxy(asio::io_context& ioc) : connect_proxy(ioc, options{}) {}

connect_proxy::~connect_proxy() {
    stop();
}

std::string connect_proxy::url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
}

void connect_proxy::stop() {
    stopping_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (auto& w : sockets_)
        if (auto s = w.lock()) s->close(ec);
    sockets_.clear();
}

void connect_proxy::record(const char* data, std::size_t n) {
    seen_.append(data, std::min(n, max_seen - std::min(max_seen, seen_.size())));
}

asio::awaitable<void> connect_proxy::accept_loop() {
    while (!stopping_) {
        auto [ec, sock] = co_await acceptor_.async_accept(use_tuple);
        if (ec) co_return;
        ++connections_;
        auto s = std::make_shared<tcp::socket>(std::move(sock));
        sockets_.push_back(s);
        asio::co_spawn(ioc_, serve(s), asio::detached);
    }
}

asio::awaitable<void> connect_proxy::pump(std::shared_ptr<tcp::socket> from,
                                          std::shared_ptr<tcp::socket> to, bool rec) {
    std::array<char, 16 * 1024> buf;
    for (;;) {
        auto [ec, n] = co_await from->async_read_some(asio::buffer(buf), use_tuple);
        if (ec) break;
        if (rec) record(buf.data(), n);
        auto [wec, wn] = co_await asio::async_write(*to, asio::buffer(buf.data(), n), use_tuple);
        if (wec) break;
    }
    boost::system::error_code ignored;
    to->shutdown(tcp::socket::shutdown_send, ignored);
    from->shutdown(tcp::socket::shutdown_receive, ignored);
}

asio::awaitable<void> connect_proxy::serve(std::shared_ptr<tcp::socket> client) {
    // The head, read raw so that every byte is recorded, then handed to Beast's parser.
    std::string data;
    std::size_t head_end = std::string::npos;
    std::array<char, 4096> buf;
    while (head_end == std::string::npos) {
        auto [ec, n] = co_await client->async_read_some(asio::buffer(buf), use_tuple);
        if (ec) co_return;
        record(buf.data(), n);
        data.append(buf.data(), n);
        head_end = data.find("\r\n\r\n");
        if (head_end == std::string::npos && data.size() > max_head) co_return;
    }
    head_end += 4;
    heads_.push_back(data.substr(0, head_end));
    const std::string rest = data.substr(head_end);

    bh::request_parser<bh::empty_body> parser;
    parser.eager(false);
    boost::system::error_code pec;
    parser.put(asio::buffer(data.data(), head_end), pec);
    auto answer = [&](unsigned status, std::string_view reason) -> asio::awaitable<void> {
        const auto r = status_response(status, reason);
        co_await asio::async_write(*client, asio::buffer(r), use_tuple);
        boost::system::error_code ignored;
        client->shutdown(tcp::socket::shutdown_both, ignored);
        client->close(ignored);
    };
    if ((pec && pec != bh::error::need_more) || !parser.is_header_done()) {
        co_await answer(400, "Bad Request");
        co_return;
    }
    auto& req = parser.get();

    if (!opts_.user.empty()) {
        if (basic_credentials(req[bh::field::proxy_authorization]) !=
            opts_.user + ":" + opts_.password) {
            co_await answer(407, "Proxy Authentication Required");
            co_return;
        }
    }

    // Where to: "host:port" for CONNECT, the absolute URL's authority otherwise.
    std::string host;
    std::string port;
    const bool tunnel = req.method() == bh::verb::connect;
    std::string origin_form;
    if (tunnel) {
        if (opts_.refuse_status != 0) {
            co_await answer(opts_.refuse_status, "Refused");
            co_return;
        }
        auto u = boost::urls::parse_authority(req.target());
        if (!u || !u->has_port()) {
            co_await answer(400, "Bad Request");
            co_return;
        }
        host = u->host_address();
        port = u->port();
    } else {
        auto u = boost::urls::parse_absolute_uri(req.target());
        if (!u) {
            co_await answer(400, "Bad Request");
            co_return;
        }
        host = u->host_address();
        port = u->has_port() ? std::string(u->port()) : "80";
        origin_form = u->encoded_target().empty() ? "/" : std::string(u->encoded_target());
    }
    if (!is_loopback(host)) {
        co_await answer(403, "Forbidden");
        co_return;
    }

    auto upstream = std::make_shared<tcp::socket>(ioc_);
    sockets_.push_back(upstream);
    tcp::resolver resolver(ioc_);
    auto [rec, results] = co_await resolver.async_resolve(host, port, use_tuple);
    if (!rec) {
        auto [cec, ep] = co_await asio::async_connect(*upstream, results, use_tuple);
        rec = cec;
    }
    if (rec) {
        co_await answer(502, "Bad Gateway");
        co_return;
    }

    if (tunnel) {
        const std::string ok = "HTTP/1.1 200 Connection established\r\n\r\n";
        auto [wec, wn] = co_await asio::async_write(*client, asio::buffer(ok), use_tuple);
        if (wec) co_return;
        ++tunnels_;
    } else {
        // A forward proxy passes the request on in origin-form, without its own credentials.
        req.target(origin_form);
        req.erase(bh::field::proxy_authorization);
        bh::request_serializer<bh::empty_body> sr(req);
        auto [wec, wn] = co_await bh::async_write_header(*upstream, sr, use_tuple);
        if (wec) co_return;
    }
    if (!rest.empty()) {
        auto [wec, wn] = co_await asio::async_write(*upstream, asio::buffer(rest), use_tuple);
        if (wec) co_return;
    }
    asio::co_spawn(ioc_, pump(client, upstream, true), asio::detached);
    co_await pump(upstream, client, false);
}

}  // namespace briefd::testing
