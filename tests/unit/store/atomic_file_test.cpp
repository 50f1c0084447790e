#include "store/atomic_file.hpp"
#include "store/dir_sync.hpp"
#include "unit/store/temp_dir.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <thread>

namespace fs = std::filesystem;
using briefd::test::read_file;
using briefd::test::temp_dir;
using briefd::test::tmpfs_mount;
using briefd::test::write_plain;

namespace {

std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

unsigned file_mode(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

}  // namespace

TEST_CASE(
    "write_file_atomic creates and replaces a file with exact content and mode, leaving no temp") {
    temp_dir t;
    const auto target = t / "state.json";
    REQUIRE_FALSE(briefd::store::write_file_atomic(target, "first"));
    CHECK(read_file(target) == "first");
    CHECK(file_mode(target) == 0640);

    std::string big(3 * 1024 * 1024 + 7, 'x');
    for (std::size_t i = 0; i < big.size(); i += 4093) big[i] = static_cast<char>('a' + i % 26);
    REQUIRE_FALSE(briefd::store::write_file_atomic(target, big, 0600));
    CHECK(read_file(target) == big);
    CHECK(file_mode(target) == 0600);

    REQUIRE_FALSE(briefd::store::write_file_atomic(target, ""));
    CHECK(read_file(target).empty());
    CHECK(names_in(t.path()) == std::vector<std::string>{"state.json"});
}

TEST_CASE(
    "write_file_atomic on a missing directory or under a regular file fails and creates nothing") {
    temp_dir t;
    CHECK(briefd::store::write_file_atomic(t / "nope" / "x.json", "data") ==
          std::errc::no_such_file_or_directory);
    write_plain(t / "plain", "i am a file");
    // As root, mode bits do not stop us; a path through a regular file does, for everyone.
    CHECK(briefd::store::write_file_atomic(t / "plain" / "x.json", "data") ==
          std::errc::not_a_directory);
    CHECK(names_in(t.path()) == std::vector<std::string>{"plain"});
    CHECK(read_file(t / "plain") == "i am a file");
}

TEST_CASE(
    "write_file_atomic on a full disk returns ENOSPC and never leaves a half file under the final "
    "name") {
    temp_dir t;
    const auto mnt = t / "small";
    tmpfs_mount m(mnt, "size=64k,mode=0755");
    if (!m.ok()) {
        MESSAGE("SKIPPED: cannot mount a 64 KiB tmpfs here (" << m.error().message()
                                                              << "); ENOSPC not exercised");
        return;
    }
    const auto target = mnt / "state.json";
    REQUIRE_FALSE(briefd::store::write_file_atomic(target, "old state"));
    const std::string huge(1024 * 1024, 'z');
    CHECK(briefd::store::write_file_atomic(target, huge) == std::errc::no_space_on_device);
    CHECK(read_file(target) == "old state");
    CHECK(briefd::store::write_file_atomic(mnt / "fresh.json", huge) ==
          std::errc::no_space_on_device);
    CHECK_FALSE(fs::exists(mnt / "fresh.json"));
    CHECK(names_in(mnt) == std::vector<std::string>{"state.json"});  // temps cleaned up
    // Space came back: the next write works.
    REQUIRE_FALSE(briefd::store::write_file_atomic(target, "new state"));
    CHECK(read_file(target) == "new state");
}

TEST_CASE("write_file_atomic on a read-only file system fails and leaves the old file") {
    temp_dir t;
    const auto mnt = t / "ro";
    tmpfs_mount m(mnt, "size=1m,mode=0755");
    if (!m.ok()) {
        MESSAGE("SKIPPED: cannot mount a tmpfs here (" << m.error().message()
                                                       << "); EROFS not exercised");
        return;
    }
    const auto target = mnt / "state.json";
    REQUIRE_FALSE(briefd::store::write_file_atomic(target, "old state"));
    if (!m.remount_read_only("size=1m,mode=0755")) {
        MESSAGE("SKIPPED: cannot remount the tmpfs read-only; EROFS not exercised");
        return;
    }
    CHECK(briefd::store::write_file_atomic(target, "new state") ==
          std::errc::read_only_file_system);
    CHECK(read_file(target) == "old state");
    auto [ec, part] = briefd::store::part_file::create(mnt / "out.png");
    CHECK(ec == std::errc::read_only_file_system);
    CHECK_FALSE(part.is_open());
    CHECK(names_in(mnt) == std::vector<std::string>{"state.json"});
}

TEST_CASE("a writer killed at any moment leaves the old or the new content, never a mix") {
    temp_dir t;
    const auto target = t / "state.json";
    const std::string a(256 * 1024, 'a');
    const std::string b(300 * 1024, 'b');
    REQUIRE_FALSE(briefd::store::write_file_atomic(target, a));
    for (int round = 0; round < 5; ++round) {
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            // Bounded, so a parent that fails to kill us cannot leave a runaway child.
            for (int i = 0; i < 5000; ++i)
                (void)briefd::store::write_file_atomic(target, (i % 2) ? a : b);
            ::_exit(0);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2 + round * 3));
        ::kill(pid, SIGKILL);
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        const std::string now = read_file(target);
        CHECK((now == a || now == b));
        std::error_code ec;
        briefd::store::remove_stale_temps(t.path(), ec);
        CHECK_FALSE(ec);
        CHECK(names_in(t.path()) == std::vector<std::string>{"state.json"});
    }
}

TEST_CASE("fsync_dir reports missing paths and non-directories") {
    temp_dir t;
    CHECK_FALSE(briefd::store::fsync_dir(t.path()));
    CHECK(briefd::store::fsync_dir(t / "missing") == std::errc::no_such_file_or_directory);
    write_plain(t / "f", "x");
    CHECK(briefd::store::fsync_dir(t / "f") == std::errc::not_a_directory);
}

TEST_CASE(
    "durable_rename replaces, or refuses with EEXIST when asked not to, and reports a vanished "
    "source") {
    temp_dir t;
    fs::create_directories(t / "a");
    fs::create_directories(t / "b");
    write_plain(t / "a" / "x", "one");
    write_plain(t / "b" / "x", "two");

    CHECK(briefd::store::durable_rename(t / "a" / "x", t / "b" / "x", true) ==
          std::errc::file_exists);
    CHECK(read_file(t / "a" / "x") == "one");
    CHECK(read_file(t / "b" / "x") == "two");

    REQUIRE_FALSE(briefd::store::durable_rename(t / "a" / "x", t / "b" / "y", true));
    CHECK_FALSE(fs::exists(t / "a" / "x"));
    CHECK(read_file(t / "b" / "y") == "one");

    REQUIRE_FALSE(briefd::store::durable_rename(t / "b" / "y", t / "b" / "x", false));
    CHECK(read_file(t / "b" / "x") == "one");
    CHECK_FALSE(fs::exists(t / "b" / "y"));

    CHECK(briefd::store::durable_rename(t / "a" / "gone", t / "b" / "z", true) ==
          std::errc::no_such_file_or_directory);
    CHECK(briefd::store::durable_rename(t / "a" / "gone", t / "b" / "x", true) ==
          std::errc::no_such_file_or_directory);
    CHECK(briefd::store::durable_rename(t / "a" / "gone", t / "b" / "z", false) ==
          std::errc::no_such_file_or_directory);
}

TEST_CASE("remove_stale_temps removes .*.tmp and *.part files only") {
    temp_dir t;
    for (const char* n : {".state.json.123.tmp", "0-0-x.png.part", ".x.part", "keep.json",
                          ".hidden", "plain.tmp", "a.partial"})
        write_plain(t / n, "x");
    fs::create_directories(t / "dir.part");
    fs::create_directories(t / "sub");
    write_plain(t / "sub" / "deep.part", "x");

    std::error_code ec;
    CHECK(briefd::store::remove_stale_temps(t.path(), ec) == 3);
    CHECK_FALSE(ec);
    CHECK(names_in(t.path()) == std::vector<std::string>{".hidden", "a.partial", "dir.part",
                                                         "keep.json", "plain.tmp", "sub"});
    CHECK(fs::exists(t / "sub" / "deep.part"));

    CHECK(briefd::store::remove_stale_temps(t / "missing", ec) == 0);
    CHECK(ec == std::errc::no_such_file_or_directory);
}

TEST_CASE("sha256 of known vectors, of strings and of files") {
    CHECK(briefd::store::sha256_hex("") ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(briefd::store::sha256_hex("abc") ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    temp_dir t;
    const std::string data(200 * 1024 + 3, 'q');
    write_plain(t / "f", data);
    auto [ec, hex] = briefd::store::sha256_file(t / "f");
    CHECK_FALSE(ec);
    CHECK(hex == briefd::store::sha256_hex(data));
    auto [ec2, hex2] = briefd::store::sha256_file(t / "missing");
    CHECK(ec2 == std::errc::no_such_file_or_directory);
    CHECK(hex2.empty());
}

TEST_CASE(
    "part_file streams into .part with a running sha256 and appears under the final name only on "
    "commit") {
    temp_dir t;
    const auto final_path = t / "0-0-ai-designer.png";
    write_plain(t / "0-0-ai-designer.png.part", "stale bytes from a crashed run");

    auto [ec, part] = briefd::store::part_file::create(final_path);
    REQUIRE_FALSE(ec);
    REQUIRE(part.is_open());
    CHECK(briefd::test::read_file(part.part_path())
              .empty());  // the stale one was replaced, not appended to
    CHECK(part.sha256_hex() == briefd::store::sha256_hex(""));

    std::string all;
    for (int i = 0; i < 100; ++i) {
        std::string chunk(1000 + static_cast<std::size_t>(i), static_cast<char>('A' + i % 26));
        REQUIRE_FALSE(part.write(chunk));
        all += chunk;
        if (i == 50)
            CHECK(part.sha256_hex() ==
                  briefd::store::sha256_hex(all));  // mid-stream, digest keeps going
    }
    CHECK(part.bytes() == all.size());
    CHECK_FALSE(fs::exists(final_path));

    REQUIRE_FALSE(part.commit());
    CHECK(read_file(final_path) == all);
    CHECK(file_mode(final_path) == 0640);
    CHECK(part.sha256_hex() == briefd::store::sha256_hex(all));
    CHECK(briefd::store::sha256_file(final_path).second == part.sha256_hex());
    CHECK(names_in(t.path()) == std::vector<std::string>{"0-0-ai-designer.png"});
    CHECK(part.write("more") == std::errc::bad_file_descriptor);  // committed: closed
    CHECK(part.commit() == std::errc::bad_file_descriptor);
}

TEST_CASE("part_file without commit removes its .part; moves transfer ownership") {
    temp_dir t;
    {
        auto [ec, part] = briefd::store::part_file::create(t / "a.mp4");
        REQUIRE_FALSE(ec);
        REQUIRE_FALSE(part.write("half a video"));
        CHECK(fs::exists(t / "a.mp4.part"));
    }
    CHECK(names_in(t.path()).empty());

    auto [ec, first] = briefd::store::part_file::create(t / "b.mp4");
    REQUIRE_FALSE(ec);
    REQUIRE_FALSE(first.write("abc"));
    briefd::store::part_file second = std::move(first);
    CHECK_FALSE(first.is_open());  // NOLINT(bugprone-use-after-move): checking the moved-from state
                                   // is the point
    CHECK(first.write("x") == std::errc::bad_file_descriptor);
    CHECK(second.bytes() == 3);
    REQUIRE_FALSE(second.write("def"));
    second.discard();
    CHECK_FALSE(second.is_open());
    CHECK(names_in(t.path()).empty());

    CHECK(briefd::store::part_file::create(t / "missing" / "c.mp4").first ==
          std::errc::no_such_file_or_directory);
}

TEST_CASE("part_file on a full disk fails the write and leaves neither a final file nor a .part") {
    temp_dir t;
    const auto mnt = t / "small";
    tmpfs_mount m(mnt, "size=64k,mode=0755");
    if (!m.ok()) {
        MESSAGE("SKIPPED: cannot mount a 64 KiB tmpfs here (" << m.error().message()
                                                              << "); ENOSPC not exercised");
        return;
    }
    auto [ec, part] = briefd::store::part_file::create(mnt / "big.mp4");
    REQUIRE_FALSE(ec);
    const std::string chunk(16 * 1024, 'v');
    std::error_code wec;
    for (int i = 0; i < 64 && !wec; ++i) wec = part.write(chunk);
    CHECK(wec == std::errc::no_space_on_device);
    CHECK(part.bytes() < 64u * chunk.size());
    part.discard();
    CHECK_FALSE(fs::exists(mnt / "big.mp4"));
    CHECK(names_in(mnt).empty());
}

TEST_CASE("part_file::reserve preallocates without changing the size the writes give") {
    temp_dir t;
    auto [ec, part] = briefd::store::part_file::create(t / "v.mp4");
    REQUIRE_FALSE(ec);
    REQUIRE_FALSE(part.reserve(4u << 20));
    REQUIRE_FALSE(part.write("ten bytes!"));
    CHECK(fs::file_size(part.part_path()) == 10);  // FALLOC_FL_KEEP_SIZE
    // Past the 8 MiB write-back window too: sync_file_range is advisory, the bytes are the same.
    std::string all = "ten bytes!";
    const std::string block(3u << 20, 'w');
    for (int i = 0; i < 4; ++i) {
        REQUIRE_FALSE(part.write(block));
        all += block;
    }
    REQUIRE_FALSE(part.commit());
    CHECK(fs::file_size(t / "v.mp4") == all.size());
    CHECK(briefd::store::sha256_file(t / "v.mp4").second == briefd::store::sha256_hex(all));
    CHECK(part.reserve(1) == std::errc::bad_file_descriptor);  // committed: closed
}

TEST_CASE("output_dir creates its directory once and refuses a symlink or a file at its path") {
    temp_dir t;
    using briefd::store::output_dir;
    auto [ec, dir] = output_dir::open(t / "outputs" / "job");  // parent created too
    REQUIRE_FALSE(ec);
    CHECK(dir.is_open());
    CHECK(fs::is_directory(t / "outputs" / "job"));
    CHECK(file_mode(t / "outputs" / "job") == 0750);
    CHECK(dir.path() == t / "outputs" / "job");
    auto [ec2, again] = output_dir::open(t / "outputs" / "job");  // an existing one is fine
    CHECK_FALSE(ec2);

    fs::create_directory(t / "elsewhere");
    fs::create_directory_symlink(t / "elsewhere", t / "outputs" / "linked");
    auto [lec, linked] = output_dir::open(t / "outputs" / "linked");
    // O_NOFOLLOW|O_DIRECTORY on a symlink: Linux says ENOTDIR (POSIX allows ELOOP).
    CHECK(lec == std::errc::not_a_directory);
    CHECK_FALSE(linked.is_open());
    CHECK(linked.create_part("x").first == std::errc::bad_file_descriptor);
    CHECK(linked.write_file_atomic("x", "y") == std::errc::bad_file_descriptor);

    write_plain(t / "outputs" / "plain", "not a directory");
    CHECK(output_dir::open(t / "outputs" / "plain").first == std::errc::not_a_directory);
    fs::create_symlink(t / "outputs" / "nowhere", t / "outputs" / "dangling");
    CHECK(output_dir::open(t / "outputs" / "dangling").first == std::errc::not_a_directory);
    CHECK_FALSE(fs::exists(t / "outputs" / "nowhere"));  // not created through the link
    CHECK(names_in(t / "elsewhere").empty());
}

TEST_CASE("make_dir_durable makes a directory with its mode once; refuses a file or a symlink") {
    temp_dir t;
    using briefd::store::make_dir_durable;
    CHECK_FALSE(make_dir_durable(t / "outputs" / "job"));  // parent created too
    CHECK(fs::is_directory(t / "outputs" / "job"));
    CHECK(file_mode(t / "outputs" / "job") == 0750);  // exactly, whatever the umask
    write_plain(t / "outputs" / "job" / "kept", "x");
    CHECK_FALSE(make_dir_durable(t / "outputs" / "job"));  // an existing one is fine, untouched
    CHECK(names_in(t / "outputs" / "job") == std::vector<std::string>{"kept"});

    write_plain(t / "outputs" / "plain", "not a directory");
    CHECK(make_dir_durable(t / "outputs" / "plain") == std::errc::not_a_directory);
    fs::create_directory(t / "elsewhere");
    fs::create_directory_symlink(t / "elsewhere", t / "outputs" / "linked");
    CHECK(make_dir_durable(t / "outputs" / "linked") == std::errc::not_a_directory);
    CHECK(make_dir_durable(t / "outputs" / "..") == std::errc::invalid_argument);
}

TEST_CASE("output_dir: a symlink swapped in after opening redirects nothing") {
    temp_dir t;
    using briefd::store::output_dir;
    fs::create_directories(t / "outputs");
    fs::create_directory(t / "outside");
    auto [ec, dir] = output_dir::open(t / "outputs" / "job");
    REQUIRE_FALSE(ec);
    auto [pec, part] = dir.create_part(".0-0.dl");
    REQUIRE_FALSE(pec);
    REQUIRE_FALSE(part.write("video bytes"));

    // The attack of issue 12 item 9: the job's directory replaced by a symlink to elsewhere.
    fs::rename(t / "outputs" / "job", t / "outputs" / "moved");
    fs::create_directory_symlink(t / "outside", t / "outputs" / "job");

    REQUIRE_FALSE(dir.commit(part, "0-0-clip.mp4"));
    REQUIRE_FALSE(dir.write_file_atomic("manifest.json", "{}"));
    auto [pec2, later] = dir.create_part(".1-0.dl");
    REQUIRE_FALSE(pec2);
    REQUIRE_FALSE(later.write("more"));
    REQUIRE_FALSE(later.commit());

    CHECK(names_in(t / "outside").empty());
    CHECK(names_in(t / "outputs" / "moved") ==
          std::vector<std::string>{".1-0.dl", "0-0-clip.mp4", "manifest.json"});
    CHECK(read_file(t / "outputs" / "moved" / "0-0-clip.mp4") == "video bytes");
    CHECK(read_file(t / "outputs" / "moved" / "manifest.json") == "{}");
    CHECK(file_mode(t / "outputs" / "moved" / "manifest.json") == 0640);
    CHECK(part.sha256_hex() == briefd::store::sha256_hex("video bytes"));
    CHECK(part.final_path() == t / "outputs" / "job" / "0-0-clip.mp4");  // as named, for messages
}

TEST_CASE("output_dir refuses names that are not one path component, and foreign parts") {
    temp_dir t;
    using briefd::store::output_dir;
    auto [ec, dir] = output_dir::open(t / "job");
    REQUIRE_FALSE(ec);
    const std::vector<std::string_view> bad_names{
        "", ".", "..", "../escape", "a/b", "/abs", std::string_view("n\0ul", 4)};
    for (std::string_view bad : bad_names) {
        CAPTURE(bad);
        CHECK(dir.create_part(bad).first == std::errc::invalid_argument);
        CHECK(dir.write_file_atomic(bad, "x") == std::errc::invalid_argument);
    }
    CHECK(dir.create_part(std::string(255, 'n')).first == std::errc::invalid_argument);  // +".part"
    CHECK(output_dir::open(t / "..").first == std::errc::invalid_argument);

    auto [pec, part] = dir.create_part("ok");
    REQUIRE_FALSE(pec);
    CHECK(dir.commit(part, "../escaped") == std::errc::invalid_argument);
    CHECK_FALSE(part.is_open());  // refused commit discards, like a failed one
    CHECK_FALSE(fs::exists(t / "escaped"));

    auto [oec, other] = output_dir::open(t / "other");
    REQUIRE_FALSE(oec);
    auto [pec2, foreign] = other.create_part("f");
    REQUIRE_FALSE(pec2);
    CHECK(dir.commit(foreign, "f") == std::errc::cross_device_link);
    CHECK(foreign.is_open());  // left as it was
    CHECK(names_in(t / "job").empty());
}

TEST_CASE("check_room: enough blocks and inodes, or ENOSPC; a missing directory is its error") {
    temp_dir t;
    CHECK_FALSE(briefd::store::check_room(t.path(), 4096, 2));
    // More than any disk here has.
    CHECK(briefd::store::check_room(t.path(), std::uint64_t{1} << 62, 1) ==
          std::errc::no_space_on_device);
    CHECK(briefd::store::check_room(t / "missing", 1, 1) == std::errc::no_such_file_or_directory);

    const auto mnt = t / "small";
    tmpfs_mount m(mnt, "size=64k,nr_inodes=8,mode=0755");
    if (!m.ok()) {
        MESSAGE("SKIPPED: cannot mount a tmpfs here (" << m.error().message()
                                                       << "); a full file system not exercised");
        return;
    }
    CHECK_FALSE(briefd::store::check_room(mnt, 16 * 1024, 2));
    CHECK(briefd::store::check_room(mnt, 1024 * 1024, 2) == std::errc::no_space_on_device);
    CHECK(briefd::store::check_room(mnt, 1, 100) == std::errc::no_space_on_device);  // inodes
    write_plain(mnt / "filler", std::string(60 * 1024, 'x'));
    CHECK(briefd::store::check_room(mnt, 16 * 1024, 2) == std::errc::no_space_on_device);
}

TEST_CASE(
    "output_dir::open with a dir_syncer: a new directory's parent is synced through it, an "
    "existing one costs no sync; symlinks are still refused") {
    temp_dir t;
    using briefd::store::output_dir;
    fs::create_directory(t / "outputs");
    briefd::store::dir_syncer outputs(t / "outputs");
    auto [ec, dir] = output_dir::open(t / "outputs" / "job", outputs);
    REQUIRE_FALSE(ec);
    CHECK(file_mode(t / "outputs" / "job") == 0750);
    CHECK(outputs.calls() == 1);
    CHECK(outputs.fsyncs() == 1);
    auto [ec2, again] = output_dir::open(t / "outputs" / "job", outputs);
    CHECK_FALSE(ec2);
    CHECK(outputs.calls() == 1);
    // A syncer of another directory is not used (the parent gets its own fsync).
    briefd::store::dir_syncer other(t.path());
    CHECK_FALSE(output_dir::open(t / "outputs" / "job2", other).first);
    CHECK(other.calls() == 0);
    fs::create_directory_symlink(t / "outputs", t / "outputs" / "linked");
    CHECK(output_dir::open(t / "outputs" / "linked", outputs).first == std::errc::not_a_directory);
    CHECK(outputs.calls() == 1);
}

TEST_CASE("output_dir::commit_unsynced puts the whole file under its final name, no .part left") {
    temp_dir t;
    using briefd::store::output_dir;
    auto [ec, dir] = output_dir::open(t / "job");
    REQUIRE_FALSE(ec);
    auto [pec, part] = dir.create_part(".0-0.dl");
    REQUIRE_FALSE(pec);
    REQUIRE_FALSE(part.write("bytes of the output"));
    CHECK_FALSE(dir.commit_unsynced(part, "0-0-img.png"));
    CHECK(read_file(t / "job" / "0-0-img.png") == "bytes of the output");
    CHECK(names_in(t / "job") == std::vector<std::string>{"0-0-img.png"});
    CHECK_FALSE(part.is_open());
    CHECK(dir.commit_unsynced(part, "again.png") == std::errc::bad_file_descriptor);
    // A name that is not one component is refused and the .part removed.
    auto [pec2, part2] = dir.create_part(".0-1.dl");
    REQUIRE_FALSE(pec2);
    CHECK(dir.commit_unsynced(part2, "../escape.png") == std::errc::invalid_argument);
    CHECK(names_in(t / "job") == std::vector<std::string>{"0-0-img.png"});
}
