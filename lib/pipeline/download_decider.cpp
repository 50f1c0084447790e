#include "pipeline/download_decider.hpp"

#include "core/error.hpp"


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

}  // namespace briefd::pipeline
