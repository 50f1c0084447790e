#include "pipeline/download_decider.hpp"

#include "core/error.hpp"

#include <cctype>

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
    bool retryable = f.mismatch || (is_retryable(f.ec) && f.ec != errc::body_too_large);
    if (!retryable) return download_verdict::give_up;
    return f.attempt + 1 < max_attempts ? download_verdict::retry : download_verdict::give_up;
}

namespace {
/// The media type of a Content-Type value, lower-cased, without parameters or spaces.
std::string media_type(std::string_view ct) {
    ct = ct.substr(0, ct.find(';'));
    std::string out;
    for (char c : ct)
        if (c != ' ' && c != '\t') out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    return out;
}
}  // namespace

std::string body_problem(const body_facts& f) {
    if (f.bytes == 0) return "empty body";
    const std::string enc = media_type(f.content_encoding);
    if (!enc.empty() && enc != "identity")
        return "Content-Encoding " + enc.substr(0, 32) +
               ", which briefd does not decode (it asked for identity)";
    const bool media = f.output_type == "image" || f.output_type == "video" || f.output_type == "audio";
    if (media && media_type(f.content_type) == "text/html")
        return "the files host answered with an HTML page (text/html), not the " +
               std::string(f.output_type);
    return {};
}

}  // namespace briefd::pipeline
