// briefd — turns brief files dropped into a spool directory into generated content on disk.
// This file only picks the verb: `briefd [run]` is the daemon (verbs/run.cpp), the others are
// operator tools (verbs/*.cpp) built on lib/cli.
#include "verbs/verbs.hpp"

#include <iostream>
#include <string_view>

namespace briefd::verbs {

std::span<const verb> verbs() {
    static constexpr verb all[] = {
        {"run", run_main, "run the daemon (the default when no command is given)"},
        {"status", status_main, "show providers and active jobs of the running daemon"},
        {"validate", validate_main, "check brief files fully, app schemas included"},
        {"submit", submit_main, "validate brief files, then drop them into incoming/"},
        {"retry", retry_main, "send a failed job's failed items back as a new job"},
        {"cancel", cancel_main, "cancel an active job's runs and file it as cancelled"},
    };
    return all;
}

}  // namespace briefd::verbs

int main(int argc, char** argv) {
    using namespace briefd::verbs;
    std::span<char*> args(argv, static_cast<std::size_t>(argc));
    // No command, or an option first: the daemon, with today's options (`briefd --config F`).
    if (args.size() < 2 || std::string_view(args[1]).starts_with("-")) return run_main(args);
    std::string_view name = args[1];
    for (const auto& v : verbs())
        if (v.name == name) return v.main(args.subspan(1));
    std::cerr << "briefd: unknown command '" << name
              << "'\nTry 'briefd --help' for more information.\n";
    return exit_usage;
}
