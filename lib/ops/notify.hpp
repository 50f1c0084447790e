// systemd service notifications (sd_notify(3)) and process limits for running under systemd.
//
// A thin wrapper over libsystemd: the daemon's event loop calls it; when NOTIFY_SOCKET is not set
// (foreground run, tests) every call is a cheap no-op. The environment is never unset, so a child
// process or a second notifier sees the same settings.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace briefd::ops {

class notifier {
  public:
    /// Reads NOTIFY_SOCKET, and WATCHDOG_USEC / WATCHDOG_PID through sd_watchdog_enabled(3), once.
    notifier();

    /// True when NOTIFY_SOCKET is set, i.e. systemd (or a test) listens.
    bool enabled() const noexcept { return enabled_; }

    /// "READY=1", plus the last STATUS= so `systemctl status` shows it from the first moment.
    void ready();
    /// "RELOADING=1" with "MONOTONIC_USEC=" (CLOCK_MONOTONIC µs), as Type=notify-reload requires
    /// and Type=notify accepts; send ready() when the reload is done.
    void reloading();
    /// "STOPPING=1": shutdown has begun.
    void stopping();
    /// "STATUS=<one_line>", sent only when it differs from the last one; CR/LF and other control
    /// characters become spaces so the line cannot smuggle in another KEY=VALUE assignment.
    void status(std::string_view one_line);
    /// "WATCHDOG=1". Call from the main event loop (not a side thread) so a hung loop is detected.
    void watchdog();
    /// Half of WATCHDOG_USEC (sd_watchdog_enabled(3) recommends pinging at that rate), or nullopt
    /// when the watchdog is off or meant for another process (WATCHDOG_PID ≠ getpid()).
    std::optional<std::chrono::microseconds> watchdog_interval() const noexcept {
        return watchdog_interval_;
    }
    /// "EXTEND_TIMEOUT_USEC=<µs>": asks for more time to start, reload or stop.
    void extend_timeout(std::chrono::microseconds more);

    /// The error of the last failed sd_notify call (cleared by the next successful one). Diagnostic
    /// only.
    std::error_code last_error() const noexcept { return last_error_; }
    /// The last STATUS= text sent (after sanitising).
    const std::string& current_status() const noexcept { return status_; }

  private:
    void send(const std::string& state);

    bool enabled_ = false;
    std::optional<std::chrono::microseconds> watchdog_interval_;
    std::string status_;
    std::error_code last_error_;
};

/// Raises the RLIMIT_NOFILE soft limit to the hard limit (thousands of SSE streams need fds);
/// returns the soft limit in force afterwards (unchanged if raising failed).
std::uint64_t raise_fd_limit();

}  // namespace briefd::ops
