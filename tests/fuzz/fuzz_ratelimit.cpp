// Rate-limit headers and 429 bodies: "Name: value" lines, a blank line, then the body. Also the
// HTTP-date parser on its own. Nothing may overflow (UBSan) and every wait is within its bounds.
#include "fuzz_check.hpp"
#include "header_lines.hpp"
#include "ratelimit/headers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    auto text = briefd::fuzz::as_text(data, size);
    (void)briefd::ratelimit::parse_http_date(text);
    boost::beast::http::fields h;
    const auto body = briefd::fuzz::read_header_lines(text, h, [](std::string_view) {});
    using namespace std::chrono;
    const auto now = system_clock::time_point(seconds(1'700'000'000));
    auto info = briefd::ratelimit::read_rate_headers(h, now, body);
    if (info.reset)
        FUZZ_CHECK(*info.reset >= seconds(0) && *info.reset <= briefd::ratelimit::max_reset);
    if (info.retry_after)
        FUZZ_CHECK(*info.retry_after >= seconds(0) &&
                   *info.retry_after <= briefd::ratelimit::max_retry_after);
    if (info.limit) FUZZ_CHECK(*info.limit >= 0);
    if (info.remaining) FUZZ_CHECK(*info.remaining >= 0);
    return 0;
}
