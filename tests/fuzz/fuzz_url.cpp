// The gate in front of Boost.URL: whatever passes is_http_url_text may be parsed without reaching
// a Boost.URL 1.81 assertion (this build keeps assertions on). Also a download redirect's Location,
// which redirect_target resolves against the URL it came from.
#include "core/url_text.hpp"
#include "fuzz_check.hpp"
#include "pipeline/download_decider.hpp"

#include <boost/url/parse.hpp>

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    auto text = briefd::fuzz::as_text(data, size);
    static const boost::urls::url from("https://cdn.example:8443/a/b/x.png?sig=1");
    if (auto to = briefd::pipeline::redirect_target(from, text)) {
        FUZZ_CHECK(to->scheme() == "https");  // never a downgrade, never another scheme
        FUZZ_CHECK(!to->host().empty());
        (void)to->buffer();
    }
    if (!briefd::is_http_url_text(text)) return 0;
    if (auto u = boost::urls::parse_absolute_uri(text)) {
        (void)u->host();
        (void)u->path();
        FUZZ_CHECK(u->scheme().size() >= 4);
    }
    if (auto u = boost::urls::parse_uri(text)) (void)u->encoded_path();
    return 0;
}
