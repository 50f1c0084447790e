// briefsim for integration tests: start the built simulator on loopback, learn its origins
// (Lamina API, files, Hrizn, Layers) from its "listening" line, read its counters, switch faults at
// runtime, stop it with SIGTERM. Plus a small blocking HTTP(S) client for tests (its own
// io_context, a hard deadline).
//
// The briefsim binary path is compiled in as BRIEFSIM_PATH (set on briefd_test_support by
// sim/CMakeLists.txt); the environment variable BRIEFSIM overrides it. A test target that uses
// sim_process should call `briefd_use_briefsim(<target>)` in CMake so briefsim is built first.
#pragma once

#include "support/process.hpp"

#include <boost/json/value.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace briefd::testing {

struct http_request_options {
    std::string method = "GET";
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::chrono::milliseconds timeout{10000};  ///< for the whole exchange
    std::filesystem::path
        ca_file;  ///< https: trust this CA and check the host name; empty = no verification
};

struct http_reply {
    unsigned status = 0;                         ///< 0: no response head arrived
    std::map<std::string, std::string> headers;  ///< names lower-cased
    std::string body;                            ///< what arrived (decoded from chunked)
    bool complete = false;                       ///< the whole message arrived
    bool timed_out = false;                      ///< the deadline ended the exchange
    std::string error;                           ///< transport error text; empty if none

    /// A header value, "" when absent; `name` is case-insensitive.
    std::string header(std::string_view name) const;
};

/// One request over a fresh connection to `url` (http:// or https://). Never throws for network
/// trouble: look at status/complete/error. `until`, if set, is called with the body so far after
/// every read and ends the exchange early (connection closed) when it returns true: use it to
/// read a never-ending SSE stream up to some event.
http_reply http_fetch(const std::string& url, const http_request_options& opt = {},
                      const std::function<bool(std::string_view body)>& until = {});

struct sim_process_options {
    std::filesystem::path stderr_file;  ///< briefsim's stderr; empty = inherit
    std::chrono::milliseconds startup_timeout{15000};
    std::filesystem::path ca_file;  ///< for stats()/set_faults() over HTTPS
    bool verbose = false;           ///< false adds --quiet (no per-request log)
};

class sim_process {
  public:
    /// Starts briefsim with `args` (e.g. {"--time-scale", "200", "--no-video"}); waits for its
    /// listening line. Throws std::runtime_error if it does not come up in time.
    explicit sim_process(std::vector<std::string> args = {}, sim_process_options opt = {});
    ~sim_process();
    sim_process(const sim_process&) = delete;
    sim_process& operator=(const sim_process&) = delete;

    const std::string& api_url() const noexcept {
        return api_url_;
    }  ///< e.g. http://127.0.0.1:41234
    const std::string& files_url() const noexcept { return files_url_; }  ///< the second origin
    /// Hrizn's base URL, e.g. http://127.0.0.1:41235/v1/public (briefd's base_url for Hrizn).
    const std::string& hrizn_url() const noexcept { return hrizn_url_; }
    /// The Layers origin, e.g. http://127.0.0.1:41236 (briefd's base_url for Layers).
    const std::string& layers_url() const noexcept { return layers_url_; }
    /// The first --key passed, or briefsim's default key.
    const std::string& api_key() const noexcept { return key_; }
    /// The first --hrizn-key passed (without its scopes), or briefsim's default Hrizn key.
    const std::string& hrizn_key() const noexcept { return hrizn_key_; }

    /// GET /_sim/stats. Throws std::runtime_error if the simulator does not answer.
    boost::json::value stats() const;
    /// POST /_sim/faults with `faults` (e.g. {"sse-stall": true}); returns the settings now in
    /// force. Throws std::runtime_error when briefsim rejects them.
    boost::json::value set_faults(const boost::json::value& faults) const;
    /// POST /_sim/stats/reset.
    void reset_stats() const;

    /// A request to the API origin carrying the API key (x-api-key).
    http_reply api(std::string_view method, std::string_view target, std::string body = {},
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) const;

    /// A request to hrizn_url() + `target` (e.g. "/content/batch") carrying X-API-Key: `key`, or
    /// hrizn_key() when `key` is empty, plus `headers`.
    http_reply hrizn(std::string_view method, std::string_view target, std::string body = {},
                     std::vector<std::pair<std::string, std::string>> headers = {},
                     std::string key = {}) const;
    /// The first --layers-key passed (without its scopes), or briefsim's default Layers key.
    const std::string& layers_key() const noexcept { return layers_key_; }

    /// A request to layers_url() + `target` (e.g. "/v1/jobs/job_...") carrying
    /// Authorization: Bearer `key`, or layers_key() when `key` is empty, plus `headers`.
    http_reply layers(std::string_view method, std::string_view target, std::string body = {},
                      std::vector<std::pair<std::string, std::string>> headers = {},
                      std::string key = {}) const;
    /// POST /_sim/layers with `settings` (credits, limits, unknown-shape switches, cancel);
    /// returns the settings now in force. Throws std::runtime_error when briefsim rejects them.
    boost::json::value set_layers(const boost::json::value& settings) const;

    /// POST /_sim/hrizn with `settings` (keys, limits, unknown-shape switches); returns the
    /// settings now in force. Throws std::runtime_error when briefsim rejects them.
    boost::json::value set_hrizn(const boost::json::value& settings) const;

    /// SIGTERM, then wait; returns how it ended (nullopt if it did not stop in time).
    std::optional<exit_status> stop(
        std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

    child_process& process() noexcept { return proc_; }

    /// The binary that will be started: $BRIEFSIM, else BRIEFSIM_PATH.
    static std::string binary();

  private:
    http_reply control(std::string_view method, std::string_view target, std::string body) const;
    sim_process_options opt_;
    child_process proc_;
    std::string api_url_, files_url_, hrizn_url_, layers_url_, key_, hrizn_key_, layers_key_;
};

}  // namespace briefd::testing
