// `briefd validate` and `briefd submit`: the daemon's whole validation of a brief file, run from
// the command line before anything is dropped — the same parse and limits as intake, the provider
// check, and the app input schemas fetched from the provider with the configured key — so a
// brief that passes here is not refused as invalid by the daemon.
#pragma once

#include "brief/brief.hpp"
#include "config/config.hpp"
#include "core/secret.hpp"

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace briefd::cli {

struct file_report {
    std::filesystem::path path;  ///< as given
    std::string name;            ///< its file name, which the problems (and failed/ files) use
    std::string provider;        ///< the brief's provider, when it parsed
    std::size_t items = 0;
    std::string bytes;  ///< the file's content as read (what submit drops)
    std::vector<brief::problem> problems;
    bool ok() const { return problems.empty(); }
};

struct validate_options {
    /// Fetch each app's input schema (GET /v1/apps/{id} at Lamina) and check the inputs against
    /// it. false: syntax, limits and fields only, no network.
    bool schemas = true;
};

/// Validates each file as the daemon's intake would under `cfg`: read (a regular file of at most
/// max_brief_bytes), parse with the same limits, the brief's provider configured and supported,
/// then the input schemas of app runs, one request per distinct app with the provider's key
/// from `keys` (a provider whose key is missing is reported as a problem of the items that need
/// it). A schema that cannot be fetched (network, rejected key) is a problem too: the brief has
/// not been shown to be valid. Never throws for a bad file; each report lists all its problems.
std::vector<file_report> validate_files(const config::config& cfg,
                                        const std::map<std::string, secret>& keys,
                                        const std::vector<std::filesystem::path>& files,
                                        const validate_options& opt = {});

}  // namespace briefd::cli
