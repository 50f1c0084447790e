// briefd for integration tests: a throwaway root with spool/, outputs/, the key file and a
// generated briefd.yaml with fast timings (suited to a time-scaled briefsim), the daemon started
// as a real child process with its stderr in <root>/briefd.log, and helpers to drop briefs the
// way producers should and to wait for them to be filed.
//
// The briefd binary path is compiled in as BRIEFD_PATH (set on briefd_test_support by
// tests/support/CMakeLists.txt); the environment variable BRIEFD overrides it. A test target that
// uses daemon_process should depend on briefd in CMake so it is built first.
#pragma once

#include "support/process.hpp"

#include <boost/json/value.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace briefd::testing {

/// The binary that will be started: $BRIEFD, else BRIEFD_PATH.
std::string briefd_binary();

struct daemon_options {
    std::string api_url;  ///< briefsim's api_url()
    std::string api_key;  ///< written to <root>/lamina.key (mode 0600); the config names the file
    std::size_t rate_requests = 100;
    int rate_window_s = 60;
    std::string tracking_mode = "auto";  ///< auto | sse | wait | poll
    int poll_interval_ms = 500;
    int sse_idle_timeout_ms = 5000;
    /// Extra entries inside `tracking: { ... }`, e.g. "sse_max_failures: 1".
    std::string tracking_yaml;
    /// Extra top-level YAML lines (e.g. "on_uncertain: resubmit\n").
    std::string top_yaml;
    /// Extra lines under providers.lamina, already indented by 4 spaces.
    std::string provider_yaml;
    std::filesystem::path ca_file;  ///< for an https api_url
    /// A Hrizn provider beside Lamina when non-empty: briefsim's hrizn_url(); its key goes to
    /// <root>/hrizn.key.
    std::string hrizn_url;
    std::string hrizn_key;
    std::size_t hrizn_rate_requests = 60;
    int hrizn_rate_window_s = 60;
    std::size_t hrizn_per_day = 0;  ///< 0: not configured
    int hrizn_poll_interval_ms = 500;
    /// Extra lines under providers.hrizn, already indented by 4 spaces.
    std::string hrizn_yaml;
    /// A Layers provider beside Lamina when non-empty: briefsim's layers_url(); its key goes to
    /// <root>/layers.key.
    std::string layers_url;
    std::string layers_key;
    std::size_t layers_rate_requests = 120;
    int layers_rate_window_s = 1;
    /// Layers' class budgets (write-light, long-running per layers_rate_window_s, as briefsim's
    /// standard tier per its time-scaled minute) and its concurrent-jobs cap.
    std::size_t layers_write_requests = 60;
    std::size_t layers_long_requests = 20;
    std::size_t layers_max_concurrent_jobs = 10;
    /// tracking.schedule_scale for Layers: its documented poll schedule runs this much faster.
    int layers_schedule_scale = 1;
    /// Extra entries inside Layers' `tracking: { ... }`, e.g. "list: false".
    std::string layers_tracking_yaml;
    /// Extra lines under providers.layers, already indented by 4 spaces.
    std::string layers_yaml;
    /// Extra environment (NOTIFY_SOCKET=..., JOURNAL_STREAM=...).
    std::vector<std::pair<std::string, std::string>> env;
    /// status.listen; any free loopback port by default, so daemons of parallel tests never
    /// contend for 9464 (status_port() tells which one it got); empty: the key is left out.
    std::string status_listen = "127.0.0.1:0";
    std::chrono::milliseconds ready_timeout{20000};
    bool wait_ready = true;  ///< wait for the daemon.ready log line in start()
};

class daemon_process {
  public:
    /// Creates <root>/{spool,outputs}, writes <root>/briefd.yaml (settle_ms 200, rescan_interval_ms
    /// 1000, drain_timeout_ms 5000, batch linger_ms 300, sse_idle_timeout_ms 5000, poll_interval_ms
    /// 500, retry base_ms 100 cap_ms 2000 — fast settings suited to a time-scaled briefsim — plus
    /// the options) and starts briefd with stderr appended to <root>/briefd.log. Throws
    /// std::runtime_error if it does not become ready in time.
    daemon_process(std::filesystem::path root, daemon_options opt);
    ~daemon_process();  ///< SIGKILL if still running
    daemon_process(const daemon_process&) = delete;
    daemon_process& operator=(const daemon_process&) = delete;

    /// (Re)starts briefd after stop()/kill(); waits for daemon.ready when options say so.
    void start();
    /// SIGTERM and wait; nullopt if it did not end in time (it is then still running).
    std::optional<exit_status> stop(
        std::chrono::milliseconds timeout = std::chrono::milliseconds(15000));
    /// SIGKILL and wait (crash simulation).
    void kill();
    /// Sends `sig` to the daemon; false if it is not running.
    bool signal(int sig);
    /// The running (or last) child. Throws std::logic_error if never started.
    child_process& process();

    /// Writes content to spool/.<name>.tmp then renames it into spool/incoming/<name> (what
    /// producers should do).
    void drop(const std::string& name, std::string_view content);
    /// Waits until done/ + failed/ hold at least n briefs (not counting *.error.json).
    bool wait_filed(std::size_t n, std::chrono::milliseconds timeout);
    /// Waits until the log contains `needle` (polls the log file).
    bool wait_log(std::string_view needle, std::chrono::milliseconds timeout);

    std::vector<std::string> done() const;    ///< file names in done/, sorted
    std::vector<std::string> failed() const;  ///< brief names in failed/ (no .error.json), sorted
    /// outputs/<job>/manifest.json, parsed. Throws std::runtime_error if missing or not JSON.
    boost::json::value manifest(const std::string& job) const;
    /// failed/<name>.error.json, parsed. Throws std::runtime_error if missing or not JSON.
    boost::json::value error_file(const std::string& name) const;
    /// The port of the status server, from the last status.listening log line; 0 when none.
    std::uint16_t status_port() const;
    /// The whole of briefd.log so far.
    std::string log() const;
    /// The last `lines` lines of briefd.log (for failure messages).
    std::string log_tail(std::size_t lines = 40) const;

    const std::filesystem::path& root() const noexcept { return root_; }
    std::filesystem::path spool() const { return root_ / "spool"; }
    std::filesystem::path outputs() const { return root_ / "outputs"; }
    std::filesystem::path config_path() const { return root_ / "briefd.yaml"; }
    std::filesystem::path key_path() const { return root_ / "lamina.key"; }
    std::filesystem::path hrizn_key_path() const { return root_ / "hrizn.key"; }
    std::filesystem::path layers_key_path() const { return root_ / "layers.key"; }
    std::filesystem::path log_path() const { return root_ / "briefd.log"; }
    const daemon_options& options() const noexcept { return opt_; }

    /// Rewrites the key file (mode 0600) with `key`, e.g. before a SIGHUP.
    void write_key(std::string_view key);
    /// The same for the Hrizn key file.
    void write_hrizn_key(std::string_view key);
    /// The same for the Layers key file.
    void write_layers_key(std::string_view key);

  private:
    void write_config() const;
    std::filesystem::path root_;
    daemon_options opt_;
    std::optional<child_process> proc_;
};

}  // namespace briefd::testing
