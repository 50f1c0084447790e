// What to do after one attempt at downloading an output. Sans-I/O: download.cpp carries the verdict
// out (tests: tests/unit/pipeline/download_decider_test.cpp).
//
//   the attempt ended with                                   verdict
//   ─────────────────────────────────────────────────────    ─────────────────────────────────────────
//   the bytes, matching the provider's size and checksum     save
//   a disk problem (core's is_disk_problem: ENOSPC, EROFS…)  wait_for_disk (never counts as an attempt:
//                                                              the host's problem, not the output's)
//   a retryable failure (network, 5xx, truncated, too slow)  retry, until max_attempts, then give_up
//     or bytes that do not match the provider's checksum
//   larger than max_output_bytes, 404, another 4xx/3xx       give_up (the same request will not heal)
#pragma once

#include <system_error>

namespace briefd::pipeline {

enum class download_verdict { save, retry, wait_for_disk, give_up };

struct download_facts {
    std::error_code ec;      ///< transport, sink (disk) or status error of the attempt; empty: got the bytes
    bool mismatch = false;   ///< the bytes differ from the provider's size or sha256
    unsigned attempt = 0;    ///< 0-based number of this attempt (disk waits not counted)
};

/// The error a non-2xx download status stands for (empty for 2xx): 404 → not_found, 5xx →
/// server_error (retryable), anything else → unexpected_status.
std::error_code download_status_error(unsigned http_status);

download_verdict decide_download(const download_facts& f, unsigned max_attempts);

}  // namespace briefd::pipeline
