#include "core/log.hpp"

#include <vector>

TEST_CASE("log lines are an event name followed by key=value fields") {
    CHECK(briefd::logger::format("batch.submitted", {{"batch", "b-1"}, {"items", 10}}) ==
          "batch.submitted batch=b-1 items=10");
    CHECK(briefd::logger::format("brief.failed", {{"reason", "two words"}}) ==
          "brief.failed reason=\"two words\"");
    CHECK(briefd::logger::format("x", {{"v", "a\"b\nc"}}) == "x v=\"a\\\"b\\nc\"");
    CHECK(briefd::logger::format("x", {{"empty", ""}}) == "x empty=\"\"");
}

TEST_CASE("log values with raw bytes stay valid UTF-8: bytes are escaped, characters kept") {
    CHECK(briefd::logger::format("brief.claimed", {{"file", "bad\xffname.json"}}) ==
          "brief.claimed file=\"bad\\xffname.json\"");
    CHECK(briefd::logger::format("x", {{"v", "caf\xc3\xa9"}}) == "x v=caf\xc3\xa9");
    CHECK(briefd::logger::format("x", {{"v", "\xed\xa0\x80 \xc3\xa9"}}) ==
          "x v=\"\\xed\\xa0\\x80 \xc3\xa9\"");
}

TEST_CASE("logger filters by level and writes to an injected sink") {
    std::vector<std::pair<briefd::log_level, std::string>> lines;
    briefd::logger log([&](briefd::log_level l, std::string_view s) { lines.emplace_back(l, s); },
                       briefd::log_level::info);
    log.debug("hidden");
    log.info("shown", {{"n", 1}});
    log.error("bad");
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].second == "shown n=1");
    CHECK(lines[1].first == briefd::log_level::error);
    briefd::log_level parsed{};
    CHECK(briefd::parse_log_level("debug", parsed));
    CHECK(parsed == briefd::log_level::debug);
    CHECK_FALSE(briefd::parse_log_level("loud", parsed));
}
