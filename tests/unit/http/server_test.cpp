// The small HTTP server against real loopback sockets: the well-behaved path through briefd's own
// client, hostile peers through raw sockets (oversized header and body, garbage, a client that
// trickles bytes, one that says nothing, more connections than allowed). Every test runs its loop
// under run_test's watchdog; no test asserts on timings.
#include "http/server.hpp"

#include "http/client.hpp"
#include "test_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <stdexcept>

// GCC 12 false positive (GCC bug 109224), as in client_test.cpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

namespace asio = boost::asio;
namespace bh = boost::beast::http;
namespace t = briefd::http::testing;
using briefd::http::parse_listen_endpoint;
using briefd::http::server;
using briefd::http::server_options;
using briefd::http::server_request;
using briefd::http::server_response;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// Records every request and answers "<METHOD> <target>\n<body>".
struct echo_routes {
    std::vector<server_request> seen;
    briefd::http::route_handler handler() {
        return [this](const server_request& r) -> asio::awaitable<server_response> {
            seen.push_back(r);
            server_response res;
            res.body = std::string(bh::to_string(r.method)) + " " + r.target + "\n" + r.body;
            res.headers.emplace_back("X-Seen", std::to_string(seen.size()));
            co_return res;
        };
    }
};

tcp::endpoint loopback() {
    return {asio::ip::make_address("127.0.0.1"), 0};
}

/// An echo_routes server listening on 127.0.0.1 (an ephemeral port) with `o`.
struct echo_fixture {
    explicit echo_fixture(server_options o = {}) : srv(ioc.get_executor(), routes.handler(), o) {
        srv.listen(loopback());
        ep = srv.local_endpoint();
    }
    asio::io_context ioc;
    echo_routes routes;
    server srv;
    tcp::endpoint ep;
};

asio::awaitable<tcp::socket> connect_to(const tcp::endpoint& ep) {
    tcp::socket s(co_await asio::this_coro::executor);
    co_await s.async_connect(ep, asio::use_awaitable);
    co_return s;
}

/// Everything the server sends until it closes the connection (the watchdog bounds the wait).
asio::awaitable<std::string> read_to_close(tcp::socket& s) {
    std::string out;
    std::array<char, 4096> buf;
    for (;;) {
        auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), use_tuple);
        out.append(buf.data(), n);
        if (ec) break;
    }
    co_return out;
}

/// Reads one response head (up to the blank line) without waiting for a close.
asio::awaitable<std::string> read_head(tcp::socket& s) {
    std::string out;
    auto [ec, n] =
        co_await asio::async_read_until(s, asio::dynamic_buffer(out), "\r\n\r\n", use_tuple);
    co_return ec ? std::string() : out;
}

asio::awaitable<void> sleep(std::chrono::milliseconds d) {
    asio::steady_timer tm(co_await asio::this_coro::executor, d);
    co_await tm.async_wait(use_tuple);
}

briefd::http::request get(const tcp::endpoint& ep, std::string_view path) {
    briefd::http::request r;
    r.url = boost::urls::url("http://127.0.0.1:" + std::to_string(ep.port()) + std::string(path));
    r.timeout = 5s;
    return r;
}

}  // namespace

TEST_CASE("http server: listen endpoints are IP literals with a port") {
    auto v4 = parse_listen_endpoint("127.0.0.1:9464");
    REQUIRE(v4);
    CHECK(v4->address().to_string() == "127.0.0.1");
    CHECK(v4->port() == 9464);
    auto v6 = parse_listen_endpoint("[::1]:0");
    REQUIRE(v6);
    CHECK(v6->address().is_v6());
    CHECK(v6->port() == 0);
    CHECK(parse_listen_endpoint("0.0.0.0:80"));
    CHECK_FALSE(parse_listen_endpoint("localhost:9464"));  // no DNS
    CHECK_FALSE(parse_listen_endpoint("127.0.0.1"));
    CHECK_FALSE(parse_listen_endpoint("127.0.0.1:"));
    CHECK_FALSE(parse_listen_endpoint("127.0.0.1:65536"));
    CHECK_FALSE(parse_listen_endpoint("127.0.0.1:-1"));
    CHECK_FALSE(parse_listen_endpoint("127.0.0.1:94x"));
    CHECK_FALSE(parse_listen_endpoint("::1:9464"));  // IPv6 needs brackets
    CHECK_FALSE(parse_listen_endpoint("[127.0.0.1]:9464"));
    CHECK_FALSE(parse_listen_endpoint("[::1]9464"));
    CHECK_FALSE(parse_listen_endpoint(""));
}

TEST_CASE("http server: requests reach the handler; keep-alive serves several on one connection") {
    echo_fixture f;
    auto& ioc = f.ioc;
    auto& srv = f.srv;
    const auto ep = f.ep;
    REQUIRE(ep.port() != 0);
    briefd::http::client c(ioc.get_executor(), {});
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [ec, res] = co_await c.async_request(get(ep, "/status?x=1"));
            REQUIRE_FALSE(ec);
            CHECK(res.status == 200);
            CHECK(res.body == "GET /status?x=1\n");
            CHECK(res.headers[bh::field::content_type] == "text/plain; charset=utf-8");
            CHECK(res.headers["X-Seen"] == "1");

            auto post = get(ep, "/jobs/a/cancel");
            post.method = bh::verb::post;
            post.body = "{\"why\":1}";
            post.headers.emplace_back("X-Signature", "abc");
            auto [ec2, res2] = co_await c.async_request(std::move(post));
            REQUIRE_FALSE(ec2);
            CHECK(res2.body == "POST /jobs/a/cancel\n{\"why\":1}");
            CHECK(srv.connections() == 1);  // the client's kept-alive connection, reused
        },
        [&] { srv.stop(); });
    REQUIRE(f.routes.seen.size() == 2);
    CHECK(f.routes.seen[1].headers["x-signature"] == "abc");
    CHECK(f.routes.seen[1].remote.address().to_string() == "127.0.0.1");
}

TEST_CASE("http server: a handler may suspend; one that throws gives 500; HEAD has no body") {
    asio::io_context ioc;
    server srv(ioc.get_executor(), [](const server_request& r) -> asio::awaitable<server_response> {
        if (r.target == "/throw") throw std::runtime_error("bug");
        co_await sleep(20ms);
        co_return server_response{201, "application/json", "{\"ok\":true}", {}};
    });
    srv.listen(loopback());
    const auto ep = srv.local_endpoint();
    // Made outside the coroutine: GCC 12 mishandles a braced temporary argument in a coroutine.
    briefd::http::client c(ioc.get_executor(), {});
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [ec, res] = co_await c.async_request(get(ep, "/later"));
            REQUIRE_FALSE(ec);
            CHECK(res.status == 201);
            CHECK(res.body == "{\"ok\":true}");
            auto [ec2, res2] = co_await c.async_request(get(ep, "/throw"));
            REQUIRE_FALSE(ec2);
            CHECK(res2.status == 500);
            CHECK(res2.body.find("bug") == std::string::npos);  // no exception text to the peer

            auto s = co_await connect_to(ep);
            const std::string head = "HEAD /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
            co_await asio::async_write(s, asio::buffer(head), asio::use_awaitable);
            const auto got = co_await read_to_close(s);
            CHECK(got.starts_with("HTTP/1.1 201"));
            CHECK(got.find("Content-Length: 11\r\n") != std::string::npos);
            CHECK(got.ends_with("\r\n\r\n"));  // the head only
        },
        [&] { srv.stop(); });
}

TEST_CASE("http server: oversized bodies get 413 and the handler never runs") {
    server_options o;
    o.max_body_bytes = 1000;
    echo_fixture f(o);
    auto& ioc = f.ioc;
    auto& srv = f.srv;
    const auto ep = f.ep;
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            // A declared Content-Length over the limit: refused before any body byte is sent.
            auto s = co_await connect_to(ep);
            const std::string h =
                "POST /hook HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n";
            co_await asio::async_write(s, asio::buffer(h), asio::use_awaitable);
            auto got = co_await read_to_close(s);
            CHECK(got.starts_with("HTTP/1.1 413"));
            CHECK(got.find("Connection: close") != std::string::npos);

            // Chunked: the limit is found while reading the body.
            auto s2 = co_await connect_to(ep);
            std::string chunked =
                "POST /hook HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
            for (int i = 0; i < 3; ++i) chunked += "1f4\r\n" + std::string(500, 'x') + "\r\n";
            chunked += "0\r\n\r\n";
            co_await asio::async_write(s2, asio::buffer(chunked), asio::use_awaitable);
            got = co_await read_to_close(s2);
            CHECK(got.starts_with("HTTP/1.1 413"));

            // Exactly at the limit is fine.
            auto s3 = co_await connect_to(ep);
            const std::string ok =
                "POST /hook HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                "Content-Length: 1000\r\n\r\n" +
                std::string(1000, 'y');
            co_await asio::async_write(s3, asio::buffer(ok), asio::use_awaitable);
            got = co_await read_to_close(s3);
            CHECK(got.starts_with("HTTP/1.1 200"));
        },
        [&] { srv.stop(); });
    REQUIRE(f.routes.seen.size() == 1);
    CHECK(f.routes.seen[0].body.size() == 1000);
}

TEST_CASE("http server: an oversized header gets 431, garbage gets 400") {
    server_options o;
    o.max_header_bytes = 2048;
    echo_fixture f(o);
    auto& ioc = f.ioc;
    auto& srv = f.srv;
    const auto ep = f.ep;
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto s = co_await connect_to(ep);
            const std::string h =
                "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(4000, 'b') + "\r\n\r\n";
            co_await asio::async_write(s, asio::buffer(h), asio::use_awaitable);
            auto got = co_await read_to_close(s);
            CHECK(got.starts_with("HTTP/1.1 431"));

            auto s2 = co_await connect_to(ep);
            const std::string junk = "\x01\x02 nonsense\r\n\r\n";
            co_await asio::async_write(s2, asio::buffer(junk), asio::use_awaitable);
            got = co_await read_to_close(s2);
            CHECK(got.starts_with("HTTP/1.1 400"));
        },
        [&] { srv.stop(); });
    CHECK(f.routes.seen.empty());
}

TEST_CASE("http server: a client that trickles its request or says nothing is cut off") {
    server_options o;
    o.read_timeout = 300ms;
    o.idle_timeout = 300ms;
    echo_fixture f(o);
    auto& ioc = f.ioc;
    auto& srv = f.srv;
    const auto ep = f.ep;
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            // Slowloris: one header byte every 20 ms, never finishing. Each byte arrives well
            // within any per-read timeout; only a deadline on the whole request stops it. The loop
            // gives up after 8 s (far beyond the 300 ms deadline), failing the test.
            auto s = co_await connect_to(ep);
            const std::string start = "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ";
            co_await asio::async_write(s, asio::buffer(start), asio::use_awaitable);
            bool cut = false;
            for (int i = 0; i < 400 && !cut; ++i) {
                co_await sleep(20ms);
                auto [ec, n] = co_await asio::async_write(s, asio::buffer("z", 1), use_tuple);
                cut = static_cast<bool>(ec);
            }
            CHECK(cut);

            // A connection that sends nothing at all is closed after the idle deadline.
            auto s2 = co_await connect_to(ep);
            auto got = co_await read_to_close(s2);
            CHECK(got.empty());
        },
        [&] { srv.stop(); });
    CHECK(f.routes.seen.empty());
}

TEST_CASE("http server: connections beyond the cap are closed at once; freed slots are reused") {
    server_options o;
    o.max_connections = 2;
    echo_fixture f(o);
    auto& ioc = f.ioc;
    auto& srv = f.srv;
    const auto ep = f.ep;
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            const std::string req = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n";  // keep-alive
            auto a = co_await connect_to(ep);
            auto b = co_await connect_to(ep);
            // A served request proves each connection holds a slot.
            for (auto* s : {&a, &b}) {
                co_await asio::async_write(*s, asio::buffer(req), asio::use_awaitable);
                auto head = co_await read_head(*s);
                CHECK(head.starts_with("HTTP/1.1 200"));
            }
            CHECK(srv.connections() == 2);

            auto c = co_await connect_to(ep);
            auto got = co_await read_to_close(c);  // closed without a byte read or sent
            CHECK(got.empty());
            CHECK(srv.refused_connections() == 1);

            a.close();
            for (int i = 0; i < 200 && srv.connections() != 1; ++i) co_await sleep(10ms);
            REQUIRE(srv.connections() == 1);
            auto d = co_await connect_to(ep);
            co_await asio::async_write(d, asio::buffer(req), asio::use_awaitable);
            auto head = co_await read_head(d);
            CHECK(head.starts_with("HTTP/1.1 200"));
            CHECK(srv.refused_connections() == 1);
        },
        [&] { srv.stop(); });
}

TEST_CASE("http server: stop closes open connections and the listener") {
    echo_fixture f;
    auto& ioc = f.ioc;
    auto& srv = f.srv;
    const auto ep = f.ep;
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto a = co_await connect_to(ep);
            const std::string req = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
            co_await asio::async_write(a, asio::buffer(req), asio::use_awaitable);
            CHECK((co_await read_head(a)).starts_with("HTTP/1.1 200"));
            srv.stop();
            auto rest = co_await read_to_close(a);  // ends: the server closed its side
            for (int i = 0; i < 200 && srv.connections() != 0; ++i) co_await sleep(10ms);
            CHECK(srv.connections() == 0);
            tcp::socket again(co_await asio::this_coro::executor);
            auto [ec] = co_await again.async_connect(ep, use_tuple);
            CHECK(ec == asio::error::connection_refused);
            (void)rest;
        },
        [] {});
}

TEST_CASE("http server: listening on a taken port is a start-up error naming the endpoint") {
    asio::io_context ioc;
    echo_routes routes;
    server a(ioc.get_executor(), routes.handler());
    a.listen(loopback());
    server b(ioc.get_executor(), routes.handler());
    try {
        b.listen(a.local_endpoint());
        FAIL("listen on a taken port succeeded");
    } catch (const std::system_error& e) {
        CHECK(std::string(e.what()).find(
                  "127.0.0.1:" + std::to_string(a.local_endpoint().port())) != std::string::npos);
    }
}
