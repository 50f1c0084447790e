// Talking to the running daemon's status server (status.listen, DESIGN §13): GET /status and
// POST /jobs/<job>/cancel, for `briefd status` and `briefd cancel`. Blocking calls with their own
// io_context: the command line does one request and exits.
#pragma once

#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace briefd::cli {

struct daemon_reply {
    enum class outcome {
        answered,     ///< an HTTP response arrived (any status)
        not_running,  ///< nothing listens there (connection refused)
        no_answer,    ///< connected or connecting, but no response before the deadline
        failed,       ///< another transport error, or `listen` is not host:port
    };
    outcome what = outcome::failed;
    unsigned status = 0;
    std::string body;
    /// For every outcome but answered, a sentence for the operator, e.g.
    /// "briefd is not running (no answer on 127.0.0.1:9464)".
    std::string message;
};

/// One request to the daemon at `listen` ("127.0.0.1:9464", "[::1]:9464", "localhost:9464") on
/// the path made of `segments` (each percent-encoded on its own, so a job name cannot add a
/// segment). Direct, never through a proxy. Completes within `timeout` (connect included).
daemon_reply call_daemon(std::string_view listen, boost::beast::http::verb method,
                         const std::vector<std::string>& segments,
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

}  // namespace briefd::cli
