#include "support/sim_process.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url.hpp>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>

namespace briefd::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string lower(std::string_view s) {
    std::string o(s);
    for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
}

template <class Stream>
asio::awaitable<void> exchange(Stream& s, http::request<http::string_body>& req, http_reply& out,
                               const std::function<bool(std::string_view)>& until) {
    constexpr auto tuple = asio::as_tuple(asio::use_awaitable);
    auto [wec, wn] = co_await http::async_write(s, req, tuple);
    if (wec) {
        out.error = "write: " + wec.message();
        co_return;
    }
    beast::flat_buffer buf;
    http::response_parser<http::string_body> p;
    p.body_limit(boost::none);
    if (req.method() == http::verb::head) p.skip(true);
    auto [hec, hn] = co_await http::async_read_header(s, buf, p, tuple);
    if (hec) {
        out.error = "read header: " + hec.message();
        co_return;
    }
    out.status = p.get().result_int();
    for (const auto& f : p.get()) out.headers[lower(f.name_string())] = std::string(f.value());
    while (!p.is_done()) {
        if (until && until(p.get().body())) break;
        auto [ec, n] = co_await http::async_read_some(s, buf, p, tuple);
        if (ec) {
            out.error = "read body: " + ec.message();
            break;
        }
    }
    out.complete = p.is_done();
    out.body = std::move(p.get().body());
}

}  // namespace

std::string http_reply::header(std::string_view name) const {
    auto it = headers.find(lower(name));
    return it == headers.end() ? std::string() : it->second;
}

http_reply http_fetch(const std::string& url, const http_request_options& opt,
                      const std::function<bool(std::string_view)>& until) {
    http_reply out;
    auto u = boost::urls::parse_uri(url);
    if (!u) {
        out.error = "bad url: " + url;
        return out;
    }
    const bool tls = u->scheme() == "https";
    std::string host = u->host_address();
    std::string port = u->has_port() ? std::string(u->port()) : (tls ? "443" : "80");
    std::string target = u->encoded_target().empty() ? "/" : std::string(u->encoded_target());
    if (target.front() != '/') target = "/" + target;

    http::request<http::string_body> req;
    req.method_string(opt.method);
    req.target(target);
    req.version(11);
    req.set(http::field::host, std::string(u->encoded_host_and_port()));
    req.set(http::field::connection, "close");
    for (const auto& [k, v] : opt.headers) req.set(k, v);
    if (!opt.body.empty() || opt.method == "POST" || opt.method == "PUT") {
        req.body() = opt.body;
        if (req.find(http::field::content_type) == req.end())
            req.set(http::field::content_type, "application/json");
        req.prepare_payload();
    }

    asio::io_context ioc;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    if (tls) {
        if (!opt.ca_file.empty()) {
            ctx.load_verify_file(opt.ca_file.string());
            ctx.set_verify_mode(asio::ssl::verify_peer);
        } else {
            ctx.set_verify_mode(asio::ssl::verify_none);
        }
    }
    tcp::socket* raw = nullptr;
    bool done = false;
    auto run = [&]() -> asio::awaitable<void> {
        constexpr auto tuple = asio::as_tuple(asio::use_awaitable);
        tcp::resolver r(ioc);
        auto [rec, eps] = co_await r.async_resolve(host, port, tuple);
        if (rec) {
            out.error = "resolve: " + rec.message();
            co_return;
        }
        if (tls) {
            asio::ssl::stream<tcp::socket> s(ioc, ctx);
            raw = &s.next_layer();
            if (!opt.ca_file.empty())
                s.set_verify_callback(asio::ssl::host_name_verification(host));
            if (!u->host_address().empty() && u->host_type() == boost::urls::host_type::name)
                SSL_set_tlsext_host_name(s.native_handle(), host.c_str());
            auto [cec, ep] = co_await asio::async_connect(s.next_layer(), eps, tuple);
            if (cec) {
                out.error = "connect: " + cec.message();
                co_return;
            }
            auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::client, tuple);
            if (hec) {
                out.error = "handshake: " + hec.message();
                co_return;
            }
            co_await exchange(s, req, out, until);
            raw = nullptr;
        } else {
            tcp::socket s(ioc);
            raw = &s;
            auto [cec, ep] = co_await asio::async_connect(s, eps, tuple);
            if (cec) {
                out.error = "connect: " + cec.message();
                co_return;
            }
            co_await exchange(s, req, out, until);
            raw = nullptr;
        }
    };
    asio::co_spawn(ioc, run(), [&](std::exception_ptr e) {
        done = true;
        if (e) out.error = "exception";
    });
    ioc.run_for(opt.timeout);
    if (!done) {
        out.timed_out = true;
        if (raw) {
            boost::system::error_code ec;
            raw->close(ec);
        }
        ioc.restart();
        ioc.run_for(std::chrono::seconds(2));
    }
    return out;
}

std::string sim_process::binary() {
    if (const char* env = std::getenv("BRIEFSIM"); env && *env) return env;
#ifdef BRIEFSIM_PATH
    return BRIEFSIM_PATH;
#else
    throw std::runtime_error("sim_process: set BRIEFSIM or compile with BRIEFSIM_PATH");
#endif
}

namespace {

std::vector<std::string> make_argv(std::vector<std::string> args, bool verbose) {
    std::vector<std::string> argv{sim_process::binary()};
    if (!verbose && std::find(args.begin(), args.end(), "--quiet") == args.end())
        argv.push_back("--quiet");
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

process_options make_popts(const sim_process_options& o) {
    process_options p;
    p.stderr_file = o.stderr_file;
    return p;
}

}  // namespace

sim_process::sim_process(std::vector<std::string> args, sim_process_options opt)
    : opt_(opt), proc_(make_argv(args, opt.verbose), make_popts(opt)) {
    key_ = "lma_briefsim_key";
    for (std::size_t i = 0; i + 1 < args.size(); ++i)
        if (args[i] == "--key") {
            key_ = args[i + 1];
            break;
        }
    // briefsim's default Hrizn key (sim/options.hpp default_hrizn_key).
    hrizn_key_ = "hzk_b71e5f1db71e5f1db71e5f1db71e5f1db71e5f1db71e5f1db71e5f1db71e5f1d";
    for (std::size_t i = 0; i + 1 < args.size(); ++i)
        if (args[i] == "--hrizn-key") {
            hrizn_key_ = args[i + 1].substr(0, args[i + 1].find('='));
            break;
        }
    // briefsim's default Layers key (sim/options.hpp default_layers_key).
    layers_key_ = "lp_test_k1briefsim_5ec7e75ec7e75ec7e75ec7e7";
    for (std::size_t i = 0; i + 1 < args.size(); ++i)
        if (args[i] == "--layers-key") {
            layers_key_ = args[i + 1].substr(0, args[i + 1].find('='));
            break;
        }
    auto line = proc_.read_line(opt.startup_timeout);
    const std::string_view prefix = "briefsim listening api=";
    if (!line || !line->starts_with(prefix))
        throw std::runtime_error("sim_process: briefsim did not start (got: '" +
                                 line.value_or("<nothing>") + "')");
    const auto files = line->find(" files=");
    if (files == std::string::npos)
        throw std::runtime_error("sim_process: bad listening line: " + *line);
    api_url_ = line->substr(prefix.size(), files - prefix.size());
    const auto hrizn = line->find(" hrizn=", files);
    files_url_ =
        line->substr(files + 7, hrizn == std::string::npos ? std::string::npos : hrizn - files - 7);
    const auto layers = line->find(" layers=", files);
    if (hrizn != std::string::npos)
        hrizn_url_ = line->substr(
            hrizn + 7, layers == std::string::npos ? std::string::npos : layers - hrizn - 7);
    if (layers != std::string::npos) layers_url_ = line->substr(layers + 8);
}

sim_process::~sim_process() {
    if (proc_.running()) stop(std::chrono::milliseconds(3000));
}

std::optional<exit_status> sim_process::stop(std::chrono::milliseconds timeout) {
    proc_.signal(SIGTERM);
    return proc_.wait(timeout);
}

http_reply sim_process::control(std::string_view method, std::string_view target,
                                std::string body) const {
    http_request_options o;
    o.method = std::string(method);
    o.body = std::move(body);
    o.ca_file = opt_.ca_file;
    return http_fetch(api_url_ + std::string(target), o);
}

boost::json::value sim_process::stats() const {
    auto r = control("GET", "/_sim/stats", {});
    if (r.status != 200) throw std::runtime_error("sim_process: stats failed: " + r.error);
    return boost::json::parse(r.body);
}

boost::json::value sim_process::set_faults(const boost::json::value& faults) const {
    auto r = control("POST", "/_sim/faults", boost::json::serialize(faults));
    if (r.status != 200)
        throw std::runtime_error("sim_process: set_faults rejected: " + r.body + r.error);
    return boost::json::parse(r.body);
}

void sim_process::reset_stats() const {
    auto r = control("POST", "/_sim/stats/reset", "{}");
    if (r.status != 200) throw std::runtime_error("sim_process: reset_stats failed: " + r.error);
}

http_reply sim_process::api(std::string_view method, std::string_view target, std::string body,
                            std::chrono::milliseconds timeout) const {
    http_request_options o;
    o.method = std::string(method);
    o.body = std::move(body);
    o.timeout = timeout;
    o.ca_file = opt_.ca_file;
    o.headers.emplace_back("x-api-key", key_);
    return http_fetch(api_url_ + std::string(target), o);
}

http_reply sim_process::hrizn(std::string_view method, std::string_view target, std::string body,
                              std::vector<std::pair<std::string, std::string>> headers,
                              std::string key) const {
    http_request_options o;
    o.method = std::string(method);
    o.body = std::move(body);
    o.ca_file = opt_.ca_file;
    o.headers = std::move(headers);
    o.headers.emplace_back("X-API-Key", key.empty() ? hrizn_key_ : key);
    return http_fetch(hrizn_url_ + std::string(target), o);
}

http_reply sim_process::layers(std::string_view method, std::string_view target, std::string body,
                               std::vector<std::pair<std::string, std::string>> headers,
                               std::string key) const {
    http_request_options o;
    o.method = std::string(method);
    o.body = std::move(body);
    o.ca_file = opt_.ca_file;
    o.headers = std::move(headers);
    o.headers.emplace_back("Authorization", "Bearer " + (key.empty() ? layers_key_ : key));
    return http_fetch(layers_url_ + std::string(target), o);
}

boost::json::value sim_process::set_layers(const boost::json::value& settings) const {
    auto r = control("POST", "/_sim/layers", boost::json::serialize(settings));
    if (r.status != 200)
        throw std::runtime_error("sim_process: set_layers rejected: " + r.body + r.error);
    return boost::json::parse(r.body);
}

boost::json::value sim_process::set_hrizn(const boost::json::value& settings) const {
    auto r = control("POST", "/_sim/hrizn", boost::json::serialize(settings));
    if (r.status != 200)
        throw std::runtime_error("sim_process: set_hrizn rejected: " + r.body + r.error);
    return boost::json::parse(r.body);
}

}  // namespace briefd::testing
