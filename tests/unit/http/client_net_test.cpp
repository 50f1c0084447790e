// The HTTP client's network set-up against real loopback peers: which CAs are trusted (system store
// plus ca_file), where the credential goes (the base_url origin only), and forward proxies (a real
// CONNECT proxy from tests/support that records everything a proxy could read).
#include "http/client.hpp"

#include "core/error.hpp"
#include "support/connect_proxy.hpp"
#include "test_server.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <cstdlib>
#include <filesystem>
#include <optional>

// GCC 12 false positive (GCC bug 109224), as in client_test.cpp.
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
using briefd::testing::connect_proxy;
using namespace std::chrono_literals;

constexpr std::string_view api_key = "k-proxy-must-never-see-this";

request get(const std::string& url) {
    request r;
    r.url = boost::urls::url(url);
    r.timeout = 5s;
    return r;
}

/// 200 with "<target>" as the body, keeping the connection open.
asio::awaitable<bool> answer_target(t::peer& p, const bh::request<bh::string_body>& req) {
    const std::string body(req.target());
    co_return co_await p.write(t::make_response(200, body));
}

origin origin_of(const std::string& url) {
    return *origin::from_url(boost::urls::url(url));
}

bool has_key(const bh::request<bh::string_body>& r) {
    return r.find("x-api-key") != r.end();
}

/// Sets an environment variable for the lifetime of the object (the test process is single
/// threaded while it exists), restoring the previous value.
class scoped_env {
  public:
    scoped_env(const char* name, const std::string& value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        ::setenv(name, value.c_str(), 1);
    }
    ~scoped_env() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

  private:
    const char* name_;
    std::optional<std::string> old_;
};

/// The status of one GET, or the transport error.
asio::awaitable<std::pair<std::error_code, unsigned>> status_of(client& c, const std::string& url) {
    auto [ec, res] = co_await c.async_request(get(url));
    co_return std::pair{ec, res.status};
}

}  // namespace

// --- trust ---------------------------------------------------------------------------------------

TEST_CASE("https: ca_file adds to the system trust store; trust_system_store=false pins ca_file") {
    // The "system store" of this process is pointed at CA 1 (OpenSSL reads SSL_CERT_FILE when the
    // default paths are loaded); ca_file names CA 0. A private gateway signed by CA 0 and a CDN
    // signed by a public CA (here CA 1) must both be reachable by one client.
    const auto& private_ca = t::shared_pki(0);
    const auto& public_ca = t::shared_pki(1);
    const auto empty_dir = std::filesystem::temp_directory_path() / "briefd-empty-cert-dir";
    std::filesystem::create_directories(empty_dir);
    scoped_env cert_file("SSL_CERT_FILE", public_ca.ca_file.string());
    scoped_env cert_dir("SSL_CERT_DIR", empty_dir.string());

    asio::io_context ioc;
    t::test_server gateway(ioc, answer_target, &private_ca);
    t::test_server cdn(ioc, answer_target, &public_ca);

    client_options both;
    both.ca_file = private_ca.ca_file.string();
    client c_both(ioc.get_executor(), both);
    client c_system(ioc.get_executor(), {});
    client_options pinned = both;
    pinned.trust_system_store = false;
    client c_pinned(ioc.get_executor(), pinned);

    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [e1, s1] = co_await status_of(c_both, gateway.url("/v1/runs"));
            CHECK_FALSE(e1);
            CHECK(s1 == 200);
            auto [e2, s2] = co_await status_of(c_both, cdn.url("/out.png"));
            CHECK_FALSE(e2);  // the system store still counts when ca_file is given
            CHECK(s2 == 200);

            auto [e3, s3] = co_await status_of(c_system, cdn.url("/out.png"));
            CHECK_FALSE(e3);
            auto [e4, s4] = co_await status_of(c_system, gateway.url("/v1/runs"));
            CHECK(e4 == errc::tls_error);  // the private CA is not trusted without ca_file

            auto [e5, s5] = co_await status_of(c_pinned, gateway.url("/v1/runs"));
            CHECK_FALSE(e5);
            auto [e6, s6] = co_await status_of(c_pinned, cdn.url("/out.png"));
            CHECK(e6 == errc::tls_error);  // pinned: the system store is not consulted
        },
        [&] {
            gateway.stop();
            cdn.stop();
        });
}

TEST_CASE("https: pinning without a ca_file, or an unreadable ca_file, is a start-up error") {
    asio::io_context ioc;
    client_options pinned;
    pinned.trust_system_store = false;
    CHECK_THROWS_AS(client(ioc.get_executor(), pinned), std::system_error);
    client_options missing;
    missing.ca_file = "/nonexistent/ca.pem";
    CHECK_THROWS_AS(client(ioc.get_executor(), missing), std::system_error);
}

// --- credential scoping --------------------------------------------------------------------------

TEST_CASE("http: the key goes to every path of the base_url origin and to no other origin") {
    asio::io_context ioc;
    // The API origin also serves article HTML and components (Hrizn's GET /content/{id}/html),
    // which need the key; another port of the same host is another origin (a files origin).
    t::test_server api(
        ioc, [&](t::peer& p, const bh::request<bh::string_body>& req) -> asio::awaitable<bool> {
            if (req.target() == "/moved") {
                // A redirect to another origin is returned to the caller, never followed.
                const std::vector<std::pair<std::string, std::string>> h{{"Location", "elsewhere"}};
                co_return co_await p.write(t::make_response(302, "", h));
            }
            co_return co_await answer_target(p, req);
        });
    t::test_server files(ioc, answer_target);
    client c(ioc.get_executor(), {});
    c.set_credential(origin_of(api.url()), "x-api-key", briefd::secret(std::string(api_key)));
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            for (const auto* path : {"/v1/runs/1", "/v1/public/content/7/html", "/files/out.png"}) {
                auto [ec, st] = co_await status_of(c, api.url(path));
                CHECK_FALSE(ec);
            }
            auto [e1, s1] = co_await status_of(c, files.url("/v1/runs/1"));
            CHECK_FALSE(e1);
            // The same host spelt differently is a different origin too.
            auto [e2, s2] =
                co_await status_of(c, "http://localhost:" + std::to_string(files.port()) + "/x");
            CHECK_FALSE(e2);
            auto [e3, s3] = co_await status_of(c, api.url("/moved"));
            CHECK_FALSE(e3);
            CHECK(s3 == 302);
        },
        [&] {
            api.stop();
            files.stop();
        });
    REQUIRE(api.requests().size() == 4);
    for (const auto& r : api.requests()) CHECK(r["x-api-key"] == api_key);
    REQUIRE(files.requests().size() == 2);
    for (const auto& r : files.requests()) CHECK_FALSE(has_key(r));
}

TEST_CASE("origin: a port above 65535 is no origin (Boost.URL would wrap 99999 to 34463)") {
    CHECK_FALSE(origin::from_url(boost::urls::url("https://api.example:99999/")));
    CHECK_FALSE(origin::from_url(boost::urls::url("https://api.example:65536/")));
    CHECK_FALSE(origin::from_url(boost::urls::url("https://api.example:0/")));
    CHECK(origin::from_url(boost::urls::url("https://api.example:65535/"))->port == 65535);
    CHECK(origin::from_url(boost::urls::url("https://api.example:/"))->port == 443);
}

// --- proxies -------------------------------------------------------------------------------------

TEST_CASE(
    "proxy: https goes through one CONNECT tunnel, TLS end to end; the proxy never sees the key") {
    const auto& pki = t::shared_pki(0);
    asio::io_context ioc;
    t::test_server api(ioc, answer_target, &pki);
    connect_proxy proxy(ioc, {"briefd", "p@ss:word", 0});
    client_options opts;
    opts.ca_file = pki.ca_file.string();
    opts.proxy.https_url = "http://briefd:p%40ss%3Aword@127.0.0.1:" + std::to_string(proxy.port());
    client c(ioc.get_executor(), opts);
    c.set_credential(origin_of(api.url()), "x-api-key", briefd::secret(std::string(api_key)));
    std::string downloaded;
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 3; ++i) {
                auto [ec, res] =
                    co_await c.async_request(get(api.url("/v1/runs/" + std::to_string(i))));
                REQUIRE_FALSE(ec);
                CHECK(res.body == "/v1/runs/" + std::to_string(i));
            }
            auto [dec, info] = co_await c.async_download(get(api.url("/v1/outputs/x.png")), 1 << 20,
                                                         5s, [&](std::string_view piece) {
                                                             downloaded.append(piece);
                                                             return std::error_code{};
                                                         });
            CHECK_FALSE(dec);
            CHECK(info.status == 200);
        },
        [&] {
            api.stop();
            proxy.stop();
        });
    CHECK(downloaded == "/v1/outputs/x.png");
    // Every request reused the one tunnel.
    CHECK(proxy.connections() == 1);
    CHECK(proxy.tunnels() == 1);
    CHECK(api.accepted() == 1);
    REQUIRE(api.requests().size() == 4);
    for (const auto& r : api.requests()) {
        CHECK(r["x-api-key"] == api_key);
        CHECK(r.find(bh::field::proxy_authorization) == r.end());
    }
    // The proxy read exactly one head, a CONNECT to the target, and never the key or a path.
    REQUIRE(proxy.heads().size() == 1);
    CHECK(proxy.heads()[0].rfind(
              "CONNECT 127.0.0.1:" + std::to_string(api.port()) + " HTTP/1.1\r\n", 0) == 0);
    CHECK(proxy.seen().find(api_key) == std::string::npos);
    CHECK(proxy.seen().find("/v1/runs") == std::string::npos);
    CHECK(proxy.seen().size() > proxy.heads()[0].size());  // the tunnel's TLS bytes were seen
}

TEST_CASE("proxy: NO_PROXY targets go direct") {
    const auto& pki = t::shared_pki(0);
    asio::io_context ioc;
    t::test_server api(ioc, answer_target, &pki);
    connect_proxy proxy(ioc);
    client_options opts;
    opts.ca_file = pki.ca_file.string();
    opts.proxy.https_url = proxy.url();
    opts.proxy.http_url = proxy.url();
    opts.proxy.no_proxy = {"example.com", "127.0.0.1:" + std::to_string(api.port())};
    client c(ioc.get_executor(), opts);
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [ec, st] = co_await status_of(c, api.url("/direct"));
            CHECK_FALSE(ec);
            CHECK(st == 200);
        },
        [&] {
            api.stop();
            proxy.stop();
        });
    CHECK(proxy.connections() == 0);
    CHECK(api.requests().size() == 1);
}

TEST_CASE("proxy: a refused tunnel is proxy_refused, a 407 is proxy_auth_required") {
    const auto& pki = t::shared_pki(0);
    asio::io_context ioc;
    t::test_server api(ioc, answer_target, &pki);
    connect_proxy refusing(ioc, {"", "", 502});
    connect_proxy strict(ioc, {"briefd", "right", 0});
    auto make = [&](std::string proxy_url) {
        client_options o;
        o.ca_file = pki.ca_file.string();
        o.proxy.https_url = std::move(proxy_url);
        return std::make_unique<client>(ioc.get_executor(), o);
    };
    auto via_refusing = make(refusing.url());
    auto no_credentials = make(strict.url());
    auto wrong_password = make("http://briefd:wrong@127.0.0.1:" + std::to_string(strict.port()));
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [e1, s1] = co_await status_of(*via_refusing, api.url("/x"));
            CHECK(e1 == errc::proxy_refused);
            CHECK(briefd::is_retryable(e1));  // 502: the proxy's upstream may come back
            auto [e2, s2] = co_await status_of(*no_credentials, api.url("/x"));
            CHECK(e2 == errc::proxy_auth_required);
            CHECK_FALSE(briefd::is_retryable(e2));  // needs the operator
            auto [e3, s3] = co_await status_of(*wrong_password, api.url("/x"));
            CHECK(e3 == errc::proxy_auth_required);
        },
        [&] {
            api.stop();
            refusing.stop();
            strict.stop();
        });
    CHECK(api.accepted() == 0);
    CHECK(refusing.tunnels() == 0);
    CHECK(strict.tunnels() == 0);
}

TEST_CASE(
    "proxy: plain http goes in absolute-form, except requests carrying the key: those go direct") {
    asio::io_context ioc;
    t::test_server api(ioc, answer_target);    // http base_url: loopback only
    t::test_server files(ioc, answer_target);  // another origin, e.g. an http download host
    connect_proxy proxy(ioc, {"briefd", "pw", 0});
    client_options opts;
    opts.proxy.http_url = "http://briefd:pw@127.0.0.1:" + std::to_string(proxy.port());
    client c(ioc.get_executor(), opts);
    c.set_credential(origin_of(api.url()), "x-api-key", briefd::secret(std::string(api_key)));
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [e1, s1] = co_await status_of(c, api.url("/v1/runs/1"));
            CHECK_FALSE(e1);
            auto [e2, res] = co_await c.async_request(get(files.url("/out.png?sig=1")));
            CHECK_FALSE(e2);
            CHECK(res.body == "/out.png?sig=1");  // the proxy passed it on in origin-form
        },
        [&] {
            api.stop();
            files.stop();
            proxy.stop();
        });
    REQUIRE(api.requests().size() == 1);
    CHECK(api.requests()[0]["x-api-key"] == api_key);
    REQUIRE(proxy.heads().size() == 1);
    CHECK(proxy.heads()[0].rfind("GET http://127.0.0.1:" + std::to_string(files.port()) +
                                     "/out.png?sig=1 HTTP/1.1\r\n",
                                 0) == 0);
    CHECK(proxy.tunnels() == 0);
    CHECK(proxy.seen().find(api_key) == std::string::npos);
    REQUIRE(files.requests().size() == 1);
    CHECK_FALSE(has_key(files.requests()[0]));
    CHECK(files.requests()[0].find(bh::field::proxy_authorization) == files.requests()[0].end());
}

TEST_CASE("proxy: a proxy that never answers CONNECT gives connect_timeout") {
    asio::io_context ioc;
    // A scripted server reads the CONNECT request like any other and then says nothing.
    t::test_server silent(
        ioc, [](t::peer& p, const bh::request<bh::string_body>&) -> asio::awaitable<bool> {
            co_await p.hang();
            co_return false;
        });
    client_options opts;
    opts.connect_timeout = 300ms;
    opts.proxy.https_url = silent.url();
    client c(ioc.get_executor(), opts);
    t::run_test(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto [ec, st] = co_await status_of(c, "https://127.0.0.1:9/x");
            CHECK(ec == errc::connect_timeout);
        },
        [&] { silent.stop(); });
    REQUIRE(silent.requests().size() == 1);
    CHECK(silent.requests()[0].method() == bh::verb::connect);
    CHECK(silent.requests()[0].target() == "127.0.0.1:9");
}

TEST_CASE("proxy: an unusable proxy URL is a start-up error without the password in it") {
    asio::io_context ioc;
    client_options opts;
    opts.proxy.https_url = "socks5://u:s3cret@proxy:1080";
    try {
        client c(ioc.get_executor(), opts);
        FAIL("no exception");
    } catch (const std::system_error& e) {
        CHECK(std::string(e.what()).find("s3cret") == std::string::npos);
        CHECK(std::string(e.what()).find("socks5") != std::string::npos);
    }
}
