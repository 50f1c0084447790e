// `briefd retry JOB`: a failed job's failed items go back to incoming/ as a new job.
#include "cli/retry.hpp"
#include "verbs/options.hpp"
#include "verbs/verbs.hpp"

#include <iostream>

namespace briefd::verbs {

namespace {

constexpr const char* usage = R"(Usage: briefd retry [OPTION]... JOB
Send the failed items of a job filed in failed/ back to briefd as a new job, JOB-retry1
(a retry of JOB-retry1 becomes JOB-retry2). The new brief keeps the original's shared
fields and only the items that failed; items whose run completed are not generated again,
even if one of their outputs could not be saved. Nothing is overwritten: the failed brief,
its error file and its outputs stay as they are. Works with the daemon stopped (the new
brief waits in incoming/).

  -c, --config FILE   configuration file (default /etc/briefd/briefd.yaml)
      --force         retry even if JOB was already retried (a retry still queued or
                      running is always refused)
  -n, --dry-run       say what would be sent back, change nothing
  -h, --help          display this help and exit

Exit status: 0 when the items were queued; 1 when there is no failed job JOB, nothing in
it to retry, or the spool cannot be written; 2 on a usage error.
)";

constexpr option_spec specs[] = {
    {"config", 'c', true}, {"force", 0, false}, {"dry-run", 'n', false}};

std::string list(const std::vector<std::size_t>& v) {
    std::string s;
    for (auto i : v) s += (s.empty() ? "" : ", ") + std::to_string(i);
    return s;
}

}  // namespace

int retry_main(std::span<char*> args) {
    auto started = start_verb("retry", args, specs, usage);
    if (auto* rc = std::get_if<int>(&started)) return *rc;
    auto* a = &std::get<parsed_args>(started);
    if (a->positional.size() != 1) return usage_error("retry", "give exactly one JOB");
    auto cfg = load_config(a->get("config", std::string(default_config)));
    if (!cfg) return exit_failed;
    spool::layout l{cfg->spool, cfg->outputs};
    cli::retry_options ro;
    ro.max_brief_bytes = cfg->max_brief_bytes;
    ro.force = a->has("force");
    auto planned = cli::plan_retry(l, a->positional[0], ro);
    if (auto* err = std::get_if<std::string>(&planned)) {
        std::cerr << "briefd retry: " << *err << "\n";
        return exit_failed;
    }
    auto& plan = std::get<cli::retry_plan>(planned);
    for (const auto& [i, why] : plan.kept)
        std::cout << plan.job << ": item " << i << " not retried: " << why << "\n";
    const auto file = plan.new_job + ".json";
    if (a->has("dry-run")) {
        std::cout << plan.job << ": would send item(s) " << list(plan.items) << " back as "
                  << (l.incoming() / file).string() << "\n";
        return exit_ok;
    }
    auto [ec, name] = spool::deliver(l, file, plan.content);
    if (ec) {
        std::cerr << "briefd retry: cannot write into " << l.incoming().string() << ": "
                  << ec.message() << "\n";
        return exit_failed;
    }
    std::cout << plan.job << ": item(s) " << list(plan.items) << " sent back as "
              << (l.incoming() / name).string()
              << " (item k of the new job is item k of that list)\n";
    return exit_ok;
}

}  // namespace briefd::verbs
