#include "http/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <array>
#include <charconv>
#include <exception>
#include <sstream>
#include <system_error>
#include <unordered_map>

namespace briefd::http {

namespace {

namespace bh = boost::beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// After an error answer the peer may still be sending (a body we refused): read and discard for a
// short while so closing does not reset the connection before the peer has read the answer.
constexpr auto drain_time = std::chrono::seconds(1);
constexpr std::size_t drain_bytes = 256 * 1024;

bool has_ctl(std::string_view s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return true;
    return false;
}

server_response plain(unsigned status, std::string body) {
    server_response r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

}  // namespace

std::optional<tcp::endpoint> parse_listen_endpoint(std::string_view text) {
    std::string_view host;
    std::string_view port;
    if (text.starts_with('[')) {
        const auto close = text.find("]:");
        if (close == std::string_view::npos) return std::nullopt;
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return std::nullopt;
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) return std::nullopt;  // IPv6 needs brackets
    }
    if (host.empty() || port.empty() || port.size() > 5) return std::nullopt;
    unsigned p = 0;
    const auto [end, perr] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (perr != std::errc() || end != port.data() + port.size() || p > 65535) return std::nullopt;
    boost::system::error_code ec;
    const auto addr = asio::ip::make_address(std::string(host), ec);
    if (ec) return std::nullopt;
    if (text.starts_with('[') != addr.is_v6()) return std::nullopt;
    return tcp::endpoint(addr, static_cast<std::uint16_t>(p));
}

class server::impl : public std::enable_shared_from_this<impl> {
  public:
    impl(asio::any_io_executor ex, route_handler h, server_options o)
        : ex_(std::move(ex)), handler_(std::move(h)), opts_(o), acceptor_(ex_) {}

    void listen(const tcp::endpoint& ep) {
        boost::system::error_code ec;
        acceptor_.open(ep.protocol(), ec);
        if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) acceptor_.bind(ep, ec);
        if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
            boost::system::error_code ignored;
            acceptor_.close(ignored);
            std::ostringstream where;
            where << ep;
            throw std::system_error(std::error_code(ec), "cannot listen on " + where.str());
        }
        asio::co_spawn(ex_, accept_loop(shared_from_this()), [](std::exception_ptr) {});
    }

    tcp::endpoint local_endpoint() const {
        boost::system::error_code ec;
        auto ep = acceptor_.local_endpoint(ec);
        return ec ? tcp::endpoint() : ep;
    }

    void stop() {
        stopped_ = true;
        boost::system::error_code ec;
        acceptor_.close(ec);
        for (auto& [id, s] : live_) s->close();
    }

    std::size_t connections() const noexcept { return live_.size(); }
    std::uint64_t refused() const noexcept { return refused_; }

  private:
    asio::awaitable<void> accept_loop(std::shared_ptr<impl> self) {
        asio::steady_timer backoff(ex_);
        while (!stopped_) {
            auto [ec, sock] = co_await acceptor_.async_accept(use_tuple);
            if (stopped_ || ec == asio::error::operation_aborted) co_return;
            if (ec) {
                // EMFILE/ENFILE and friends: the pending connection stays queued, so accepting
                // again at once would spin. Pause briefly and keep serving what is open.
                backoff.expires_after(std::chrono::milliseconds(100));
                co_await backoff.async_wait(use_tuple);
                continue;
            }
            if (live_.size() >= opts_.max_connections) {
                ++refused_;
                boost::system::error_code ignored;
                sock.close(ignored);
                continue;
            }
            asio::co_spawn(ex_, session(self, std::move(sock)), [](std::exception_ptr) {});
        }
    }

    // Registers the stream so stop() can close it; unregisters on every way out.
    struct registration {
        impl& owner;
        std::uint64_t id;
        registration(impl& o, beast::tcp_stream* s) : owner(o), id(++o.next_id_) {
            owner.live_.emplace(id, s);
        }
        ~registration() { owner.live_.erase(id); }
        registration(const registration&) = delete;
        registration& operator=(const registration&) = delete;
    };

    asio::awaitable<void> session(std::shared_ptr<impl> self, tcp::socket sock) {
        boost::system::error_code ec0;
        const auto remote = sock.remote_endpoint(ec0);
        sock.set_option(tcp::no_delay(true), ec0);
        beast::tcp_stream stream(std::move(sock));
        registration reg(*this, &stream);
        beast::flat_buffer buffer;

        while (!stopped_) {
            if (buffer.size() == 0) {
                // Between requests: the idle deadline until the next request's first byte.
                stream.expires_after(opts_.idle_timeout);
                auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
                if (ec) break;
                buffer.commit(n);
            }
            // From the first byte on, one deadline for the whole request, however it trickles.
            stream.expires_after(opts_.read_timeout);
            bh::request_parser<bh::string_body> parser;
            parser.header_limit(static_cast<std::uint32_t>(opts_.max_header_bytes));
            parser.body_limit(opts_.max_body_bytes);

            auto [hec, hn] = co_await bh::async_read_header(stream, buffer, parser, use_tuple);
            // (GCC 12 destroys temporaries in a co_await expression early: named values only.)
            if (hec) {
                auto answer = refusal(hec);
                if (answer) co_await answer_and_close(stream, std::move(*answer));
                break;
            }
            if (auto cl = parser.content_length(); cl && *cl > opts_.max_body_bytes) {
                auto answer = too_large();
                co_await answer_and_close(stream, std::move(answer));
                break;
            }
            if (!parser.is_done()) {
                if (beast::iequals(parser.get()[bh::field::expect], "100-continue")) {
                    static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
                    stream.expires_after(opts_.write_timeout);
                    auto [wec, wn] =
                        co_await asio::async_write(stream, asio::buffer(cont), use_tuple);
                    if (wec) break;
                    stream.expires_after(opts_.read_timeout);
                }
                auto [bec, bn] = co_await bh::async_read(stream, buffer, parser, use_tuple);
                if (bec) {
                    auto answer = refusal(bec);
                    if (answer) co_await answer_and_close(stream, std::move(*answer));
                    break;
                }
            }
            stream.expires_never();  // the handler's time is its own business

            auto msg = parser.release();
            server_request req;
            req.method = msg.method();
            req.target = std::string(msg.target());
            req.body = std::move(msg.body());
            req.remote = remote;
            const bool keep = msg.keep_alive();
            req.headers = std::move(msg.base());

            server_response res;
            try {
                res = co_await handler_(req);
            } catch (const std::exception&) {
                res = plain(500, "internal error\n");
            }
            if (stopped_) break;
            const bool head = req.method == bh::verb::head;
            const bool written = co_await write(stream, res, keep, head);
            if (!written) break;
            if (!keep) {
                co_await close_gracefully(stream);
                break;
            }
        }
        (void)self;
    }

    // What to answer when reading a request failed; nullopt = nothing (timeout, closed, stopped).
    static std::optional<server_response> refusal(const boost::system::error_code& ec) {
        if (ec == bh::error::body_limit) return too_large();
        if (ec == bh::error::header_limit) return plain(431, "request header fields too large\n");
        if (ec == beast::error::timeout || ec == bh::error::end_of_stream ||
            ec == bh::error::partial_message || ec == asio::error::eof ||
            ec == asio::error::operation_aborted || ec == asio::error::connection_reset)
            return std::nullopt;
        // Any other parser error (bad method, bad target, bad chunk…) is a malformed request.
        if (ec.category() == bh::make_error_code(bh::error::bad_method).category())
            return plain(400, "bad request\n");
        return std::nullopt;
    }

    static server_response too_large() { return plain(413, "request body too large\n"); }

    asio::awaitable<bool> write(beast::tcp_stream& stream, const server_response& r, bool keep,
                                bool head) {
        bh::response<bh::string_body> res;
        res.version(11);
        res.result(r.status >= 100 && r.status <= 599 ? r.status : 500);
        for (const auto& [name, value] : r.headers)
            if (!name.empty() && !has_ctl(name) && !has_ctl(value)) res.set(name, value);
        res.set(bh::field::content_type, r.content_type);
        res.keep_alive(keep);
        res.body() = r.body;
        res.prepare_payload();
        if (head) res.body().clear();  // Content-Length stays that of the GET answer
        stream.expires_after(opts_.write_timeout);
        auto [ec, n] = co_await bh::async_write(stream, res, use_tuple);
        co_return !ec;
    }

    asio::awaitable<void> answer_and_close(beast::tcp_stream& stream, server_response r) {
        const bool written = co_await write(stream, r, false, false);
        if (written) co_await close_gracefully(stream);
    }

    asio::awaitable<void> close_gracefully(beast::tcp_stream& stream) {
        boost::system::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
        stream.expires_after(drain_time);
        std::array<char, 4096> sink;
        std::size_t total = 0;
        while (total < drain_bytes && !stopped_) {
            auto [rec, n] = co_await stream.async_read_some(asio::buffer(sink), use_tuple);
            if (rec) break;
            total += n;
        }
        stream.close();
    }

    asio::any_io_executor ex_;
    route_handler handler_;
    server_options opts_;
    tcp::acceptor acceptor_;
    bool stopped_ = false;
    std::uint64_t next_id_ = 0;
    std::uint64_t refused_ = 0;
    std::unordered_map<std::uint64_t, beast::tcp_stream*> live_;
};

server::server(asio::any_io_executor ex, route_handler handler, server_options opts)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(handler), opts)) {}

server::~server() {
    impl_->stop();
}

void server::listen(const tcp::endpoint& ep) {
    impl_->listen(ep);
}

tcp::endpoint server::local_endpoint() const {
    return impl_->local_endpoint();
}

void server::stop() {
    impl_->stop();
}

std::size_t server::connections() const noexcept {
    return impl_->connections();
}

std::uint64_t server::refused_connections() const noexcept {
    return impl_->refused();
}

}  // namespace briefd::http
