#include "pipeline/download_decider.hpp"

#include "core/error.hpp"
#include "core/url_text.hpp"
#include "store/paths.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>

namespace briefd::pipeline {

std::error_code download_status_error(unsigned s) {
    if (s / 100 == 2) return {};
    if (s == 404) return errc::not_found;
    if (s >= 500) return errc::server_error;
    return errc::unexpected_status;
}

download_verdict decide_download(const download_facts& f, unsigned max_attempts) {
    if (!f.ec && !f.mismatch) return download_verdict::save;
    if (is_disk_problem(f.ec)) return download_verdict::wait_for_disk;
    if (f.ec == errc::not_found)
        return f.attempt + 1 < std::min(max_attempts, not_found_attempts) ? download_verdict::retry
                                                                          : download_verdict::give_up;
    bool retryable = f.mismatch || (is_retryable(f.ec) && f.ec != errc::body_too_large);
    if (!retryable) return download_verdict::give_up;
    return f.attempt + 1 < max_attempts ? download_verdict::retry : download_verdict::give_up;
}

bool is_redirect(unsigned s) {
    return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

std::optional<boost::urls::url> redirect_target(const boost::urls::url& from,
                                                std::string_view location) {
    if (location.empty() || location.size() > 8192) return std::nullopt;
    // Untrusted text: only what is shaped like an http(s) URL, or a path, reaches Boost.URL.
    if (!is_printable_ascii(location)) return std::nullopt;
    boost::urls::url to;
    if (is_http_url_text(location)) {
        auto abs = boost::urls::parse_uri(location);
        if (!abs) return std::nullopt;
        to = *abs;
    } else if (location.front() == '/') {
        auto ref = boost::urls::parse_uri_reference(location);
        if (!ref) return std::nullopt;
        to = from;
        if (!to.resolve(*ref)) return std::nullopt;
    } else {
        return std::nullopt;
    }
    const auto scheme = to.scheme_id();
    if (scheme != boost::urls::scheme::http && scheme != boost::urls::scheme::https)
        return std::nullopt;
    if (from.scheme_id() == boost::urls::scheme::https && scheme != boost::urls::scheme::https)
        return std::nullopt;
    if (to.host().empty()) return std::nullopt;
    to.set_scheme_id(scheme);
    to.remove_fragment();
    return to;
}

std::string body_problem(const body_facts& f) {
    if (f.bytes == 0) return "empty body";
    const std::string enc = store::header_token(f.content_encoding);
    if (!enc.empty() && enc != "identity")
        return "Content-Encoding " + enc.substr(0, 32) +
               ", which briefd does not decode (it asked for identity)";
    const bool media = f.output_type == "image" || f.output_type == "video" || f.output_type == "audio";
    if (media && store::header_token(f.content_type) == "text/html")
        return "the files host answered with an HTML page (text/html), not the " +
               std::string(f.output_type);
    return {};
}

}  // namespace briefd::pipeline
