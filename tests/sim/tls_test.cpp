// HTTPS on all three origins with a throwaway CA (make_test_pki); clients verify the certificate.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "support/certs.hpp"

#include <boost/json.hpp>

#include <unistd.h>

using namespace briefd::testing;
using namespace briefd::sim_tests;

TEST_CASE("HTTPS: all origins speak TLS with the given certificate") {
    const auto dir =
        std::filesystem::temp_directory_path() / ("briefsim_tls_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto pki = make_test_pki(dir);
    sim_process_options so;
    so.ca_file = pki.ca_file;
    sim_process sim({"--time-scale", "200", "--tls-cert", pki.cert_file.string(), "--tls-key",
                     pki.key_file.string()},
                    so);
    CHECK(sim.api_url().starts_with("https://127.0.0.1:"));
    CHECK(sim.files_url().starts_with("https://127.0.0.1:"));
    CHECK(sim.hrizn_url().starts_with("https://127.0.0.1:"));
    CHECK(sim.hrizn("GET", "/content").status == 200);  // verified against the test CA
    auto ids = submit_batch(sim, {"secure"});
    REQUIRE(ids.size() == 1);
    auto done = parse_json(sim.api("GET", "/v1/runs/" + ids[0] + "/wait?timeout=60").body);
    std::string url(done.at("data").at("outputs").as_array()[0].at("value").as_string());
    CHECK(url.starts_with("https://"));
    http_request_options o;
    o.ca_file = pki.ca_file;
    auto png = http_fetch(url, o);
    CHECK(png.status == 200);
    CHECK(png.complete);
    CHECK(png.body.compare(0, 4, "\x89PNG") == 0);
    // SSE over TLS: the finished run gets its one final event and a properly ended body.
    http_request_options so2;
    so2.ca_file = pki.ca_file;
    so2.headers = {{"x-api-key", sim.api_key()}};
    auto sse = http_fetch(sim.api_url() + "/v1/runs/" + ids[0] + "/stream", so2);
    CHECK(sse.complete);
    auto events = parse_sse(sse.body);
    REQUIRE(events.size() == 1);
    CHECK(events[0].event == "complete");
    // Plain HTTP to a TLS port gets no HTTP answer; an unverified client still connects.
    auto plain = http_fetch("http" + sim.api_url().substr(5) + "/v1/apps");
    CHECK(plain.status == 0);
    CHECK(sim.stats().at("runs_created").as_int64() == 1);
    std::filesystem::remove_all(dir);
}
