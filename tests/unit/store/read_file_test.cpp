#include "store/read_file.hpp"

#include "core/error.hpp"
#include "unit/store/temp_dir.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>

using briefd::store::read_regular_file;
using briefd::store::unreadable_for_good;

TEST_CASE("read_regular_file reads a regular file within the limit") {
    briefd::test::temp_dir dir;
    std::ofstream(dir / "a.json") << "{\"brief\":\"x\"}";
    std::string why;
    auto [ec, bytes] = read_regular_file(dir / "a.json", 100, why);
    CHECK_FALSE(ec);
    CHECK(bytes == "{\"brief\":\"x\"}");
}

TEST_CASE("read_regular_file refuses a FIFO at once instead of blocking in open()") {
    // The FIFO has no writer: a blocking open(O_RDONLY) would never return (issue 12, item 1).
    briefd::test::temp_dir dir;
    REQUIRE(::mkfifo((dir / "swapped.json").c_str(), 0600) == 0);
    const auto start = std::chrono::steady_clock::now();
    std::string why;
    auto [ec, bytes] = read_regular_file(dir / "swapped.json", 1 << 20, why);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
    CHECK(ec == briefd::errc::brief_not_regular);
    CHECK(why.find("FIFO") != std::string::npos);
    CHECK(bytes.empty());
    CHECK(unreadable_for_good(ec));
}

TEST_CASE("read_regular_file refuses symlinks, directories and sockets") {
    briefd::test::temp_dir dir;
    std::ofstream(dir / "target.json") << "{}";
    std::filesystem::create_symlink(dir / "target.json", dir / "link.json");
    std::filesystem::create_directory(dir / "d.json");
    std::string why;
    CHECK(read_regular_file(dir / "link.json", 100, why).first == briefd::errc::brief_not_regular);
    CHECK(why.find("symbolic link") != std::string::npos);
    CHECK(read_regular_file(dir / "d.json", 100, why).first == briefd::errc::brief_not_regular);
    CHECK(why.find("directory") != std::string::npos);

    const int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(s >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const auto sp = (dir / "s.json").string();
    if (sp.size() < sizeof addr.sun_path) {
        std::memcpy(addr.sun_path, sp.c_str(), sp.size() + 1);
        REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        CHECK(read_regular_file(dir / "s.json", 100, why).first == briefd::errc::brief_not_regular);
    }
    ::close(s);
}

TEST_CASE("read_regular_file refuses a file over the limit; a missing one is not refused") {
    briefd::test::temp_dir dir;
    std::ofstream(dir / "big.json") << std::string(101, 'x');
    std::string why;
    auto [ec, bytes] = read_regular_file(dir / "big.json", 100, why);
    CHECK(ec == briefd::errc::brief_too_large);
    CHECK(bytes.empty());
    auto [ec2, b2] = read_regular_file(dir / "gone.json", 100, why);
    CHECK(ec2 == std::errc::no_such_file_or_directory);
    CHECK_FALSE(unreadable_for_good(ec2));
    CHECK_FALSE(unreadable_for_good(std::error_code(EMFILE, std::system_category())));
    CHECK(unreadable_for_good(std::error_code(EACCES, std::system_category())));
}
