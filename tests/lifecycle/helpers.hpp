// Helpers for the life-cycle tests: throwaway roots, a real sd_notify socket, brief builders, and
// the end-of-test audit of a spool (every brief filed once, every saved file intact, no debris).
#pragma once

#include "support/daemon_process.hpp"
#include "support/sim_process.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace briefd::lifecycle {

/// A directory removed on destruction (kept when BRIEFD_KEEP_TEST_DIRS is set, for post-mortems).
class temp_root {
  public:
    explicit temp_root(std::string_view tag, const std::filesystem::path& base = "/tmp");
    ~temp_root();
    temp_root(const temp_root&) = delete;
    temp_root& operator=(const temp_root&) = delete;
    const std::filesystem::path& path() const noexcept { return path_; }

  private:
    std::filesystem::path path_;
};

/// One datagram the daemon sent to NOTIFY_SOCKET, with when it was received.
struct notify_message {
    std::string text;
    std::chrono::steady_clock::time_point at;
    bool has(std::string_view assignment) const;    ///< e.g. "READY=1": one of its lines
    std::string value(std::string_view key) const;  ///< "STATUS" → the text after "STATUS="
};

/// A bound AF_UNIX SOCK_DGRAM socket, the test's stand-in for systemd's notify socket.
class notify_socket {
  public:
    explicit notify_socket(const std::filesystem::path& path);
    ~notify_socket();
    notify_socket(const notify_socket&) = delete;
    notify_socket& operator=(const notify_socket&) = delete;
    const std::filesystem::path& path() const noexcept { return path_; }

    /// Reads every datagram that has arrived (non-blocking) into messages().
    void drain();
    /// Receives until `pred` holds for a message (checked on each new one), or the timeout.
    /// Returns the index of that message in messages(), or -1.
    long wait_for(const std::function<bool(const notify_message&)>& pred,
                  std::chrono::milliseconds timeout, std::size_t from = 0);
    const std::vector<notify_message>& messages() const noexcept { return messages_; }

  private:
    bool receive_one(int timeout_ms);
    std::filesystem::path path_;
    int fd_ = -1;
    std::vector<notify_message> messages_;
};

/// A content brief of `items` image items whose texts are unique (briefsim counts repeated
/// texts as duplicate submissions).
std::string content_brief(std::string_view tag, std::size_t items);
/// A Lamina app run (Product Shots, two image outputs) with a unique Upload URL.
std::string app_brief(std::string_view tag);

/// Counts occurrences of `needle` in `text`.
std::size_t count(std::string_view text, std::string_view needle);
/// Lines of `text` containing every one of `needles`.
std::vector<std::string> lines_with(std::string_view text,
                                    std::initializer_list<std::string_view> needles);

/// Integer counter `key` of briefsim's stats.
std::int64_t sim_stat(const testing::sim_process& sim, std::string_view key);

/// Lowercase hex SHA-256 of a file (OpenSSL EVP), "" if unreadable.
std::string sha256_file(const std::filesystem::path& p);

/// Polls `pred` every 20 ms until it holds or the timeout passes.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

/// Everything the audit found; `problems` empty means the spool is consistent.
struct audit_result {
    std::vector<std::string> problems;
    std::size_t done = 0, failed = 0, outputs_checked = 0;
    std::size_t failed_uncertain =
        0;  ///< failed briefs whose reason is "submission outcome unknown"
};

/// Checks a finished spool against the names dropped: each dropped name filed exactly once (done/
/// or failed/, under its own name), incoming/ and active/ empty, a manifest for every job whose
/// saved files exist with the recorded size and sha256, an error file for every failed brief,
/// one outputs/ directory per job, no temp/partial files (.part, .tmp, .dl, dot-files) anywhere.
audit_result audit_spool(const testing::daemon_process& d, const std::set<std::string>& dropped);

}  // namespace briefd::lifecycle
