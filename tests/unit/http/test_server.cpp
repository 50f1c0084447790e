#include "test_server.hpp"

#include <doctest/doctest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <filesystem>
#include <random>
#include <sstream>

namespace briefd::http::testing {

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
using sys_error = boost::system::error_code;
}  // namespace

// --- peer ----------------------------------------------------------------------------------------

peer::peer(test_server& owner, asio::ip::tcp::socket s, asio::ssl::context* tls) : owner_(owner) {
    if (tls)
        tls_.emplace(beast::tcp_stream(std::move(s)), *tls);
    else
        plain_.emplace(std::move(s));
}

asio::awaitable<bool> peer::write(std::string_view bytes) {
    auto [ec, n] = tls_ ? co_await asio::async_write(*tls_, asio::buffer(bytes), use_tuple)
                        : co_await asio::async_write(*plain_, asio::buffer(bytes), use_tuple);
    co_return !ec;
}

asio::awaitable<void> peer::wait_signal() {
    if (owner_.stopping_) co_return;
    co_await owner_.signal_.async_wait(use_tuple);
}

asio::awaitable<void> peer::hang() {
    while (!owner_.stopping_) co_await owner_.stopped_.async_wait(use_tuple);
}

void peer::close() {
    // No TLS close_notify on purpose: like many servers, the client must cope without it.
    sys_error ec;
    tcp_layer().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    tcp_layer().close();
}

// --- server --------------------------------------------------------------------------------------

test_server::test_server(asio::io_context& ioc, handler h, const briefd::testing::test_pki* pki)
    : ioc_(ioc),
      handler_(std::move(h)),
      acceptor_(ioc, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
      signal_(ioc, std::chrono::steady_clock::time_point::max()),
      stopped_(ioc, std::chrono::steady_clock::time_point::max()) {
    if (pki) {
        tls_.emplace(asio::ssl::context::tls_server);
        tls_->use_certificate_chain_file(pki->cert_file.string());
        tls_->use_private_key_file(pki->key_file.string(), asio::ssl::context::pem);
    }
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
}

test_server::~test_server() {
    stop();
}

std::string test_server::url(std::string_view path) const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) +
           std::string(path);
}

void test_server::stop() {
    stopping_ = true;
    sys_error ec;
    acceptor_.close(ec);
    signal_.cancel();
    stopped_.cancel();
    for (auto& w : peers_)
        if (auto p = w.lock()) p->close();
    peers_.clear();
}

asio::awaitable<void> test_server::accept_loop() {
    while (!stopping_) {
        auto [ec, sock] = co_await acceptor_.async_accept(use_tuple);
        if (ec) co_return;
        ++accepted_;
        auto p = std::make_shared<peer>(*this, std::move(sock), tls_ ? &*tls_ : nullptr);
        peers_.push_back(p);
        asio::co_spawn(ioc_, serve(p), asio::detached);
    }
}

asio::awaitable<void> test_server::serve(std::shared_ptr<peer> p) {
    if (p->tls_) {
        p->tcp_layer().expires_after(std::chrono::seconds(5));
        auto [ec] = co_await p->tls_->async_handshake(asio::ssl::stream_base::server, use_tuple);
        if (ec) {
            ++handshake_failures_;
            p->close();
            co_return;
        }
        p->tcp_layer().expires_never();
    }
    while (!stopping_) {
        bh::request<bh::string_body> req;
        auto [ec, n] = p->tls_ ? co_await bh::async_read(*p->tls_, p->buffer_, req, use_tuple)
                               : co_await bh::async_read(*p->plain_, p->buffer_, req, use_tuple);
        if (ec) break;
        requests_.push_back(req);
        const bool keep = co_await handler_(*p, req);
        ++p->served;
        if (!keep) break;
    }
    p->close();
}

// --- helpers -------------------------------------------------------------------------------------

std::string make_response(unsigned status, std::string_view body,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          bool keep_alive) {
    bh::response<bh::string_body> r{bh::int_to_status(status), 11};
    for (const auto& [k, v] : headers) r.set(k, v);
    r.body() = std::string(body);
    r.keep_alive(keep_alive);
    r.prepare_payload();
    std::ostringstream os;
    os << r;
    return os.str();
}

std::string chunked_header(unsigned status, std::string_view content_type) {
    std::ostringstream os;
    os << "HTTP/1.1 " << status << " " << bh::obsolete_reason(bh::int_to_status(status)) << "\r\n"
       << "Content-Type: " << content_type << "\r\nTransfer-Encoding: chunked\r\n\r\n";
    return os.str();
}

std::string chunk(std::string_view data) {
    std::ostringstream os;
    os << std::hex << data.size() << "\r\n" << data << "\r\n";
    return os.str();
}

void run_test(asio::io_context& ioc, std::function<asio::awaitable<void>()> test,
              std::function<void()> cleanup, std::chrono::seconds limit) {
    bool finished = false;
    std::exception_ptr error;
    asio::co_spawn(ioc, test(), [&](std::exception_ptr e) {
        finished = true;
        error = e;
        ioc.stop();
    });
    // The watchdog: the loop runs for at most `limit`, so a hung test fails instead of hanging CI.
    ioc.run_for(limit);
    CHECK_MESSAGE(finished, "watchdog: the test did not finish in time");
    cleanup();
    ioc.restart();
    ioc.run_for(std::chrono::seconds(3));  // wind down: servers closed, coroutines finish
    if (error) std::rethrow_exception(error);
}

namespace {
struct pki_dir {
    std::filesystem::path dir;
    pki_dir() {
        std::random_device rd;
        dir = std::filesystem::temp_directory_path() / ("briefd-http-test-" + std::to_string(rd()));
        std::filesystem::create_directories(dir);
    }
    ~pki_dir() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};
}  // namespace

const briefd::testing::test_pki& shared_pki(int which) {
    static pki_dir root;
    static std::optional<briefd::testing::test_pki> made[2];
    auto& slot = made[which];
    if (!slot) {
        auto d = root.dir / std::to_string(which);
        std::filesystem::create_directories(d);
        slot = briefd::testing::make_test_pki(d);
    }
    return *slot;
}

}  // namespace briefd::http::testing
