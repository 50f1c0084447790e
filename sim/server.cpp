#include "server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <array>
#include <cmath>
#include <iostream>
#include <sstream>

namespace briefd::sim {

namespace {

using tcp = asio::ip::tcp;
using plain_stream = beast::tcp_stream;
using tls_stream = asio::ssl::stream<beast::tcp_stream>;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Idle keep-alive connections are dropped after this long (real time; clients reconnect).
constexpr auto idle_timeout = std::chrono::seconds(120);
// A single response write that makes no progress for this long means a dead peer.
constexpr auto write_timeout = std::chrono::seconds(30);

std::string url_host(const std::string& host) {
    if (host == "0.0.0.0" || host.empty()) return "127.0.0.1";
    if (host == "::") return "[::1]";
    if (host.find(':') != std::string::npos) return "[" + host + "]";
    return host;
}

template <class Stream>
class session_io final : public http_io {
  public:
    session_io(std::shared_ptr<Stream> s, stats& st) : s_(std::move(s)), st_(st) {}

    asio::awaitable<beast::error_code> write(std::string_view bytes) override {
        beast::get_lowest_layer(*s_).expires_after(write_timeout);
        auto [ec, n] =
            co_await asio::async_write(*s_, asio::buffer(bytes.data(), bytes.size()), use_tuple);
        st_.bytes_served += n;
        co_return ec;
    }

    void watch_peer(std::function<void()> on_gone) override {
        beast::get_lowest_layer(*s_).expires_never();
        // Holds the stream so the read can finish after the handler is gone; closing the
        // socket (which the session does when the response ends) completes the read.
        asio::co_spawn(
            beast::get_lowest_layer(*s_).get_executor(),
            [s = s_, on_gone = std::move(on_gone)]() -> asio::awaitable<void> {
                std::array<char, 512> buf;
                for (;;) {
                    auto [ec, n] = co_await s->async_read_some(asio::buffer(buf), use_tuple);
                    if (ec) break;
                }
                on_gone();
            },
            asio::detached);
    }

    void abort() override {
        beast::error_code ec;
        beast::get_lowest_layer(*s_).socket().shutdown(tcp::socket::shutdown_both, ec);
        beast::get_lowest_layer(*s_).close();
    }

  private:
    std::shared_ptr<Stream> s_;
    stats& st_;
};

}  // namespace

std::string serialize_head(const http::response_header<>& h) {
    std::ostringstream o;
    o << h;
    return o.str();
}

void add_extra_fields(boost::json::value& v) {
    if (auto* o = v.if_object()) {
        for (auto& kv : *o) add_extra_fields(kv.value());
        (*o)["simExtra"] = {{"note", "unknown field added by --extra-fields"}, {"n", 1}};
    } else if (auto* a = v.if_array()) {
        for (auto& e : *a) add_extra_fields(e);
    }
}

response json_response(sim_state& st, http::status status, boost::json::value body) {
    if (st.faults.extra_fields) add_extra_fields(body);
    response res{status, 11};
    res.set(http::field::content_type, "application/json; charset=utf-8");
    res.body() = boost::json::serialize(body);
    return res;
}

bool path_matches(const std::vector<std::string>& segs,
                  std::initializer_list<std::string_view> pattern) {
    if (segs.size() != pattern.size()) return false;
    std::size_t i = 0;
    for (auto part : pattern) {
        if (part == "*" ? segs[i].empty() : segs[i] != part) return false;
        ++i;
    }
    return true;
}

std::optional<std::string> query_param(const std::optional<boost::urls::url_view>& url,
                                       std::string_view name) {
    if (!url) return std::nullopt;
    auto ps = url->params();
    auto it = ps.find(name);
    if (it == ps.end()) return std::nullopt;
    return std::string((*it).value);
}

std::int64_t ceil_seconds(std::chrono::steady_clock::duration d) {
    const double s = std::chrono::duration<double>(d).count();
    return s <= 0 ? 0 : static_cast<std::int64_t>(std::ceil(s - 1e-9));
}

asio::awaitable<void> slow_headers(const sim_state& st, unsigned provider) {
    if (st.faults.slow_headers_ms == 0 || !(st.faults.faults_on & provider)) co_return;
    asio::steady_timer t(co_await asio::this_coro::executor,
                         std::chrono::milliseconds(st.faults.slow_headers_ms));
    co_await t.async_wait(use_tuple);
}

std::optional<std::chrono::steady_clock::duration> storm_left(
    const sim_state& st, std::chrono::steady_clock::time_point now, unsigned provider) {
    const auto& storm = st.faults.storm_429;
    if (!storm || !(st.faults.faults_on & provider)) return std::nullopt;
    const auto from = storm->origin + st.real(storm->start_s);
    const auto until = from + st.real(storm->duration_s);
    if (now < from || now >= until) return std::nullopt;
    return until - now;
}

bool draw_fail_5xx(sim_state& st, unsigned family, unsigned provider) {
    return (st.faults.faults_on & provider) && (st.faults.fail_5xx_on & family) &&
           st.chance(st.faults.fail_5xx);
}

bool maybe_malform(sim_state& st, response& res, unsigned provider) {
    if (!(st.faults.faults_on & provider) || res.result_int() / 100 != 2 ||
        res.body().size() <= 1 || !st.chance(st.faults.malformed_json))
        return false;
    res.body().resize(res.body().size() / 2);
    return true;
}

struct server::impl {
    impl(asio::io_context& i, sim_state& s, surface& a, surface& f, surface* h, surface* l)
        : ioc(i),
          st(s),
          api(a),
          files(f),
          hrizn(h),
          layers(l),
          api_acceptor(i),
          files_acceptor(i),
          hrizn_acceptor(i),
          layers_acceptor(i),
          ssl(asio::ssl::context::tls_server) {}

    asio::io_context& ioc;
    sim_state& st;
    surface& api;
    surface& files;
    surface* hrizn;
    surface* layers;
    tcp::acceptor api_acceptor;
    tcp::acceptor files_acceptor;
    tcp::acceptor hrizn_acceptor;
    tcp::acceptor layers_acceptor;
    asio::ssl::context ssl;
    bool tls = false;

    void open(tcp::acceptor& a, std::uint16_t port) {
        tcp::endpoint ep{asio::ip::make_address(st.opt.host), port};
        a.open(ep.protocol());
        a.set_option(tcp::acceptor::reuse_address(true));
        a.bind(ep);
        a.listen();
    }

    std::string url(const tcp::acceptor& a) const {
        return std::string(tls ? "https://" : "http://") + url_host(st.opt.host) + ":" +
               std::to_string(a.local_endpoint().port());
    }

    asio::awaitable<void> accept_loop(tcp::acceptor& a, surface& surf) {
        for (;;) {
            auto [ec, sock] = co_await a.async_accept(use_tuple);
            if (ec) {
                if (ec == asio::error::operation_aborted || !a.is_open()) co_return;
                continue;  // e.g. EMFILE: keep serving the connections we have
            }
            sock.set_option(tcp::no_delay(true), ec);
            std::string client = "?";
            if (auto ep = sock.remote_endpoint(ec); !ec) client = ep.address().to_string();
            auto ex = a.get_executor();
            if (tls)
                asio::co_spawn(
                    ex, session(std::make_shared<tls_stream>(std::move(sock), ssl), surf, client),
                    log_exception);
            else
                asio::co_spawn(
                    ex, session(std::make_shared<plain_stream>(std::move(sock)), surf, client),
                    log_exception);
        }
    }

    static void log_exception(std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            std::cerr << "briefsim: connection error: " << x.what() << "\n";
        }
    }

    template <class Stream>
    asio::awaitable<void> session(std::shared_ptr<Stream> s, surface& surf, std::string client) {
        stats& counters = st.counters;
        counters.connections.up();
        struct guard {
            stats& c;
            ~guard() { c.connections.down(); }
        } g{counters};

        auto& lowest = beast::get_lowest_layer(*s);
        if constexpr (std::is_same_v<Stream, tls_stream>) {
            lowest.expires_after(std::chrono::seconds(10));
            auto [ec] = co_await s->async_handshake(asio::ssl::stream_base::server, use_tuple);
            if (ec) co_return;
        }

        session_io<Stream> io(s, counters);
        beast::flat_buffer buffer;
        bool keep = true;
        bool ended_streamed = false;
        while (keep) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(1024 * 1024);
            lowest.expires_after(idle_timeout);
            auto [ec, n] = co_await http::async_read(*s, buffer, parser, use_tuple);
            if (ec) co_return;  // closed, idle, or garbage: nothing sensible to answer
            const request& req = parser.get();
            request_context ctx{req, client, io};
            handler_result r = co_await surf.handle(ctx);
            if (!st.opt.quiet) {
                const auto* res = std::get_if<response>(&r);
                std::clog << "briefsim: " << client << " " << req.method_string() << " "
                          << req.target() << " "
                          << (res ? std::to_string(res->result_int()) : std::string("streamed"))
                          << "\n";
            }
            if (auto* res = std::get_if<response>(&r)) {
                res->version(11);
                res->keep_alive(req.keep_alive());
                res->prepare_payload();
                keep = res->keep_alive();
                std::string bytes = serialize_head(res->base());
                if (req.method() != http::verb::head) bytes += res->body();
                if (co_await io.write(bytes)) co_return;
            } else {
                keep = std::get<streamed>(r).keep_alive;
                ended_streamed = !keep;
            }
        }
        if (ended_streamed) {
            // A streamed response may still have the peer watch reading this stream, and a TLS
            // shutdown would read too (two reads at once are not allowed): just close. Its body
            // was framed (chunked or Content-Length), so the client already has all of it.
            lowest.close();
            co_return;
        }
        if constexpr (std::is_same_v<Stream, tls_stream>) {
            lowest.expires_after(std::chrono::seconds(1));
            co_await s->async_shutdown(use_tuple);
        } else {
            beast::error_code ec;
            lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
        }
        lowest.close();
    }
};

server::server(asio::io_context& ioc, sim_state& st, surface& api, surface& files, surface* hrizn,
               surface* layers)
    : impl_(std::make_unique<impl>(ioc, st, api, files, hrizn, layers)) {}

server::~server() = default;

void server::listen() {
    auto& i = *impl_;
    if (!i.st.opt.tls_cert.empty()) {
        i.ssl.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                          asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                          asio::ssl::context::no_tlsv1_1);
        i.ssl.use_certificate_chain_file(i.st.opt.tls_cert);
        i.ssl.use_private_key_file(i.st.opt.tls_key, asio::ssl::context::pem);
        i.tls = true;
    }
    i.open(i.api_acceptor, i.st.opt.port);
    i.open(i.files_acceptor, i.st.opt.files_port);
    if (i.hrizn) i.open(i.hrizn_acceptor, i.st.opt.hrizn_port);
    if (i.layers) i.open(i.layers_acceptor, i.st.opt.layers_port);
    i.st.files_base = i.url(i.files_acceptor);
    asio::co_spawn(i.ioc, i.accept_loop(i.api_acceptor, i.api), impl::log_exception);
    asio::co_spawn(i.ioc, i.accept_loop(i.files_acceptor, i.files), impl::log_exception);
    if (i.hrizn)
        asio::co_spawn(i.ioc, i.accept_loop(i.hrizn_acceptor, *i.hrizn), impl::log_exception);
    if (i.layers)
        asio::co_spawn(i.ioc, i.accept_loop(i.layers_acceptor, *i.layers), impl::log_exception);
}

void server::close() {
    beast::error_code ec;
    impl_->api_acceptor.close(ec);
    impl_->files_acceptor.close(ec);
    impl_->hrizn_acceptor.close(ec);
    impl_->layers_acceptor.close(ec);
}

std::string server::api_url() const {
    return impl_->url(impl_->api_acceptor);
}
std::string server::files_url() const {
    return impl_->url(impl_->files_acceptor);
}
std::string server::hrizn_url() const {
    return impl_->hrizn ? impl_->url(impl_->hrizn_acceptor) : std::string();
}

std::string server::layers_url() const {
    return impl_->layers ? impl_->url(impl_->layers_acceptor) : std::string();
}

}  // namespace briefd::sim
