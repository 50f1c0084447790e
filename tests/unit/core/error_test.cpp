#include "core/error.hpp"
#include "core/secret.hpp"

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
    CHECK(diagnostics::clean("bad\xff\xfe") == "bad??");
    CHECK(diagnostics::clean("trunc\xe2\x80") == "trunc??");
    CHECK(diagnostics::clean(std::string(5000, 'a')).size() == 1024);
    CHECK(diagnostics::clean("abcdef", 3) == "abc");
}

TEST_CASE("secret never prints its value") {
    briefd::secret s("lma_topsecret");
    std::ostringstream os;
    os << s;
    CHECK(os.str().find("topsecret") == std::string::npos);
    CHECK(s.reveal() == "lma_topsecret");
}
