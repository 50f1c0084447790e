// A small GNU-style option parser shared by the operator verbs: `-c FILE`, `--config FILE`,
// `--config=FILE`, flags, `--` to end options, `-h/--help`. Usage errors print a clear message and
// the hint to --help on stderr; the caller then exits 2.
#pragma once

#include "config/config.hpp"
#include "core/secret.hpp"

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace briefd::verbs {

struct option_spec {
    std::string_view long_name;  ///< "config"
    char short_name = 0;         ///< 'c', or 0
    bool takes_value = false;
};

struct parsed_args {
    std::map<std::string, std::string, std::less<>> values;  ///< by long name; flags map to ""
    std::vector<std::string> positional;
    bool has(std::string_view name) const { return values.contains(name); }
    std::string get(std::string_view name, std::string fallback = {}) const {
        auto it = values.find(name);
        return it == values.end() ? fallback : it->second;
    }
};

/// Parses args[1..] of `verb` against `specs` (-h/--help is always known). nullopt after a usage
/// error was printed.
std::optional<parsed_args> parse_options(std::string_view verb, std::span<char*> args,
                                         std::span<const option_spec> specs);

/// parse_options(), then --help: the parsed arguments, or the exit status to return at once (0
/// after printing `usage` for --help, 2 after a usage error).
std::variant<parsed_args, int> start_verb(std::string_view verb, std::span<char*> args,
                                          std::span<const option_spec> specs,
                                          std::string_view usage);

/// Prints "briefd <verb>: <message>" and the --help hint to stderr; returns exit_usage.
int usage_error(std::string_view verb, std::string_view message);

/// The default configuration file, /etc/briefd/briefd.yaml.
inline constexpr std::string_view default_config = "/etc/briefd/briefd.yaml";

/// Loads the config; on failure prints "file:line: key: problem" and returns nullopt.
std::optional<config::config> load_config(const std::string& path);

/// Reads each configured provider's key. Errors name the source, never a value.
bool load_keys(const config::config& cfg, std::map<std::string, secret>& keys, std::string& why);

/// Where to ask the daemon: --listen, else the config's `status.listen` (--config). nullopt, after
/// saying why on stderr, when the config is broken, or the server is off or on port 0.
std::optional<std::string> daemon_address(std::string_view verb, const parsed_args& a);

}  // namespace briefd::verbs
