// dir_syncer (issue 13): group commit for directory fsyncs, on real directories and real threads.
#include "store/dir_sync.hpp"

#include "store/atomic_file.hpp"
#include "unit/store/temp_dir.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using briefd::store::dir_syncer;
using briefd::test::temp_dir;

TEST_CASE("dir_syncer: callers one after another each get an fsync of their own") {
    temp_dir t;
    dir_syncer s(t.path());
    for (int i = 0; i < 3; ++i) {
        std::ofstream(t / ("f" + std::to_string(i))) << i;
        CHECK_FALSE(s.sync());
    }
    CHECK(s.fsyncs() == 3);
    CHECK(s.calls() == 3);
}

TEST_CASE("dir_syncer: an error reaches the callers it served, and not the ones after") {
    temp_dir t;
    const auto dir = t / "later";
    dir_syncer s(dir);
    CHECK(s.sync() == std::errc::no_such_file_or_directory);  // fsync_dir's open fails
    fs::create_directory(dir);
    CHECK_FALSE(s.sync());  // the failure began before this call: not this caller's
}

TEST_CASE(
    "dir_syncer: concurrent callers share fsyncs, and each returns only after one that began "
    "after its call") {
    temp_dir t;
    // The real fsync, watched: how many have begun and how many have completed. Slowed a little
    // so that callers surely arrive while one runs.
    std::atomic<std::uint64_t> begun{0}, completed{0};
    dir_syncer s(t.path(), [&](const fs::path& d) {
        ++begun;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        auto ec = briefd::store::fsync_dir(d);
        ++completed;
        return ec;
    });
    constexpr int threads = 8, rounds = 25;
    std::atomic<int> early{0}, failed{0};
    {
        std::vector<std::jthread> pool;
        for (int th = 0; th < threads; ++th)
            pool.emplace_back([&, th] {
                for (int r = 0; r < rounds; ++r) {
                    std::ofstream(t / ("t" + std::to_string(th) + "-" + std::to_string(r))) << r;
                    // Every fsync numbered above `before` began after this point.
                    const auto before = begun.load();
                    if (s.sync()) ++failed;
                    if (completed.load() <= before) ++early;  // served by an older fsync
                }
            });
    }
    CHECK(failed == 0);
    CHECK(early == 0);
    CHECK(s.calls() == threads * rounds);
    CHECK(s.fsyncs() == begun.load());
    // Shared: far fewer fsyncs than calls (each 2 ms fsync serves everyone who came meanwhile).
    CHECK(s.fsyncs() < s.calls() / 2);
    MESSAGE(s.calls() << " calls, " << s.fsyncs() << " fsyncs");
}

TEST_CASE("dir_syncer::of gives one syncer per directory, whatever the spelling of its path") {
    temp_dir t;
    fs::create_directory(t / "a");
    auto& one = dir_syncer::of(t / "a");
    CHECK(&dir_syncer::of(t / "a/") == &one);
    CHECK(&dir_syncer::of(t / "a/./") == &one);
    CHECK(&dir_syncer::of(t / "b/../a") == &one);
    CHECK(&dir_syncer::of(t.path()) != &one);
    CHECK_FALSE(one.sync());
}
