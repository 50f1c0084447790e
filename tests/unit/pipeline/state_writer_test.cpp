// state_writer: snapshots written off the loop, grouped, coalesced, awaited (issue 13).
#include "pipeline/state_writer.hpp"

#include "store/spare_inodes.hpp"
#include "unit/store/temp_dir.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <exception>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace fs = std::filesystem;
using briefd::pipeline::state_writer;
using briefd::test::read_file;
using briefd::test::temp_dir;
using briefd::test::tmpfs_mount;

namespace {

/// Runs `body` as a coroutine on a fresh io_context until it completes; rethrows what it threw.
void run_on_loop(const std::function<asio::awaitable<void>(asio::io_context&)>& body) {
    asio::io_context io;
    std::exception_ptr failed;
    bool done = false;
    asio::co_spawn(io, body(io), [&](std::exception_ptr e) {
        failed = e;
        done = true;
    });
    io.run();
    REQUIRE(done);
    if (failed) std::rethrow_exception(failed);
}

std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> n;
    for (const auto& de : fs::directory_iterator(dir)) n.push_back(de.path().filename().string());
    std::sort(n.begin(), n.end());
    return n;
}

}  // namespace

TEST_CASE("state_writer: repeated snapshots of one job are coalesced; only the newest is written") {
    temp_dir t;
    run_on_loop([&](asio::io_context& io) -> asio::awaitable<void> {
        state_writer w(io.get_executor(), t.path());
        std::vector<std::pair<std::uint64_t, std::error_code>> seen;
        w.on_result([&](const std::string& name, std::uint64_t seq, std::error_code ec) {
            CHECK(name == "a.state.json");
            seen.emplace_back(seq, ec);
        });
        w.hold(true);  // all five wait together
        std::uint64_t last = 0;
        for (int v = 1; v <= 5; ++v) last = w.write("a.state.json", "v" + std::to_string(v));
        CHECK(w.backlog() == 1);
        CHECK(w.coalesced() == 4);
        w.hold(false);
        CHECK_FALSE(co_await w.durable("a.state.json"));
        CHECK(read_file(t / "a.state.json") == "v5");
        CHECK(w.written() == 1);
        REQUIRE(seen.size() == 1);
        CHECK(seen[0].first == last);
        CHECK_FALSE(seen[0].second);
        // Nothing else queued: durable() completes at once, and no temp file is left.
        CHECK_FALSE(co_await w.durable("a.state.json"));
        CHECK_FALSE(co_await w.durable("never-written.state.json"));
        CHECK(names_in(t.path()) == std::vector<std::string>{"a.state.json"});
    });
}

TEST_CASE(
    "state_writer: snapshots of many jobs queued together are one group (one directory fsync)") {
    temp_dir t;
    run_on_loop([&](asio::io_context& io) -> asio::awaitable<void> {
        state_writer w(io.get_executor(), t.path());
        w.hold(true);
        for (int j = 0; j < 50; ++j)
            w.write("j" + std::to_string(j) + ".state.json", "job " + std::to_string(j));
        w.hold(false);
        CHECK_FALSE(co_await w.durable_all());
        CHECK(w.groups() == 1);
        CHECK(w.written() == 50);
        for (int j = 0; j < 50; ++j)
            CHECK(read_file(t / ("j" + std::to_string(j) + ".state.json")) ==
                  "job " + std::to_string(j));
        // A snapshot queued while a group is being written goes into the next group, in order.
        w.write("j0.state.json", "again");
        CHECK_FALSE(co_await w.durable("j0.state.json"));
        CHECK(w.groups() == 2);
        CHECK(read_file(t / "j0.state.json") == "again");
    });
}

TEST_CASE("state_writer: a removal is ordered after the writes queued before it") {
    temp_dir t;
    run_on_loop([&](asio::io_context& io) -> asio::awaitable<void> {
        state_writer w(io.get_executor(), t.path());
        w.write("gone.state.json", "first");
        CHECK_FALSE(co_await w.durable("gone.state.json"));
        CHECK(fs::exists(t / "gone.state.json"));
        // Write then remove while held: the write is never made, nothing is left behind.
        w.hold(true);
        w.write("gone.state.json", "second");
        w.write("kept.state.json", "kept");
        w.remove("gone.state.json");
        w.hold(false);
        CHECK_FALSE(co_await w.durable("gone.state.json"));
        CHECK_FALSE(co_await w.durable("kept.state.json"));
        CHECK(names_in(t.path()) == std::vector<std::string>{"kept.state.json"});
        // Removing what is not there is not an error.
        w.remove("never.state.json");
        CHECK_FALSE(co_await w.durable("never.state.json"));
    });
}

TEST_CASE(
    "state_writer: a failed group reports its error to durable() and on_result; a rewrite "
    "repairs") {
    temp_dir t;
    const auto dir = t / "active";  // missing at first: every temp file fails with ENOENT
    run_on_loop([&](asio::io_context& io) -> asio::awaitable<void> {
        state_writer w(io.get_executor(), dir);
        std::vector<std::error_code> results;
        w.on_result(
            [&](const std::string&, std::uint64_t, std::error_code ec) { results.push_back(ec); });
        w.write("x.state.json", "lost");
        auto ec = co_await w.durable("x.state.json");
        CHECK(ec == std::errc::no_such_file_or_directory);
        // Still failed until rewritten: a later durable() says so at once.
        CHECK(co_await w.durable("x.state.json") == std::errc::no_such_file_or_directory);
        CHECK(co_await w.durable_all() == std::error_code{});  // nothing queued since
        fs::create_directories(dir);
        w.write("x.state.json", "kept");
        CHECK_FALSE(co_await w.durable("x.state.json"));
        CHECK(read_file(dir / "x.state.json") == "kept");
        REQUIRE(results.size() == 2);
        CHECK(results[0] == std::errc::no_such_file_or_directory);
        CHECK_FALSE(results[1]);
    });
}

TEST_CASE(
    "state_writer: a full and a read-only file system fail the write and keep the old state") {
    temp_dir t;
    const auto mnt = t / "small";
    tmpfs_mount m(mnt, "size=64k,mode=0755");
    if (!m.ok()) {
        MESSAGE("SKIPPED: cannot mount a tmpfs here (" << m.error().message()
                                                       << "); ENOSPC/EROFS not exercised");
        return;
    }
    run_on_loop([&](asio::io_context& io) -> asio::awaitable<void> {
        state_writer w(io.get_executor(), mnt);
        w.write("s.state.json", "old");
        CHECK_FALSE(co_await w.durable("s.state.json"));
        w.write("s.state.json", std::string(256 * 1024, 'x'));  // larger than the file system
        w.write("r.state.json",
                "small");  // same group (written first): the other file still makes it
        CHECK(co_await w.durable("s.state.json") == std::errc::no_space_on_device);
        CHECK_FALSE(co_await w.durable("r.state.json"));
        CHECK(read_file(mnt / "s.state.json") == "old");
        CHECK(names_in(mnt) == std::vector<std::string>{"r.state.json", "s.state.json"});
        if (!m.remount_read_only("size=64k,mode=0755")) {
            MESSAGE("SKIPPED: cannot remount the tmpfs read-only; EROFS not exercised");
            co_return;
        }
        w.write("s.state.json", "new");
        CHECK(co_await w.durable_all() == std::errc::read_only_file_system);
        CHECK(read_file(mnt / "s.state.json") == "old");
    });
}

TEST_CASE("state_writer: destruction writes what is still queued") {
    temp_dir t;
    asio::io_context io;
    {
        state_writer w(io.get_executor(), t.path());
        w.hold(true);
        w.write("late.state.json", "queued at stop");
    }  // never held the loop: nothing of it ran
    CHECK(read_file(t / "late.state.json") == "queued at stop");
}

TEST_CASE("state_writer: a deferred snapshot dropped by remove() is never written") {
    temp_dir t;
    run_on_loop([&](asio::io_context& io) -> asio::awaitable<void> {
        state_writer w(io.get_executor(), t.path());
        w.write("job.state.json", "submitted");
        CHECK_FALSE(co_await w.durable("job.state.json"));
        const auto groups = w.groups();
        // The finished state, then filing's removal: nothing but the removal reaches the disk.
        w.defer("job.state.json", "finished");
        CHECK(w.deferred() == 1);
        CHECK(w.backlog() == 0);
        CHECK(read_file(t / "job.state.json") == "submitted");  // the disk keeps the older one
        w.remove("job.state.json");
        CHECK(w.deferred() == 0);
        CHECK(w.dropped() == 1);
        CHECK_FALSE(co_await w.durable_all());
        CHECK(w.groups() == groups + 1);
        CHECK(names_in(t.path()).empty());
    });
}

TEST_CASE(
    "state_writer: a snapshot deferred while an older one waits in the queue takes its place") {
    // The queued one may carry what a crash must find (an item's run id after its intent): the
    // disk may not be left behind it in favour of a deferred state that is never written.
    temp_dir t;
    run_on_loop([&](asio::io_context& io) -> asio::awaitable<void> {
        state_writer w(io.get_executor(), t.path());
        std::vector<std::string> written;
        w.on_result([&](const std::string& name, std::uint64_t, std::error_code) {
            written.push_back(name);
        });
        w.write("a.state.json", "intent");
        CHECK_FALSE(co_await w.durable("a.state.json"));
        w.hold(true);
        w.write("a.state.json", "run id known");  // not on disk yet
        w.defer("a.state.json", "finished");
        CHECK(w.deferred() == 0);
        CHECK(w.backlog() == 1);  // one write, not two
        w.hold(false);
        CHECK_FALSE(co_await w.durable("a.state.json"));
        CHECK(read_file(t / "a.state.json") == "finished");
        CHECK(written.size() == 2);  // the intent, then the newest in the queued one's place
        // Once the disk is current, the next deferral is kept back again.
        w.defer("a.state.json", "filed soon");
        CHECK(w.deferred() == 1);
        w.remove("a.state.json");
        CHECK_FALSE(co_await w.durable_all());
        CHECK(names_in(t.path()).empty());
    });
}

TEST_CASE("state_writer: durable(), flush() and destruction write a deferred snapshot") {
    temp_dir t;
    {
        asio::io_context io;
        bool done = false;
        state_writer w(io.get_executor(), t.path());
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                // An operator's cancel awaits the finished state: it is written then.
                w.defer("c.state.json", "cancelled");
                CHECK_FALSE(co_await w.durable("c.state.json"));
                CHECK(read_file(t / "c.state.json") == "cancelled");
                // A filing that failed flushes it, so the disk catches up.
                w.defer("f.state.json", "finished");
                w.flush("f.state.json");
                CHECK(w.deferred() == 0);
                CHECK_FALSE(co_await w.durable_all());
                CHECK(read_file(t / "f.state.json") == "finished");
                // durable_all() takes deferred snapshots with it.
                w.defer("g.state.json", "finished");
                CHECK_FALSE(co_await w.durable_all());
                CHECK(read_file(t / "g.state.json") == "finished");
                // A later write() replaces a deferred one.
                w.defer("g.state.json", "older");
                w.write("g.state.json", "newer");
                CHECK(w.deferred() == 0);
                CHECK_FALSE(co_await w.durable("g.state.json"));
                CHECK(read_file(t / "g.state.json") == "newer");
                w.defer("late.state.json", "deferred at stop");
                done = true;
            },
            asio::detached);
        io.run();
        REQUIRE(done);
        CHECK_FALSE(fs::exists(t / "late.state.json"));
    }  // destruction writes it
    CHECK(read_file(t / "late.state.json") == "deferred at stop");
}

TEST_CASE("state_writer: a snapshot deferred `within` a time is written when it has passed") {
    temp_dir t;
    run_on_loop([&](asio::io_context& io) -> asio::awaitable<void> {
        state_writer w(io.get_executor(), t.path());
        w.defer("d.state.json", "outputs known", std::chrono::milliseconds(50));
        w.defer("e.state.json", "older", std::chrono::milliseconds(50));
        w.defer("e.state.json", "finished");  // replaced by one that waits to be asked
        CHECK(w.deferred() == 2);
        asio::steady_timer later(io, std::chrono::milliseconds(300));
        co_await later.async_wait(asio::use_awaitable);
        CHECK(w.deferred() == 1);  // d went to the queue at its time; e still waits
        CHECK_FALSE(co_await w.durable("d.state.json"));
        CHECK(read_file(t / "d.state.json") == "outputs known");
        CHECK_FALSE(fs::exists(t / "e.state.json"));
        // Superseded in time: written once, the newer one.
        w.defer("d.state.json", "saved", std::chrono::milliseconds(50));
        w.defer("d.state.json", "saved twice", std::chrono::milliseconds(50));
        const auto written = w.written();
        later.expires_after(std::chrono::milliseconds(300));
        co_await later.async_wait(asio::use_awaitable);
        CHECK_FALSE(co_await w.durable("d.state.json"));
        CHECK(read_file(t / "d.state.json") == "saved twice");
        CHECK(w.written() == written + 1);
        w.remove("e.state.json");
        CHECK_FALSE(co_await w.durable_all());
        CHECK_FALSE(fs::exists(t / "e.state.json"));
    });
}

TEST_CASE("state_writer: due times in any order; a replaced or flushed snapshot's old due time is inert") {
    temp_dir t;
    run_on_loop([&](asio::io_context& io) -> asio::awaitable<void> {
        state_writer w(io.get_executor(), t.path());
        using ms = std::chrono::milliseconds;
        w.defer("a.state.json", "a late", ms(400));
        w.defer("b.state.json", "b", ms(60));
        w.defer("c.state.json", "c", ms(30));
        w.defer("a.state.json", "a early", ms(50));  // replaced by one due sooner
        w.defer("x.state.json", "x first", ms(80));
        w.flush("x.state.json");                    // queued now: its due time is gone with it
        CHECK_FALSE(co_await w.durable("x.state.json"));
        w.defer("x.state.json", "x later", std::chrono::seconds(30));
        CHECK(w.deferred() == 4);
        asio::steady_timer later(io, ms(250));
        co_await later.async_wait(asio::use_awaitable);
        // a, b and c went to the queue at their times; x's first due time (80 ms) did not take
        // the snapshot deferred after it for 30 s.
        CHECK(w.deferred() == 1);
        CHECK(read_file(t / "x.state.json") == "x first");
        for (const char* n : {"a.state.json", "b.state.json", "c.state.json"})
            CHECK_FALSE(co_await w.durable(n));  // queued already: waits only for the writes
        CHECK(w.deferred() == 1);
        CHECK(read_file(t / "a.state.json") == "a early");
        CHECK(read_file(t / "b.state.json") == "b");
        CHECK(read_file(t / "c.state.json") == "c");
        CHECK_FALSE(co_await w.durable_all());  // queues x's deferred one
        CHECK(read_file(t / "x.state.json") == "x later");
        CHECK(w.deferred() == 0);
    });
}

namespace {

std::set<ino_t> inodes_in(const fs::path& dir) {
    std::set<ino_t> out;
    for (const auto& de : fs::directory_iterator(dir)) {
        struct stat st {};
        REQUIRE(::lstat(de.path().c_str(), &st) == 0);
        out.insert(st.st_ino);
    }
    return out;
}

std::size_t spare_count(const fs::path& dir) {
    std::size_t n = 0;
    for (const auto& de : fs::directory_iterator(dir))
        n += briefd::store::spare_pool::is_spare_name(de.path().filename().string()) ? 1 : 0;
    return n;
}

}  // namespace

TEST_CASE(
    "state_writer: with spares, jobs' writes and removals free no inode; a stop gives "
    "them back") {
    temp_dir t;
    run_on_loop([&](asio::io_context& io) -> asio::awaitable<void> {
        state_writer w(io.get_executor(), t.path(), 8, 0640, state_writer::spare_policy{.cap = 64});
        // A wave of jobs: intent, run id, filed (the life of a single-item job). Each step of
        // the ten jobs is one group (held), so that both waves need the same spares at once.
        auto step = [&](int from, auto&& queue) -> asio::awaitable<void> {
            w.hold(true);
            for (int j = from; j < from + 10; ++j) queue("j" + std::to_string(j) + ".state.json");
            w.hold(false);
            CHECK_FALSE(co_await w.durable_all());
        };
        auto wave = [&](int from) -> asio::awaitable<void> {
            // Named, not temporaries in the co_await expressions (GCC 12 destroys those twice).
            auto intent = [&](const std::string& n) { w.write(n, "intent"); };
            auto run_id = [&](const std::string& n) { w.write(n, "run id known"); };
            auto filed = [&](const std::string& n) { w.remove(n); };
            co_await step(from, intent);
            co_await step(from, run_id);
            for (int j = from; j < from + 10; ++j)
                CHECK(read_file(t / ("j" + std::to_string(j) + ".state.json")) == "run id known");
            co_await step(from, filed);
        };
        co_await wave(0);
        // Ten state files replaced and removed: their 20 inodes all wait as (empty) spares.
        CHECK(w.spares() == spare_count(t.path()));
        CHECK(w.spares() == 20);
        const auto used = inodes_in(t.path());
        CHECK(names_in(t.path()).size() == w.spares());  // only spares: no state, no temp
        // A second wave reuses exactly those inodes: nothing created, nothing freed.
        co_await wave(10);
        CHECK(inodes_in(t.path()) == used);
        for (const auto& n : names_in(t.path())) CHECK(fs::file_size(t / n) == 0);
        w.write("last.state.json", "kept");
        CHECK_FALSE(co_await w.durable("last.state.json"));
        struct stat st {};
        REQUIRE(::lstat((t / "last.state.json").c_str(), &st) == 0);
        CHECK(used.count(st.st_ino) == 1);  // a new job's state takes a spare
    });
    // Destruction (a clean stop) unlinks every spare: only the state file is left.
    CHECK(names_in(t.path()) == std::vector<std::string>{"last.state.json"});
    CHECK(read_file(t / "last.state.json") == "kept");
}

TEST_CASE("state_writer: spares left by a killed writer are adopted; an idle writer trims them") {
    temp_dir t;
    for (int k = 0; k < 5; ++k) briefd::test::write_plain(t / (".spare." + std::to_string(k)), "x");
    run_on_loop([&](asio::io_context& io) -> asio::awaitable<void> {
        state_writer w(io.get_executor(), t.path(), 8, 0640,
                       state_writer::spare_policy{
                           .cap = 64, .idle = std::chrono::milliseconds(100), .idle_keep = 2});
        // Adopted at start (emptied), then trimmed to idle_keep once nothing was written for
        // `idle`. Polled: the worker does it on its own time.
        asio::steady_timer tick(io);
        for (int i = 0; i < 100 && (spare_count(t.path()) > 2 || w.spares() > 2); ++i) {
            tick.expires_after(std::chrono::milliseconds(20));
            co_await tick.async_wait(asio::use_awaitable);
        }
        CHECK(spare_count(t.path()) == 2);
        CHECK(w.spares() == 2);
        for (const auto& n : names_in(t.path())) CHECK(fs::file_size(t / n) == 0);
        // The kept spares serve the next writes.
        const auto spares = inodes_in(t.path());
        w.write("a.state.json", "a");
        w.write("b.state.json", "b");
        CHECK_FALSE(co_await w.durable_all());
        CHECK(names_in(t.path()) == std::vector<std::string>{"a.state.json", "b.state.json"});
        CHECK(inodes_in(t.path()) == spares);
    });
}
