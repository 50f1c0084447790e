#include "store/paths.hpp"
#include "core/utf8.hpp"

using briefd::store::is_within;
using briefd::store::output_file_name;
using briefd::store::pick_extension;
using briefd::store::sanitize_component;
namespace fs = std::filesystem;

namespace {

/// What "safe" means for a file-name part, checked independently of the implementation's loop.
bool is_safe_slug(const std::string& s, std::size_t max_len) {
    if (s.empty() || s.size() > max_len) return false;
    if (s.front() == '-' || s.back() == '-') return false;
    if (s.find("--") != std::string::npos) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

}  // namespace

TEST_CASE("sanitize_component makes readable slugs") {
    CHECK(sanitize_component("AI Designer") == "ai-designer");
    CHECK(sanitize_component("  Hero   Shot #1 (final)  ") == "hero-shot-1-final");
    CHECK(sanitize_component("snake_case.and.dots") == "snake-case-and-dots");
    CHECK(sanitize_component("CON") == "con");
    CHECK(sanitize_component("-rf") == "rf");
    CHECK(sanitize_component("--help --") == "help");
}

TEST_CASE("sanitize_component neutralises hostile input") {
    CHECK(sanitize_component("../../etc/passwd") == "etc-passwd");
    CHECK(sanitize_component("/abs") == "abs");
    CHECK(sanitize_component("a/b") == "a-b");
    CHECK(sanitize_component("..") == "output");
    CHECK(sanitize_component(".") == "output");
    CHECK(sanitize_component("") == "output");
    CHECK(sanitize_component("\x01\x7f") == "output");
    CHECK(sanitize_component(std::string_view("a\0b", 3)) == "a-b");
    CHECK(sanitize_component(std::string_view("\0\0\0", 3)) == "output");
    CHECK(sanitize_component(".hidden") == "hidden");
    CHECK(sanitize_component("line\nbreak\ttab\r") == "line-break-tab");
    CHECK(sanitize_component("Café déjà vu") == "caf-d-j-vu");  // non-ASCII bytes are separators
    CHECK(sanitize_component("日本語") == "output");
    CHECK(sanitize_component("", 48, "item") == "item");

    const std::string huge(10 * 1024, 'A');
    CHECK(sanitize_component(huge) == std::string(48, 'a'));
    CHECK(sanitize_component(huge, 5) == "aaaaa");
    CHECK(sanitize_component("abcd efgh", 5) == "abcd");  // cut at a separator: no trailing '-'
    CHECK(sanitize_component("abc", 0) == "output");
}

TEST_CASE("sanitize_component: random byte strings always give a safe name") {
    std::mt19937 rng(12345);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> len(0, 80);
    const fs::path root = "/srv/briefd/outputs/job";
    for (int i = 0; i < 20000; ++i) {
        std::string s(static_cast<std::size_t>(len(rng)), '\0');
        // Bias towards the dangerous characters so they show up often, not once in 256.
        for (auto& c : s) {
            int r = byte(rng);
            c = r < 40 ? "./\\-\0"[r % 5] : static_cast<char>(r);
        }
        const auto slug = sanitize_component(s);
        INFO("input #" << i);
        CHECK((slug == "output" || is_safe_slug(slug, 48)));
        const auto name = output_file_name(3, 1, s, s);
        CHECK(name.find('/') == std::string::npos);
        CHECK(name.find("..") == std::string::npos);
        CHECK(is_within(root, root / name));
    }
}

TEST_CASE("output_file_name") {
    CHECK(output_file_name(0, 0, "AI Designer", "png") == "0-0-ai-designer.png");
    CHECK(output_file_name(12, 3, "", "mp4") == "12-3-output.mp4");
    CHECK(output_file_name(1, 2, "x", "") == "1-2-x.bin");
    CHECK(output_file_name(1, 2, "x", "../..") == "1-2-x.bin");
    CHECK(output_file_name(1, 2, "x", "P/N.G") == "1-2-x.png");
    CHECK(output_file_name(1, 2, "x", "abcdefghijkl") == "1-2-x.abcdefgh");
    CHECK(output_file_name(1, 2, "../../etc/passwd", "sh") == "1-2-etc-passwd.sh");
}

TEST_CASE("is_within resolves lexically and refuses escapes") {
    const fs::path root = "/srv/out/job";
    CHECK(is_within(root, "/srv/out/job/a.png"));
    CHECK(is_within(root, "/srv/out/job/sub/../a.png"));
    CHECK(is_within(root, "a.png"));
    CHECK(is_within("/srv/out/job/", "/srv/out/job/a.png"));
    CHECK(is_within("/srv/out/./job", "/srv/out/job/x"));
    CHECK_FALSE(is_within(root, "/srv/out/job"));
    CHECK_FALSE(is_within(root, "/srv/out/job/"));
    CHECK_FALSE(is_within(root, "/srv/out/job/."));
    CHECK_FALSE(is_within(root, "/srv/out/job/.."));
    CHECK_FALSE(is_within(root, "/srv/out/job/../job2/a.png"));
    CHECK_FALSE(is_within(root, "/srv/out/jobx/a.png"));
    CHECK_FALSE(is_within(root, "/srv/out/job2"));
    CHECK_FALSE(is_within(root, "../../etc/passwd"));
    CHECK_FALSE(is_within(root, "/etc/passwd"));
    CHECK_FALSE(is_within(root, "a/../../x"));
    CHECK_FALSE(is_within("/", "/"));
    CHECK(is_within("/", "/etc"));
    CHECK(is_within("rel/dir",
                    "rel/dir/x"));     // relative root: against the working directory, lexically
    CHECK(is_within("rel/dir", "x"));  // relative candidate: relative to the root
    CHECK_FALSE(is_within("rel/dir", "/rel/dir/x"));
}

TEST_CASE("pick_extension: Content-Type, then URL path, then output type, then bin") {
    CHECK(pick_extension("image/png", "/x.jpg", "video") == "png");
    CHECK(pick_extension("image/jpeg", "", "") == "jpg");
    CHECK(pick_extension("IMAGE/WEBP; charset=binary", "", "") == "webp");
    CHECK(pick_extension("image/gif", "", "") == "gif");
    CHECK(pick_extension("video/mp4", "", "") == "mp4");
    CHECK(pick_extension("video/webm", "", "") == "webm");
    CHECK(pick_extension("video/quicktime", "", "") == "mov");
    CHECK(pick_extension("audio/mpeg", "", "") == "mp3");
    CHECK(pick_extension("text/plain; charset=utf-8", "", "") == "txt");
    CHECK(pick_extension(" text/html ", "", "") == "html");
    CHECK(pick_extension("application/json", "", "") == "json");

    CHECK(pick_extension("application/octet-stream", "/files/abc/photo.JPEG?sig=1.2", "image") ==
          "jpeg");
    CHECK(pick_extension("", "/a/b.tar.gz#frag", "") == "gz");
    CHECK(pick_extension("", "/dir.png/file", "video") ==
          "mp4");  // a dot in a directory is not an extension
    CHECK(pick_extension("", "/x/n.p?g.h", "") == "p");
    CHECK(pick_extension("", "/x.p/n?g", "") == "bin");
    CHECK(pick_extension("", "/x.verylongext", "image") == "png");  // over 8: not trusted
    CHECK(pick_extension("", "/x.p%2fg", "audio") == "mp3");        // not alphanumeric: not trusted
    CHECK(pick_extension("", "/.bashrc", "text") == "txt");         // a dotfile has no extension
    CHECK(pick_extension("", "/file.", "") == "bin");
    CHECK(pick_extension("", "", "Image") == "png");
    CHECK(pick_extension("", "", "video") == "mp4");
    CHECK(pick_extension("", "", "audio") == "mp3");
    CHECK(pick_extension("", "", "text") == "txt");
    CHECK(pick_extension("", "", "hologram") == "bin");
    CHECK(pick_extension("", "", "") == "bin");
}

TEST_CASE("fit_name keeps short names and shortens long ones readably and uniquely") {
    using briefd::store::fit_name;
    CHECK(fit_name("name", "-2.json") == "name-2.json");
    const std::string a(300, 'a');
    const auto f = fit_name(a, "-2.json");
    CHECK(f.size() <= 255);
    CHECK(f.ends_with("-2.json"));
    CHECK(f.starts_with(std::string(200, 'a')));
    CHECK(fit_name(a, "-2.json") == f);
    CHECK(fit_name(a + "b", "-2.json") != f);  // same beginning, different name
    CHECK(fit_name(a, "-2.json", 100).size() <= 100);
    // A cut never splits a UTF-8 character.
    std::string e;
    for (int i = 0; i < 100; ++i) e += "\xe2\x82\xac";
    const auto g = fit_name(e, ".json", 64);
    CHECK(g.size() <= 64);
    CHECK(briefd::utf8::is_valid(g));
    // A huge tail is folded into the stem instead of leaving no room.
    CHECK(fit_name("x", std::string(300, 't')).size() <= 255);
}
