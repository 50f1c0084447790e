#include "pipeline/detail/schema_cache.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using briefd::pipeline::detail::schema_cache;

namespace {
const schema_cache::clock::time_point t0 = schema_cache::clock::time_point{} + 1000h;

briefd::providers::app_schema schema(std::string name) {
    briefd::providers::app_schema s;
    s.app_id = "app-1";
    s.name = std::move(name);
    return s;
}
}  // namespace

TEST_CASE("schema_cache: a schema serves every brief for its ttl, then is fetched again") {
    schema_cache c(1h, 1min);
    CHECK(c.fresh("app-1", t0) == nullptr);
    c.store("app-1", schema("v1"), t0);
    REQUIRE(c.fresh("app-1", t0 + 59min) != nullptr);
    CHECK(c.fresh("app-1", t0 + 59min)->name == "v1");
    CHECK(c.fresh("app-2", t0) == nullptr);  // by app
    CHECK(c.fresh("app-1", t0 + 1h) == nullptr);
    c.store("app-1", schema("v2"), t0 + 1h);
    CHECK(c.fresh("app-1", t0 + 1h)->name == "v2");
    CHECK(c.size() == 1);
}

TEST_CASE(
    "schema_cache: a cached schema that refuses an item is rechecked, at most once a minute") {
    schema_cache c(1h, 1min);
    CHECK(c.worth_recheck("app-1", t0));  // nothing cached: fetch
    c.store("app-1", schema("v1"), t0);
    CHECK_FALSE(c.worth_recheck("app-1", t0 + 59s));  // just fetched: it is the app's schema
    CHECK(c.worth_recheck("app-1", t0 + 1min));
    c.store("app-1", schema("v2"), t0 + 1min);
    CHECK_FALSE(c.worth_recheck("app-1", t0 + 90s));
}

TEST_CASE("schema_cache: one fetch per app at a time") {
    schema_cache c;
    CHECK(c.begin_fetch("app-1"));
    CHECK(c.fetching("app-1"));
    CHECK_FALSE(c.begin_fetch("app-1"));  // a second brief waits for the first fetch
    CHECK(c.begin_fetch("app-2"));        // another app does not
    c.end_fetch("app-1");
    CHECK_FALSE(c.fetching("app-1"));
    CHECK(c.begin_fetch("app-1"));
}
