// Names derived from a brief's name must fit NAME_MAX (issue 12, item 2): a brief may be named
// with up to 255 bytes, and the suffixed names, its error file and the error file's temp must still
// be creatable.
#include "spool/spool.hpp"
#include "store/atomic_file.hpp"
#include "store/paths.hpp"
#include "unit/store/temp_dir.hpp"

#include <set>

namespace sp = briefd::spool;

namespace {
// A spool under a throwaway directory.
struct spool_dir {
    briefd::test::temp_dir t;
    sp::layout l{t / "spool", t / "outputs"};
    spool_dir() { REQUIRE_FALSE(sp::ensure_dirs(l)); }
};
// A legal 255-byte brief name: stem of 250 bytes + ".json".
std::string long_name(char c = 'b') {
    return std::string(250, c) + ".json";
}
}  // namespace

TEST_CASE("claim and file_brief suffix a 255-byte name within NAME_MAX") {
    spool_dir d;
    const auto& l = d.l;
    const auto name = long_name();
    REQUIRE(name.size() == 255);
    briefd::test::write_plain(l.incoming() / name, "first");
    REQUIRE(sp::claim(l, name).second == name);
    briefd::test::write_plain(l.incoming() / name, "second");
    auto [ec, second] = sp::claim(l, name);
    REQUIRE_FALSE(ec);  // was ENAMETOOLONG: "<250 b>-2.json" is 257 bytes
    CHECK(second.size() <= 255);
    CHECK(second.ends_with("-2.json"));
    CHECK(second.starts_with(std::string(200, 'b')));
    CHECK(briefd::test::read_file(l.active() / second) == "second");

    // Filing both into failed/: the second takes a suffix there too.
    auto [f1, n1] = sp::file_brief(l, l.active() / name, sp::outcome::failed);
    REQUIRE_FALSE(f1);
    briefd::test::write_plain(l.active() / name, "third");
    auto [f2, n2] = sp::file_brief(l, l.active() / name, sp::outcome::failed);
    REQUIRE_FALSE(f2);
    CHECK(n2 != n1);
    CHECK(n2.size() <= 255);
}

TEST_CASE("error_file_name fits, with room for write_file_atomic's temp name") {
    spool_dir d;
    const auto& l = d.l;
    CHECK(sp::error_file_name("sneakers.json") == "sneakers.json.error.json");
    std::set<std::string> seen;
    for (char c : {'a', 'b'}) {
        for (const auto& name :
             {long_name(c), std::string(200, c) + ".yaml", std::string(196, c) + ".json"}) {
            const auto e = sp::error_file_name(name);
            CHECK(e.size() <= briefd::store::atomic_name_max);
            CHECK(e.ends_with(".error.json"));
            CHECK(e.starts_with(std::string(150, c)));  // readable: the name's beginning is kept
            CHECK(sp::error_file_name(name) == e);      // deterministic
            CHECK(seen.insert(e).second);               // distinct names stay distinct
            // The whole write path works: was ENAMETOOLONG for the error file or its temp.
            CHECK_FALSE(briefd::store::write_file_atomic(l.failed() / e, "{}"));
        }
    }
}

TEST_CASE("job ids of long and raw-byte names are short, safe names") {
    spool_dir d;
    const auto& l = d.l;
    const auto id = sp::make_job_id(l, std::string(250, '\xff') + "x.json");
    CHECK(id == "x");
    const auto id2 = sp::make_job_id(l, "bad\xffname.json");
    CHECK(id2 == "bad-name");
    const auto id3 = sp::make_job_id(l, long_name());
    CHECK(id3.size() <= 64);
    CHECK((id3 + ".state.json").size() <= briefd::store::atomic_name_max);
}
