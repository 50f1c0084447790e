#include "core/error.hpp"
#include "core/secret.hpp"
#include "core/utf8.hpp"

#include <sstream>

using briefd::errc;

TEST_CASE("errc converts to error_code with a readable message") {
    std::error_code ec = errc::rate_limited;
    CHECK(ec.category().name() == std::string("briefd"));
    CHECK(ec.message() == "rate limited (429)");
    CHECK(ec == errc::rate_limited);
    CHECK(ec != errc::server_error);
}

TEST_CASE("is_retryable separates transient from final failures") {
    CHECK(briefd::is_retryable(errc::rate_limited));
    CHECK(briefd::is_retryable(errc::server_error));
    CHECK(briefd::is_retryable(errc::read_timeout));
    CHECK(briefd::is_retryable(errc::download_truncated));
    CHECK(briefd::is_retryable(std::error_code(ECONNRESET, std::system_category())));
    CHECK_FALSE(briefd::is_retryable(errc::unauthorized));
    CHECK_FALSE(briefd::is_retryable(errc::rejected));
    CHECK_FALSE(briefd::is_retryable(errc::tls_error));
    CHECK_FALSE(briefd::is_retryable(errc::brief_invalid));
    CHECK_FALSE(briefd::is_retryable(std::error_code(ENOSPC, std::system_category())));
    CHECK_FALSE(briefd::is_retryable(std::error_code{}));
}

TEST_CASE("diagnostics::clean strips control characters and invalid UTF-8 and bounds length") {
    using briefd::diagnostics;
    CHECK(diagnostics::clean("ok\ttext\n") == "ok text ");
    CHECK(diagnostics::clean("caf\xc3\xa9") == "caf\xc3\xa9");
    CHECK(diagnostics::clean("bad\xff\xfe") == "bad\xef\xbf\xbd\xef\xbf\xbd");
    // A truncated sequence is one maximal subpart: one U+FFFD.
    CHECK(diagnostics::clean("trunc\xe2\x80") == "trunc\xef\xbf\xbd");
    CHECK(diagnostics::clean(std::string(5000, 'a')).size() == 1024);
    CHECK(diagnostics::clean("abcdef", 3) == "abc");
}

TEST_CASE("diagnostics::clean output is always valid UTF-8 (fuzz finding)") {
    using briefd::diagnostics;
    // Each of these passed through the old cleaner, which sized a sequence from its lead byte
    // alone.
    for (std::string_view bad :
         {std::string_view("\xf5\x80\x80\x80"),  // lead above F4
          std::string_view("\xf8\x88\x80\x80\x80"),
          std::string_view("\xe0\x80\xaf"),      // overlong '/'
          std::string_view("\xed\xa0\x80"),      // a surrogate
          std::string_view("\xf4\x90\x80\x80"),  // above U+10FFFF
          std::string_view("\xf0\x80\x80\xaf"), std::string_view("\xfe\xfe\xfe")}) {
        const auto out = diagnostics::clean(std::string("x") + std::string(bad) + "y");
        CHECK(briefd::utf8::is_valid(out));
        CHECK(out.front() == 'x');
        CHECK(out.back() == 'y');
    }
    // The length bound never cuts a character in two.
    const std::string euro = "\xe2\x82\xac\xe2\x82\xac";
    CHECK(diagnostics::clean(euro, 4) == "\xe2\x82\xac");
    CHECK(diagnostics::clean(euro, 2).empty());
}

TEST_CASE("is_disk_problem: only whole-file-system errors pause intake") {
    auto sys = [](int e) { return std::error_code(e, std::system_category()); };
    CHECK(briefd::is_disk_problem(sys(ENOSPC)));
    CHECK(briefd::is_disk_problem(sys(EDQUOT)));
    CHECK(briefd::is_disk_problem(sys(EROFS)));
    CHECK(briefd::is_disk_problem(sys(EACCES)));
    CHECK_FALSE(briefd::is_disk_problem(sys(ENAMETOOLONG)));
    CHECK_FALSE(briefd::is_disk_problem(sys(EINVAL)));
    CHECK_FALSE(briefd::is_disk_problem(sys(ENOENT)));
    CHECK_FALSE(briefd::is_disk_problem(sys(EEXIST)));
    CHECK_FALSE(briefd::is_disk_problem(briefd::errc::brief_invalid));
    CHECK_FALSE(briefd::is_disk_problem(std::error_code{}));
}

TEST_CASE("secret never prints its value") {
    briefd::secret s("lma_topsecret");
    std::ostringstream os;
    os << s;
    CHECK(os.str().find("topsecret") == std::string::npos);
    CHECK(s.reveal() == "lma_topsecret");
}
