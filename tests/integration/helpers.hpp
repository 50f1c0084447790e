// Shared pieces of the end-to-end tests: a "rig" (a temp dir, a briefsim and a briefd wired to
// it), brief builders, a sha256 of a file, and failure context (the tail of briefd.log).
#pragma once

#include "support/daemon_process.hpp"
#include "support/sim_process.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace briefd::it {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::daemon_options;
using testing::daemon_process;
using testing::sim_process;

/// briefsim's time scale for every test: a 20 API-second run takes 1/3 s, the 60 API-second rate
/// window lasts exactly 1 s (so briefd's integer per_seconds can match it), pings every 0.25 s.
constexpr int time_scale = 60;
/// Generous upper bound for a handful of briefs to be filed; never reached when things work.
constexpr auto filed_timeout = std::chrono::milliseconds(45000);

/// A fresh directory under /tmp, removed when the test ends (kept if BRIEFD_IT_KEEP is set).
class temp_dir {
  public:
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const fs::path& path() const noexcept { return path_; }

  private:
    fs::path path_;
};

struct rig_options {
    std::vector<std::string>
        sim_args;           ///< extra briefsim flags (fault switches, --rate-limit, ...)
    daemon_options daemon;  ///< api_url and api_key are filled in unless already set
    bool https = false;     ///< briefsim with a throwaway certificate, briefd trusting its CA
    bool trust_ca = true;   ///< with https: false leaves briefd without the CA (every handshake fails)
    int sim_rate_window_s =
        60;  ///< briefsim --rate-window-s (API seconds); briefd's window follows
    /// Configure briefd's Hrizn provider against briefsim's Hrizn origin (its default key and a
    /// window of 60 API seconds = 1 real second, like briefsim's default).
    bool hrizn = false;
    /// The same for Layers (briefsim's default Layers key).
    bool layers = false;
};

/// briefsim plus briefd on loopback, each with its log in the temp dir.
class rig {
  public:
    explicit rig(rig_options opt = {});
    temp_dir tmp;
    std::string
        key;  ///< the API key briefsim accepts (random per rig, so grepping for it means something)
    std::unique_ptr<sim_process> sim;
    std::unique_ptr<daemon_process> d;

    /// The last lines of briefd.log and briefsim's counters, for failure messages.
    std::string context() const;
    /// briefsim's counter `name` (a top-level number in /_sim/stats).
    std::uint64_t stat(const std::string& name) const;
    /// How many requests briefsim answered on `route` (e.g. "GET /v1/runs/{id}/stream"), any
    /// status.
    std::uint64_t route_count(const std::string& route) const;
    /// briefsim's Layers counter `name` (stats().layers.<name>).
    std::uint64_t layers_stat(const std::string& name) const;
    /// briefsim's Hrizn counter `name` (stats().hrizn.<name>).
    std::uint64_t hrizn_stat(const std::string& name) const;
    /// How many requests briefsim's Hrizn origin answered on `route` (e.g. "GET /v1/public/content").
    std::uint64_t hrizn_route_count(const std::string& route) const;
};

/// A Hrizn brief of `n` articles titled "<tag> <i>" (one ideacloud id, article types cycling).
std::string hrizn_brief(const std::string& tag, std::size_t n, const std::string& extra_item_json = {});

/// A JSON brief of `n` content items with distinct texts ("<tag> #i").
std::string content_brief(const std::string& tag, std::size_t n,
                          const std::string& modality = "image");
/// Hex sha256 of a file's bytes (OpenSSL EVP).
std::string sha256_file(const fs::path& p);
/// Every regular file under `dir`, recursively.
std::vector<fs::path> files_under(const fs::path& dir);
std::string read_file(const fs::path& p);
/// Checks every saved output of outputs/<job>: the file exists inside outputs/<job>/, its size and
/// sha256 match the manifest. Returns the number of saved outputs (CHECKs inside).
std::size_t check_outputs(const daemon_process& d, const std::string& job);

}  // namespace briefd::it

/// Attaches briefd's log tail and briefsim's counters to every failing assertion in scope.
#define RIG_CONTEXT(r) INFO((r).context())
