// `briefd validate FILE…` and `briefd submit FILE…`: the daemon's whole validation of brief files
// (app input schemas included), and for submit the Maildir-style drop into incoming/.
#include "cli/validate.hpp"
#include "spool/spool.hpp"
#include "verbs/options.hpp"
#include "verbs/verbs.hpp"

#include <iostream>

namespace briefd::verbs {

namespace {

constexpr const char* validate_usage = R"(Usage: briefd validate [OPTION]... FILE...
Check brief files the way briefd checks them before spending any credit: JSON/YAML syntax,
sizes and limits, required fields and types, provider limits, the provider being
configured, and app inputs against each app's published schema (fetched from the provider
with the configured API key). Nothing is submitted.

Every problem is printed as "file: item N: field: message", the words briefd writes to
failed/<name>.error.json.

  -c, --config FILE   configuration file (default /etc/briefd/briefd.yaml)
      --no-schemas    skip the app schema check (no network, no key needed)
  -q, --quiet         print problems only, not the "ok" lines
  -h, --help          display this help and exit

Exit status: 0 when every file is valid; 1 when any file has a problem (or on a
configuration error); 2 on a usage error.
)";

constexpr const char* submit_usage = R"(Usage: briefd submit [OPTION]... FILE...
Validate brief files as `briefd validate` does, then drop each into the spool's incoming/
the Maildir way: written under a hidden temporary name in incoming/, fsynced, then renamed
(never replacing a file there: a taken name gets -2, -3…), so briefd sees the whole file
at once. If any file is invalid, nothing is submitted. Works whether briefd
is running or not; it picks the files up when it runs.

  -c, --config FILE   configuration file (default /etc/briefd/briefd.yaml)
      --no-schemas    skip the app schema check (no network, no key needed)
  -h, --help          display this help and exit

Exit status: 0 when every file was submitted; 1 when a file is invalid or could not be
written (or on a configuration error); 2 on a usage error.
)";

constexpr option_spec validate_specs[] = {
    {"config", 'c', true}, {"no-schemas", 0, false}, {"quiet", 'q', false}};
constexpr option_spec submit_specs[] = {{"config", 'c', true}, {"no-schemas", 0, false}};

/// Validates the files named in `a`; prints the problems. nullopt on a configuration error.
std::optional<std::vector<cli::file_report>> check(std::string_view verb, const parsed_args& a,
                                                   std::optional<config::config>& cfg, bool quiet) {
    cfg = load_config(a.get("config", std::string(default_config)));
    if (!cfg) return std::nullopt;
    std::map<std::string, secret> keys;
    cli::validate_options vo;
    vo.schemas = !a.has("no-schemas");
    if (vo.schemas) {
        // A provider whose key cannot be read only matters for briefs that need its schemas.
        for (const auto& [name, p] : cfg->providers) {
            auto k = config::load_api_key(p);
            if (auto* s = std::get_if<secret>(&k)) keys[name] = *s;
        }
    }
    std::vector<std::filesystem::path> files(a.positional.begin(), a.positional.end());
    auto reports = cli::validate_files(*cfg, keys, files, vo);
    for (const auto& r : reports) {
        for (const auto& p : r.problems) std::cerr << p.to_string() << "\n";
        if (r.ok() && !quiet)
            std::cout << r.path.string() << ": ok (" << r.provider << ", " << r.items
                      << (r.items == 1 ? " item)\n" : " items)\n");
    }
    (void)verb;
    return reports;
}

}  // namespace

int validate_main(std::span<char*> args) {
    auto started = start_verb("validate", args, validate_specs, validate_usage);
    if (auto* rc = std::get_if<int>(&started)) return *rc;
    auto* a = &std::get<parsed_args>(started);
    if (a->positional.empty()) return usage_error("validate", "no FILE given");
    std::optional<config::config> cfg;
    auto reports = check("validate", *a, cfg, a->has("quiet"));
    if (!reports) return exit_failed;
    for (const auto& r : *reports)
        if (!r.ok()) return exit_failed;
    return exit_ok;
}

int submit_main(std::span<char*> args) {
    auto started = start_verb("submit", args, submit_specs, submit_usage);
    if (auto* rc = std::get_if<int>(&started)) return *rc;
    auto* a = &std::get<parsed_args>(started);
    if (a->positional.empty()) return usage_error("submit", "no FILE given");
    std::optional<config::config> cfg;
    auto reports = check("submit", *a, cfg, true);
    if (!reports) return exit_failed;
    std::size_t bad = 0;
    for (const auto& r : *reports) bad += !r.ok();
    if (bad) {
        std::cerr << "briefd submit: " << bad << " of " << reports->size()
                  << " file(s) invalid; nothing was submitted\n";
        return exit_failed;
    }
    spool::layout l{cfg->spool, cfg->outputs};
    if (auto ec = spool::ensure_dirs(l)) {
        std::cerr << "briefd submit: cannot use the spool " << l.root.string() << ": "
                  << ec.message() << "\n";
        return exit_failed;
    }
    int rc = exit_ok;
    for (const auto& r : *reports) {
        auto [ec, name] = spool::deliver(l, r.name, r.bytes);
        if (ec) {
            std::cerr << "briefd submit: " << r.path.string() << ": cannot write into "
                      << l.incoming().string() << ": " << ec.message() << "\n";
            rc = exit_failed;
            continue;
        }
        std::cout << r.path.string() << ": submitted as " << (l.incoming() / name).string() << " ("
                  << r.items << (r.items == 1 ? " item)\n" : " items)\n");
    }
    return rc;
}

}  // namespace briefd::verbs
