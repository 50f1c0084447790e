// The command line's side of the status server: real HTTP on loopback (a small Beast server run
// by the test), a port nobody listens on, a server that never answers.
#include "cli/control.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <thread>

namespace briefd::cli {

namespace asio = boost::asio;
namespace bh = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

/// Accepts `n` connections on 127.0.0.1 in a thread; each request is recorded and answered with
/// `status` and `body` (or not at all when `answer` is false: the connection is held until the
/// server is destroyed).
class one_shot_server {
  public:
    one_shot_server(unsigned status, std::string body, bool answer = true)
        : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
        port_ = acceptor_.local_endpoint().port();
        thread_ = std::thread([this, status, body = std::move(body), answer] {
            boost::system::error_code ec;
            tcp::socket s(io_);
            acceptor_.accept(s, ec);
            if (ec) return;
            boost::beast::flat_buffer buf;
            bh::request<bh::string_body> req;
            bh::read(s, buf, req, ec);
            if (ec) {
                method_ = "read failed: " + ec.message();
                return;
            }
            method_ = std::string(req.method_string());
            target_ = std::string(req.target());
            if (!answer) {
                held_ = std::move(s);
                return;
            }
            bh::response<bh::string_body> res{static_cast<bh::status>(status), 11};
            res.set(bh::field::content_type, "application/json");
            res.body() = body;
            res.prepare_payload();
            bh::write(s, res, ec);
        });
    }
    ~one_shot_server() {
        // A test that failed before connecting leaves accept() blocked: connect once to end it.
        if (thread_.joinable()) {
            asio::io_context io;
            tcp::socket c(io);
            boost::system::error_code ec;
            c.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
            thread_.join();
        }
    }
    std::string listen() const { return "127.0.0.1:" + std::to_string(port_); }
    /// What the request was (waits for the server thread to finish with it).
    const std::string& method() {
        if (thread_.joinable()) thread_.join();
        return method_;
    }
    const std::string& target() {
        method();
        return target_;
    }

  private:
    asio::io_context io_;
    tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    std::thread thread_;
    std::string method_, target_;
    std::optional<tcp::socket> held_;
};

/// A loopback port with nothing listening on it (bound, then closed).
std::uint16_t free_port() {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
}

}  // namespace

TEST_CASE("control: GET /status answered") {
    one_shot_server srv(200, R"({"daemon":{"state":"running"}})");
    auto r = call_daemon(srv.listen(), bh::verb::get, {"status"});
    INFO(r.message);
    REQUIRE(r.what == daemon_reply::outcome::answered);
    CHECK(r.status == 200);
    CHECK(r.body == R"({"daemon":{"state":"running"}})");
    CHECK(srv.method() == "GET");
    CHECK(srv.target() == "/status");
}

TEST_CASE("control: POST /jobs/<job>/cancel, the job name one encoded segment") {
    one_shot_server srv(404, R"({"error":"no active job named a/b"})");
    auto r = call_daemon(srv.listen(), bh::verb::post, {"jobs", "a/b?x", "cancel"});
    INFO(r.message);
    REQUIRE(r.what == daemon_reply::outcome::answered);
    CHECK(r.status == 404);
    CHECK(srv.method() == "POST");
    CHECK(srv.target() == "/jobs/a%2Fb%3Fx/cancel");
}

TEST_CASE("control: nobody listening is 'briefd is not running'") {
    auto listen = "127.0.0.1:" + std::to_string(free_port());
    auto r = call_daemon(listen, bh::verb::get, {"status"});
    CHECK(r.what == daemon_reply::outcome::not_running);
    CHECK(r.message == "briefd is not running (no answer on " + listen + ")");
}

TEST_CASE("control: a server that never answers hits the deadline") {
    one_shot_server srv(200, "", false);
    auto r = call_daemon(srv.listen(), bh::verb::get, {"status"}, std::chrono::milliseconds(300));
    INFO(r.message);
    CHECK(r.what == daemon_reply::outcome::no_answer);
    CHECK(r.message.find("did not answer on " + srv.listen()) != std::string::npos);
}

TEST_CASE("control: a listen value that is not host:port") {
    for (auto bad : {"", "nonsense", "127.0.0.1", "127.0.0.1:9464/x", "http://x:1"}) {
        CAPTURE(bad);
        auto r = call_daemon(bad, bh::verb::get, {"status"});
        CHECK(r.what == daemon_reply::outcome::failed);
        CHECK(r.message.find("is not a host:port") != std::string::npos);
    }
}

}  // namespace briefd::cli
