// A child process for integration tests: start argv (fork + exec) with extra environment,
// capture stdout through a pipe (stderr to a file or inherited), read lines with a deadline,
// signal it, wait for it with a deadline. The destructor kills (SIGKILL) and reaps a child that
// is still running, and the child gets SIGKILL if the test process dies first (PR_SET_PDEATHSIG,
// tied to the thread that constructed it), so a failing test never leaves a process behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace briefd::testing {

/// How a child ended.
struct exit_status {
    bool exited = false;   ///< true: ended by exit(code); false: killed by `signal`
    int code = 0;          ///< exit code when exited
    int signal = 0;        ///< terminating signal otherwise
    bool success() const noexcept { return exited && code == 0; }
};

struct process_options {
    /// Extra NAME=value pairs added to (or replacing in) the parent's environment.
    std::vector<std::pair<std::string, std::string>> env;
    /// Where the child's stderr goes; empty = inherit the test's stderr.
    std::filesystem::path stderr_file;
    /// Working directory; empty = the test's.
    std::filesystem::path cwd;
};

class child_process {
public:
    /// Starts argv[0] (looked up in PATH if it has no '/'). Throws std::runtime_error if fork
    /// fails; an exec failure shows up as exit code 127.
    explicit child_process(std::vector<std::string> argv, process_options opt = {});
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    child_process(child_process&& o) noexcept;
    child_process& operator=(child_process&&) = delete;

    pid_t pid() const noexcept { return pid_; }

    /// The next line of the child's stdout without its '\n'; nullopt on timeout or end of output.
    std::optional<std::string> read_line(std::chrono::milliseconds timeout);
    /// Everything the child has written to stdout so far and not yet read (non-blocking).
    std::string read_available();

    /// Sends `sig` (e.g. SIGTERM). False if the child is already reaped.
    bool signal(int sig);
    /// Waits for the child to end; nullopt on timeout (the child keeps running).
    std::optional<exit_status> wait(std::chrono::milliseconds timeout);
    /// True while the child has not been reaped and has not ended.
    bool running();

private:
    bool fill(std::chrono::milliseconds timeout);
    pid_t pid_ = -1;
    int out_fd_ = -1;
    std::string buffer_;
    std::optional<exit_status> status_;
};

}  // namespace briefd::testing
