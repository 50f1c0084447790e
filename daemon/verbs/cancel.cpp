// `briefd cancel JOB`: asks the running daemon to cancel a job (POST /jobs/<job>/cancel on
// status.listen). The daemon cancels its runs where the provider allows and files the job in
// failed/ with the reason "cancelled by operator".
#include "cli/control.hpp"
#include "core/error.hpp"
#include "verbs/options.hpp"
#include "verbs/verbs.hpp"

#include <boost/json.hpp>

#include <iostream>

namespace briefd::verbs {

namespace {

constexpr const char* usage = R"(Usage: briefd cancel [OPTION]... JOB
Cancel an active job: the running briefd stops submitting its items, cancels its runs at
the provider where the API allows it (Lamina), and files the brief in failed/ with the
reason "cancelled by operator". Outputs already saved stay. `briefd retry JOB` sends the
items that did not complete back later.

  -c, --config FILE   configuration file (default /etc/briefd/briefd.yaml)
      --listen ADDR   ask ADDR (host:port) instead of the configured status.listen
  -h, --help          display this help and exit

Exit status: 0 when the job was cancelled; 1 when there is no active job of that name
(or on a configuration error); 2 on a usage error; 3 when briefd is not running.
)";

constexpr option_spec specs[] = {{"config", 'c', true}, {"listen", 0, true}};

std::string text_of(const boost::json::value& v, std::string_view key) {
    if (!v.is_object()) return {};
    const auto* x = v.as_object().if_contains(key);
    if (x && x->is_string()) return std::string(x->as_string());
    if (x && x->is_number()) return boost::json::serialize(*x);
    return {};
}

}  // namespace

int cancel_main(std::span<char*> args) {
    auto started = start_verb("cancel", args, specs, usage);
    if (auto* rc = std::get_if<int>(&started)) return *rc;
    auto* a = &std::get<parsed_args>(started);
    if (a->positional.size() != 1) return usage_error("cancel", "give exactly one JOB");
    const auto& job = a->positional[0];
    auto address = daemon_address("cancel", *a);
    if (!address) return exit_failed;
    const auto& listen = *address;
    auto r = cli::call_daemon(listen, boost::beast::http::verb::post, {"jobs", job, "cancel"});
    if (r.what != cli::daemon_reply::outcome::answered) {
        std::cerr << "briefd cancel: " << r.message << "\n";
        return r.what == cli::daemon_reply::outcome::failed ? exit_failed : exit_not_running;
    }
    std::error_code ec;
    auto v = boost::json::parse(r.body, ec);
    if (ec) v = nullptr;
    if (r.status == 200 || r.status == 202) {
        auto n = text_of(v, "cancelled_runs");
        std::cout << "briefd cancel: " << job << " cancelled"
                  << (n.empty() ? "" : " (" + n + " run(s) cancelled at the provider)")
                  << "; it is filed in failed/ as \"cancelled by operator\"\n";
        return exit_ok;
    }
    auto why = diagnostics::clean(text_of(v, "error"), 300);
    if (r.status == 404) {
        std::cerr << "briefd cancel: " << (why.empty() ? "no active job named " + job : why)
                  << "\n";
        return exit_failed;
    }
    std::cerr << "briefd cancel: briefd answered HTTP " << r.status
              << (why.empty() ? "" : ": " + why) << "\n";
    return exit_failed;
}

}  // namespace briefd::verbs
