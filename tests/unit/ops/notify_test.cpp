// The notifier against a real AF_UNIX datagram socket standing in for systemd's notify socket.
#include "ops/notify.hpp"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

namespace {

/// Sets (or unsets) an environment variable for one test and restores the old value afterwards,
/// because every test shares the process environment in the unit_tests binary.
class env_guard {
  public:
    env_guard(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value)
            ::setenv(name, value, 1);
        else
            ::unsetenv(name);
    }
    ~env_guard() {
        if (old_)
            ::setenv(name_.c_str(), old_->c_str(), 1);
        else
            ::unsetenv(name_.c_str());
    }
    env_guard(const env_guard&) = delete;
    env_guard& operator=(const env_guard&) = delete;

  private:
    std::string name_;
    std::optional<std::string> old_;
};

/// A bound SOCK_DGRAM socket in a fresh temp dir (short path: sun_path holds 108 bytes).
class fake_systemd {
  public:
    fake_systemd() {
        char tmpl[] = "/tmp/briefd-ops-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir_ = tmpl;
        path_ = dir_ + "/notify";
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        REQUIRE(path_.size() < sizeof(addr.sun_path));
        std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
        // A bound on every receive, so a missing datagram fails the test instead of hanging it.
        timeval tv{5, 0};
        REQUIRE(::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
    }
    ~fake_systemd() {
        ::close(fd_);
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    fake_systemd(const fake_systemd&) = delete;
    fake_systemd& operator=(const fake_systemd&) = delete;

    const std::string& path() const { return path_; }

    /// The next datagram, or nullopt after the receive timeout.
    std::optional<std::string> next() {
        char buf[4096];
        ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
        if (n < 0) return std::nullopt;
        return std::string(buf, static_cast<std::size_t>(n));
    }
    /// True when no datagram is queued. sd_notify's sendmsg on a local datagram socket has queued
    /// the message before it returns, so "nothing queued now" means "nothing was sent".
    bool empty() {
        char buf[16];
        ssize_t n = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }

  private:
    std::string dir_;
    std::string path_;
    int fd_ = -1;
};

std::uint64_t now_monotonic_usec() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000u +
           static_cast<std::uint64_t>(ts.tv_nsec) / 1'000u;
}

}  // namespace

TEST_CASE("notifier sends READY, STOPPING and WATCHDOG datagrams to NOTIFY_SOCKET") {
    fake_systemd sd;
    env_guard sock("NOTIFY_SOCKET", sd.path().c_str());
    briefd::ops::notifier n;
    REQUIRE(n.enabled());

    n.ready();
    CHECK(sd.next() == "READY=1");
    n.watchdog();
    CHECK(sd.next() == "WATCHDOG=1");
    n.stopping();
    CHECK(sd.next() == "STOPPING=1");
    n.extend_timeout(std::chrono::seconds(10));
    CHECK(sd.next() == "EXTEND_TIMEOUT_USEC=10000000");
    CHECK(sd.empty());
    CHECK_FALSE(n.last_error());
    // The environment is kept: libsystemd was told not to unset it.
    CHECK(std::getenv("NOTIFY_SOCKET") != nullptr);
}

TEST_CASE("RELOADING carries a plausible CLOCK_MONOTONIC timestamp") {
    fake_systemd sd;
    env_guard sock("NOTIFY_SOCKET", sd.path().c_str());
    briefd::ops::notifier n;

    auto before = now_monotonic_usec();
    n.reloading();
    auto after = now_monotonic_usec();
    auto msg = sd.next();
    REQUIRE(msg);
    const std::string prefix = "RELOADING=1\nMONOTONIC_USEC=";
    REQUIRE(msg->starts_with(prefix));
    auto digits = msg->substr(prefix.size());
    REQUIRE_FALSE(digits.empty());
    CHECK(digits.find_first_not_of("0123456789") == std::string::npos);
    auto usec = std::stoull(digits);
    CHECK(usec >= before);
    CHECK(usec <= after);
}

TEST_CASE("STATUS is sent only when it changes, without line breaks, and READY repeats it") {
    fake_systemd sd;
    env_guard sock("NOTIFY_SOCKET", sd.path().c_str());
    briefd::ops::notifier n;

    n.status("queued 1, active 0");
    n.status("queued 1, active 0");  // unchanged: not sent
    n.status("queued 0, active 1");
    CHECK(sd.next() == "STATUS=queued 1, active 0");
    CHECK(sd.next() == "STATUS=queued 0, active 1");
    CHECK(sd.empty());

    // A newline would start a second assignment (e.g. READY=1) in the datagram.
    n.status("bad\nREADY=1\r");
    CHECK(sd.next() == "STATUS=bad READY=1 ");
    CHECK(n.current_status() == "bad READY=1 ");

    n.status("steady");
    CHECK(sd.next() == "STATUS=steady");
    n.ready();
    CHECK(sd.next() == "READY=1\nSTATUS=steady");
    CHECK(sd.empty());
}

TEST_CASE("without NOTIFY_SOCKET the notifier is disabled and sends nothing") {
    env_guard sock("NOTIFY_SOCKET", nullptr);
    briefd::ops::notifier n;
    CHECK_FALSE(n.enabled());
    n.ready();
    n.status("x");
    n.watchdog();
    CHECK_FALSE(n.last_error());
    CHECK(n.current_status() == "x");
}

TEST_CASE("a NOTIFY_SOCKET nobody listens on is reported as an error, not thrown") {
    char tmpl[] = "/tmp/briefd-ops-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    std::string missing = std::string(tmpl) + "/nobody";
    env_guard sock("NOTIFY_SOCKET", missing.c_str());
    briefd::ops::notifier n;
    REQUIRE(n.enabled());
    n.ready();
    CHECK(n.last_error());
    std::filesystem::remove_all(tmpl);
}

TEST_CASE("watchdog_interval is half of WATCHDOG_USEC when WATCHDOG_PID is ours") {
    auto pid = std::to_string(::getpid());
    SUBCASE("our pid") {
        env_guard usec("WATCHDOG_USEC", "2000000");
        env_guard wpid("WATCHDOG_PID", pid.c_str());
        briefd::ops::notifier n;
        REQUIRE(n.watchdog_interval());
        CHECK(*n.watchdog_interval() == std::chrono::seconds(1));
    }
    SUBCASE("another process's pid") {
        env_guard usec("WATCHDOG_USEC", "2000000");
        auto other = std::to_string(::getpid() == 1 ? 2 : 1);
        env_guard wpid("WATCHDOG_PID", other.c_str());
        briefd::ops::notifier n;
        CHECK_FALSE(n.watchdog_interval());
    }
    SUBCASE("no watchdog") {
        env_guard usec("WATCHDOG_USEC", nullptr);
        env_guard wpid("WATCHDOG_PID", nullptr);
        briefd::ops::notifier n;
        CHECK_FALSE(n.watchdog_interval());
    }
    SUBCASE("malformed WATCHDOG_USEC") {
        env_guard usec("WATCHDOG_USEC", "soon");
        env_guard wpid("WATCHDOG_PID", pid.c_str());
        briefd::ops::notifier n;
        CHECK_FALSE(n.watchdog_interval());
    }
}

TEST_CASE("raise_fd_limit lifts the soft RLIMIT_NOFILE to the hard limit") {
    rlimit saved{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
    // Start from a lowered soft limit so the raise is observable even if the runner already raised
    // it.
    rlimit low = saved;
    low.rlim_cur = std::min<rlim_t>(saved.rlim_max, 256);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);

    auto got = briefd::ops::raise_fd_limit();
    rlimit now{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &now) == 0);
    CHECK(got == now.rlim_cur);
    if (saved.rlim_max != RLIM_INFINITY) CHECK(now.rlim_cur == saved.rlim_max);
    CHECK(now.rlim_cur >= low.rlim_cur);

    ::setrlimit(RLIMIT_NOFILE, &saved);
}
