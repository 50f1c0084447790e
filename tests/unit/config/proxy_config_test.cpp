// The proxy: key and ca_file_only: reading, validation, --check output, reload rules.
#include "config/config.hpp"
#include "helpers.hpp"

#include <doctest/doctest.h>

using namespace briefd::config;

using briefd::config::test::load_bad;
using briefd::config::test::load_ok;

TEST_CASE("config proxy: absent means the environment decides") {
    auto c = load_ok("");
    CHECK(c.proxy.from_environment);
    CHECK(c.proxy.url.empty());
    CHECK(to_yaml(c).find("proxy") == std::string::npos);
}

TEST_CASE("config proxy: url and no_proxy are read; none means direct") {
    auto c = load_ok(
        "proxy:\n  url: http://proxy.corp:3128\n  no_proxy: [internal.example, 10.0.0.0/8, "
        "\"[::1]:8443\"]\n");
    CHECK_FALSE(c.proxy.from_environment);
    CHECK(c.proxy.url == "http://proxy.corp:3128");
    CHECK(c.proxy.no_proxy ==
          std::vector<std::string>{"internal.example", "10.0.0.0/8", "[::1]:8443"});

    // Every provider's client gets it (the loader copies it into each provider_config).
    CHECK(c.providers.at("lamina").proxy.url == c.proxy.url);
    CHECK(c.providers.at("lamina").proxy.no_proxy == c.proxy.no_proxy);
    CHECK_FALSE(c.providers.at("lamina").proxy.from_environment);

    auto d = load_ok("proxy: { url: none }\n");
    CHECK_FALSE(d.proxy.from_environment);
    CHECK(d.proxy.url.empty());
}

TEST_CASE("config proxy: impossible values name the key and line") {
    struct bad_case {
        std::string yaml;
        std::string key;
        std::string says;
    };
    for (const auto& b : std::vector<bad_case>{
             {"proxy: http://p:1\n", "proxy", "mapping"},
             {"proxy: { no_proxy: [a] }\n", "proxy", "needs url"},
             {"proxy: { url: https://p:1 }\n", "proxy.url", "http://"},
             {"proxy: { url: \"socks5://p:1\" }\n", "proxy.url", "http://"},
             {"proxy: { url: \"p:3128\" }\n", "proxy.url", "http://"},
             {"proxy: { url: \"http:\\xff\" }\n", "proxy.url", "http://"},
             {"proxy: { url: http://p:1/path }\n", "proxy.url", "without a path"},
             {"proxy: { url: http://p:0 }\n", "proxy.url", "port"},
             {"proxy: { url: http://p:1, no_proxy: a.example }\n", "proxy.no_proxy", "list"},
             {"proxy: { url: http://p:1, no_proxy: [\"a, b\"] }\n", "proxy.no_proxy", "one host"},
             {"proxy: { url: http://p:1, port: 3 }\n", "proxy.port", "unknown key"},
         }) {
        auto e = load_bad(b.yaml);
        CAPTURE(b.yaml);
        CHECK(e.key == b.key);
        CHECK(e.line > 0);
        CHECK(e.problem.find(b.says) != std::string::npos);
    }
}

TEST_CASE("config proxy: --check shows the proxy without its password, and it loads back") {
    auto c =
        load_ok("proxy:\n  url: http://briefd:s3cret@proxy.corp:3128\n  no_proxy: [a.example]\n");
    const auto y = to_yaml(c);
    CHECK(y.find("s3cret") == std::string::npos);
    CHECK(y.find("http://briefd:***@proxy.corp:3128") != std::string::npos);
    auto back = load_from_string(y, "effective.yaml");
    REQUIRE(std::holds_alternative<config>(back));
    CHECK(std::get<config>(back).proxy.no_proxy == c.proxy.no_proxy);
    const auto none = to_yaml(load_ok("proxy: { url: none }\n"));
    CHECK(none.find("url: none") != std::string::npos);
}

TEST_CASE("config proxy: a changed proxy or ca_file_only needs a restart") {
    auto a = load_ok("");
    auto b = load_ok("proxy: { url: http://p:1 }\n");
    CHECK(restart_required(a, b) == std::vector<std::string>{"proxy"});
    b = a;
    b.providers.at("lamina").ca_file = "/ca.pem";
    b.providers.at("lamina").ca_file_only = true;
    CHECK(restart_required(a, b) ==
          std::vector<std::string>{"providers.lamina.ca_file", "providers.lamina.ca_file_only"});
}

TEST_CASE("config ca_file_only: pins ca_file, and needs one") {
    auto c = load_ok("    ca_file: /etc/briefd/ca.pem\n    ca_file_only: true\n");
    CHECK(c.providers.at("lamina").ca_file_only);
    CHECK(to_yaml(c).find("ca_file_only: true") != std::string::npos);
    CHECK_FALSE(load_ok("").providers.at("lamina").ca_file_only);
    auto e = load_bad("    ca_file_only: true\n");
    CHECK(e.key == "providers.lamina.ca_file_only");
    CHECK(e.problem.find("needs ca_file") != std::string::npos);
    CHECK(load_bad("    ca_file: /ca.pem\n    ca_file_only: yes please\n").problem.find("true") !=
          std::string::npos);
}
