#include "ops/notify.hpp"

#include <systemd/sd-daemon.h>

#include <sys/resource.h>
#include <time.h>

#include <cstdlib>
#include <fstream>

namespace briefd::ops {
namespace {

std::string sanitize_line(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) c = ' ';
    }
    return out;
}

std::uint64_t monotonic_usec() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000u +
           static_cast<std::uint64_t>(ts.tv_nsec) / 1'000u;
}

}  // namespace

notifier::notifier() {
    const char* sock = std::getenv("NOTIFY_SOCKET");
    enabled_ = sock != nullptr && *sock != '\0';
    std::uint64_t usec = 0;
    // > 0: enabled for this process; 0: off or for another pid (WATCHDOG_PID); < 0: malformed
    // variables.
    if (::sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
        watchdog_interval_ = std::chrono::microseconds(usec / 2);
}

void notifier::send(const std::string& state) {
    if (!enabled_) return;
    // unset_environment = 0: keep NOTIFY_SOCKET so later calls (and other notifiers) still work.
    int r = ::sd_notify(0, state.c_str());
    if (r < 0)
        last_error_ = std::error_code(-r, std::system_category());
    else
        last_error_.clear();
}

void notifier::ready() {
    std::string msg = "READY=1";
    if (!status_.empty()) msg += "\nSTATUS=" + status_;
    send(msg);
}

void notifier::reloading() {
    send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()));
}

void notifier::stopping() {
    send("STOPPING=1");
}

void notifier::status(std::string_view one_line) {
    std::string line = sanitize_line(one_line);
    if (line == status_) return;
    status_ = std::move(line);
    send("STATUS=" + status_);
}

void notifier::watchdog() {
    send("WATCHDOG=1");
}

void notifier::extend_timeout(std::chrono::microseconds more) {
    auto n = more.count() < 0 ? 0 : more.count();
    send("EXTEND_TIMEOUT_USEC=" + std::to_string(n));
}

std::uint64_t raise_fd_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rlimit want = rl;
        want.rlim_cur = rl.rlim_max;
        // The kernel refuses an infinite soft limit for NOFILE; its real ceiling is fs.nr_open.
        if (want.rlim_cur == RLIM_INFINITY) {
            std::ifstream nr_open("/proc/sys/fs/nr_open");
            std::uint64_t n = 0;
            if (nr_open >> n && n > 0) want.rlim_cur = static_cast<rlim_t>(n);
        }
        if (::setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
    }
    return static_cast<std::uint64_t>(rl.rlim_cur);
}

}  // namespace briefd::ops
