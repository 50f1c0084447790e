#include "verbs/options.hpp"

#include <iostream>
#include <string_view>

namespace briefd::verbs {

int usage_error(std::string_view verb, std::string_view message) {
    std::cerr << "briefd " << verb << ": " << message << "\nTry 'briefd " << verb
              << " --help' for more information.\n";
    return 2;
}

std::optional<parsed_args> parse_options(std::string_view verb, std::span<char*> args,
                                         std::span<const option_spec> specs) {
    parsed_args out;
    bool options_done = false;
    for (std::size_t i = 1; i < args.size(); ++i) {
        std::string_view a = args[i];
        if (options_done || a == "-" || !a.starts_with("-")) {
            out.positional.emplace_back(a);
            continue;
        }
        if (a == "--") {
            options_done = true;
            continue;
        }
        if (a == "-h" || a == "--help") {
            out.values["help"] = "";
            continue;
        }
        const option_spec* spec = nullptr;
        std::optional<std::string> inline_value;
        if (a.starts_with("--")) {
            auto name = a.substr(2);
            if (auto eq = name.find('='); eq != std::string_view::npos) {
                inline_value = std::string(name.substr(eq + 1));
                name = name.substr(0, eq);
            }
            for (const auto& s : specs)
                if (s.long_name == name) spec = &s;
        } else if (a.size() == 2) {
            for (const auto& s : specs)
                if (s.short_name && s.short_name == a[1]) spec = &s;
        }
        if (!spec) {
            usage_error(verb, "unrecognized option '" + std::string(a) + "'");
            return std::nullopt;
        }
        std::string key(spec->long_name);
        if (!spec->takes_value) {
            if (inline_value) {
                usage_error(verb, "option '--" + key + "' takes no value");
                return std::nullopt;
            }
            out.values[key] = "";
            continue;
        }
        if (inline_value) {
            out.values[key] = *inline_value;
        } else if (i + 1 < args.size()) {
            out.values[key] = args[++i];
        } else {
            usage_error(verb, "option '" + std::string(a) + "' needs a value");
            return std::nullopt;
        }
    }
    return out;
}

std::variant<parsed_args, int> start_verb(std::string_view verb, std::span<char*> args,
                                          std::span<const option_spec> specs,
                                          std::string_view usage) {
    auto a = parse_options(verb, args, specs);
    if (!a) return 2;
    if (a->has("help")) {
        std::cout << usage;
        return 0;
    }
    return std::move(*a);
}

std::optional<config::config> load_config(const std::string& path) {
    auto loaded = config::load(path);
    if (auto* err = std::get_if<config::load_error>(&loaded)) {
        std::cerr << err->to_string() << "\n";
        return std::nullopt;
    }
    return std::get<config::config>(std::move(loaded));
}

bool load_keys(const config::config& cfg, std::map<std::string, secret>& keys, std::string& why) {
    for (const auto& [name, p] : cfg.providers) {
        auto k = config::load_api_key(p);
        if (auto* err = std::get_if<std::string>(&k)) {
            why = "providers." + name + ": " + *err;
            return false;
        }
        keys[name] = std::get<secret>(k);
    }
    return true;
}

std::optional<std::string> daemon_address(std::string_view verb, const parsed_args& a) {
    if (a.has("listen")) return a.get("listen");
    auto loaded = load_config(a.get("config", std::string(default_config)));
    if (!loaded) return std::nullopt;
    const auto& cfg = *loaded;
    const auto& listen = cfg.status.listen;
    if (listen.empty()) {
        std::cerr << "briefd " << verb << ": status.listen is off in " << cfg.source.string()
                  << ": briefd has no status server to ask\n";
        return std::nullopt;
    }
    if (listen.ends_with(":0")) {
        std::cerr << "briefd " << verb << ": status.listen in " << cfg.source.string()
                  << " is port 0 (any free port): give the one briefd logged (status.listening) "
                     "with --listen\n";
        return std::nullopt;
    }
    return listen;
}

}  // namespace briefd::verbs
