// list_tracker scripts: sweeps of list pages with a fake clock.
#include "pipeline/list_tracker.hpp"

using namespace std::chrono_literals;
using namespace briefd::pipeline;
namespace providers = briefd::providers;

namespace {
providers::list_page page(std::vector<std::pair<std::string, providers::run_phase>> runs,
                          std::string next = {}) {
    providers::list_page p;
    for (auto& [id, ph] : runs) {
        providers::run_view v;
        v.run_id = id;
        v.phase = ph;
        p.runs.push_back(v);
    }
    p.next_cursor = next;
    p.has_more = !next.empty();
    return p;
}
constexpr auto running = providers::run_phase::running;
constexpr auto done = providers::run_phase::completed;
}  // namespace

TEST_CASE(
    "list tracker: nothing tracked, no sweep; the first sweep is due at once, the next after the "
    "interval") {
    list_tracker t({15s, 100, 2});
    CHECK_FALSE(t.next_sweep());
    t.add("a");
    auto now = clock::time_point{} + 100h;
    REQUIRE(t.next_sweep());
    CHECK(*t.next_sweep() <= now);
    CHECK(t.begin_sweep(now).empty());
    CHECK_FALSE(t.next_sweep());  // a sweep is under way
    auto out = t.on_page(page({{"a", running}, {"other-client", done}}));
    CHECK_FALSE(out.next_cursor);
    REQUIRE(out.seen.size() == 1);
    CHECK(out.seen[0].run_id == "a");
    REQUIRE(t.next_sweep());
    CHECK(*t.next_sweep() == now + 15s);
}

TEST_CASE(
    "list tracker: pages on while tracked runs are unseen, and no further than the runs need") {
    list_tracker t({15s, 2, 2});
    for (auto id : {"a", "b", "c"}) t.add(id);
    t.begin_sweep(clock::now());
    auto o1 = t.on_page(page({{"x", done}, {"a", running}}, "p2"));
    REQUIRE(o1.next_cursor);
    CHECK(*o1.next_cursor == "p2");
    auto o2 = t.on_page(page({{"y", done}, {"z", done}}, "p3"));
    // 3 runs at 2 a page: at most ceil(3/2) + 1 = 3 pages.
    REQUIRE(o2.next_cursor);
    auto o3 = t.on_page(page({{"b", done}, {"w", done}}, "p4"));
    CHECK_FALSE(o3.next_cursor);
    CHECK(t.pages() == 3);
}

TEST_CASE("list tracker: stops paging as soon as every tracked run was seen") {
    list_tracker t({15s, 100, 2});
    t.add("a");
    t.add("b");
    t.begin_sweep(clock::now());
    auto o = t.on_page(page({{"b", running}, {"a", done}}, "more"));
    CHECK_FALSE(o.next_cursor);
    CHECK(o.seen.size() == 2);
}

TEST_CASE(
    "list tracker: a run the list keeps missing gets its own status request, then goes back") {
    list_tracker t({15s, 100, 2});
    t.add("deep");
    auto now = clock::time_point{} + 1h;
    t.begin_sweep(now);
    t.on_page(page({{"x", done}}));
    CHECK(t.take_overdue().empty());  // one miss
    t.begin_sweep(now + 15s);
    t.on_page_failed();  // a failed page ends the sweep: a second miss
    auto overdue = t.take_overdue();
    REQUIRE(overdue.size() == 1);
    CHECK(overdue[0] == "deep");
    CHECK(t.tracking("deep"));
    t.begin_sweep(now + 30s);
    t.on_page(page({{"x", done}}));
    CHECK(t.take_overdue().empty());  // the count started again
}

TEST_CASE("list tracker: removed runs are neither reported nor polled") {
    list_tracker t({15s, 100, 1});
    t.add("a");
    t.add("b");
    t.begin_sweep(clock::now());
    t.remove("a");
    auto o = t.on_page(page({{"a", done}}));
    CHECK(o.seen.empty());
    auto overdue = t.take_overdue();
    REQUIRE(overdue.size() == 1);
    CHECK(overdue[0] == "b");
    t.remove("b");
    CHECK_FALSE(t.next_sweep());
}

TEST_CASE("list tracker: a run followed through its children is asked about once they have ended") {
    using P = std::optional<providers::run_phase>;
    constexpr auto queued = providers::run_phase::queued;
    constexpr auto failed = providers::run_phase::failed;
    constexpr auto cancelled = providers::run_phase::cancelled;
    constexpr auto unknown = providers::run_phase::unknown;
    CHECK_FALSE(children_settled({}));
    CHECK_FALSE(children_settled({P{}}));                    // not shown yet
    CHECK_FALSE(children_settled({P{running}, P{done}}));    // one still generating
    CHECK_FALSE(children_settled({P{done}, P{}}));           // one not shown yet
    CHECK_FALSE(children_settled({P{queued}, P{unknown}}));  // an unknown word is not an end
    CHECK(children_settled({P{done}}));
    CHECK(children_settled({P{done}, P{done}, P{done}}));
    CHECK(children_settled({P{running}, P{failed}}));  // the job may have failed
    CHECK(children_settled({P{}, P{cancelled}}));
}

TEST_CASE("list tracker: one tracker per scope sweeps only its own runs, bounded by its own size") {
    // Two projects' lists: runs of one are missing from the other's sweep, never overdue there.
    list_tracker a({15s, 2, 2}), b({15s, 2, 2});
    for (auto id : {"a1", "a2", "a3"}) a.add(id);
    b.add("b1");
    auto now = clock::time_point{} + 1h;
    a.begin_sweep(now);
    auto o1 = a.on_page(page({{"x", done}, {"y", done}}, "c1"));
    REQUIRE(o1.next_cursor);
    auto o2 = a.on_page(page({{"a1", running}, {"z", done}}, "c2"));
    REQUIRE(o2.next_cursor);  // ceil(3/2)+1 = 3 pages at most
    auto o3 = a.on_page(page({{"a2", running}, {"q", done}}, "c3"));
    CHECK_FALSE(o3.next_cursor);      // the bound is reached, a3 unseen
    CHECK(a.take_overdue().empty());  // one miss is not yet overdue
    b.begin_sweep(now);
    auto ob = b.on_page(page({{"b1", done}}, "more"));
    CHECK_FALSE(ob.next_cursor);  // every run of b was seen
    REQUIRE(ob.seen.size() == 1);
    a.begin_sweep(now + 15s);
    a.on_page(page({{"a1", done}, {"a2", done}}));
    CHECK(a.take_overdue() == std::vector<std::string>{"a3"});
    CHECK(a.pages() == 4);
    CHECK(b.pages() == 1);
}

TEST_CASE("list tracker: runs left deep under finished ones are still found where they were seen") {
    // At the end of a big batch the slowest runs sit under many finished ones: the bound for runs
    // among the newest (ceil(tracked / page) + 1 pages) alone missed them every sweep, and each
    // cost a status request of its own every miss_limit sweeps.
    list_tracker t({15s, 2, 2});
    for (auto id : {"a", "b", "c", "d", "e", "f"}) t.add(id);
    auto now = clock::time_point{} + 1h;
    t.begin_sweep(now);
    REQUIRE(t.on_page(page({{"f", done}, {"e", done}}, "p2")).next_cursor);
    REQUIRE(t.on_page(page({{"d", done}, {"c", done}}, "p3")).next_cursor);
    CHECK_FALSE(t.on_page(page({{"b", running}, {"a", running}}, "p4")).next_cursor);
    for (auto id : {"c", "d", "e", "f"}) t.remove(id);  // finished: their outputs were fetched

    t.begin_sweep(now + 15s);  // 2 tracked: 2 pages for runs among the newest, but they were on 3
    REQUIRE(t.on_page(page({{"f", done}, {"e", done}}, "p2")).next_cursor);
    auto o2 = t.on_page(page({{"d", done}, {"c", done}}, "p3"));
    REQUIRE(o2.next_cursor);
    auto o3 = t.on_page(page({{"b", running}, {"a", running}}, "p4"));
    CHECK(o3.seen.size() == 2);
    CHECK_FALSE(o3.next_cursor);
    CHECK(t.take_overdue().empty());

    SUBCASE("one unseen run is cheaper to ask about than pages: the bound stays") {
        t.remove("b");
        t.begin_sweep(now + 30s);
        REQUIRE(t.on_page(page({{"f", done}, {"e", done}}, "p2")).next_cursor);
        CHECK_FALSE(t.on_page(page({{"d", done}, {"c", done}}, "p3")).next_cursor);
    }
    SUBCASE("our runs created since push the deep ones further down") {
        t.add("g");
        t.add("h");
        t.begin_sweep(now + 30s);  // 4 tracked: 3 pages; a and b were on 3, now on 4
        REQUIRE(t.on_page(page({{"h", running}, {"g", running}}, "p2")).next_cursor);
        REQUIRE(t.on_page(page({{"f", done}, {"e", done}}, "p3")).next_cursor);
        REQUIRE(t.on_page(page({{"d", done}, {"c", done}}, "p4")).next_cursor);
        auto o = t.on_page(page({{"b", running}, {"a", running}}, "p5"));
        CHECK(o.seen.size() == 2);
    }
}
