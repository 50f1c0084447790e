// briefd submit's drop: spool::deliver writes in the spool root, renames into incoming/, never
// replaces, leaves no temp behind.
#include "spool/spool.hpp"
#include "unit/store/temp_dir.hpp"

#include <fstream>
#include <iterator>

namespace briefd::spool {

namespace fs = std::filesystem;

namespace {
std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
std::vector<std::string> names_in(const fs::path& d) {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(d)) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
}
}  // namespace

TEST_CASE("deliver: whole file under its name in incoming/, a taken name suffixed, no temp left") {
    test::temp_dir t;
    layout l{t.path() / "spool", t.path() / "outputs"};
    REQUIRE(!ensure_dirs(l));
    auto [ec, name] = deliver(l, "sneakers.json", R"({"brief":"a"})");
    REQUIRE(!ec);
    CHECK(name == "sneakers.json");
    CHECK(slurp(l.incoming() / "sneakers.json") == R"({"brief":"a"})");
    CHECK((fs::status(l.incoming() / "sneakers.json").permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));

    auto [ec2, name2] = deliver(l, "sneakers.json", R"({"brief":"b"})");
    REQUIRE(!ec2);
    CHECK(name2 == "sneakers-2.json");
    CHECK(slurp(l.incoming() / "sneakers.json") == R"({"brief":"a"})");  // never replaced
    CHECK(slurp(l.incoming() / "sneakers-2.json") == R"({"brief":"b"})");
    // No temp left behind, in incoming/ or beside it.
    CHECK(names_in(l.incoming()) == std::vector<std::string>{"sneakers-2.json", "sneakers.json"});
    CHECK(names_in(l.root) == std::vector<std::string>{"active", "done", "failed", "incoming"});
}

TEST_CASE("deliver: names the daemon would not take are refused") {
    test::temp_dir t;
    layout l{t.path() / "spool", t.path() / "outputs"};
    REQUIRE(!ensure_dirs(l));
    for (auto bad : {"", "x.txt", ".hidden.json", "a/b.json", "x.json.tmp"}) {
        CAPTURE(bad);
        CHECK(deliver(l, bad, "{}").first == std::errc::invalid_argument);
    }
    CHECK(names_in(l.incoming()).empty());
}

TEST_CASE("deliver: no incoming/ is an error, and it is not created behind the daemon's back") {
    test::temp_dir t;
    layout l{t.path() / "spool", t.path() / "outputs"};
    REQUIRE(!ensure_dirs(l));
    fs::remove(l.incoming());
    auto [ec, name] = deliver(l, "a.json", "{}");
    CHECK(ec == std::errc::no_such_file_or_directory);
    CHECK(!fs::exists(l.incoming()));
    CHECK(names_in(l.root) == std::vector<std::string>{"active", "done", "failed"});
}

}  // namespace briefd::spool
