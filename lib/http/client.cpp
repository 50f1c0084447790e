#include "http/client.hpp"

#include "core/error.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/scheme.hpp>

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <set>

namespace briefd::http {

namespace bh = boost::beast::http;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using sys_error = boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
/// Interim (1xx) responses skipped before a final one; more than this and the last one is taken
/// as the answer (an unexpected status to every caller).
constexpr int max_interim_responses = 8;

std::uint16_t default_port(std::string_view scheme) {
    return scheme == "https" ? 443 : 80;
}

bool is_ip_literal(const std::string& host) {
    sys_error ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

bool has_control_chars(std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

}  // namespace

// --- origin --------------------------------------------------------------------------------------

std::optional<origin> origin::from_url(boost::urls::url_view u) {
    origin o;
    switch (u.scheme_id()) {
        case boost::urls::scheme::http:
            o.scheme = "http";
            break;
        case boost::urls::scheme::https:
            o.scheme = "https";
            break;
        default:
            return std::nullopt;
    }
    if (!u.has_authority()) return std::nullopt;
    o.host = u.host_address();
    if (o.host.empty()) return std::nullopt;
    // Host names compare case-insensitively; keep one spelling so origins compare with ==.
    std::transform(o.host.begin(), o.host.end(), o.host.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    o.port = default_port(o.scheme);
    if (u.has_port() && !u.port().empty()) {
        // Not port_number(): Boost.URL 1.81 wraps some values above 65535 (99999 reads as 34463),
        // which would make a different origin compare equal to the credential's.
        const auto text = u.port();
        unsigned long n = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
        if (ec != std::errc() || end != text.data() + text.size() || n == 0 || n > 65535)
            return std::nullopt;
        o.port = static_cast<std::uint16_t>(n);
    }
    return o;
}

std::string origin::host_header() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (port != default_port(scheme)) h += ":" + std::to_string(port);
    return h;
}

std::string origin::to_string() const {
    return scheme + "://" + host_header();
}

// --- internals -----------------------------------------------------------------------------------

namespace detail {

/// Where an exchange failed: decides which named timeout a deadline becomes.
enum class phase { resolve, connect, tunnel, handshake, write, read };

/// One transport connection, plain or TLS, with its read buffer (which may hold bytes of the next
/// message and therefore belongs to the connection, not to a request).
struct connection {
    origin where;
    /// The proxy this connection goes through (owned by the client), or null when direct. With TLS
    /// it is a CONNECT tunnel; without, requests are written in absolute-form to the proxy.
    const proxy_endpoint* via = nullptr;
    std::optional<beast::tcp_stream> plain;
    std::optional<asio::ssl::stream<beast::tcp_stream>> tls;
    std::shared_ptr<tcp::resolver> resolver;  // only while connecting, so cancel_all() reaches it
    beast::flat_buffer buffer;
    bool reused = false;

    connection(const asio::any_io_executor& ex, origin o, asio::ssl::context* ctx,
               const proxy_endpoint* proxy)
        : where(std::move(o)), via(proxy) {
        if (ctx)
            tls.emplace(ex, *ctx);
        else
            plain.emplace(ex);
    }

    beast::tcp_stream& tcp_layer() { return tls ? tls->next_layer() : *plain; }

    /// Calls f with the stream HTTP is spoken on; both branches return the same awaitable type.
    template <class F>
    auto visit(F&& f) {
        return tls ? f(*tls) : f(*plain);
    }

    void cancel() {
        if (resolver) resolver->cancel();
        tcp_layer().cancel();
    }

    /// A parked connection the server has closed (or that has unexpected bytes waiting) is useless;
    /// a non-blocking peek finds out without a round trip, so even a POST rarely meets a dead
    /// socket.
    bool looks_alive() {
        auto& sock = tcp_layer().socket();
        if (!sock.is_open() || buffer.size() != 0) return false;
        sys_error ec;
        sock.non_blocking(true, ec);
        if (ec) return false;
        char byte;
        sock.receive(asio::buffer(&byte, 1), tcp::socket::message_peek, ec);
        sys_error ignored;
        sock.non_blocking(false, ignored);
        return ec == asio::error::would_block;
    }
};

}  // namespace detail

using detail::connection;
using detail::phase;

class client_impl : public std::enable_shared_from_this<client_impl> {
  public:
    client_impl(asio::any_io_executor ex, client_options opts)
        : ex_(std::move(ex)), opts_(std::move(opts)), ssl_ctx_(asio::ssl::context::tls_client) {
        ssl_ctx_.set_verify_mode(asio::ssl::verify_peer);
        SSL_CTX_set_min_proto_version(ssl_ctx_.native_handle(), TLS1_2_VERSION);
        // The system store and ca_file together: a private gateway's CA must not cost the public
        // CAs that download hosts (CDNs) are signed by. trust_system_store=false pins ca_file.
        sys_error ec;
        if (opts_.trust_system_store) {
            ssl_ctx_.set_default_verify_paths(ec);
            if (ec) throw std::system_error(ec, "http client: cannot load the system trust store");
        } else if (opts_.ca_file.empty()) {
            throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                                    "http client: trusting no system store needs a ca_file");
        }
        if (!opts_.ca_file.empty()) {
            ssl_ctx_.load_verify_file(opts_.ca_file, ec);
            if (ec)
                throw std::system_error(ec,
                                        "http client: cannot load trust store " + opts_.ca_file);
        }
        https_proxy_ = parse_proxy(opts_.proxy.https_url);
        http_proxy_ = parse_proxy(opts_.proxy.http_url);
    }

    /// A connection in use: listed in busy_ so cancel_all() can reach it; back to the pool via
    /// recycle().
    class lease {
      public:
        lease() = default;
        lease(std::shared_ptr<client_impl> owner, std::unique_ptr<connection> c)
            : owner_(std::move(owner)), conn_(std::move(c)) {
            owner_->busy_.insert(conn_.get());
        }
        lease(lease&& o) noexcept : owner_(std::move(o.owner_)), conn_(std::move(o.conn_)) {}
        lease& operator=(lease&& o) noexcept {
            if (this != &o) {
                reset();
                owner_ = std::move(o.owner_);
                conn_ = std::move(o.conn_);
            }
            return *this;
        }
        ~lease() { reset(); }

        void reset() {
            if (conn_) owner_->busy_.erase(conn_.get());
            conn_.reset();
        }
        void recycle() {
            if (!conn_) return;
            owner_->busy_.erase(conn_.get());
            owner_->park(std::move(conn_));
        }
        explicit operator bool() const { return conn_ != nullptr; }
        connection* operator->() const { return conn_.get(); }
        connection& operator*() const { return *conn_; }

      private:
        std::shared_ptr<client_impl> owner_;
        std::unique_ptr<connection> conn_;
    };

    /// Failure of one exchange step: the raw code (for the retry decision) and the step; `named`
    /// when the step already knows the project's name for it (a proxy's refusal).
    struct step_error {
        sys_error raw;
        phase where = phase::read;
        std::error_code named = {};
        explicit operator bool() const { return raw || named; }
    };

    // --- state ---

    asio::any_io_executor ex_;
    client_options opts_;
    asio::ssl::context ssl_ctx_;
    std::optional<proxy_endpoint> https_proxy_;
    std::optional<proxy_endpoint> http_proxy_;
    std::optional<origin> cred_origin_;
    std::string cred_header_;
    briefd::secret cred_value_;
    std::set<connection*> busy_;
    std::map<std::string, std::vector<std::unique_ptr<connection>>> idle_;
    std::uint64_t epoch_ =
        0;  // bumped by cancel_all(): an operation that sees a new epoch was cancelled
    bool closed_ = false;  // the client object is gone; coroutines still running only wind down

    // --- proxy routing ---

    static std::optional<proxy_endpoint> parse_proxy(const std::string& url) {
        if (url.empty()) return std::nullopt;
        auto r = parse_proxy_url(url);
        if (auto* why = std::get_if<std::string>(&r))
            throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                                    "http client: " + *why + " (" + redact_proxy_url(url) + ")");
        return std::get<proxy_endpoint>(std::move(r));
    }

    static constexpr std::size_t min_redacted_length = 8;

    void redact(std::string& text) const {
        const std::string_view key = cred_value_.reveal();
        if (key.size() < min_redacted_length) return;
        static constexpr std::string_view mark = "[redacted]";
        for (auto at = text.find(key); at != std::string::npos; at = text.find(key, at + mark.size()))
            text.replace(at, key.size(), mark);
    }

    /// redact() over a response: its body and every header value.
    void redact(response& r) const {
        const std::string_view key = cred_value_.reveal();
        if (key.size() < min_redacted_length) return;
        redact(r.body);
        std::vector<std::pair<std::string, std::string>> changed;
        for (const auto& f : r.headers) {
            if (f.value().find(key) == std::string_view::npos) continue;
            std::string v(f.value());
            redact(v);
            changed.emplace_back(std::string(f.name_string()), std::move(v));
        }
        for (auto& [name, value] : changed) r.headers.set(name, value);
    }

    bool carries_credential(const origin& o) const {
        return cred_origin_ && *cred_origin_ == o && !cred_header_.empty();
    }

    /// The proxy a request to `o` goes through, or null for direct. A plain-http request that
    /// carries the credential always goes direct: through a proxy the key would travel in clear
    /// to a third party (config allows http:// base_urls on loopback only, which no proxy serves).
    const proxy_endpoint* proxy_for(const origin& o) const {
        const auto& p = o.scheme == "https" ? https_proxy_ : http_proxy_;
        if (!p || bypasses_proxy(opts_.proxy.no_proxy, o.host, o.port)) return nullptr;
        if (o.scheme == "http" && carries_credential(o)) return nullptr;
        return &*p;
    }

    // --- pool ---

    void park(std::unique_ptr<connection> c) {
        if (closed_ || opts_.max_idle_per_origin == 0) return;
        c->tcp_layer().expires_never();
        c->reused = true;
        auto& v = idle_[c->where.to_string()];
        if (v.size() >= opts_.max_idle_per_origin)
            v.erase(v.begin());  // the oldest is likeliest to be stale
        v.push_back(std::move(c));
    }

    std::unique_ptr<connection> take_idle(const origin& o) {
        auto it = idle_.find(o.to_string());
        if (it == idle_.end()) return nullptr;
        auto& v = it->second;
        while (!v.empty()) {
            auto c = std::move(v.back());
            v.pop_back();
            if (c->looks_alive()) return c;
        }
        return nullptr;
    }

    void cancel_all() {
        ++epoch_;
        for (auto* c : busy_) c->cancel();
        idle_.clear();
    }

    std::size_t idle_count() const {
        std::size_t n = 0;
        for (const auto& [k, v] : idle_) n += v.size();
        return n;
    }

    // --- errors ---

    /// Maps a raw failure to the project's names. Cancellation is checked first, so a shutdown or
    /// cancel_all() is never reported as a timeout.
    static std::error_code map_error(const step_error& e, bool cancelled) {
        const auto& ec = e.raw;
        if (cancelled || ec == asio::error::operation_aborted)
            return sys_error(asio::error::operation_aborted);
        if (e.named) return e.named;
        if (ec == beast::error::timeout) {
            switch (e.where) {
                case phase::resolve:
                case phase::connect:
                case phase::tunnel:
                    return errc::connect_timeout;
                case phase::handshake:
                    return errc::handshake_timeout;
                case phase::write:
                    return errc::write_timeout;
                case phase::read:
                    return errc::read_timeout;
            }
        }
        if (e.where == phase::resolve) return errc::resolve_failed;
        if (e.where == phase::connect) return ec;
        if (ec == bh::error::body_limit) return errc::body_too_large;
        if (is_closed(ec)) return errc::connection_closed;
        // Anything else Beast's parser refused (a header over the limit, a bad status line,
        // field or chunk): the server answered, but not in HTTP we can read.
        if (ec.category() == sys_error(bh::error::header_limit).category())
            return errc::malformed_response;
        if (ec.category() == asio::error::get_ssl_category() ||
            ec.category() == asio::ssl::error::get_stream_category())
            return errc::tls_error;
        return ec;
    }

    /// The peer went away before the message was complete.
    /// About ssl::error::stream_truncated (TCP closed without a TLS close_notify): after a complete
    /// message it is benign, because Content-Length or chunked framing already proved that every
    /// byte arrived and we never read past a message's end (many servers skip close_notify). It can
    /// only hide a truncation when a body is delimited by the connection's end; Beast then reports
    /// it instead of finishing the message, and it lands here as connection_closed rather than
    /// being taken for a body.
    static bool is_closed(const sys_error& ec) {
        return ec == asio::error::eof || ec == bh::error::end_of_stream ||
               ec == bh::error::partial_message || ec == asio::error::connection_reset ||
               ec == asio::error::connection_aborted || ec == asio::error::broken_pipe ||
               ec == asio::ssl::error::stream_truncated;
    }

    // --- steps ---

    static clock_type::time_point earlier(clock_type::time_point a, clock_type::time_point b) {
        return std::min(a, b);
    }

    /// Asks the proxy for a tunnel to c.where (CONNECT host:port) within connect_timeout and the
    /// exchange deadline. Only the CONNECT line, Host, User-Agent and Proxy-Authorization go to the
    /// proxy; everything after a 2xx travels inside TLS to the target.
    asio::awaitable<step_error> async_tunnel(connection& c, clock_type::time_point deadline) {
        const bool v6 = c.where.host.find(':') != std::string::npos;
        const std::string authority =
            (v6 ? "[" + c.where.host + "]" : c.where.host) + ":" + std::to_string(c.where.port);
        bh::request<bh::empty_body> m{bh::verb::connect, authority, 11};
        m.set(bh::field::host, authority);
        m.set(bh::field::user_agent, opts_.user_agent);
        if (!c.via->authorization.empty())
            m.set(bh::field::proxy_authorization, c.via->authorization);
        c.tcp_layer().expires_at(earlier(deadline, clock_type::now() + opts_.connect_timeout));
        auto [wec, wn] = co_await bh::async_write(c.tcp_layer(), m, use_tuple);
        if (wec) co_return step_error{wec, phase::tunnel};
        // The answer's header only: a 2xx has no body, and after any other status the connection
        // is dropped unread.
        beast::flat_buffer buf;
        bh::response_parser<bh::empty_body> p;
        p.skip(true);
        p.header_limit(16 * 1024);
        auto [rec, rn] = co_await bh::async_read_header(c.tcp_layer(), buf, p, use_tuple);
        if (rec) co_return step_error{rec, phase::tunnel};
        const unsigned status = p.get().result_int();
        if (status == 407) co_return step_error{{}, phase::tunnel, errc::proxy_auth_required};
        // Bytes after the header would be the target's before our ClientHello: not a tunnel.
        if (status / 100 != 2 || buf.size() != 0)
            co_return step_error{{}, phase::tunnel, errc::proxy_refused};
        co_return step_error{};
    }

    /// Resolve, connect, (through a proxy, for https) tunnel and (for https) handshake, each within
    /// connect_timeout and the exchange deadline.
    asio::awaitable<step_error> async_connect(lease& l, clock_type::time_point deadline) {
        auto& c = *l;
        const auto epoch = epoch_;
        const auto step_deadline = earlier(deadline, clock_type::now() + opts_.connect_timeout);

        // The resolver has no deadline of its own: a timer cancels it, and a flag tells a timeout
        // from a cancel_all().
        c.resolver = std::make_shared<tcp::resolver>(ex_);
        auto fired = std::make_shared<bool>(false);
        asio::steady_timer timer(ex_, step_deadline);
        timer.async_wait([r = c.resolver, fired](const sys_error& ec) {
            if (ec) return;
            *fired = true;
            r->cancel();
        });
        // Through a proxy the client resolves and connects to the proxy; the proxy resolves the
        // target.
        const auto& host = c.via ? c.via->host : c.where.host;
        const auto port = c.via ? c.via->port : c.where.port;
        auto [rec, results] =
            co_await c.resolver->async_resolve(host, std::to_string(port), use_tuple);
        timer.cancel();
        c.resolver.reset();
        if (epoch != epoch_) co_return step_error{asio::error::operation_aborted, phase::resolve};
        if (*fired) co_return step_error{beast::error::timeout, phase::resolve};
        if (rec) co_return step_error{rec, phase::resolve};

        c.tcp_layer().expires_at(step_deadline);
        auto [cec, ep] = co_await c.tcp_layer().async_connect(results, use_tuple);
        if (cec) co_return step_error{cec, phase::connect};
        if (epoch != epoch_) co_return step_error{asio::error::operation_aborted, phase::connect};
        sys_error ignored;
        c.tcp_layer().socket().set_option(tcp::no_delay(true), ignored);

        if (!c.tls) co_return step_error{};
        if (c.via) {
            auto terr = co_await async_tunnel(c, deadline);
            if (terr) co_return terr;
            if (epoch != epoch_)
                co_return step_error{asio::error::operation_aborted, phase::tunnel};
        }
        auto& s = *c.tls;
        // SNI carries host names only (RFC 6066 forbids IP literals there).
        if (!is_ip_literal(c.where.host) &&
            !SSL_set_tlsext_host_name(s.native_handle(), c.where.host.c_str()))
            co_return step_error{
                sys_error(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category()),
                phase::handshake};
        s.set_verify_mode(asio::ssl::verify_peer);
        // Checks the name against the certificate's DNS or IP subjectAltNames.
        s.set_verify_callback(asio::ssl::host_name_verification(c.where.host));
        c.tcp_layer().expires_at(earlier(deadline, clock_type::now() + opts_.connect_timeout));
        auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::client, use_tuple);
        if (hec) co_return step_error{hec, phase::handshake};
        co_return step_error{};
    }

    /// A parked connection for `o` when one looks alive (and reuse is allowed), else a new one.
    asio::awaitable<step_error> async_acquire(lease& l, const origin& o, const proxy_endpoint* via,
                                              bool allow_reuse, clock_type::time_point deadline) {
        if (allow_reuse) {
            if (auto c = take_idle(o)) {
                l = lease(shared_from_this(), std::move(c));
                co_return step_error{};
            }
        }
        l = lease(shared_from_this(), std::make_unique<connection>(
                                          ex_, o, o.scheme == "https" ? &ssl_ctx_ : nullptr, via));
        co_return co_await async_connect(l, deadline);
    }

    /// The request message; nullopt when the request is unusable (relative URL, CR/LF in a header).
    /// `via`: the proxy the request goes through (absolute-form target and Proxy-Authorization for
    /// plain http; nothing changes for a tunnel).
    std::optional<bh::request<bh::string_body>> build(const request& req, const origin& o,
                                                      const proxy_endpoint* via) const {
        std::string target(req.url.encoded_target());
        if (target.empty() || target.front() != '/') target.insert(0, "/");
        const bool absolute_form = via && o.scheme == "http";
        if (absolute_form) target.insert(0, o.to_string());
        bh::request<bh::string_body> m{req.method, target, 11};
        m.set(bh::field::host, o.host_header());
        m.set(bh::field::user_agent, opts_.user_agent);
        // Bodies are streamed to disk and hashed as sent: no compression surprises.
        m.set(bh::field::accept_encoding, "identity");
        for (const auto& [k, v] : req.headers) {
            if (k.empty() || has_control_chars(k) || has_control_chars(v)) return std::nullopt;
            m.set(k, v);
        }
        if (absolute_form && !via->authorization.empty())
            m.set(bh::field::proxy_authorization, via->authorization);
        // proxy_for() never routes a credential-bearing http request through a proxy.
        if (carries_credential(o) && !absolute_form) m.set(cred_header_, cred_value_.reveal());
        m.body() = req.body;
        m.keep_alive(true);
        m.prepare_payload();
        return m;
    }

    /// Acquire, write, then read the header only (`whole` false) or the whole message (`whole`
    /// true). A GET that fails on a reused connection before any response byte is retried once,
    /// fresh.
    template <class Body, class Setup>
    asio::awaitable<std::error_code> async_exchange(
        const request& req, bool whole, lease& l, std::optional<bh::response_parser<Body>>& parser,
        Setup setup) {
        auto o = origin::from_url(req.url);
        if (!o) co_return std::make_error_code(std::errc::invalid_argument);
        const proxy_endpoint* via = proxy_for(*o);
        auto msg = build(req, *o, via);
        if (!msg) co_return std::make_error_code(std::errc::invalid_argument);
        const auto deadline = clock_type::now() + req.timeout;
        const auto epoch = epoch_;
        const bool may_retry = req.method == bh::verb::get;

        for (int attempt = 0;; ++attempt) {
            step_error err = co_await async_acquire(l, *o, via, attempt == 0, deadline);
            const bool reused = l && l->reused;
            parser.emplace();
            setup(*parser);
            if (req.method == bh::verb::head)
                parser->skip(true);  // a HEAD response has no body whatever it says
            if (!err && epoch == epoch_) {
                l->tcp_layer().expires_at(deadline);
                auto [wec, wn] =
                    co_await l->visit([&](auto& s) { return bh::async_write(s, *msg, use_tuple); });
                if (wec) err = {wec, phase::write};
            }
            // Interim responses (1xx other than 101: 100 Continue, 103 Early Hints...) come
            // before the final one and are skipped (RFC 9110 §15.2), a bounded number of them.
            for (int interim = 0; !err && epoch == epoch_; ++interim) {
                l->tcp_layer().expires_at(deadline);
                auto [rec, rn] = co_await l->visit([&](auto& s) {
                    return whole ? bh::async_read(s, l->buffer, *parser, use_tuple)
                                 : bh::async_read_header(s, l->buffer, *parser, use_tuple);
                });
                if (rec) {
                    err = {rec, phase::read};
                    break;
                }
                const unsigned status = parser->get().result_int();
                if (status < 100 || status >= 200 || status == 101 || interim >= max_interim_responses)
                    break;
                parser.emplace();
                setup(*parser);
                if (req.method == bh::verb::head) parser->skip(true);
            }
            const bool cancelled = epoch != epoch_;
            if (!err && !cancelled) co_return std::error_code{};
            l.reset();
            if (!cancelled && attempt == 0 && reused && may_retry && is_closed(err.raw) &&
                !parser->got_some())
                continue;
            co_return map_error(err, cancelled);
        }
    }

    static asio::awaitable<std::pair<std::error_code, response>> async_request(
        std::shared_ptr<client_impl> self, request req) {
        lease l;
        std::optional<bh::response_parser<bh::string_body>> parser;
        const auto limit = self->opts_.max_body_bytes;
        auto ec = co_await self->async_exchange(req, true, l, parser, [limit](auto& p) {
            p.body_limit(limit);
            p.header_limit(64 * 1024);
        });
        if (ec) co_return std::pair{ec, response{}};
        auto& m = parser->get();
        response r{m.result_int(), bh::fields(m.base()), std::move(m.body())};
        self->redact(r);
        // Reuse only a connection that is clean: the message framed itself and nothing extra is
        // buffered.
        if (parser->keep_alive() && l->buffer.size() == 0) l.recycle();
        co_return std::pair{std::error_code{}, std::move(r)};
    }

    static asio::awaitable<std::pair<std::error_code, std::unique_ptr<client::body_stream>>>
    async_open(std::shared_ptr<client_impl> self, request req,
               std::optional<std::uint64_t> body_limit);
};

// --- body_stream ---------------------------------------------------------------------------------

struct client::body_stream::impl {
    client_impl::lease conn;
    std::optional<bh::response_parser<bh::buffer_body>> parser;
    std::uint64_t epoch = 0;
    std::shared_ptr<client_impl> owner;
    bool done = false;
    bool closing = false;  // close() was called: reads complete with operation_aborted
    bool reading =
        false;  // a read is in flight: close() must cancel it, not destroy the socket under it
    // Allocated on the first read and not zero-filled: a thousand idle SSE streams must not each
    // pin a large buffer. SSE events are small; downloads ask for bigger reads (set_read_size).
    std::unique_ptr<char[]> buf;
    std::size_t buf_size = 8 * 1024;
    // A Content-Length body (not chunked) is read past the parser, straight into `buf`; this
    // counts what is left of it.
    bool raw = false;
    std::uint64_t remaining = 0;

    /// The body is over: a clean keep-alive connection goes back to the pool.
    void finish(bool keep_alive) {
        done = true;
        if (keep_alive && conn->buffer.size() == 0)
            conn.recycle();
        else
            conn.reset();
    }
};

namespace {

/// More body can be read at once without waiting: decrypted or undecrypted TLS bytes already in
/// OpenSSL, or bytes in the socket's receive queue (FIONREAD).
bool more_ready(detail::connection& c) {
    if (c.tls && SSL_has_pending(c.tls->native_handle()) == 1) return true;
    sys_error ec;
    return c.tcp_layer().socket().available(ec) > 0 && !ec;
}

}  // namespace

client::body_stream::body_stream(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
client::body_stream::~body_stream() = default;

unsigned client::body_stream::status() const {
    return impl_->parser->get().result_int();
}
const beast::http::fields& client::body_stream::headers() const {
    return impl_->parser->get().base();
}
std::optional<std::uint64_t> client::body_stream::content_length() const {
    auto n = impl_->parser->content_length();
    return n ? std::optional<std::uint64_t>(*n) : std::nullopt;
}
void client::body_stream::set_read_size(std::size_t bytes) {
    if (!impl_->buf) impl_->buf_size = std::max<std::size_t>(bytes, 512);
}
bool client::body_stream::done() const {
    return impl_->done;
}
void client::body_stream::close() {
    impl_->closing = true;
    if (impl_->reading && impl_->conn) {
        // The pending read completes with operation_aborted and drops the connection itself.
        impl_->conn->cancel();
        return;
    }
    impl_->conn.reset();
}

asio::awaitable<std::pair<std::error_code, std::string_view>> client::body_stream::async_read_some(
    std::chrono::milliseconds idle) {
    return async_read_some_until(clock_type::now() + idle);
}

asio::awaitable<std::pair<std::error_code, std::string_view>>
client::body_stream::async_read_some_until(clock_type::time_point deadline) {
    auto& s = *impl_;
    if (s.done) co_return std::pair{std::error_code{}, std::string_view{}};
    if (!s.conn)
        co_return std::pair{s.closing ? std::error_code(sys_error(asio::error::operation_aborted))
                                      : std::error_code(errc::connection_closed),
                            std::string_view{}};
    auto owner = s.owner;  // keeps the pool alive if the client is destroyed while we wait
    if (!s.buf) s.buf = std::make_unique_for_overwrite<char[]>(s.buf_size);
    if (s.raw) {
        const auto want =
            static_cast<std::size_t>(std::min<std::uint64_t>(s.buf_size, s.remaining));
        std::size_t got = 0;
        // Bytes that arrived together with the header wait in the connection's buffer.
        if (auto& fb = s.conn->buffer; fb.size() > 0) {
            got = asio::buffer_copy(asio::buffer(s.buf.get(), want), fb.data());
            fb.consume(got);
        }
        sys_error ec;
        bool cancelled = false;
        // One wait for the first bytes, then only what is already there: big pieces when the
        // data comes fast, no added delay when it trickles.
        while (got < want && (got == 0 || more_ready(*s.conn))) {
            if (s.epoch != owner->epoch_ || s.closing) {
                cancelled = true;
                break;
            }
            s.conn->tcp_layer().expires_at(deadline);
            s.reading = true;
            auto [rec, n] = co_await s.conn->visit([&](auto& st) {
                return st.async_read_some(asio::buffer(s.buf.get() + got, want - got), use_tuple);
            });
            s.reading = false;
            got += n;
            if (rec) {
                ec = rec;
                break;
            }
        }
        cancelled = cancelled || s.epoch != owner->epoch_ || s.closing;
        if (ec || cancelled) {
            s.conn.reset();
            co_return std::pair{client_impl::map_error({ec, phase::read}, cancelled),
                                std::string_view{}};
        }
        s.remaining -= got;
        if (s.remaining == 0) s.finish(s.parser->keep_alive());
        co_return std::pair{std::error_code{}, std::string_view(s.buf.get(), got)};
    }
    for (;;) {
        if (s.epoch != owner->epoch_) {
            s.conn.reset();
            co_return std::pair{std::error_code(sys_error(asio::error::operation_aborted)),
                                std::string_view{}};
        }
        auto& body = s.parser->get().body();
        body.data = s.buf.get();
        body.size = s.buf_size;
        std::size_t got = 0;
        sys_error ec;
        if (!s.parser->is_done()) {
            s.conn->tcp_layer().expires_at(deadline);
            s.reading = true;
            auto [rec, n] = co_await s.conn->visit([&](auto& st) {
                return bh::async_read_some(st, s.conn->buffer, *s.parser, use_tuple);
            });
            s.reading = false;
            ec = rec == bh::error::need_buffer ? sys_error{} : rec;
            got = s.buf_size - body.size;
        }
        const bool cancelled = s.epoch != owner->epoch_ || s.closing;
        if (ec || cancelled) {
            s.conn.reset();
            co_return std::pair{client_impl::map_error({ec, phase::read}, cancelled),
                                std::string_view{}};
        }
        if (s.parser->is_done()) s.finish(s.parser->keep_alive());
        if (got > 0 || s.done)
            co_return std::pair{std::error_code{}, std::string_view(s.buf.get(), got)};
    }
}

asio::awaitable<std::pair<std::error_code, std::unique_ptr<client::body_stream>>>
client_impl::async_open(std::shared_ptr<client_impl> self, request req,
                        std::optional<std::uint64_t> body_limit) {
    auto st = std::make_unique<client::body_stream::impl>();
    st->owner = self;
    st->epoch = self->epoch_;
    auto ec = co_await self->async_exchange(req, false, st->conn, st->parser, [&](auto& p) {
        // Streams and downloads are bounded by the caller (idle deadline, max_bytes), not by the
        // parser's 8 MB default.
        p.body_limit(body_limit ? boost::optional<std::uint64_t>(*body_limit) : boost::none);
        p.header_limit(64 * 1024);
    });
    if (ec) co_return std::pair{ec, std::unique_ptr<client::body_stream>{}};
    if (st->parser->is_done()) {  // no body at all (204, 304, HEAD, Content-Length: 0)
        st->finish(st->parser->keep_alive());
    } else if (auto n = st->parser->content_length(); n && !st->parser->chunked()) {
        // The header fixed the body's length: nothing is left for the parser to decide.
        st->raw = true;
        st->remaining = *n;
    }
    co_return std::pair{std::error_code{}, std::make_unique<client::body_stream>(std::move(st))};
}

// --- client --------------------------------------------------------------------------------------

client::client(asio::any_io_executor ex, client_options opts)
    : impl_(std::make_shared<client_impl>(std::move(ex), std::move(opts))) {}

client::~client() {
    impl_->closed_ = true;
    impl_->cancel_all();
}

void client::set_credential(const origin& o, std::string header, briefd::secret value) {
    impl_->cred_origin_ = o;
    impl_->cred_header_ = std::move(header);
    impl_->cred_value_ = std::move(value);
}

void client::redact(std::string& text) const {
    impl_->redact(text);
}

asio::awaitable<std::pair<std::error_code, response>> client::async_request(request req) {
    return client_impl::async_request(impl_, std::move(req));
}

asio::awaitable<std::pair<std::error_code, std::unique_ptr<client::body_stream>>>
client::async_open(request req) {
    return client_impl::async_open(impl_, std::move(req), std::nullopt);
}

namespace {

/// Pieces handed to a download's sink: large enough that per-piece costs (a write(2), a hash
/// update, a coroutine resumption) vanish next to the bytes, small enough to stay well below a
/// millisecond of work between two visits of the event loop.
constexpr std::size_t download_piece = 1u << 20;
/// An explicit yield to the executor after this many bytes, whatever the stream does.
constexpr std::uint64_t download_yield_every = 8u << 20;

asio::awaitable<std::pair<std::error_code, client::download_info>> run_download(
    std::shared_ptr<client_impl> self, request req, client::download_options opts,
    std::function<std::error_code(std::string_view)> sink) {
    client::download_info info;
    auto [ec, stream] = co_await client_impl::async_open(self, std::move(req), opts.max_bytes);
    if (ec) co_return std::pair{ec, info};
    info.status = stream->status();
    info.content_type = std::string(stream->headers()[bh::field::content_type]);
    info.content_encoding = std::string(stream->headers()[bh::field::content_encoding]);
    if (info.status / 100 == 3) info.location = std::string(stream->headers()[bh::field::location]);
    info.content_length = stream->content_length();
    if (info.status < 200 || info.status >= 300) {
        stream->close();
        co_return std::pair{std::error_code{}, info};
    }
    // Beast already refuses a Content-Length above the parser's body limit; say so explicitly
    // anyway.
    if (info.content_length && *info.content_length > opts.max_bytes) {
        stream->close();
        co_return std::pair{std::error_code(errc::body_too_large), info};
    }
    if (opts.on_start) {
        if (auto sec = opts.on_start(info)) {
            stream->close();
            co_return std::pair{sec, info};
        }
    }
    stream->set_read_size(download_piece);
    const auto ex = co_await asio::this_coro::executor;
    // Minimum rate: back-to-back windows from the first body read. A read waits at most until
    // the end of the first window that would come out short if nothing more arrived, so neither
    // a trickle nor silence after a burst can stretch a window.
    const std::uint64_t window_need =
        opts.min_bytes_per_s * static_cast<std::uint64_t>(opts.rate_window.count()) / 1000;
    auto window_end = clock_type::now() + opts.rate_window;
    std::uint64_t window_bytes = 0;
    std::uint64_t since_yield = 0;
    while (!stream->done()) {
        const auto now = clock_type::now();
        for (; window_need > 0 && now >= window_end; window_end += opts.rate_window) {
            if (window_bytes < window_need) {
                stream->close();
                co_return std::pair{std::error_code(errc::download_too_slow), info};
            }
            window_bytes = 0;
        }
        auto deadline = now + opts.idle;
        bool window_first = false;
        if (window_need > 0) {
            const auto short_at =
                window_bytes < window_need ? window_end : window_end + opts.rate_window;
            window_first = short_at < deadline;
            if (window_first) deadline = short_at;
        }
        auto [rec, piece] = co_await stream->async_read_some_until(deadline);
        if (rec) {
            if (rec == errc::read_timeout && window_first) rec = errc::download_too_slow;
            // The header promised a body (length or chunked framing) and the connection ended
            // early.
            if (rec == errc::connection_closed) rec = errc::download_truncated;
            co_return std::pair{rec, info};
        }
        if (piece.empty()) continue;
        info.bytes += piece.size();
        window_bytes += piece.size();
        if (info.bytes > opts.max_bytes) {
            stream->close();
            co_return std::pair{std::error_code(errc::body_too_large), info};
        }
        if (auto sec = sink(piece)) {
            stream->close();
            co_return std::pair{sec, info};
        }
        since_yield += piece.size();
        if (since_yield >= download_yield_every && !stream->done()) {
            since_yield = 0;
            co_await asio::post(ex, asio::use_awaitable);  // timers and other streams get a turn
        }
    }
    co_return std::pair{std::error_code{}, info};
}

}  // namespace

asio::awaitable<std::pair<std::error_code, client::download_info>> client::async_download(
    request req, std::uint64_t max_bytes, std::chrono::milliseconds idle,
    std::function<std::error_code(std::string_view)> sink) {
    download_options opts;
    opts.max_bytes = max_bytes;
    opts.idle = idle;
    return run_download(impl_, std::move(req), std::move(opts), std::move(sink));
}

asio::awaitable<std::pair<std::error_code, client::download_info>> client::async_download(
    request req, download_options opts, std::function<std::error_code(std::string_view)> sink) {
    return run_download(impl_, std::move(req), std::move(opts), std::move(sink));
}

void client::cancel_all() {
    impl_->cancel_all();
}

std::size_t client::idle_connections() const {
    return impl_->idle_count();
}

}  // namespace briefd::http
