#include "pipeline/batcher.hpp"

#include <chrono>
#include <map>
#include <random>
#include <set>

using namespace std::chrono_literals;
using namespace briefd::pipeline;

namespace {

const clock::time_point t0 = clock::time_point{} + 1000h;

batch_item item(std::string job, std::size_t index, std::string group) {
    return batch_item{std::move(job), index, std::move(group)};
}

void add_file(batcher& b, const std::string& job, std::size_t n, const std::string& group,
              clock::time_point at) {
    for (std::size_t i = 0; i < n; ++i) b.add(item(job, i, group), at);
}

std::vector<std::size_t> sizes(const std::vector<batch>& batches) {
    std::vector<std::size_t> out;
    for (const auto& b : batches) out.push_back(b.items.size());
    return out;
}

}  // namespace

TEST_CASE("batcher: a file of 23 items in one group gives 10 and 10 at once, then 3 after linger") {
    batcher b(10, 500ms);
    add_file(b, "job-a", 23, "brand\ncamp", t0);
    CHECK(b.pending() == 23);

    auto ready = b.take_ready(t0);
    CHECK(sizes(ready) == std::vector<std::size_t>{10, 10});
    CHECK(b.pending() == 3);
    REQUIRE(b.next_deadline().has_value());
    CHECK(*b.next_deadline() == t0 + 500ms);

    CHECK(b.take_ready(t0 + 499ms).empty());
    ready = b.take_ready(t0 + 500ms);
    REQUIRE(sizes(ready) == std::vector<std::size_t>{3});
    CHECK(ready[0].group_key == "brand\ncamp");
    CHECK(ready[0].items[0].item_index == 20);
    CHECK(ready[0].items[2].item_index == 22);
    CHECK(b.pending() == 0);
    CHECK_FALSE(b.next_deadline().has_value());
}

TEST_CASE("batcher: order within a group is FIFO across files") {
    batcher b(10, 1s);
    add_file(b, "job-a", 4, "g", t0);
    add_file(b, "job-b", 4, "g", t0 + 10ms);
    add_file(b, "job-c", 4, "g", t0 + 20ms);
    auto ready = b.take_ready(t0 + 20ms);
    REQUIRE(sizes(ready) == std::vector<std::size_t>{10});
    const auto& items = ready[0].items;
    for (std::size_t i = 0; i < 4; ++i) {
        CHECK(items[i].job_id == "job-a");
        CHECK(items[i].item_index == i);
        CHECK(items[4 + i].job_id == "job-b");
    }
    CHECK(items[8].job_id == "job-c");
    CHECK(items[9].item_index == 1);
    ready = b.take_ready(t0 + 20ms, true);
    REQUIRE(sizes(ready) == std::vector<std::size_t>{2});
    CHECK(ready[0].items[0].item_index == 2);
}

TEST_CASE("batcher: items of different groups never share a batch") {
    batcher b(10, 1s);
    add_file(b, "job-a", 6, "brand1\ncamp", t0);
    add_file(b, "job-b", 6, "brand2\ncamp", t0);
    CHECK(b.take_ready(t0 + 999ms).empty());  // 6 + 6 would fill a batch, but they don't mix
    auto ready = b.take_ready(t0 + 1s);
    REQUIRE(sizes(ready) == std::vector<std::size_t>{6, 6});
    CHECK(ready[0].group_key != ready[1].group_key);
    for (const auto& bt : ready)
        for (const auto& it : bt.items) CHECK(it.group_key == bt.group_key);
}

TEST_CASE("batcher: a full group is released at once without waiting for linger") {
    batcher b(3, 1h);
    b.add(item("j", 0, "g"), t0);
    b.add(item("j", 1, "g"), t0);
    CHECK(b.take_ready(t0).empty());
    b.add(item("j", 2, "g"), t0 + 1s);
    REQUIRE(b.next_deadline().has_value());
    CHECK(*b.next_deadline() <= t0 + 1s);  // "ready now"
    auto ready = b.take_ready(t0 + 1s);
    CHECK(sizes(ready) == std::vector<std::size_t>{3});
}

TEST_CASE("batcher: linger is measured from each remaining group's oldest item") {
    batcher b(10, 1s);
    b.add(item("a", 0, "g1"), t0);
    b.add(item("b", 0, "g2"), t0 + 300ms);
    REQUIRE(b.next_deadline().has_value());
    CHECK(*b.next_deadline() == t0 + 1s);
    auto ready = b.take_ready(t0 + 1s);
    REQUIRE(ready.size() == 1);
    CHECK(ready[0].group_key == "g1");
    CHECK(*b.next_deadline() == t0 + 1300ms);
    ready = b.take_ready(t0 + 1300ms);
    REQUIRE(ready.size() == 1);
    CHECK(ready[0].group_key == "g2");
}

TEST_CASE("batcher: flush_all releases every non-empty group") {
    batcher b(10, 1h);
    add_file(b, "a", 2, "g1", t0);
    add_file(b, "b", 12, "g2", t0);
    auto ready = b.take_ready(t0, true);
    CHECK(sizes(ready).size() == 3);
    CHECK(b.pending() == 0);
}

TEST_CASE("batcher: batches come out oldest first") {
    batcher b(10, 1s);
    add_file(b, "late", 1, "a-group", t0 + 500ms);
    add_file(b, "early", 1, "z-group", t0);
    auto ready = b.take_ready(t0 + 2s);
    REQUIRE(ready.size() == 2);
    CHECK(ready[0].items[0].job_id == "early");
    CHECK(ready[1].items[0].job_id == "late");
}

TEST_CASE("batcher: set_limits applies to items already pending") {
    batcher b(10, 1h);
    add_file(b, "a", 7, "g", t0);
    CHECK(b.take_ready(t0).empty());
    b.set_limits(3, 1h);
    CHECK(sizes(b.take_ready(t0)) == std::vector<std::size_t>{3, 3});
    b.set_limits(3, 10ms);
    CHECK(sizes(b.take_ready(t0 + 10ms)) == std::vector<std::size_t>{1});
}

TEST_CASE("batcher: max_items 0 is treated as 1") {
    batcher b(0, 1h);
    add_file(b, "a", 2, "g", t0);
    CHECK(sizes(b.take_ready(t0)) == std::vector<std::size_t>{1, 1});
}

TEST_CASE("batcher: remove_job drops a job's pending items from every group") {
    batcher b(10, 1s);
    add_file(b, "keep", 3, "g1", t0);
    add_file(b, "drop", 4, "g1", t0);
    add_file(b, "drop", 2, "g2", t0);
    CHECK(b.remove_job("drop") == 6);
    CHECK(b.remove_job("drop") == 0);
    CHECK(b.pending() == 3);
    auto ready = b.take_ready(t0 + 1s);
    REQUIRE(ready.size() == 1);
    CHECK(ready[0].group_key == "g1");
    for (const auto& it : ready[0].items) CHECK(it.job_id == "keep");
    // An emptied group leaves no deadline behind.
    add_file(b, "drop", 1, "g3", t0);
    b.remove_job("drop");
    CHECK_FALSE(b.next_deadline().has_value());
}

TEST_CASE("batcher property: random adds across groups, driven by next_deadline") {
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
        CAPTURE(seed);
        std::mt19937_64 rng(seed);
        const std::size_t max_items = 1 + rng() % 10;
        const auto linger = std::chrono::milliseconds(rng() % 2000);
        batcher b(max_items, linger);

        std::map<std::pair<std::string, std::size_t>, clock::time_point> added;  // item → add time
        std::set<std::pair<std::string, std::size_t>> seen;
        bool ok_size = true, ok_groups = true, ok_once = true, ok_linger = true, ok_fifo = true;

        auto check = [&](const std::vector<batch>& batches, clock::time_point now) {
            for (const auto& bt : batches) {
                ok_size = ok_size && !bt.items.empty() && bt.items.size() <= max_items;
                clock::time_point prev_add = clock::time_point::min();
                for (const auto& it : bt.items) {
                    ok_groups = ok_groups && it.group_key == bt.group_key;
                    const auto key = std::make_pair(it.job_id, it.item_index);
                    ok_once = ok_once && added.count(key) == 1 && seen.insert(key).second;
                    if (added.count(key)) {
                        ok_linger = ok_linger && now - added[key] <= linger;
                        ok_fifo = ok_fifo && added[key] >= prev_add;
                        prev_add = added[key];
                    }
                }
            }
        };

        clock::time_point now = t0;
        std::size_t next_job = 0;
        for (int step = 0; step < 300; ++step) {
            // The next thing to happen: an add after a random gap, or the batcher's deadline.
            const auto gap = std::chrono::milliseconds(rng() % 700);
            const auto dl = b.next_deadline();
            if (dl && *dl <= now + gap) {
                now = std::max(now, *dl);
                check(b.take_ready(now), now);
                continue;
            }
            now += gap;
            const std::string job = "job-" + std::to_string(next_job++);
            const std::string group = "g" + std::to_string(rng() % 4);
            const std::size_t n = 1 + rng() % 25;
            for (std::size_t i = 0; i < n; ++i) {
                added[{job, i}] = now;
                b.add(item(job, i, group), now);
            }
            check(b.take_ready(now), now);  // the driver calls take_ready after adds
        }
        check(b.take_ready(now, true), now);

        CHECK(ok_size);
        CHECK(ok_groups);
        CHECK(ok_once);
        CHECK(ok_linger);
        CHECK(ok_fifo);
        CHECK(seen.size() == added.size());
        CHECK(b.pending() == 0);
    }
}
