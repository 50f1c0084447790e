// Proxy routing decisions, sans-I/O: proxy URLs, the environment variables, NO_PROXY matching.
#include "http/proxy.hpp"

#include <doctest/doctest.h>

#include <map>

namespace {

using briefd::http::bypasses_proxy;
using briefd::http::parse_proxy_url;
using briefd::http::proxy_endpoint;
using briefd::http::proxy_options;
using briefd::http::redact_proxy_url;
using briefd::http::split_no_proxy;

proxy_endpoint ok(std::string_view url) {
    auto r = parse_proxy_url(url);
    if (auto* e = std::get_if<std::string>(&r)) FAIL(*e);
    return std::get<proxy_endpoint>(r);
}

std::string bad(std::string_view url) {
    auto r = parse_proxy_url(url);
    REQUIRE_MESSAGE(std::holds_alternative<std::string>(r), url);
    return std::get<std::string>(r);
}

}  // namespace

TEST_CASE("proxy: URLs with and without scheme, port and credentials") {
    auto p = ok("http://proxy.corp:3128");
    CHECK(p.host == "proxy.corp");
    CHECK(p.port == 3128);
    CHECK(p.authorization.empty());
    CHECK(p.to_string() == "http://proxy.corp:3128");

    CHECK(ok("proxy.corp:8080").port == 8080);  // no scheme: http, as curl does
    CHECK(ok("HTTP://Proxy.Corp").host == "proxy.corp");
    CHECK(ok("http://proxy.corp/").port == 1080);  // curl's default proxy port
    auto v6 = ok("http://[::1]:3128");
    CHECK(v6.host == "::1");
    CHECK(v6.to_string() == "http://[::1]:3128");

    // Userinfo is percent-decoded, then sent as Basic credentials: "Aladdin:open sesame".
    CHECK(ok("http://Aladdin:open%20sesame@proxy:3128").authorization ==
          "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    CHECK(ok("http://user@proxy:3128").authorization == "Basic dXNlcjo=");  // "user:"
}

TEST_CASE("proxy: unusable URLs are refused, and the reason never holds the password") {
    CHECK(bad("https://proxy:3128").find("not supported") != std::string::npos);
    CHECK(bad("socks5://proxy:1080").find("not supported") != std::string::npos);
    CHECK_FALSE(bad("http://proxy:3128/path").empty());
    CHECK_FALSE(bad("http://proxy:3128?x=1").empty());
    CHECK_FALSE(bad("http://proxy:0").empty());
    CHECK_FALSE(bad("http://proxy:99999").empty());
    CHECK_FALSE(bad("http://").empty());
    CHECK_FALSE(bad("1http://proxy").empty());
    // Odd bytes after "scheme:" must not reach Boost.URL 1.81's assertion.
    CHECK_FALSE(bad(std::string("http:\xff\x01", 7)).empty());
    for (const auto* url : {"https://u:s3cret@proxy:1", "http://u:s3cret@proxy:1/x"})
        CHECK(bad(url).find("s3cret") == std::string::npos);
}

TEST_CASE("proxy: redact_proxy_url hides the password only") {
    CHECK(redact_proxy_url("http://u:s3cret@proxy:3128") == "http://u:***@proxy:3128");
    CHECK(redact_proxy_url("u:p@w@proxy:3128/") == "u:***@proxy:3128/");
    CHECK(redact_proxy_url("http://user@proxy:3128") == "http://user@proxy:3128");
    CHECK(redact_proxy_url("http://proxy:3128") == "http://proxy:3128");
}

TEST_CASE("proxy: from the environment, curl's names, lower case first") {
    std::map<std::string, std::string> env;
    auto get = [&](const char* n) -> const char* {
        auto it = env.find(n);
        return it == env.end() ? nullptr : it->second.c_str();
    };
    CHECK(proxy_options::from_environment(get).empty());

    env = {{"HTTPS_PROXY", "http://upper:1"},
           {"https_proxy", "http://lower:2"},
           {"HTTP_PROXY", "http://plain:3"},
           {"NO_PROXY", "a.example, .b.example  10.0.0.0/8"}};
    auto o = proxy_options::from_environment(get);
    CHECK(o.https_url == "http://lower:2");
    CHECK(o.http_url == "http://plain:3");
    CHECK(o.no_proxy == std::vector<std::string>{"a.example", ".b.example", "10.0.0.0/8"});

    env = {{"ALL_PROXY", "http://all:4"}, {"http_proxy", "http://plain:3"}};
    o = proxy_options::from_environment(get);
    CHECK(o.https_url == "http://all:4");
    CHECK(o.http_url == "http://plain:3");

    env = {{"no_proxy", "*"}, {"NO_PROXY", "x"}, {"HTTPS_PROXY", ""}};
    o = proxy_options::from_environment(get);
    CHECK(o.https_url.empty());  // set but empty: no proxy
    CHECK(o.no_proxy == std::vector<std::string>{"*"});
}

TEST_CASE("proxy: NO_PROXY host names match the domain and its subdomains") {
    const auto np = split_no_proxy("example.com,.corp.internal");
    CHECK(bypasses_proxy(np, "example.com", 443));
    CHECK(bypasses_proxy(np, "api.example.com", 443));
    CHECK(bypasses_proxy(np, "corp.internal", 443));  // a leading dot is ignored (curl)
    CHECK(bypasses_proxy(np, "a.b.corp.internal", 80));
    CHECK_FALSE(bypasses_proxy(np, "badexample.com", 443));
    CHECK_FALSE(bypasses_proxy(np, "example.com.evil.net", 443));
    CHECK_FALSE(bypasses_proxy(np, "media.layers.com", 443));
    CHECK(bypasses_proxy(split_no_proxy("Example.COM."), "example.com", 443));
    CHECK(bypasses_proxy(split_no_proxy("*.example.com"), "x.example.com", 443));
    CHECK_FALSE(bypasses_proxy({}, "example.com", 443));
}

TEST_CASE("proxy: NO_PROXY '*', IP addresses, CIDR ranges and ports") {
    CHECK(bypasses_proxy({"*"}, "anything.example", 1));
    const auto np = split_no_proxy(
        "127.0.0.1, 10.0.0.0/8, ::1, fd00::/8, [2001:db8::5]:8443, "
        "files.example:8080, 192.168.1.7:443");
    struct target {
        const char* host;
        std::uint16_t port;
        bool direct;
    };
    for (const auto& t : std::vector<target>{
             {"127.0.0.1", 443, true},
             {"127.0.0.2", 443, false},
             {"10.200.3.4", 443, true},
             {"11.0.0.1", 443, false},
             {"::1", 80, true},
             {"fd12:3456::1", 80, true},
             {"fe80::1", 80, false},
             {"2001:db8::5", 8443, true},
             {"2001:db8::5", 443, false},
             {"files.example", 8080, true},
             {"files.example", 443, false},
             {"192.168.1.7", 443, true},
             {"192.168.1.7", 80, false},
         }) {
        CAPTURE(t.host);
        CAPTURE(t.port);
        CHECK(bypasses_proxy(np, t.host, t.port) == t.direct);
    }
    // An IP entry never matches a host name, nor a name entry an address.
    CHECK_FALSE(bypasses_proxy({"10.0.0.0/8"}, "ten.example", 443));
    // Malformed entries match nothing rather than everything.
    CHECK_FALSE(
        bypasses_proxy(split_no_proxy("10.0.0.0/99, [::1, host:port, ., :443"), "10.1.1.1", 443));
}
