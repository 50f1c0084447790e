// The files origin: real PNGs with Content-Length, big outputs streamed, videos, truncation,
// and the counter that proves no request there carried the API key.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "png.hpp"

#include <boost/json.hpp>

using namespace briefd::testing;
using namespace briefd::sim_tests;
namespace json = boost::json;

namespace {

std::uint32_t be32(const std::string& s, std::size_t at) {
    auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + i])); };
    return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

/// Checks signature, IHDR first, every chunk's CRC, IEND last; returns the chunk types.
std::vector<std::string> check_png(const std::string& png) {
    std::vector<std::string> types;
    REQUIRE(png.size() > 57);
    CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
    std::size_t pos = 8;
    while (pos + 12 <= png.size()) {
        const std::uint32_t len = be32(png, pos);
        REQUIRE(pos + 12 + len <= png.size());
        CHECK(briefd::sim::crc32(std::string_view(png.data() + pos + 4, 4 + len)) == be32(png, pos + 8 + len));
        types.emplace_back(png.substr(pos + 4, 4));
        pos += 12 + len;
    }
    CHECK(pos == png.size());
    REQUIRE(!types.empty());
    CHECK(types.front() == "IHDR");
    CHECK(types.back() == "IEND");
    CHECK(be32(png, 16) == 64);  // width
    return types;
}

std::vector<std::string> finished_urls(const sim_process& sim, const std::string& target, const std::string& body) {
    auto r = sim.api("POST", target, body);
    REQUIRE(r.status == 202);
    auto v = parse_json(r.body);
    std::string id(v.at("data").as_object().contains("runId") ? v.at("data").at("runId").as_string()
                                                   : v.at("data").at("items").as_array()[0].at("runId").as_string());
    auto done = parse_json(sim.api("GET", "/v1/runs/" + id + "/wait?timeout=60").body);
    std::vector<std::string> urls;
    for (const auto& o : done.at("data").at("outputs").as_array())
        if (o.at("type") != "text") urls.emplace_back(o.at("value").as_string());
    return urls;
}

}  // namespace

TEST_CASE("files origin: distinct valid PNGs with Content-Length; API keys there are counted") {
    sim_process sim({"--time-scale", "200"});
    auto urls = finished_urls(sim, "/v1/apps/ec7ec3ce-69b4-43c9-8eea-fe9752d679a4/runs",
                              R"({"inputs":{"Upload":"https://x/y.jpg"}})");
    REQUIRE(urls.size() == 2);
    auto a = http_fetch(urls[0]), b = http_fetch(urls[1]);
    CHECK(a.status == 200);
    CHECK(a.complete);
    CHECK(a.header("content-type") == "image/png");
    CHECK(a.header("content-length") == std::to_string(a.body.size()));
    CHECK(check_png(a.body) == std::vector<std::string>{"IHDR", "IDAT", "IEND"});
    check_png(b.body);
    CHECK(a.body != b.body);
    CHECK(stat(sim, "output_requests") == 2);
    CHECK(stat(sim, "output_requests_with_api_key") == 0);

    http_request_options with_key;
    with_key.headers = {{"x-api-key", sim.api_key()}};
    CHECK(http_fetch(urls[0], with_key).status == 200);
    CHECK(stat(sim, "output_requests_with_api_key") == 1);
    http_request_options bearer;
    bearer.headers = {{"Authorization", "Bearer x"}};
    http_fetch(urls[0], bearer);
    CHECK(stat(sim, "output_requests_with_api_key") == 2);

    CHECK(http_fetch(sim.files_url() + "/files/nope/0.png").status == 404);
    CHECK(http_fetch(sim.files_url() + "/elsewhere").status == 404);
    http_request_options head;
    head.method = "HEAD";
    auto h = http_fetch(urls[0], head);
    CHECK(h.status == 200);
    CHECK(h.header("content-length") == std::to_string(a.body.size()));
}

TEST_CASE("files origin: --output-bytes pads PNGs exactly (still valid) and sizes videos") {
    constexpr std::size_t size = 3'000'000;
    sim_process sim({"--time-scale", "200", "--output-bytes", std::to_string(size)});
    auto urls = finished_urls(sim, "/v1/content/create", R"({"brief":"big"})");
    REQUIRE(urls.size() == 1);
    auto r = http_fetch(urls[0]);
    CHECK(r.complete);
    CHECK(r.body.size() == size);
    CHECK(r.header("content-length") == std::to_string(size));
    CHECK(check_png(r.body) == std::vector<std::string>{"IHDR", "IDAT", "siMp", "IEND"});

    auto vurls = finished_urls(sim, "/v1/content/create", R"({"brief":"clip","modality":"video"})");
    REQUIRE(vurls.size() == 1);
    CHECK(vurls[0].ends_with(".mp4"));
    auto v = http_fetch(vurls[0]);
    CHECK(v.header("content-type") == "video/mp4");
    CHECK(v.body.size() == size);
    CHECK(v.body.substr(4, 4) == "ftyp");
    CHECK(stat(sim, "bytes_served") > static_cast<std::int64_t>(2 * size));
}

TEST_CASE("truncate-downloads: the body stops at half of Content-Length") {
    sim_process sim({"--time-scale", "200", "--truncate-downloads", "1"});
    auto urls = finished_urls(sim, "/v1/content/create", R"({"brief":"cut"})");
    auto r = http_fetch(urls.at(0));
    CHECK(r.status == 200);
    CHECK_FALSE(r.complete);
    CHECK(r.body.size() < std::stoul(r.header("content-length")));
    CHECK(stat(sim, "truncated_downloads") == 1);
}

TEST_CASE("stats: connections and requests per endpoint and status") {
    sim_process sim;
    sim.api("GET", "/v1/apps");
    sim.api("GET", "/v1/apps");
    sim.api("GET", "/v1/runs/x");
    auto s = sim.stats();
    CHECK(s.at("requests").at("GET /v1/apps").at("200").as_int64() == 2);
    CHECK(s.at("requests").at("GET /v1/runs/{id}").at("404").as_int64() == 1);
    CHECK(s.at("requests_total").as_int64() == 3);
    CHECK(s.at("connections").at("peak").as_int64() >= 1);
    sim.reset_stats();
    CHECK(stat(sim, "requests_total") == 0);
}
