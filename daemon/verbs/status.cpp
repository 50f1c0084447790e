// `briefd status [--json]`: what the running daemon is doing, from GET /status on status.listen.
#include "cli/control.hpp"
#include "cli/status_view.hpp"
#include "verbs/options.hpp"
#include "verbs/verbs.hpp"

#include <boost/json/parse.hpp>

#include <iostream>

namespace briefd::verbs {

namespace {

constexpr const char* usage = R"(Usage: briefd status [OPTION]...
Show what the running briefd is doing: each provider's rate budget, pause and its reason,
requests in flight and streams open; each active job with every item's state, run id,
progress and outputs saved. Asks the daemon's status server (status.listen in the
configuration) with GET /status.

  -c, --config FILE   configuration file (default /etc/briefd/briefd.yaml)
      --listen ADDR   ask ADDR (host:port) instead of the configured status.listen
      --json          print the daemon's JSON as it is, for scripts
  -h, --help          display this help and exit

Exit status: 0 when the daemon answered; 1 on a configuration error or a bad answer;
2 on a usage error; 3 when briefd is not running or does not answer.
)";

constexpr option_spec specs[] = {{"config", 'c', true}, {"listen", 0, true}, {"json", 0, false}};

}  // namespace

int status_main(std::span<char*> args) {
    auto started = start_verb("status", args, specs, usage);
    if (auto* rc = std::get_if<int>(&started)) return *rc;
    auto* a = &std::get<parsed_args>(started);
    if (!a->positional.empty())
        return usage_error("status", "unexpected argument '" + a->positional[0] + "'");
    auto address = daemon_address("status", *a);
    if (!address) return exit_failed;
    const auto& listen = *address;
    auto r = cli::call_daemon(listen, boost::beast::http::verb::get, {"status"});
    if (r.what == cli::daemon_reply::outcome::not_running ||
        r.what == cli::daemon_reply::outcome::no_answer) {
        std::cerr << "briefd status: " << r.message << "\n";
        return exit_not_running;
    }
    if (r.what != cli::daemon_reply::outcome::answered) {
        std::cerr << "briefd status: " << r.message << "\n";
        return exit_failed;
    }
    std::error_code ec;
    auto v = boost::json::parse(r.body, ec);
    if (r.status != 200 || ec) {
        std::cerr << "briefd status: unexpected answer from " << listen << ": HTTP " << r.status
                  << (ec ? " (not JSON)" : "") << "\n";
        return exit_failed;
    }
    if (a->has("json")) {
        std::cout << r.body;
        if (!r.body.ends_with('\n')) std::cout << '\n';
    } else {
        std::cout << cli::render_status(v);
    }
    return exit_ok;
}

}  // namespace briefd::verbs
