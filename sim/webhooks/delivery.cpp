#include "delivery.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/url.hpp>

#include <algorithm>
#include <chrono>

// GCC 12 mis-pairs Asio's awaitable frame operator new/delete in coroutines and warns
// (-Wmismatched-new-delete, GCC PR 109224); the pair is Asio's own and matches.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace briefd::sim::webhooks {

namespace urls = boost::urls;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string_view to_string(provider p) noexcept {
    switch (p) {
        case provider::lamina:
            return "lamina";
        case provider::hrizn:
            return "hrizn";
        case provider::layers:
            return "layers";
    }
    return "unknown";
}

unsigned provider_bit_of(provider p) noexcept {
    switch (p) {
        case provider::lamina:
            return provider_lamina;
        case provider::hrizn:
            return provider_hrizn;
        case provider::layers:
            return provider_layers;
    }
    return 0;
}

retry_policy lamina_retries() {
    return {{5, 30, 120}, true};
}
retry_policy hrizn_retries() {
    return {{15, 60, 240}, true};
}
retry_policy layers_retries() {
    return {{30, 60, 300, 900}, false};
}

std::optional<double> next_retry(const retry_policy& p, unsigned attempt, unsigned status) {
    if (status >= 200 && status < 300) return std::nullopt;
    if (!p.retry_4xx && status >= 400 && status < 500 && status != 429) return std::nullopt;
    if (attempt >= p.delays_s.size()) return std::nullopt;
    return p.delays_s[attempt];
}

std::optional<loopback_target> parse_loopback(std::string_view url) {
    auto u = urls::parse_absolute_uri(url);
    if (!u || u->scheme_id() != urls::scheme::http) return std::nullopt;
    loopback_target t;
    boost::system::error_code ec;
    if (u->host_type() == urls::host_type::ipv4) {
        t.address = u->host_address();
    } else if (u->host_type() == urls::host_type::ipv6) {
        t.address = u->host_address();
    } else if (u->host_type() == urls::host_type::name && u->host() == "localhost") {
        t.address = "127.0.0.1";
    } else {
        return std::nullopt;
    }
    const auto addr = asio::ip::make_address(t.address, ec);
    if (ec || !addr.is_loopback()) return std::nullopt;
    if (u->has_port()) {
        if (u->port_number() == 0) return std::nullopt;
        t.port = u->port_number();
    }
    t.host = u->encoded_host_and_port();
    t.target = u->encoded_path().empty() ? "/" : std::string(u->encoded_path());
    if (u->has_query()) t.target += "?" + std::string(u->encoded_query());
    return t;
}

namespace {

webhook_counts& counts_of(stats& s, provider p) {
    switch (p) {
        case provider::hrizn:
            return s.webhooks.hrizn;
        case provider::layers:
            return s.webhooks.layers;
        case provider::lamina:
            break;
    }
    return s.webhooks.lamina;
}

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

asio::awaitable<unsigned> delivery_queue::async_attempt(const loopback_target& t,
                                                        const delivery& d) {
    boost::system::error_code ec;
    const asio::ip::tcp::endpoint ep(asio::ip::make_address(t.address, ec), t.port);
    if (ec) co_return 0;
    beast::tcp_stream stream(ex_);
    // The receiver timeout covers the whole exchange (connect, write, read), as a provider's
    // "times out after 15 s" does.
    stream.expires_after(std::max<std::chrono::steady_clock::duration>(
        st_.real(st_.opt.webhooks.timeout_s), std::chrono::seconds(1)));
    auto [cec] = co_await stream.async_connect(ep, use_tuple);
    if (cec) co_return 0;

    http::request<http::string_body> req{http::verb::post, t.target, 11};
    req.set(http::field::host, t.host);
    req.set(http::field::user_agent, "briefsim-webhooks");
    req.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : d.headers) req.set(k, v);
    if (d.sign) d.sign(unix_now(), d.body, req.base());
    req.keep_alive(false);
    req.body() = d.body;
    req.prepare_payload();
    auto [wec, wn] = co_await http::async_write(stream, req, use_tuple);
    (void)wn;
    // A receiver may answer (413, 401) and close before reading a large body: the write then
    // fails, but its answer may still be waiting to be read.
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1u << 20);
    auto [rec, rn] = co_await http::async_read(stream, buf, parser, use_tuple);
    (void)rn;
    boost::system::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    if (rec && !parser.is_header_done()) co_return 0;
    (void)wec;
    co_return parser.get().result_int();
}

asio::awaitable<bool> delivery_queue::async_deliver(delivery d) {
    const auto target = parse_loopback(d.url);
    if (!target) {
        ++counts_of(st_.counters, d.from).not_loopback;
        co_return false;
    }
    for (unsigned attempt = 0;; ++attempt) {
        // Counters are looked up afresh after every suspension: POST /_sim/stats/reset may
        // replace them meanwhile.
        if (attempt > 0) ++counts_of(st_.counters, d.from).retries;
        ++counts_of(st_.counters, d.from).sent;
        const unsigned status = co_await async_attempt(*target, d);
        auto& c = counts_of(st_.counters, d.from);
        if (status == 0)
            ++c.errors;
        else if (status / 100 == 2)
            ++c.delivered_2xx;
        else if (status / 100 == 4)
            ++c.rejected_4xx;
        else
            ++c.failed_5xx;
        if (status / 100 == 2) co_return true;
        const auto delay = next_retry(d.policy, attempt, status);
        if (!delay) {
            ++c.abandoned;
            co_return false;
        }
        asio::steady_timer timer(ex_, st_.real(*delay));
        co_await timer.async_wait(use_tuple);
    }
}

}  // namespace briefd::sim::webhooks
