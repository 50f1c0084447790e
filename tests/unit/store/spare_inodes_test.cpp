// spare_pool on a real directory: replaced and removed files keep their inodes as spares that
// later writes reuse (issue 13), within the cap; leftovers of a killed process are adopted.
#include "store/spare_inodes.hpp"

#include "unit/store/temp_dir.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using briefd::store::file_change;
using briefd::store::spare_pool;
using briefd::test::read_file;
using briefd::test::temp_dir;
using briefd::test::tmpfs_mount;
using briefd::test::write_plain;

namespace {

ino_t ino_of(const fs::path& p) {
    struct stat st {};
    REQUIRE(::lstat(p.c_str(), &st) == 0);
    return st.st_ino;
}

std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> n;
    for (const auto& de : fs::directory_iterator(dir)) n.push_back(de.path().filename().string());
    std::sort(n.begin(), n.end());
    return n;
}

std::vector<std::string> spares_in(const fs::path& dir) {
    auto all = names_in(dir);
    std::erase_if(all, [](const std::string& n) { return !spare_pool::is_spare_name(n); });
    return all;
}

std::error_code write_one(spare_pool& p, const std::string& name, std::string data) {
    std::vector<file_change> c{{name, std::move(data), false, 0640}};
    auto r = p.commit(c);
    REQUIRE(r.size() == 1);
    return r[0];
}

std::error_code remove_one(spare_pool& p, const std::string& name) {
    std::vector<file_change> c{{name, {}, true, 0640}};
    auto r = p.commit(c);
    REQUIRE(r.size() == 1);
    return r[0];
}

}  // namespace

TEST_CASE("spare_pool: spare names are '.spare.' and digits only") {
    CHECK(spare_pool::is_spare_name(".spare.0"));
    CHECK(spare_pool::is_spare_name(".spare.18446744073709551615"));
    CHECK_FALSE(spare_pool::is_spare_name(".spare."));
    CHECK_FALSE(spare_pool::is_spare_name(".spare.1.tmp"));
    CHECK_FALSE(spare_pool::is_spare_name("spare.1"));
    CHECK_FALSE(spare_pool::is_spare_name(".spare.x"));
}

TEST_CASE("spare_pool: a replaced file's old inode becomes a spare, and the next write reuses it") {
    temp_dir t;
    spare_pool p(t.path(), 16);
    REQUIRE_FALSE(write_one(p, "a.state.json", "one"));
    CHECK(read_file(t / "a.state.json") == "one");
    CHECK(spares_in(t.path()).empty());  // a new target uses up its spare's name
    const auto first = ino_of(t / "a.state.json");

    REQUIRE_FALSE(write_one(p, "a.state.json", "two"));
    CHECK(read_file(t / "a.state.json") == "two");
    auto spares = spares_in(t.path());
    REQUIRE(spares.size() == 1);
    CHECK(ino_of(t / spares[0]) == first);     // exchanged, not freed
    CHECK(fs::file_size(t / spares[0]) == 0);  // and emptied
    CHECK(p.size() == 1);
    const auto second = ino_of(t / "a.state.json");
    CHECK(second != first);

    // From now on the two inodes take turns: no create, no free.
    REQUIRE_FALSE(write_one(p, "a.state.json", "three"));
    CHECK(read_file(t / "a.state.json") == "three");
    CHECK(ino_of(t / "a.state.json") == first);
    spares = spares_in(t.path());
    REQUIRE(spares.size() == 1);
    CHECK(ino_of(t / spares[0]) == second);
    CHECK(p.freed() == 0);
    CHECK(p.recycled() == 2);
    CHECK(p.created() == 2);  // the first write and the first replacement; none since
    CHECK((fs::status(t / "a.state.json").permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
}

TEST_CASE("spare_pool: a removed file's inode goes to the pool and a new file takes it") {
    temp_dir t;
    spare_pool p(t.path(), 16);
    REQUIRE_FALSE(write_one(p, "gone.state.json", "final state"));
    const auto ino = ino_of(t / "gone.state.json");
    REQUIRE_FALSE(remove_one(p, "gone.state.json"));
    CHECK_FALSE(fs::exists(t / "gone.state.json"));
    auto spares = spares_in(t.path());
    REQUIRE(spares.size() == 1);
    CHECK(ino_of(t / spares[0]) == ino);
    CHECK(fs::file_size(t / spares[0]) == 0);  // the old state is not kept around
    // Removing what is not there is no error.
    CHECK_FALSE(remove_one(p, "never.state.json"));
    REQUIRE_FALSE(write_one(p, "next.state.json", "new job"));
    CHECK(ino_of(t / "next.state.json") == ino);
    CHECK(spares_in(t.path()).empty());
    CHECK(p.freed() == 0);
}

TEST_CASE("spare_pool: one group of writes and removals; the cap bounds the pool") {
    temp_dir t;
    spare_pool p(t.path(), 3);
    std::vector<file_change> group;
    for (int j = 0; j < 6; ++j) group.push_back({"j" + std::to_string(j), "v1", false, 0640});
    for (auto ec : p.commit(group)) CHECK_FALSE(ec);
    // Rewriting all six at once needs six spares: three come from fresh files (the pool is
    // empty), and the six old inodes come back; only three of them fit.
    for (auto& c : group) c.data = "v2";
    for (auto ec : p.commit(group)) CHECK_FALSE(ec);
    for (int j = 0; j < 6; ++j) CHECK(read_file(t / ("j" + std::to_string(j))) == "v2");
    CHECK(p.size() == 3);
    CHECK(spares_in(t.path()).size() == 3);
    CHECK(p.freed() == 3);
    // Removals beyond the cap are plain unlinks.
    for (auto& c : group) c.remove = true;
    for (auto ec : p.commit(group)) CHECK_FALSE(ec);
    CHECK(spares_in(t.path()).size() == 3);
    CHECK(names_in(t.path()).size() == 3);
    CHECK(p.freed() == 9);
    // trim() gives spares back.
    std::error_code ec;
    CHECK(p.trim(1, ec) == 2);
    CHECK_FALSE(ec);
    CHECK(spares_in(t.path()).size() == 1);
    CHECK(p.trim(0, ec) == 1);
    CHECK(names_in(t.path()).empty());
}

TEST_CASE("spare_pool: cap 0 keeps no spare; bad names are refused") {
    temp_dir t;
    spare_pool p(t.path(), 0);
    REQUIRE_FALSE(write_one(p, "a", "1"));
    REQUIRE_FALSE(write_one(p, "a", "2"));
    REQUIRE_FALSE(remove_one(p, "a"));
    CHECK(names_in(t.path()).empty());
    CHECK(p.freed() == 2);
    CHECK(write_one(p, "", "x") == std::errc::invalid_argument);
    CHECK(write_one(p, "../a", "x") == std::errc::invalid_argument);
    CHECK(write_one(p, ".spare.1", "x") == std::errc::invalid_argument);  // never a target
    CHECK(names_in(t.path()).empty());
}

TEST_CASE("spare_pool: a missing directory fails every change; it is opened once it exists") {
    temp_dir t;
    spare_pool p(t / "later", 4);
    CHECK(write_one(p, "a", "x") == std::errc::no_such_file_or_directory);
    fs::create_directory(t / "later");
    CHECK_FALSE(write_one(p, "a", "x"));
    CHECK(read_file(t / "later" / "a") == "x");
}

TEST_CASE("spare_pool: leftovers of a killed process are adopted, emptied and reused") {
    temp_dir t;
    write_plain(t / ".spare.7", "old state left in a spare");
    write_plain(t / ".spare.3", "another");
    write_plain(t / "kept.state.json", "live state");
    // Half a rename cut by a power loss: a spare naming a live file's inode is left alone.
    REQUIRE(::link((t / "kept.state.json").c_str(), (t / ".spare.9").c_str()) == 0);
    fs::create_directory(t / ".spare.5");  // not a regular file: not ours to touch
    write_plain(t / ".spare.x", "not a spare name");
    const auto three = ino_of(t / ".spare.3");
    {
        spare_pool p(t.path(), 1);  // room for one: the other is unlinked
        REQUIRE_FALSE(p.open());
        CHECK(p.size() == 1);
        CHECK(p.freed() == 1);
        CHECK_FALSE(fs::exists(t / ".spare.7"));  // adopted in name order: 3 fits, 7 does not
        CHECK(fs::exists(t / ".spare.3"));
        CHECK(fs::file_size(t / ".spare.3") == 0);
        CHECK(read_file(t / "kept.state.json") == "live state");
        CHECK(fs::exists(t / ".spare.9"));
        CHECK(fs::is_directory(t / ".spare.5"));
        CHECK(read_file(t / ".spare.x") == "not a spare name");
        REQUIRE_FALSE(write_one(p, "new.state.json", "n"));
        CHECK(ino_of(t / "new.state.json") == three);
        // The pool is empty now: fresh spares are numbered past every leftover.
        REQUIRE_FALSE(write_one(p, "other.state.json", "o"));  // .spare.10, renamed away
        REQUIRE_FALSE(write_one(p, "other.state.json", "o2"));
        CHECK(spares_in(t.path()) == std::vector<std::string>{".spare.11", ".spare.5", ".spare.9"});
    }
    // A pool with cap 0 cleans leftovers up.
    spare_pool q(t.path(), 0);
    REQUIRE_FALSE(q.open());
    CHECK(q.size() == 0);
    CHECK_FALSE(fs::exists(t / ".spare.11"));
    CHECK(fs::exists(t / ".spare.9"));
}

TEST_CASE("spare_pool: a write that fails (ENOSPC) leaves the old content; its spare stays") {
    temp_dir t;
    const auto mnt = t / "small";
    tmpfs_mount m(mnt, "size=64k,mode=0755");
    if (!m.ok()) {
        MESSAGE("SKIPPED: cannot mount a tmpfs here (" << m.error().message()
                                                       << "); ENOSPC not exercised");
        return;
    }
    spare_pool p(mnt, 4);
    REQUIRE_FALSE(write_one(p, "s", "old"));
    // The large one first: its failed spare gives its blocks back before the next is written.
    std::vector<file_change> group{{"s", std::string(256 * 1024, 'x'), false, 0640},
                                   {"r", "small", false, 0640}};
    auto rs = p.commit(group);
    CHECK(rs[0] == std::errc::no_space_on_device);
    CHECK_FALSE(rs[1]);
    CHECK(read_file(mnt / "s") == "old");
    CHECK(read_file(mnt / "r") == "small");
    // The failed spare was emptied (its blocks freed) and pooled: the next write fits.
    for (const auto& n : spares_in(mnt)) CHECK(fs::file_size(mnt / n) == 0);
    CHECK_FALSE(write_one(p, "s", std::string(16 * 1024, 'y')));
    CHECK(fs::file_size(mnt / "s") == 16 * 1024);
}
