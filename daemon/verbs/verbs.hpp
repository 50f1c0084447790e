// The verbs of the briefd command line (DESIGN §6, §13): `briefd [run]` is the daemon itself,
// the others are tools for operators. Each takes the arguments after its name (argv[0] is the
// verb) and returns the process exit status:
//   0 success, 1 the operation failed (invalid brief, no such job, …), 2 usage error,
//   3 the daemon is not running or does not answer (status, cancel).
#pragma once

#include <span>
#include <string_view>

namespace briefd::verbs {

using verb_main = int (*)(std::span<char*> args);

struct verb {
    std::string_view name;
    verb_main main;
    std::string_view summary;  ///< one line for `briefd --help`
};

int run_main(std::span<char*> args);
int status_main(std::span<char*> args);
int validate_main(std::span<char*> args);
int submit_main(std::span<char*> args);
int retry_main(std::span<char*> args);
int cancel_main(std::span<char*> args);

/// Every verb, `run` first.
std::span<const verb> verbs();

constexpr int exit_ok = 0, exit_failed = 1, exit_usage = 2, exit_not_running = 3;

}  // namespace briefd::verbs
