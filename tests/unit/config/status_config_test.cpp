// The status: key: the listen address (IP literal and port, or off), its default, --check output
// and reload rules.
#include "config/config.hpp"
#include "helpers.hpp"

#include <doctest/doctest.h>

using namespace briefd::config;

using briefd::config::test::load_bad;
using briefd::config::test::load_ok;

TEST_CASE("config status: loopback 9464 by default, not explicit") {
    auto c = load_ok("");
    CHECK(c.status.listen == "127.0.0.1:9464");
    CHECK_FALSE(c.status.listen_explicit);
    CHECK(to_yaml(c).find("listen: 127.0.0.1:9464") != std::string::npos);
}

TEST_CASE("config status: IPv4, bracketed IPv6, port 0 and off") {
    auto c = load_ok("status:\n  listen: 127.0.0.1:0\n");
    CHECK(c.status.listen == "127.0.0.1:0");
    CHECK(c.status.listen_explicit);
    CHECK(load_ok("status:\n  listen: \"[::1]:9464\"\n").status.listen == "[::1]:9464");
    auto off = load_ok("status:\n  listen: off\n");
    CHECK(off.status.listen.empty());
    CHECK(off.status.listen_explicit);
    CHECK(to_yaml(off).find("listen: off") != std::string::npos);
    // --check output loads back to the same settings.
    auto back = load_from_string(to_yaml(off), "check.yaml");
    REQUIRE(std::holds_alternative<config>(back));
    CHECK(std::get<config>(back).status.listen.empty());
}

TEST_CASE("config status: host names, missing ports and bad ports are refused with file:line") {
    for (const char* bad : {"localhost:9464", "127.0.0.1", "127.0.0.1:70000", "::1:9464",
                            "127.0.0.1:x", "[::1]", "0x7f.1:80"}) {
        auto e = load_bad(std::string("status:\n  listen: \"") + bad + "\"\n");
        CHECK(e.key == "status.listen");
        CHECK(e.line == 8);
        CHECK(e.problem.find("IP:port") != std::string::npos);
    }
    CHECK(load_bad("status:\n  port: 1\n").key == "status.port");
}

TEST_CASE("config status: a new listen address needs a restart") {
    auto a = load_ok("");
    auto b = load_ok("status:\n  listen: 127.0.0.1:9465\n");
    auto r = restart_required(a, b);
    CHECK(std::find(r.begin(), r.end(), "status.listen") != r.end());
}
