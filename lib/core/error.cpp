#include "core/error.hpp"

#include "core/utf8.hpp"

#include <algorithm>
#include <cerrno>

namespace briefd {
namespace {

class category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "briefd"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::connect_timeout: return "connect timed out";
            case errc::handshake_timeout: return "TLS handshake timed out";
            case errc::write_timeout: return "sending the request timed out";
            case errc::read_timeout: return "reading the response timed out";
            case errc::connection_closed: return "connection closed before a complete response";
            case errc::tls_error: return "TLS failure";
            case errc::resolve_failed: return "host name did not resolve";
            case errc::proxy_refused: return "the proxy refused the tunnel";
            case errc::proxy_auth_required: return "the proxy wants authentication (407)";
            case errc::rate_limited: return "rate limited (429)";
            case errc::server_error: return "server error";
            case errc::unauthorized: return "API key rejected (401)";
            case errc::forbidden: return "access denied (403)";
            case errc::payment_required: return "out of credits";
            case errc::not_found: return "not found (404)";
            case errc::rejected: return "request rejected by the provider";
            case errc::malformed_response: return "malformed response";
            case errc::unexpected_status: return "unexpected HTTP status";
            case errc::body_too_large: return "body larger than the configured limit";
            case errc::sse_refused: return "server offers no event stream for this run";
            case errc::sse_idle_timeout: return "event stream idle for too long";
            case errc::sse_stream_ended: return "event stream ended before the run finished";
            case errc::download_truncated: return "download truncated";
            case errc::checksum_mismatch: return "download checksum mismatch";
            case errc::download_too_slow: return "download slower than the minimum rate";
            case errc::brief_invalid: return "invalid brief";
            case errc::brief_too_large: return "brief file too large";
            case errc::brief_not_regular: return "brief is not a regular file";
            case errc::config_invalid: return "invalid configuration";
            case errc::secret_unavailable: return "API key unavailable";
            case errc::unsafe_path: return "unsafe path";
            case errc::run_failed: return "run failed";
            case errc::run_cancelled: return "run cancelled";
            case errc::outcome_uncertain: return "submission outcome unknown";
            case errc::shutting_down: return "shutting down";
        }
        return "unknown briefd error";
    }
};

}  // namespace

const std::error_category& category() noexcept {
    static const category_impl instance;
    return instance;
}

bool is_retryable(std::error_code ec) noexcept {
    if (!ec) return false;
    if (ec.category() == category()) {
        switch (static_cast<errc>(ec.value())) {
            case errc::connect_timeout:
            case errc::handshake_timeout:
            case errc::write_timeout:
            case errc::read_timeout:
            case errc::connection_closed:
            case errc::resolve_failed:
            case errc::proxy_refused:
            case errc::rate_limited:
            case errc::server_error:
            case errc::malformed_response:
            case errc::sse_idle_timeout:
            case errc::sse_stream_ended:
            case errc::download_truncated:
            case errc::checksum_mismatch:
            case errc::download_too_slow:
                return true;
            default:
                return false;
        }
    }
    // Asio's system category shares errno values with the system category on POSIX.
    const std::string_view cat = ec.category().name();
    if (ec.category() == std::system_category() || ec.category() == std::generic_category() ||
        cat == "asio.system") {
        switch (ec.value()) {
            case ECONNRESET:
            case ECONNREFUSED:
            case ECONNABORTED:
            case EPIPE:
            case ETIMEDOUT:
            case EHOSTUNREACH:
            case ENETUNREACH:
            case ENETDOWN:
            case EAGAIN:
                return true;
            default:
                return false;
        }
    }
    if (cat == "asio.misc") return ec.value() == 2;   // asio::error::eof: peer closed mid-exchange
    if (cat == "asio.netdb") return ec.value() == 2;  // host_not_found_try_again
    if (cat == "asio.ssl.stream") return true;        // stream_truncated: connection cut under TLS
    if (cat == "beast.http") return true;             // partial message, bad chunk: a cut connection
    return false;
}

std::string diagnostics::clean(std::string_view in, std::size_t max) {
    // Repair first (every invalid byte becomes U+FFFD), then blank out control characters, then
    // cut at a sequence boundary: the result is valid UTF-8 whatever the server sent.
    std::string out = utf8::repair(in.substr(0, max + 4 < max ? in.size() : max + 4));
    for (auto& ch : out) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f) ch = ' ';
    }
    out.resize(utf8::truncate(out, max).size());
    return out;
}

bool is_disk_problem(std::error_code ec) noexcept {
    if (!ec) return false;
    if (ec.category() != std::system_category() && ec.category() != std::generic_category())
        return false;
    switch (ec.value()) {
        case ENOSPC:
        case EDQUOT:
        case EROFS:
        case EACCES:
        case EPERM:
        case EIO:
        case EMFILE:
        case ENFILE:
        case ENOMEM:
            return true;
        default:
            return false;
    }
}

}  // namespace briefd
