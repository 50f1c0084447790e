// The HTTP client against a scripted Beast server on 127.0.0.1 (plain and TLS). Every test runs its
// io_context under run_test's watchdog; no test asserts on timings.
#include "http/client.hpp"

#include "core/error.hpp"
#include "test_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

// GCC 12 false positive (GCC bug 109224): when a coroutine lambda's frame allocation is inlined
// into std::function it pairs Asio's frame operator new with the wrong delete. The code is correct.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

namespace asio = boost::asio;
namespace bh = boost::beast::http;
namespace t = briefd::http::testing;
using briefd::errc;
using briefd::http::client;
using briefd::http::client_options;
using briefd::http::origin;
using briefd::http::request;
using namespace std::chrono_literals;

request make_request(const std::string& url, bh::verb method = bh::verb::get,
                     std::string body = {}) {
    request r;
    r.method = method;
    r.url = boost::urls::url(url);
    r.body = std::move(body);
    return r;
}

/// Echoes "<METHOD> <target>\n<body>" with status 200, keeping the connection alive.
asio::awaitable<bool> echo(t::peer& p, const bh::request<bh::string_body>& req) {
    std::string body =
        std::string(req.method_string()) + " " + std::string(req.target()) + "\n" + req.body();
    // Built outside the co_return: GCC 12 miscompiles braced initializer lists inside coroutine
    // expressions.
    const std::vector<std::pair<std::string, std::string>> headers{{"Content-Type", "text/plain"}};
    co_return co_await p.write(t::make_response(200, body, headers));
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer timer(co_await asio::this_coro::executor, d);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

/// Pattern byte for offset i of a generated download body.
char pattern(std::uint64_t i) {
    return static_cast<char>('a' + i % 26);
}

bool is_aborted(std::error_code ec) {
    return ec == std::errc::operation_canceled;
}

}  // namespace

TEST_CASE("origin: scheme, host and port from a URL, default ports left out") {
    auto a = origin::from_url(boost::urls::url("https://API.Example.com/v1/runs"));
    REQUIRE(a);
    CHECK(a->scheme == "https");
    CHECK(a->host == "api.example.com");
    CHECK(a->port == 443);
    CHECK(a->to_string() == "https://api.example.com");
    CHECK(a->host_header() == "api.example.com");

    auto b = origin::from_url(boost::urls::url("http://127.0.0.1:8080/x?y=1"));
    REQUIRE(b);
    CHECK(b->port == 8080);
    CHECK(b->to_string() == "http://127.0.0.1:8080");

    auto c = origin::from_url(boost::urls::url("http://[::1]:9000/"));
    REQUIRE(c);
    CHECK(c->host == "::1");
    CHECK(c->host_header() == "[::1]:9000");

    CHECK(*origin::from_url(boost::urls::url("https://api.example.com:443/")) == *a);
    CHECK_FALSE(*origin::from_url(boost::urls::url("http://api.example.com/")) == *a);
    CHECK_FALSE(origin::from_url(boost::urls::url("ftp://example.com/")));
    CHECK_FALSE(origin::from_url(boost::urls::url("/relative/path")));
}

TEST_CASE("http: GET and POST round trip with the default headers") {
    asio::io_context ioc;
    t::test_server srv(ioc, echo);
    client c(ioc.get_executor(), {});
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [ec, res] = co_await c.async_request(make_request(srv.url("/v1/apps?limit=2")));
            REQUIRE_FALSE(ec);
            CHECK(res.status == 200);
            CHECK(res.body == "GET /v1/apps?limit=2\n");
            CHECK(res.headers[bh::field::content_type] == "text/plain");

            auto post = make_request(srv.url("/v1/runs"), bh::verb::post, R"({"app":"x"})");
            post.headers.emplace_back("Content-Type", "application/json");
            auto [ec2, res2] = co_await c.async_request(std::move(post));
            REQUIRE_FALSE(ec2);
            CHECK(res2.body == "POST /v1/runs\n{\"app\":\"x\"}");
        },
        [&] { srv.stop(); });

    REQUIRE(srv.requests().size() == 2);
    const auto& get = srv.requests()[0];
    CHECK(get[bh::field::host] == "127.0.0.1:" + std::to_string(srv.port()));
    CHECK(get[bh::field::user_agent] == "briefd/0.1");
    CHECK(get[bh::field::accept_encoding] == "identity");
    const auto& post = srv.requests()[1];
    CHECK(post[bh::field::content_type] == "application/json");
    CHECK(post[bh::field::content_length] == "11");
}

TEST_CASE("http: keep-alive reuses one connection for sequential requests") {
    asio::io_context ioc;
    t::test_server srv(ioc, echo);
    client c(ioc.get_executor(), {});
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 5; ++i) {
                auto [ec, res] =
                    co_await c.async_request(make_request(srv.url("/n/" + std::to_string(i))));
                REQUIRE_FALSE(ec);
                CHECK(res.body == "GET /n/" + std::to_string(i) + "\n");
            }
        },
        [&] { srv.stop(); });
    CHECK(srv.requests().size() == 5);
    CHECK(srv.accepted() == 1);
    CHECK(c.idle_connections() == 1);
}

TEST_CASE("http: the credential goes to its origin only, never to another host") {
    asio::io_context ioc;
    t::test_server api(ioc, echo);
    t::test_server downloads(ioc, echo);
    client c(ioc.get_executor(), {});
    c.set_credential(*origin::from_url(boost::urls::url(api.url())), "x-api-key",
                     briefd::secret("k-123"));
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [e1, r1] = co_await c.async_request(make_request(api.url("/v1/runs/1")));
            REQUIRE_FALSE(e1);
            auto [e2, r2] = co_await c.async_request(make_request(downloads.url("/files/out.png")));
            REQUIRE_FALSE(e2);
        },
        [&] {
            api.stop();
            downloads.stop();
        });
    REQUIRE(api.requests().size() == 1);
    REQUIRE(downloads.requests().size() == 1);
    CHECK(api.requests()[0]["x-api-key"] == "k-123");
    CHECK(downloads.requests()[0].find("x-api-key") == downloads.requests()[0].end());
}

TEST_CASE(
    "http: a GET on a keep-alive connection the server dropped is retried once; a POST never") {
    // The server answers the first request on each connection, then reads the next one and closes
    // without answering: the race a client meets when a server's keep-alive timer fires.
    auto once_per_connection =
        [](t::peer& p, const bh::request<bh::string_body>& req) -> asio::awaitable<bool> {
        if (p.served > 0) co_return false;
        co_return co_await echo(p, req);
    };
    asio::io_context ioc;
    t::test_server srv(ioc, once_per_connection);
    client c(ioc.get_executor(), {});
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [e1, r1] = co_await c.async_request(make_request(srv.url("/a")));
            REQUIRE_FALSE(e1);
            REQUIRE(c.idle_connections() == 1);
            auto [e2, r2] = co_await c.async_request(make_request(srv.url("/b")));
            REQUIRE_FALSE(e2);  // retried on a fresh connection
            CHECK(r2.body == "GET /b\n");
            CHECK(srv.accepted() == 2);

            auto [e3, r3] =
                co_await c.async_request(make_request(srv.url("/c"), bh::verb::post, "{}"));
            CHECK(e3 ==
                  errc::connection_closed);  // the caller decides whether a POST may be sent again
            CHECK(srv.accepted() == 2);
        },
        [&] { srv.stop(); });
    CHECK(srv.requests().size() == 4);  // /a, /b (dropped), /b again, /c (dropped)
}

TEST_CASE("http: a server that accepts and never replies gives read_timeout") {
    asio::io_context ioc;
    t::test_server srv(
        ioc, [](t::peer& p, const bh::request<bh::string_body>&) -> asio::awaitable<bool> {
            co_await p.hang();
            co_return false;
        });
    client c(ioc.get_executor(), {});
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto req = make_request(srv.url("/slow"));
            req.timeout = 200ms;
            auto [ec, res] = co_await c.async_request(std::move(req));
            CHECK(ec == errc::read_timeout);
            CHECK(res.status == 0);
        },
        [&] { srv.stop(); });
    CHECK(c.idle_connections() == 0);
}

TEST_CASE("http: connecting to a listener whose backlog is full gives connect_timeout") {
    asio::io_context ioc;
    // backlog 0 and never accept: once one connection sits in the accept queue, Linux drops further
    // SYNs.
    asio::ip::tcp::acceptor full(ioc);
    full.open(asio::ip::tcp::v4());
    full.bind({asio::ip::make_address("127.0.0.1"), 0});
    full.listen(0);
    const auto port = full.local_endpoint().port();
    std::vector<asio::ip::tcp::socket> fillers;
    for (int i = 0; i < 3; ++i) {
        fillers.emplace_back(ioc);
        fillers.back().async_connect(full.local_endpoint(), [](boost::system::error_code) {});
    }
    client_options opts;
    opts.connect_timeout = 300ms;
    client c(ioc.get_executor(), opts);
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            co_await sleep_for(50ms);  // let the fillers take the queue; no timing is asserted
            auto [ec, res] = co_await c.async_request(
                make_request("http://127.0.0.1:" + std::to_string(port) + "/"));
            CHECK(ec == errc::connect_timeout);
        },
        [&] {
            for (auto& s : fillers) s.close();
            full.close();
        });
}

TEST_CASE("http: connection refused is a system error, not a timeout") {
    asio::io_context ioc;
    std::uint16_t port = 0;
    {
        asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
        port = a.local_endpoint().port();
    }  // closed: nothing listens there now
    client c(ioc.get_executor(), {});
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [ec, res] = co_await c.async_request(
                make_request("http://127.0.0.1:" + std::to_string(port) + "/"));
            CHECK(ec == std::errc::connection_refused);
            CHECK(briefd::is_retryable(ec));
        },
        [] {});
}

TEST_CASE(
    "http: cancel_all and destroying the client abort with operation_aborted, not a timeout") {
    asio::io_context ioc;
    t::test_server srv(
        ioc, [](t::peer& p, const bh::request<bh::string_body>&) -> asio::awaitable<bool> {
            co_await p.hang();
            co_return false;
        });
    auto c = std::make_unique<client>(ioc.get_executor(), client_options{});
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            for (int round = 0; round < 2; ++round) {
                std::optional<std::error_code> result;
                asio::co_spawn(
                    ioc, c->async_request(make_request(srv.url("/wait"))),
                    [&](std::exception_ptr, std::pair<std::error_code, briefd::http::response> r) {
                        result = r.first;
                    });
                while (srv.requests().size() < static_cast<std::size_t>(round + 1))
                    co_await sleep_for(5ms);
                if (round == 0)
                    c->cancel_all();
                else
                    c.reset();
                while (!result) co_await sleep_for(5ms);
                CHECK(is_aborted(*result));
            }
        },
        [&] { srv.stop(); });
}

TEST_CASE("http: a response body above max_body_bytes is body_too_large") {
    asio::io_context ioc;
    t::test_server srv(
        ioc, [](t::peer& p, const bh::request<bh::string_body>&) -> asio::awaitable<bool> {
            co_return co_await p.write(t::make_response(200, std::string(4096, 'x')));
        });
    client_options opts;
    opts.max_body_bytes = 1024;
    client c(ioc.get_executor(), opts);
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [ec, res] = co_await c.async_request(make_request(srv.url()));
            CHECK(ec == errc::body_too_large);
        },
        [&] { srv.stop(); });
}

TEST_CASE(
    "http: a request that is not an absolute http(s) URL or carries CR/LF in a header is refused") {
    asio::io_context ioc;
    client c(ioc.get_executor(), {});
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [e1, r1] = co_await c.async_request(make_request("/relative"));
            CHECK(e1 == std::errc::invalid_argument);
            auto req = make_request("http://127.0.0.1:1/");
            req.headers.emplace_back("Last-Event-ID", "1\r\nx-api-key: stolen");
            auto [e2, r2] = co_await c.async_request(std::move(req));
            CHECK(e2 == std::errc::invalid_argument);
        },
        [] {});
}

TEST_CASE("http: a streamed body arrives piece by piece, before the response ends") {
    asio::io_context ioc;
    t::test_server srv(
        ioc, [](t::peer& p, const bh::request<bh::string_body>&) -> asio::awaitable<bool> {
            co_await p.write(t::chunked_header(200, "text/event-stream") +
                             t::chunk("data: one\n\n"));
            co_await p.wait_signal();  // the rest only after the client has seen the first piece
            co_await p.write(t::chunk("data: two\n\n"));
            co_await p.write(t::chunk(""));
            co_return true;
        });
    client c(ioc.get_executor(), {});
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto req = make_request(srv.url("/v1/runs/r1/stream"));
            req.headers.emplace_back("Accept", "text/event-stream");
            auto [ec, stream] = co_await c.async_open(std::move(req));
            REQUIRE_FALSE(ec);
            REQUIRE(stream);
            CHECK(stream->status() == 200);
            CHECK(stream->headers()[bh::field::content_type] == "text/event-stream");

            auto [e1, first] = co_await stream->async_read_some(5s);
            REQUIRE_FALSE(e1);
            CHECK(first == "data: one\n\n");
            CHECK_FALSE(stream->done());
            srv.signal();

            std::string rest;
            while (!stream->done()) {
                auto [e2, piece] = co_await stream->async_read_some(5s);
                REQUIRE_FALSE(e2);
                rest += piece;
            }
            CHECK(rest == "data: two\n\n");
            auto [e3, after] = co_await stream->async_read_some(5s);
            CHECK_FALSE(e3);
            CHECK(after.empty());
        },
        [&] { srv.stop(); });
    CHECK(c.idle_connections() == 1);  // a cleanly finished body gives its connection back
}

TEST_CASE("http: a stalled stream gives read_timeout after the idle deadline") {
    asio::io_context ioc;
    t::test_server srv(
        ioc, [](t::peer& p, const bh::request<bh::string_body>&) -> asio::awaitable<bool> {
            co_await p.write(t::chunked_header(200, "text/event-stream") + t::chunk(": ping\n\n"));
            co_await p.hang();
            co_return false;
        });
    client c(ioc.get_executor(), {});
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [ec, stream] = co_await c.async_open(make_request(srv.url("/stream")));
            REQUIRE_FALSE(ec);
            auto [e1, ping] = co_await stream->async_read_some(5s);
            REQUIRE_FALSE(e1);
            CHECK(ping == ": ping\n\n");
            auto [e2, nothing] = co_await stream->async_read_some(150ms);
            CHECK(e2 == errc::read_timeout);
            CHECK(nothing.empty());
            CHECK_FALSE(stream->done());
        },
        [&] { srv.stop(); });
    CHECK(c.idle_connections() == 0);
}

TEST_CASE(
    "http: close() or cancel_all() during a pending stream read aborts it; the connection is not "
    "reused") {
    asio::io_context ioc;
    t::test_server srv(
        ioc, [](t::peer& p, const bh::request<bh::string_body>&) -> asio::awaitable<bool> {
            co_await p.write(t::chunked_header(200, "text/event-stream"));
            co_await p.hang();
            co_return false;
        });
    client c(ioc.get_executor(), {});
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            for (int round = 0; round < 2; ++round) {
                auto [ec, stream] = co_await c.async_open(make_request(srv.url("/stream")));
                REQUIRE_FALSE(ec);
                std::optional<std::error_code> result;
                asio::co_spawn(
                    ioc, stream->async_read_some(5s),
                    [&](std::exception_ptr, std::pair<std::error_code, std::string_view> r) {
                        result = r.first;
                    });
                co_await sleep_for(20ms);  // let the read start; the outcome does not depend on it
                if (round == 0)
                    stream->close();
                else
                    c.cancel_all();
                while (!result) co_await sleep_for(5ms);
                CHECK(is_aborted(*result));
                CHECK_FALSE(stream->done());
            }
        },
        [&] { srv.stop(); });
    CHECK(srv.accepted() == 2);
    CHECK(c.idle_connections() == 0);
}

TEST_CASE("http: a 50 MB download streams through the sink in bounded pieces") {
    constexpr std::uint64_t total = 50ull << 20;
    asio::io_context ioc;
    t::test_server srv(
        ioc, [total](t::peer& p, const bh::request<bh::string_body>&) -> asio::awaitable<bool> {
            if (!co_await p.write("HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: " +
                                  std::to_string(total) + "\r\n\r\n"))
                co_return false;
            std::string block(256 * 1024, '\0');
            for (std::uint64_t off = 0; off < total; off += block.size()) {
                for (std::size_t i = 0; i < block.size(); ++i) block[i] = pattern(off + i);
                if (!co_await p.write(block)) co_return false;
            }
            co_return true;
        });
    client c(ioc.get_executor(), {});
    std::uint64_t seen = 0;
    std::size_t pieces = 0, largest = 0;
    bool pattern_ok = true;
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [ec, info] =
                co_await c.async_download(make_request(srv.url("/out/video.mp4")), total, 5s,
                                          [&](std::string_view piece) -> std::error_code {
                                              for (std::size_t i = 0; i < piece.size(); ++i)
                                                  if (piece[i] != pattern(seen + i))
                                                      pattern_ok = false;
                                              seen += piece.size();
                                              ++pieces;
                                              largest = std::max(largest, piece.size());
                                              return {};
                                          });
            REQUIRE_FALSE(ec);
            CHECK(info.status == 200);
            CHECK(info.bytes == total);
            CHECK(info.content_type == "video/mp4");
            CHECK(info.content_length == total);
        },
        [&] { srv.stop(); }, 60s);
    CHECK(seen == total);
    CHECK(pattern_ok);
    CHECK(pieces >= 50);
    CHECK(largest <= 1u << 20);  // never buffered whole: pieces of at most 1 MiB
}

TEST_CASE("http: a download shorter than its Content-Length is download_truncated") {
    asio::io_context ioc;
    t::test_server srv(
        ioc, [](t::peer& p, const bh::request<bh::string_body>&) -> asio::awaitable<bool> {
            co_await p.write(
                "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n" +
                std::string(400, 'p'));
            co_return false;  // and close
        });
    client c(ioc.get_executor(), {});
    std::uint64_t sunk = 0;
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [ec, info] =
                co_await c.async_download(make_request(srv.url("/out.png")), 1 << 20, 5s,
                                          [&](std::string_view piece) -> std::error_code {
                                              sunk += piece.size();
                                              return {};
                                          });
            CHECK(ec == errc::download_truncated);
            CHECK(info.bytes == 400);
            CHECK(info.content_length == 1000u);
        },
        [&] { srv.stop(); });
    CHECK(sunk == 400);
}

TEST_CASE(
    "http: download size limit: Content-Length checked up front, chunked bodies as they come") {
    asio::io_context ioc;
    t::test_server srv(
        ioc, [](t::peer& p, const bh::request<bh::string_body>& req) -> asio::awaitable<bool> {
            if (req.target() == "/declared")
                co_return co_await p.write(t::make_response(200, std::string(10000, 'd')));
            co_await p.write(t::chunked_header(200, "application/octet-stream"));
            for (int i = 0; i < 10; ++i)
                if (!co_await p.write(t::chunk(std::string(500, 'c')))) co_return false;
            co_await p.write(t::chunk(""));
            co_return true;
        });
    client c(ioc.get_executor(), {});
    std::size_t declared_calls = 0, chunked_bytes = 0;
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [e1, i1] = co_await c.async_download(make_request(srv.url("/declared")), 1000, 5s,
                                                      [&](std::string_view) -> std::error_code {
                                                          ++declared_calls;
                                                          return {};
                                                      });
            CHECK(e1 == errc::body_too_large);
            auto [e2, i2] =
                co_await c.async_download(make_request(srv.url("/chunked")), 1000, 5s,
                                          [&](std::string_view piece) -> std::error_code {
                                              chunked_bytes += piece.size();
                                              return {};
                                          });
            CHECK(e2 == errc::body_too_large);
        },
        [&] { srv.stop(); });
    CHECK(declared_calls == 0);
    CHECK(chunked_bytes <= 1000);
}

TEST_CASE("http: download of a non-2xx response skips the sink; a sink error aborts the download") {
    asio::io_context ioc;
    t::test_server srv(
        ioc, [](t::peer& p, const bh::request<bh::string_body>& req) -> asio::awaitable<bool> {
            if (req.target() == "/missing")
                co_return co_await p.write(t::make_response(404, "no such file"));
            co_return co_await p.write(t::make_response(200, std::string(5000, 'z')));
        });
    client c(ioc.get_executor(), {});
    std::size_t calls = 0;
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [e1, i1] = co_await c.async_download(make_request(srv.url("/missing")), 1 << 20,
                                                      5s, [&](std::string_view) -> std::error_code {
                                                          ++calls;
                                                          return {};
                                                      });
            CHECK_FALSE(e1);
            CHECK(i1.status == 404);
            CHECK(calls == 0);
            auto [e2, i2] = co_await c.async_download(
                make_request(srv.url("/file")), 1 << 20, 5s,
                [&](std::string_view) -> std::error_code {
                    ++calls;
                    return std::make_error_code(std::errc::no_space_on_device);
                });
            CHECK(e2 == std::errc::no_space_on_device);
            CHECK(calls == 1);
        },
        [&] { srv.stop(); });
}

TEST_CASE(
    "https: requests succeed against a server signed by the configured CA, over one connection") {
    const auto& pki = t::shared_pki(0);
    asio::io_context ioc;
    t::test_server srv(ioc, echo, &pki);
    client_options opts;
    opts.ca_file = pki.ca_file.string();
    client c(ioc.get_executor(), opts);
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 3; ++i) {
                auto [ec, res] = co_await c.async_request(make_request(srv.url("/tls")));
                REQUIRE_FALSE(ec);
                CHECK(res.status == 200);
                CHECK(res.body == "GET /tls\n");
            }
            auto [ec, stream] = co_await c.async_open(make_request(srv.url("/tls-stream")));
            REQUIRE_FALSE(ec);
            std::string body;
            while (!stream->done()) {
                auto [e, piece] = co_await stream->async_read_some(5s);
                REQUIRE_FALSE(e);
                body += piece;
            }
            CHECK(body == "GET /tls-stream\n");
        },
        [&] { srv.stop(); });
    CHECK(srv.accepted() == 1);
    CHECK(srv.handshake_failures() == 0);
}

TEST_CASE("https: a certificate from an untrusted CA is tls_error and is not retried") {
    const auto& trusted = t::shared_pki(0);
    const auto& other = t::shared_pki(1);
    asio::io_context ioc;
    t::test_server srv(ioc, echo, &other);  // signed by a CA the client does not trust
    client_options opts;
    opts.ca_file = trusted.ca_file.string();
    client c(ioc.get_executor(), opts);
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [ec, res] = co_await c.async_request(make_request(srv.url("/")));
            CHECK(ec == errc::tls_error);
            CHECK_FALSE(briefd::is_retryable(ec));
        },
        [&] { srv.stop(); });
    CHECK(srv.accepted() == 1);
    CHECK(srv.requests().empty());
}

namespace {

/// Serves /len/<n> as a Content-Length body of pattern() bytes in 64 KiB writes and /chunked/<n>
/// as a chunked one, keeping the connection alive.
asio::awaitable<bool> pattern_server(t::peer& p, const bh::request<bh::string_body>& req) {
    const std::string target(req.target());
    const bool chunked = target.starts_with("/chunked/");
    const std::uint64_t total = std::stoull(target.substr(target.rfind('/') + 1));
    // Plain statements, no conditional expressions with temporaries: GCC 12 miscompiles those in
    // coroutines.
    std::string head;
    if (chunked) {
        head = t::chunked_header(200, "video/mp4");
    } else {
        head = "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: ";
        head += std::to_string(total);
        head += "\r\n\r\n";
    }
    if (!co_await p.write(head)) co_return false;
    std::string block;
    std::string framed;
    for (std::uint64_t off = 0; off < total; off += block.size()) {
        block.resize(static_cast<std::size_t>(std::min<std::uint64_t>(64 * 1024, total - off)));
        for (std::size_t i = 0; i < block.size(); ++i) block[i] = pattern(off + i);
        if (chunked)
            framed = t::chunk(block);
        else
            framed = block;
        if (!co_await p.write(framed)) co_return false;
    }
    if (chunked && !co_await p.write(t::chunk(""))) co_return false;
    co_return true;
}

struct pattern_sink {
    std::uint64_t seen = 0;
    std::size_t largest = 0;
    bool ok = true;
    std::error_code operator()(std::string_view piece) {
        for (std::size_t i = 0; i < piece.size(); ++i)
            if (piece[i] != pattern(seen + i)) ok = false;
        seen += piece.size();
        largest = std::max(largest, piece.size());
        return {};
    }
};

}  // namespace

TEST_CASE(
    "http: Content-Length and chunked downloads, plain and TLS, arrive whole on one connection") {
    const auto& pki = t::shared_pki(0);
    for (const bool tls : {false, true}) {
        CAPTURE(tls);
        asio::io_context ioc;
        t::test_server srv(ioc, pattern_server, tls ? &pki : nullptr);
        client_options opts;
        opts.ca_file = pki.ca_file.string();
        client c(ioc.get_executor(), opts);
        // Sizes around the 1 MiB piece and odd tails; a body that fits the header's packet. (Not a
        // braced list inside the coroutine: GCC 12 miscompiles those.)
        const std::vector<std::string> paths{"/len/7340033", "/len/1", "/chunked/3000001",
                                             "/len/1048576", "/len/100"};
        t::run_test(
            ioc,
            [&]() -> asio::awaitable<void> {
                for (const std::string& path : paths) {
                    CAPTURE(path);
                    pattern_sink sink;
                    const std::uint64_t total = std::stoull(path.substr(path.rfind('/') + 1));
                    auto [ec, info] = co_await c.async_download(
                        make_request(srv.url(path)), total, 5s,
                        [&sink](std::string_view piece) { return sink(piece); });
                    REQUIRE_FALSE(ec);
                    CHECK(info.bytes == total);
                    CHECK(sink.seen == total);
                    CHECK(sink.ok);
                    CHECK(sink.largest <= 1u << 20);
                }
                // A keep-alive connection went back to the pool after each body, even the raw ones.
                CHECK(c.idle_connections() == 1);
            },
            [&] { srv.stop(); }, 60s);
        CHECK(srv.accepted() == 1);
    }
}

TEST_CASE("https: a Content-Length download cut without close_notify is download_truncated") {
    const auto& pki = t::shared_pki(0);
    asio::io_context ioc;
    t::test_server srv(
        ioc,
        [](t::peer& p, const bh::request<bh::string_body>&) -> asio::awaitable<bool> {
            co_await p.write("HTTP/1.1 200 OK\r\nContent-Length: 3000000\r\n\r\n" +
                             std::string(2000000, 'x'));
            p.close();  // TCP close, no TLS shutdown: stream_truncated at the client
            co_return false;
        },
        &pki);
    client_options opts;
    opts.ca_file = pki.ca_file.string();
    client c(ioc.get_executor(), opts);
    std::uint64_t sunk = 0;
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [ec, info] =
                co_await c.async_download(make_request(srv.url("/cut")), 1ull << 30, 5s,
                                          [&](std::string_view piece) -> std::error_code {
                                              sunk += piece.size();
                                              return {};
                                          });
            CHECK(ec == errc::download_truncated);
            CHECK(info.bytes < 3000000u);
        },
        [&] { srv.stop(); });
    CHECK(sunk <= 2000000u);
}

TEST_CASE("http: a download trickling below the minimum rate is download_too_slow, and retryable") {
    asio::io_context ioc;
    // /trickle: 1 byte every 20 ms (50 B/s) forever, so the idle deadline never fires.
    // /burst: 5000 bytes at once, then silence. /steady: 20 KB/s for 1.5 s, then done.
    t::test_server srv(
        ioc, [](t::peer& p, const bh::request<bh::string_body>& req) -> asio::awaitable<bool> {
            const std::string target(req.target());
            const std::uint64_t total = target == "/steady" ? 30000 : 1000000;
            if (!co_await p.write("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(total) +
                                  "\r\n\r\n"))
                co_return false;
            if (target == "/burst") {
                co_await p.write(std::string(5000, 'b'));
                co_await p.hang();
                co_return false;
            }
            const std::size_t step = target == "/steady" ? 400 : 1;
            for (std::uint64_t sent = 0; sent < total; sent += step) {
                if (!co_await p.write(std::string(step, 's'))) co_return false;
                co_await sleep_for(20ms);
            }
            co_return true;
        });
    client c(ioc.get_executor(), {});
    client::download_options opts;
    opts.max_bytes = 1 << 20;
    opts.idle = 10s;
    opts.min_bytes_per_s = 1000;
    opts.rate_window = 500ms;
    auto count = [](std::uint64_t& n) {
        return [&n](std::string_view piece) -> std::error_code {
            n += piece.size();
            return {};
        };
    };
    std::uint64_t trickled = 0, burst = 0, steady = 0;
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [e1, i1] =
                co_await c.async_download(make_request(srv.url("/trickle")), opts, count(trickled));
            CHECK(e1 == errc::download_too_slow);
            CHECK(briefd::is_retryable(e1));
            CHECK(i1.bytes < 1000000u);
            // The first window is met by the burst; the second gets nothing and ends the download
            // (not the 10 s idle deadline).
            auto [e2, i2] =
                co_await c.async_download(make_request(srv.url("/burst")), opts, count(burst));
            CHECK(e2 == errc::download_too_slow);
            CHECK(i2.bytes == 5000u);
            // 20 KB/s is well above 1000 B/s: the minimum never fires on a healthy transfer.
            auto [e3, i3] =
                co_await c.async_download(make_request(srv.url("/steady")), opts, count(steady));
            CHECK_FALSE(e3);
            CHECK(i3.bytes == 30000u);
        },
        [&] { srv.stop(); }, 30s);
    CHECK(trickled > 0);
    CHECK(burst == 5000u);
    CHECK(steady == 30000u);
    CHECK(std::string(std::error_code(errc::download_too_slow).message()) ==
          "download slower than the minimum rate");
}

TEST_CASE("http: download on_start sees the header before any body byte; its error aborts") {
    asio::io_context ioc;
    t::test_server srv(ioc, pattern_server);
    client c(ioc.get_executor(), {});
    std::vector<std::string> events;
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            client::download_options opts;
            opts.max_bytes = 1 << 20;
            opts.on_start = [&](const client::download_info& i) -> std::error_code {
                events.push_back("start " + std::to_string(i.content_length.value_or(0)) + " " +
                                 i.content_type);
                return {};
            };
            auto sink = [&](std::string_view piece) -> std::error_code {
                if (events.back() != "body") events.push_back("body");
                (void)piece;
                return {};
            };
            auto [e1, i1] =
                co_await c.async_download(make_request(srv.url("/len/5000")), opts, sink);
            CHECK_FALSE(e1);
            opts.on_start = [&](const client::download_info&) -> std::error_code {
                events.push_back("refused");
                return std::make_error_code(std::errc::no_space_on_device);
            };
            auto [e2, i2] =
                co_await c.async_download(make_request(srv.url("/len/5000")), opts, sink);
            CHECK(e2 == std::errc::no_space_on_device);
            CHECK(i2.bytes == 0);
        },
        [&] { srv.stop(); });
    CHECK(events == std::vector<std::string>{"start 5000 video/mp4", "body", "refused"});
}

TEST_CASE("http: interim 1xx responses before the final one are skipped (RFC 9110 §15.2)") {
    // 103 Early Hints and 100 Continue, then the real answer, on every request; the connection
    // stays usable for the next one.
    asio::io_context ioc;
    t::test_server srv(
        ioc, [](t::peer& p, const bh::request<bh::string_body>& req) -> asio::awaitable<bool> {
            const std::string body = req.target() == "/out.png" ? std::string(300, 'p') : "queued";
            co_return co_await p.write(
                "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                "HTTP/1.1 100 Continue\r\n\r\n"
                "HTTP/1.1 202 Accepted\r\nContent-Type: text/plain\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
        });
    client c(ioc.get_executor(), {});
    std::uint64_t sunk = 0;
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [ec, res] = co_await c.async_request(
                make_request(srv.url("/v1/content/batch"), bh::verb::post, "{}"));
            REQUIRE_FALSE(ec);
            CHECK(res.status == 202);
            CHECK(res.body == "queued");
            auto [dec, info] =
                co_await c.async_download(make_request(srv.url("/out.png")), 1 << 20, 5s,
                                          [&](std::string_view piece) -> std::error_code {
                                              sunk += piece.size();
                                              return {};
                                          });
            REQUIRE_FALSE(dec);
            CHECK(info.status == 202);
            CHECK(info.bytes == 300);
        },
        [&] { srv.stop(); });
    CHECK(sunk == 300);
    CHECK(srv.requests().size() == 2);
}

TEST_CASE("http: a key the server echoes back is redacted from the response body and headers") {
    // The API answers 400 with the key it was sent in its error text and in a header, as a
    // careless gateway does; nothing above the client ever sees the key.
    asio::io_context ioc;
    t::test_server api(
        ioc, [](t::peer& p, const bh::request<bh::string_body>& req) -> asio::awaitable<bool> {
            const std::string key(req["x-api-key"]);
            const std::vector<std::pair<std::string, std::string>> headers{
                {"Content-Type", "application/json"}, {"X-Debug-Key", "got " + key}};
            co_return co_await p.write(t::make_response(
                400, R"({"error":"Invalid inputs for key )" + key + " (key " + key + R"x()"})x",
                headers));
        });
    client c(ioc.get_executor(), {});
    const std::string key = "lma_test_0123456789abcdef";
    c.set_credential(*origin::from_url(boost::urls::url(api.url())), "x-api-key", briefd::secret(key));
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [ec, res] = co_await c.async_request(make_request(api.url("/v1/content/batch")));
            REQUIRE_FALSE(ec);
            CHECK(res.status == 400);
            CHECK(res.body == R"x({"error":"Invalid inputs for key [redacted] (key [redacted])"})x");
            CHECK(res.headers["X-Debug-Key"] == "got [redacted]");
            CHECK(res.headers[bh::field::content_type] == "application/json");
        },
        [&] { api.stop(); });
    REQUIRE(api.requests().size() == 1);
    CHECK(api.requests()[0]["x-api-key"] == key);  // still sent as it is

    std::string event = "data: {\"errorMessage\":\"bad key " + key + "\"}";
    c.redact(event);
    CHECK(event == "data: {\"errorMessage\":\"bad key [redacted]\"}");
}

TEST_CASE("http: a response header over 64 KiB, or a bad status line, is a malformed response") {
    asio::io_context ioc;
    t::test_server srv(
        ioc, [](t::peer& p, const bh::request<bh::string_body>& req) -> asio::awaitable<bool> {
            if (req.target() == "/big")
                co_await p.write("HTTP/1.1 202 Accepted\r\nX-Pad: " + std::string(100 * 1024, 'a') +
                                 "\r\nContent-Length: 0\r\n\r\n");
            else
                co_await p.write("HTTP/1.1 2x2 What\r\nContent-Length: 0\r\n\r\n");
            co_return false;
        });
    client c(ioc.get_executor(), {});
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [e1, r1] = co_await c.async_request(make_request(srv.url("/big")));
            CHECK(e1 == errc::malformed_response);
            auto [e2, r2] = co_await c.async_request(make_request(srv.url("/status")));
            CHECK(e2 == errc::malformed_response);
        },
        [&] { srv.stop(); });
}
