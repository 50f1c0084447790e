#include "spool/spool.hpp"
#include "store/atomic_file.hpp"
#include "unit/store/temp_dir.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <thread>

namespace fs = std::filesystem;
namespace sp = briefd::spool;
using briefd::test::read_file;
using briefd::test::temp_dir;
using briefd::test::write_plain;

namespace {

sp::layout make_layout(const temp_dir& t) {
    sp::layout l{t / "spool", t / "outputs"};
    REQUIRE_FALSE(sp::ensure_dirs(l));
    return l;
}

std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

/// The names of what take_ready handed out.
std::vector<std::string> names_of(const std::vector<sp::ready_file>& files) {
    std::vector<std::string> out;
    for (const auto& f : files) out.push_back(f.name);
    return out;
}

void set_age(const fs::path& p, std::chrono::hours age) {
    fs::last_write_time(p, fs::file_time_type::clock::now() - age);
}

/// Waits (bounded) for the inotify fd to become readable, then drains; the watchdog for these
/// tests.
sp::watcher::batch drain_when_readable(sp::watcher& w, std::error_code& ec) {
    pollfd p{w.fd(), POLLIN, 0};
    REQUIRE(::poll(&p, 1, 5000) == 1);
    return w.drain(ec);
}

}  // namespace

TEST_CASE("ensure_dirs creates the spool tree with mode 0750 and is idempotent") {
    temp_dir t;
    sp::layout l{t / "deep" / "spool", t / "elsewhere" / "outputs"};
    REQUIRE_FALSE(sp::ensure_dirs(l));
    for (const auto& d : {l.root, l.incoming(), l.active(), l.done(), l.failed(), l.outputs}) {
        struct stat st {};
        REQUIRE(::stat(d.c_str(), &st) == 0);
        CHECK(S_ISDIR(st.st_mode));
        CHECK((st.st_mode & 07777) == 0750);
    }
    CHECK_FALSE(sp::ensure_dirs(l));
    fs::remove(l.done());
    write_plain(l.done(), "not a directory");
    CHECK(sp::ensure_dirs(l) == std::errc::not_a_directory);
}

TEST_CASE("classify_name takes json/yaml/yml and ignores temp, hidden and editor files") {
    for (const char* n : {"sneakers.json", "a.yaml", "b.yml", "UPPER.JSON", "x.Yaml",
                          "with space.json", "a.b.json"})
        CHECK_MESSAGE(sp::classify_name(n) == sp::name_kind::brief, n);
    for (const char* n :
         {".sneakers.json", ".json", "x.json.tmp", "x.json.part", ".x.json.swp", "x.json~", "x.tmp",
          "x.part", "x.swp", "notes.txt", "json", "x.jsonx", "", ".", "..", "a/b.json", "x.yaml~"})
        CHECK_MESSAGE(sp::classify_name(n) == sp::name_kind::ignored, n);
}

TEST_CASE(
    "scan_incoming lists briefs sorted, skips dirs and ignored names, reports symlinks as "
    "non-regular") {
    temp_dir t;
    auto l = make_layout(t);
    write_plain(l.incoming() / "b.yaml", "brief: b");
    write_plain(l.incoming() / "a.json", "{\"brief\":\"a\"}");
    write_plain(l.incoming() / ".a.json.tmp", "half");
    write_plain(l.incoming() / "notes.txt", "x");
    write_plain(l.incoming() / "c.json~", "x");
    fs::create_directories(l.incoming() / "dir.json");
    write_plain(t / "secret", "outside the spool");
    fs::create_symlink(t / "secret", l.incoming() / "link.json");
    REQUIRE(::mkfifo((l.incoming() / "fifo.yml").c_str(), 0600) ==
            0);  // a scan that opened files would hang here

    std::error_code ec;
    auto entries = sp::scan_incoming(l, ec);
    CHECK_FALSE(ec);
    REQUIRE(entries.size() == 4);
    CHECK(entries[0].name == "a.json");
    CHECK(entries[0].regular);
    CHECK_FALSE(entries[0].symlink);
    CHECK(entries[0].size == 13);
    CHECK(entries[0].mtime_ns > 0);
    CHECK(entries[1].name == "b.yaml");
    CHECK(entries[2].name == "fifo.yml");
    CHECK_FALSE(entries[2].regular);
    CHECK_FALSE(entries[2].symlink);
    CHECK(entries[3].name == "link.json");
    CHECK_FALSE(entries[3].regular);
    CHECK(entries[3].symlink);

    sp::layout missing{t / "nope", t / "out"};
    CHECK(sp::scan_incoming(missing, ec).empty());
    CHECK(ec == std::errc::no_such_file_or_directory);
}

TEST_CASE("scan_incoming copes with thousands of files") {
    temp_dir t(briefd::test::fast_base());
    auto l = make_layout(t);
    for (int i = 0; i < 3000; ++i)
        write_plain(l.incoming() / ("brief-" + std::to_string(10000 + i) + ".json"), "{}");
    for (int i = 0; i < 500; ++i)
        write_plain(l.incoming() / (".tmp-" + std::to_string(i) + ".json"), "{}");
    std::error_code ec;
    auto entries = sp::scan_incoming(l, ec);
    CHECK_FALSE(ec);
    REQUIRE(entries.size() == 3000);
    CHECK(std::is_sorted(entries.begin(), entries.end(),
                         [](auto& a, auto& b) { return a.name < b.name; }));
    CHECK(entries.front().name == "brief-10000.json");
    CHECK(entries.back().name == "brief-12999.json");
}

TEST_CASE(
    "settle_tracker: ready after size and mtime are stable for the settle time, at once when "
    "closed") {
    using namespace std::chrono_literals;
    sp::settle_tracker s(2000ms);
    const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
    sp::entry e{"a.json", true, false, 10, 100};

    CHECK_FALSE(s.ready("a.json", t0));  // never seen
    CHECK_FALSE(s.next_check());
    s.observe(e, t0);
    CHECK_FALSE(s.ready("a.json", t0));
    CHECK(s.next_check() == t0 + 2000ms);
    s.observe(e, t0 + 1500ms);  // unchanged: the timer keeps running
    CHECK_FALSE(s.ready("a.json", t0 + 1999ms));
    CHECK(s.ready("a.json", t0 + 2000ms));

    e.size = 20;  // still being written: the timer restarts
    s.observe(e, t0 + 2100ms);
    CHECK_FALSE(s.ready("a.json", t0 + 2100ms));
    CHECK_FALSE(s.ready("a.json", t0 + 4000ms));
    CHECK(s.next_check() == t0 + 4100ms);
    e.mtime_ns = 200;  // same size, new mtime: also a change
    s.observe(e, t0 + 3000ms);
    CHECK_FALSE(s.ready("a.json", t0 + 4100ms));
    CHECK(s.ready("a.json", t0 + 5000ms));

    sp::entry b{"b.json", true, false, 1, 1};
    s.observe(b, t0 + 3500ms);
    CHECK(s.next_check() == t0 + 5000ms);  // the earliest of a (5000) and b (5500)
    s.forget("a.json");
    CHECK_FALSE(s.ready("a.json", t0 + 10h));
    CHECK(s.next_check() == t0 + 5500ms);
    s.mark_closed("b.json");
    CHECK(s.ready("b.json", t0 + 3500ms));
    CHECK_FALSE(s.next_check());  // nothing left waiting

    s.mark_closed("c.json");  // an inotify event for a file no rescan has seen yet
    CHECK(s.ready("c.json", t0));
    CHECK(s.tracked() == 2);

    sp::settle_tracker zero(0ms);
    zero.observe(e, t0);
    CHECK(zero.ready("a.json", t0));
}

TEST_CASE("make_job_id: stem, sanitised, unique across active, done, failed and outputs") {
    temp_dir t;
    auto l = make_layout(t);
    CHECK(sp::make_job_id(l, "sneakers.json") == "sneakers");
    CHECK(sp::make_job_id(l, "Spring_Sale.v2.yaml") == "Spring_Sale.v2");
    CHECK(sp::make_job_id(l, "with space & more.json") == "with-space-more");
    CHECK(sp::make_job_id(l, "..json") == "brief");
    CHECK(sp::make_job_id(l, "-rf.json") == "rf");
    CHECK(sp::make_job_id(l, "a..b.json") == "a.b");
    CHECK(sp::make_job_id(l, std::string(300, 'x') + ".json") == std::string(64, 'x'));
    CHECK(sp::make_job_id(l, "Café.json") == "Caf");

    write_plain(l.active() / "sneakers.json", "{}");
    CHECK(sp::make_job_id(l, "sneakers.yaml") == "sneakers-2");
    CHECK(sp::make_job_id(l, "sneakers.json", "sneakers.json") ==
          "sneakers");  // itself, already claimed
    write_plain(l.done() / "sneakers-2.yaml", "{}");
    CHECK(sp::make_job_id(l, "sneakers.json") == "sneakers-3");
    write_plain(l.failed() / "sneakers-3.error.json", "{}");
    CHECK(sp::make_job_id(l, "sneakers.json") == "sneakers-4");
    fs::create_directories(l.outputs / "sneakers-4");
    CHECK(sp::make_job_id(l, "sneakers.json") == "sneakers-5");
    write_plain(l.active() / "sneakers-5.state.json", "{}");
    CHECK(sp::make_job_id(l, "sneakers.json") == "sneakers-6");

    fs::create_directories(l.outputs / "hats");
    CHECK(sp::make_job_id(l, "hats.yml") == "hats-2");
    CHECK(sp::make_job_id(l, "hat.json") ==
          "hat");  // a prefix without a '.' boundary is a different name
}

TEST_CASE("claim moves a brief into active/ and suffixes a taken name") {
    temp_dir t;
    auto l = make_layout(t);
    write_plain(l.incoming() / "a.json", "first");
    auto [ec, name] = sp::claim(l, "a.json");
    REQUIRE_FALSE(ec);
    CHECK(name == "a.json");
    CHECK(read_file(l.active() / "a.json") == "first");
    CHECK(names_in(l.incoming()).empty());

    write_plain(l.incoming() / "a.json", "second");
    auto [ec2, name2] = sp::claim(l, "a.json");
    REQUIRE_FALSE(ec2);
    CHECK(name2 == "a-2.json");
    CHECK(read_file(l.active() / "a.json") == "first");  // never replaced
    CHECK(read_file(l.active() / "a-2.json") == "second");

    write_plain(l.incoming() / "a.json", "third");
    CHECK(sp::claim(l, "a.json").second == "a-3.json");

    CHECK(sp::claim(l, "a.json").first == std::errc::no_such_file_or_directory);  // someone took it
    CHECK(sp::claim(l, "../active/a.json").first == std::errc::invalid_argument);
    CHECK(sp::claim(l, "..").first == std::errc::invalid_argument);
    CHECK(sp::claim(l, "").first == std::errc::invalid_argument);
}

TEST_CASE("concurrent claims of the same files: each file is won exactly once") {
    temp_dir t;
    auto l = make_layout(t);
    constexpr int files = 200;
    for (int i = 0; i < files; ++i)
        write_plain(l.incoming() / ("b" + std::to_string(i) + ".json"), std::to_string(i));

    std::atomic<int> wins{0}, lost{0}, other{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int th = 0; th < 4; ++th) {
        threads.emplace_back([&] {
            while (!go.load()) std::this_thread::yield();
            for (int i = 0; i < files; ++i) {
                auto [ec, name] = sp::claim(l, "b" + std::to_string(i) + ".json");
                if (!ec)
                    ++wins;
                else if (ec == std::errc::no_such_file_or_directory)
                    ++lost;
                else
                    ++other;
            }
        });
    }
    go = true;
    for (auto& th : threads) th.join();
    CHECK(wins == files);
    CHECK(lost == 3 * files);
    CHECK(other == 0);
    auto active = names_in(l.active());
    CHECK(active.size() == static_cast<std::size_t>(files));
    CHECK(std::none_of(active.begin(), active.end(),
                       [](auto& n) { return n.find('-') != std::string::npos; }));
    CHECK(names_in(l.incoming()).empty());
}

TEST_CASE("file_brief moves to done/ or failed/, keeps the name and suffixes when taken") {
    temp_dir t;
    auto l = make_layout(t);
    write_plain(l.active() / "x.json", "1");
    auto [ec, name] = sp::file_brief(l, l.active() / "x.json", sp::outcome::done);
    REQUIRE_FALSE(ec);
    CHECK(name == "x.json");
    CHECK(read_file(l.done() / "x.json") == "1");

    write_plain(l.active() / "x.json", "2");
    auto [ec2, name2] = sp::file_brief(l, l.active() / "x.json", sp::outcome::done);
    REQUIRE_FALSE(ec2);
    CHECK(name2 == "x-2.json");
    CHECK(read_file(l.done() / "x.json") == "1");
    CHECK(read_file(l.done() / "x-2.json") == "2");

    // Refused before claiming: straight from incoming/, symlink included (moved, never followed).
    write_plain(t / "target", "not touched");
    fs::create_symlink(t / "target", l.incoming() / "evil.json");
    auto [ec3, name3] = sp::file_brief(l, l.incoming() / "evil.json", sp::outcome::failed);
    REQUIRE_FALSE(ec3);
    CHECK(name3 == "evil.json");
    CHECK(fs::is_symlink(l.failed() / "evil.json"));
    CHECK(read_file(t / "target") == "not touched");

    write_plain(l.active() / "noext", "3");
    write_plain(l.failed() / "noext", "old");
    CHECK(sp::file_brief(l, l.active() / "noext", sp::outcome::failed).second == "noext-2");
    CHECK(sp::file_brief(l, l.active() / "gone.json", sp::outcome::failed).first ==
          std::errc::no_such_file_or_directory);
}

TEST_CASE("sweep_retention removes old entries of done/ and failed/ only") {
    using namespace std::chrono_literals;
    temp_dir t;
    auto l = make_layout(t);
    write_plain(l.done() / "old.json", "x");
    write_plain(l.done() / "new.json", "x");
    write_plain(l.failed() / "old.json", "x");
    write_plain(l.failed() / "old.json.error.json", "x");
    write_plain(l.active() / "old-active.json", "x");
    write_plain(t / "kept-target", "x");
    fs::create_symlink(t / "kept-target", l.failed() / "old-link.json");
    for (auto p : {l.done() / "old.json", l.failed() / "old.json",
                   l.failed() / "old.json.error.json", l.active() / "old-active.json"})
        set_age(p, 48h);
    // A symlink's own mtime: set it without following.
    const timespec times[2] = {{0, UTIME_OMIT}, {::time(nullptr) - 48 * 3600, 0}};
    REQUIRE(::utimensat(AT_FDCWD, (l.failed() / "old-link.json").c_str(), times,
                        AT_SYMLINK_NOFOLLOW) == 0);

    std::error_code ec;
    CHECK(sp::sweep_retention(l, 0h, ec) == 0);  // zero keeps everything
    CHECK(names_in(l.done()).size() == 2);

    CHECK(sp::sweep_retention(l, 24h, ec) == 4);
    CHECK_FALSE(ec);
    CHECK(names_in(l.done()) == std::vector<std::string>{"new.json"});
    CHECK(names_in(l.failed()).empty());
    CHECK(fs::exists(l.active() / "old-active.json"));
    CHECK(fs::exists(t / "kept-target"));  // the link went, not its target
    CHECK(sp::sweep_retention(l, 24h, ec) == 0);
}

TEST_CASE("watcher sees a rename into incoming/ and a close after writing") {
    temp_dir t;
    auto l = make_layout(t);
    auto [ec, w] = sp::watcher::open(l.incoming());
    REQUIRE_FALSE(ec);
    REQUIRE(w.fd() >= 0);

    std::error_code dec;
    auto empty = w.drain(dec);  // nothing yet: EAGAIN, not a block
    CHECK_FALSE(dec);
    CHECK(empty.names.empty());

    write_plain(t / "staged.json", "{}");
    fs::rename(t / "staged.json", l.incoming() / "moved.json");
    auto b1 = drain_when_readable(w, dec);
    CHECK_FALSE(dec);
    CHECK(b1.names == std::vector<std::string>{"moved.json"});
    CHECK_FALSE(b1.overflow);

    int fd = ::open((l.incoming() / "inplace.json").c_str(),
                    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, "{\"a\":1}", 7) == 7);
    CHECK(w.drain(dec).names.empty());  // still open: not yet
    ::close(fd);
    auto b2 = drain_when_readable(w, dec);
    CHECK(b2.names == std::vector<std::string>{"inplace.json"});

    fs::create_directories(l.incoming() / "subdir.json");  // directories are not reported
    write_plain(l.incoming() / "last.json", "{}");
    auto b3 = drain_when_readable(w, dec);
    CHECK(b3.names == std::vector<std::string>{"last.json"});

    sp::watcher moved = std::move(w);
    CHECK(w.fd() == -1);  // NOLINT(bugprone-use-after-move)
    CHECK(moved.fd() >= 0);
    fs::remove(l.incoming() / "subdir.json");
    fs::remove_all(l.incoming());
    auto b4 = drain_when_readable(moved, dec);
    CHECK(b4.watch_lost);

    CHECK(sp::watcher::open(t / "missing").first == std::errc::no_such_file_or_directory);
}

TEST_CASE("watcher + rescan cover 5,000 files dropped at once") {
    temp_dir t(briefd::test::fast_base());
    auto l = make_layout(t);
    auto [ec, w] = sp::watcher::open(l.incoming());
    REQUIRE_FALSE(ec);
    fs::create_directories(t / "staging");
    constexpr int count = 5000;
    std::set<std::string> expected;
    for (int i = 0; i < count; ++i) {
        std::string n = "drop-" + std::to_string(i) + ".json";
        write_plain(t / "staging" / n, "{}");
        expected.insert(n);
    }
    for (const auto& n : expected) fs::rename(t / "staging" / n, l.incoming() / n);

    std::set<std::string> seen;
    bool overflow = false;
    std::error_code dec;
    // Every event was queued before we read (the renames are done), so draining until empty sees
    // them all.
    for (int round = 0; round < 100; ++round) {
        auto b = w.drain(dec);
        REQUIRE_FALSE(dec);
        overflow = overflow || b.overflow;
        seen.insert(b.names.begin(), b.names.end());
        if (b.names.empty() && !b.overflow) break;
    }
    MESSAGE("inotify reported " << seen.size() << " names, overflow=" << overflow);
    if (overflow) {
        // What the daemon does on IN_Q_OVERFLOW: rescan.
        std::error_code sec;
        for (const auto& e : sp::scan_incoming(l, sec)) seen.insert(e.name);
        CHECK_FALSE(sec);
    }
    CHECK(seen == expected);
}

TEST_CASE("watcher reports a queue overflow, and a rescan then finds every file") {
    std::ifstream limit_file("/proc/sys/fs/inotify/max_queued_events");
    long limit = 0;
    limit_file >> limit;
    if (limit <= 0 || limit > 100000) {
        MESSAGE("SKIPPED: max_queued_events is " << limit
                                                 << "; overflowing it would take too many files");
        return;
    }
    temp_dir t(briefd::test::fast_base());
    auto l = make_layout(t);
    auto [ec, w] = sp::watcher::open(l.incoming());
    REQUIRE_FALSE(ec);
    const long count = limit + 50;  // one IN_CLOSE_WRITE each: more than the queue holds
    for (long i = 0; i < count; ++i) {
        int fd = ::open((l.incoming() / ("f" + std::to_string(i) + ".json")).c_str(),
                        O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
        REQUIRE(fd >= 0);
        ::close(fd);
    }
    std::error_code dec;
    auto b = w.drain(dec);
    CHECK_FALSE(dec);
    CHECK(b.overflow);
    CHECK(b.names.size() < static_cast<std::size_t>(count));
    std::error_code sec;
    CHECK(sp::scan_incoming(l, sec).size() == static_cast<std::size_t>(count));
    CHECK_FALSE(sec);
    auto after = w.drain(dec);  // the watch survives an overflow
    write_plain(l.incoming() / "later.json", "{}");
    after = drain_when_readable(w, dec);
    CHECK(after.names == std::vector<std::string>{"later.json"});
}

TEST_CASE("name_index: built once from the spool, picks the ids make_job_id picks") {
    temp_dir t;
    auto l = make_layout(t);
    write_plain(l.active() / "sneakers.json", "{}");
    write_plain(l.active() / "boots.state.json", "{}");
    write_plain(l.done() / "sneakers-2.yaml", "{}");
    write_plain(l.failed() / "sneakers-3.error.json", "{}");
    fs::create_directories(l.outputs / "sneakers-4");
    fs::create_directories(l.outputs / "hats");
    std::error_code ec;
    auto idx = sp::name_index::load(l, ec);
    REQUIRE_FALSE(ec);
    for (std::string n : {"sneakers.json", "sneakers.yaml", "boots.json", "hats.yml", "hat.json",
                          "Spring_Sale.v2.yaml", "..json", "Café.json"}) {
        CAPTURE(n);
        CHECK(idx.pick_job_id(n) == sp::make_job_id(l, n));
    }
    CHECK(idx.pick_job_id("sneakers.json") == "sneakers-5");
    CHECK(idx.pick_job_id("boots.json") == "boots-2");
    CHECK(idx.pick_job_id("boots.state.yaml") == "boots.state-2");
    CHECK(idx.pick_job_id("hat.json") == "hat");
    // Its own name in active/ does not count against a brief found there at start-up…
    CHECK(idx.pick_job_id("sneakers.json", "sneakers.json") ==
          sp::make_job_id(l, "sneakers.json", "sneakers.json"));
    CHECK(idx.pick_job_id("sneakers.json", "sneakers.json") == "sneakers");
    // …but the same name elsewhere still does.
    write_plain(l.done() / "sneakers.json", "{}");
    auto idx2 = sp::name_index::load(l, ec);
    CHECK(idx2.pick_job_id("sneakers.json", "sneakers.json") == "sneakers-5");
    CHECK(sp::make_job_id(l, "sneakers.json", "sneakers.json") == "sneakers-5");
}

TEST_CASE("name_index: reserving, adding and removing keep it current without a scan") {
    sp::name_index idx;
    CHECK(idx.reserve_job_id("a.json") == "a");
    CHECK(idx.reserve_job_id("a.json") == "a-2");  // reserved before anything exists on disk
    CHECK(idx.reserve_job_id("a.yaml") == "a-3");
    idx.add_spool_name("b.state.json");
    CHECK(idx.taken("b"));
    CHECK(idx.taken("b.state"));
    CHECK(idx.taken("b.state.json"));
    CHECK_FALSE(idx.taken("b.st"));
    // Counted: two entries share the prefix "c"; removing one keeps it taken.
    idx.add_spool_name("c.json");
    idx.add_spool_name("c.error.json");
    idx.remove_spool_name("c.json");
    CHECK(idx.taken("c"));
    CHECK_FALSE(idx.taken("c.json"));
    idx.remove_spool_name("c.error.json");
    CHECK_FALSE(idx.taken("c"));
    idx.remove_spool_name("never-added.json");  // harmless
    idx.remove_output("a-2");
    CHECK(idx.pick_job_id("a.json") == "a-2");
}

TEST_CASE("name_index: a large done/ is listed once; picks then cost no file-system work") {
    temp_dir t;
    auto l = make_layout(t);
    constexpr int count = 5000;
    for (int i = 0; i < count; ++i)
        write_plain(l.done() / ("brief-" + std::to_string(i) + ".json"), "");
    std::error_code ec;
    auto idx = sp::name_index::load(l, ec);
    REQUIRE_FALSE(ec);
    // Remove done/ entirely: the index alone still answers.
    fs::remove_all(l.done());
    CHECK(idx.pick_job_id("brief-7.json") == "brief-7-2");
    CHECK(idx.reserve_job_id("brief-4999.json") == "brief-4999-2");
    CHECK(idx.reserve_job_id("brief-5000.json") == "brief-5000");
}

TEST_CASE("sweep_retention removes what it deletes from the index") {
    temp_dir t;
    auto l = make_layout(t);
    write_plain(l.done() / "old.json", "{}");
    write_plain(l.done() / "new.json", "{}");
    set_age(l.done() / "old.json", std::chrono::hours(48));
    std::error_code ec;
    auto idx = sp::name_index::load(l, ec);
    CHECK(sp::sweep_retention(l, std::chrono::hours(24), ec, &idx) == 1);
    CHECK_FALSE(idx.taken("old"));
    CHECK(idx.taken("new"));
}

TEST_CASE(
    "settle_tracker: take_ready hands out closed files in order, then settled ones by deadline") {
    using namespace std::chrono_literals;
    sp::settle_tracker s(1000ms);
    const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
    s.observe({"late.json", true, false, 1, 1}, t0 + 500ms);
    s.observe({"early.json", true, false, 1, 1}, t0);
    s.mark_closed("c2.json");
    s.mark_closed("c1.json");
    s.mark_closed("c2.json");  // twice: still once
    CHECK(s.any_ready(t0));
    CHECK(names_of(s.take_ready(t0, 1)) == std::vector<std::string>{"c2.json"});
    CHECK(names_of(s.take_ready(t0, 10)) == std::vector<std::string>{"c1.json"});
    CHECK_FALSE(s.any_ready(t0 + 999ms));
    CHECK(s.next_check() == t0 + 1000ms);
    CHECK(names_of(s.take_ready(t0 + 1000ms, 10)) == std::vector<std::string>{"early.json"});
    // A change restarts the timer.
    s.observe({"late.json", true, false, 2, 1}, t0 + 1400ms);
    CHECK(s.take_ready(t0 + 1500ms, 10).empty());
    CHECK(s.next_check() == t0 + 2400ms);
    // Closed while waiting: ready at once, no longer in the deadline order.
    s.mark_closed("late.json");
    CHECK_FALSE(s.next_check());
    s.forget("late.json");
    CHECK_FALSE(s.any_ready(t0 + 1h));  // a forgotten closed name is skipped
    CHECK(s.take_ready(t0 + 1h, 10).empty());
    CHECK(s.tracked() == 0);
    // Taken files are untracked; a new sighting tracks them afresh.
    s.mark_closed("again.json");
    CHECK(s.take_ready(t0, 10).size() == 1);
    s.observe({"again.json", true, false, 1, 1}, t0);
    CHECK_FALSE(s.ready("again.json", t0));
}

TEST_CASE(
    "settle_tracker: a settling file is looked at again when it comes due; a change restarts its "
    "clock, closed files are never looked at") {
    // QA: a brief written in place through one open fd was handed out at create + settle_ms
    // while still being written: nothing had observed it since its IN_CREATE (size 0).
    using namespace std::chrono_literals;
    sp::settle_tracker s(1000ms);
    const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
    std::map<std::string, sp::entry, std::less<>> disk;  // what the stat function sees
    std::vector<std::string> looked;
    const sp::settle_tracker::stat_fn restat = [&](std::string_view n) -> std::optional<sp::entry> {
        looked.emplace_back(n);
        auto it = disk.find(n);
        if (it == disk.end()) return std::nullopt;
        return it->second;
    };

    disk["slow.json"] = {"slow.json", true, false, 0, 100};
    s.observe(disk["slow.json"], t0);                         // its IN_CREATE
    disk["slow.json"] = {"slow.json", true, false, 40, 200};  // written since
    CHECK(s.take_ready(t0 + 1000ms, 10, restat).empty());     // due, but changed: not handed out
    CHECK(looked == std::vector<std::string>{"slow.json"});
    CHECK(s.next_check() == t0 + 2000ms);  // its clock restarted when it was looked at
    CHECK(s.tracked() == 1);
    disk["slow.json"].mtime_ns = 300;  // same size, written again (overwritten in place)
    CHECK(s.take_ready(t0 + 2000ms, 10, restat).empty());
    CHECK(s.next_check() == t0 + 3000ms);
    // Unchanged for the settle time: handed out, with the size and mtime the claim must find.
    auto out = s.take_ready(t0 + 3000ms, 10, restat);
    REQUIRE(out.size() == 1);
    CHECK(out[0].name == "slow.json");
    CHECK_FALSE(out[0].closed);
    CHECK(out[0].observed);
    CHECK(out[0].size == 40);
    CHECK(out[0].mtime_ns == 300);
    CHECK(s.tracked() == 0);

    // Gone when it comes due: forgotten, nothing handed out.
    s.observe({"gone.json", true, false, 1, 1}, t0);
    CHECK(s.take_ready(t0 + 1000ms, 10, restat).empty());
    CHECK(s.tracked() == 0);

    // Closed (or moved in): handed out at once and never looked at (a flood of renamed-in
    // briefs costs no extra stat), with what its event's lstat said.
    looked.clear();
    s.observe({"moved.json", true, false, 7, 70}, t0);
    s.mark_closed("moved.json");
    out = s.take_ready(t0, 10, restat);
    REQUIRE(out.size() == 1);
    CHECK(out[0].closed);
    CHECK(out[0].size == 7);
    CHECK(looked.empty());

    // A changed file does not count against `max`, and one due later is not looked at yet.
    disk["a.json"] = {"a.json", true, false, 1, 1};
    disk["b.json"] = {"b.json", true, false, 1, 1};
    disk["c.json"] = {"c.json", true, false, 1, 1};
    s.observe(disk["a.json"], t0);
    s.observe(disk["b.json"], t0 + 1ms);
    s.observe(disk["c.json"], t0 + 500ms);
    disk["a.json"].size = 2;
    looked.clear();
    CHECK(names_of(s.take_ready(t0 + 1001ms, 1, restat)) == std::vector<std::string>{"b.json"});
    CHECK(looked == std::vector<std::string>{"a.json", "b.json"});

    // Settle zero: everything observed is ready, nothing is looked at.
    sp::settle_tracker zero(0ms);
    looked.clear();
    zero.observe(disk["a.json"], t0);
    CHECK(zero.take_ready(t0, 10, restat).size() == 1);
    CHECK(looked.empty());
}

TEST_CASE("watcher tells a close after writing from a move in") {
    temp_dir t;
    auto l = make_layout(t);
    auto [ec, w] = sp::watcher::open(l.incoming());
    REQUIRE_FALSE(ec);
    std::error_code dec;
    write_plain(t / "staged.json", "{}");
    fs::rename(t / "staged.json", l.incoming() / "moved.json");
    write_plain(l.incoming() / "written.json", "{}");
    // Moved in, then opened, written and closed in place: closed.
    write_plain(t / "again.json", "{}");
    fs::rename(t / "again.json", l.incoming() / "both.json");
    write_plain(l.incoming() / "both.json", "{\"a\":1}");
    sp::watcher::batch b;
    for (int i = 0; i < 50 && b.names.size() < 3; ++i) {
        auto more = drain_when_readable(w, dec);
        REQUIRE_FALSE(dec);
        for (std::size_t k = 0; k < more.names.size(); ++k) {
            b.names.push_back(more.names[k]);
            b.closed.push_back(more.closed[k]);
        }
    }
    REQUIRE(b.names.size() == 3);
    REQUIRE(b.closed.size() == 3);
    for (std::size_t k = 0; k < 3; ++k) {
        CAPTURE(b.names[k]);
        CHECK(b.closed[k] == (b.names[k] != "moved.json"));
    }
}

TEST_CASE("unclaim_deferred gives a claimed brief back to incoming/, never over a new file") {
    temp_dir t;
    auto l = make_layout(t);
    write_plain(l.incoming() / "x.json", "{");
    write_plain(l.active() / "x.json", "taken");  // so the claim is suffixed
    auto [ec, name] = sp::claim_deferred(l, "x.json");
    REQUIRE_FALSE(ec);
    REQUIRE(name == "x-2.json");
    auto e = sp::stat_active(l, name);
    REQUIRE(e);
    CHECK(e->regular);
    CHECK(e->size == 1);
    CHECK_FALSE(sp::stat_active(l, "missing.json"));
    CHECK_FALSE(sp::unclaim_deferred(l, name, "x.json"));
    CHECK(read_file(l.incoming() / "x.json") == "{");  // under its name before the claim
    CHECK_FALSE(fs::exists(l.active() / name));
    // A new file of that name was dropped meanwhile: EEXIST, both stay.
    std::tie(ec, name) = sp::claim_deferred(l, "x.json");
    REQUIRE_FALSE(ec);
    write_plain(l.incoming() / "x.json", "new");
    CHECK(sp::unclaim_deferred(l, name, "x.json") == std::errc::file_exists);
    CHECK(read_file(l.incoming() / "x.json") == "new");
    CHECK(read_file(l.active() / name) == "{");
    CHECK(sp::unclaim_deferred(l, name, "../x.json") == std::errc::invalid_argument);
}

TEST_CASE("stat_incoming looks at one name: briefs only, lstat, gone or directories are nullopt") {
    temp_dir t;
    auto l = make_layout(t);
    write_plain(l.incoming() / "a.json", "12345");
    fs::create_directory(l.incoming() / "d.json");
    fs::create_symlink("a.json", l.incoming() / "link.json");
    write_plain(l.incoming() / "x.tmp", "");
    auto a = sp::stat_incoming(l, "a.json");
    REQUIRE(a);
    CHECK(a->regular);
    CHECK(a->size == 5);
    auto link = sp::stat_incoming(l, "link.json");
    REQUIRE(link);
    CHECK(link->symlink);
    CHECK_FALSE(link->regular);
    CHECK_FALSE(sp::stat_incoming(l, "d.json"));
    CHECK_FALSE(sp::stat_incoming(l, "x.tmp"));
    CHECK_FALSE(sp::stat_incoming(l, "gone.json"));
    CHECK_FALSE(sp::stat_incoming(l, "../spool.json"));
}

TEST_CASE("claim_deferred: a burst claimed without fsyncs, then one fsync of each directory") {
    temp_dir t;
    auto l = make_layout(t);
    for (int i = 0; i < 50; ++i) {
        auto n = "b" + std::to_string(i) + ".json";
        write_plain(l.incoming() / n, "brief " + std::to_string(i));
        auto [ec, name] = sp::claim_deferred(l, n);
        REQUIRE_FALSE(ec);
        CHECK(name == n);
    }
    write_plain(l.incoming() / "b0.json", "again");
    CHECK(sp::claim_deferred(l, "b0.json").second == "b0-2.json");  // never replaces
    CHECK(sp::claim_deferred(l, "gone.json").first == std::errc::no_such_file_or_directory);
    CHECK(sp::claim_deferred(l, "../x.json").first == std::errc::invalid_argument);
    CHECK_FALSE(briefd::store::fsync_dir(l.active()));
    CHECK_FALSE(briefd::store::fsync_dir(l.incoming()));
    for (int i = 0; i < 50; ++i)
        CHECK(read_file(l.active() / ("b" + std::to_string(i) + ".json")) == "brief " + std::to_string(i));
    CHECK(read_file(l.active() / "b0-2.json") == "again");
    CHECK(names_in(l.incoming()).empty());
}
