// The gate in front of Boost.URL: whatever passes is_http_url_text may be parsed without reaching
// a Boost.URL 1.81 assertion (this build keeps assertions on).
#include "core/url_text.hpp"
#include "fuzz_check.hpp"

#include <boost/url/parse.hpp>

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    auto text = briefd::fuzz::as_text(data, size);
    if (!briefd::is_http_url_text(text)) return 0;
    if (auto u = boost::urls::parse_absolute_uri(text)) {
        (void)u->host();
        (void)u->path();
        FUZZ_CHECK(u->scheme().size() >= 4);
    }
    if (auto u = boost::urls::parse_uri(text)) (void)u->encoded_path();
    return 0;
}
