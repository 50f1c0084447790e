#include "support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace briefd::testing {

namespace {

exit_status decode(int st) {
    exit_status s;
    if (WIFEXITED(st)) {
        s.exited = true;
        s.code = WEXITSTATUS(st);
    } else if (WIFSIGNALED(st)) {
        s.signal = WTERMSIG(st);
    }
    return s;
}

}  // namespace

child_process::child_process(std::vector<std::string> argv, process_options opt) {
    if (argv.empty()) throw std::invalid_argument("child_process: empty argv");
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("child_process: pipe failed");

    // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
    std::map<std::string, std::string> env;
    for (char** e = environ; e && *e; ++e) {
        std::string kv = *e;
        auto eq = kv.find('=');
        if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : opt.env) env[k] = v;
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp, args;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    for (auto& s : argv) args.push_back(s.data());
    args.push_back(nullptr);
    const std::string err_path = opt.stderr_file.string(), cwd = opt.cwd.string();
    const pid_t parent = ::getpid();

    pid_ = ::fork();
    if (pid_ < 0) {
        ::close(fds[0]);
        ::close(fds[1]);
        throw std::runtime_error("child_process: fork failed");
    }
    if (pid_ == 0) {
        // If the test process dies (a crash, a watchdog), the child must not outlive it: an orphan
        // would hold the test's output pipe open and keep its ports.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        ::dup2(fds[1], STDOUT_FILENO);
        if (!err_path.empty()) {
            const int fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0) ::dup2(fd, STDERR_FILENO);
        }
        if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(127);
        ::execvpe(args[0], args.data(), envp.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    out_fd_ = fds[0];
}

child_process::child_process(child_process&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      out_fd_(std::exchange(o.out_fd_, -1)),
      buffer_(std::move(o.buffer_)),
      status_(std::move(o.status_)) {}

child_process::~child_process() {
    if (pid_ > 0 && !status_) {
        ::kill(pid_, SIGKILL);
        int st = 0;
        while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
        }
    }
    if (out_fd_ >= 0) ::close(out_fd_);
}

bool child_process::fill(std::chrono::milliseconds timeout) {
    if (out_fd_ < 0) return false;
    pollfd p{out_fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (r <= 0) return false;
    char buf[4096];
    const ssize_t n = ::read(out_fd_, buf, sizeof buf);
    if (n <= 0) {
        ::close(out_fd_);
        out_fd_ = -1;
        return false;
    }
    buffer_.append(buf, static_cast<std::size_t>(n));
    return true;
}

std::optional<std::string> child_process::read_line(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
            std::string line = buffer_.substr(0, nl);
            buffer_.erase(0, nl + 1);
            return line;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 || out_fd_ < 0) return std::nullopt;
        fill(left);
    }
}

std::string child_process::read_available() {
    while (fill(std::chrono::milliseconds(0))) {
    }
    return std::exchange(buffer_, {});
}

bool child_process::signal(int sig) {
    if (pid_ <= 0 || status_) return false;
    return ::kill(pid_, sig) == 0;
}

std::optional<exit_status> child_process::wait(std::chrono::milliseconds timeout) {
    if (status_) return status_;
    if (pid_ <= 0) return std::nullopt;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int st = 0;
        const pid_t r = ::waitpid(pid_, &st, WNOHANG);
        if (r == pid_) {
            status_ = decode(st);
            return status_;
        }
        if (r < 0 && errno != EINTR) return std::nullopt;
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

bool child_process::running() { return pid_ > 0 && !wait(std::chrono::milliseconds(0)); }

}  // namespace briefd::testing
