// Rate-limit headers and 429 bodies: "Name: value" lines, a blank line, then the body. Also the
// HTTP-date parser on its own. Nothing may overflow (UBSan) and every wait is within its bounds.
#include "fuzz_check.hpp"
#include "ratelimit/headers.hpp"

#include <boost/beast/http/fields.hpp>

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    auto text = briefd::fuzz::as_text(data, size);
    (void)briefd::ratelimit::parse_http_date(text);
    boost::beast::http::fields h;
    std::string_view body;
    while (!text.empty()) {
        auto eol = text.find('\n');
        auto line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        if (line.empty()) {
            body = text;
            break;
        }
        auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) continue;
        auto name = line.substr(0, colon);
        auto value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        boost::system::error_code ec;
        // Beast refuses bad names and values by throwing; a real response never carries them.
        bool ok = true;
        for (char c : name) ok = ok && c > 0x20 && c < 0x7f && c != ':';
        for (char c : value) ok = ok && c != '\r' && c != '\n' && c != '\0';
        if (ok) h.insert(name, value);
    }
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
