// The daemon's status server on status.listen (loopback by default, DESIGN §13):
//
//   GET  /metrics            Prometheus text exposition of the engine's metrics
//   GET  /status             JSON: the daemon, each provider (budget, pause and reason, in-flight
//                            requests, streams, queued items), each active job and its items
//   GET  /healthz            200 "ok" while the loop turns and nothing is blocked; 503 and the
//                            reason otherwise (stopping, a provider's key rejected, intake paused
//                            by the file system, the event loop stalled)
//   POST /jobs/<job>/cancel  202 {"job","cancelled_runs","items"}; 404 {"error"} when no active
//                            job has that id (<job> percent-encoded as one path segment)
//
// Everything is answered on the event loop from the engine's state; nothing is cached.
#pragma once

#include "config/config.hpp"
#include "core/log.hpp"
#include "http/server.hpp"
#include "pipeline/engine.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace briefd::status {

namespace asio = boost::asio;

/// The /status document for `st` (the shape ops-cli renders; fields are added, never renamed).
/// Strings are made valid UTF-8 when serialised (job ids are file names: bytes).
boost::json::value status_json(const pipeline::engine_status& st, std::string_view version,
                               std::int64_t uptime_s);
/// The same, serialised.
std::string status_text(const pipeline::engine_status& st, std::string_view version,
                        std::int64_t uptime_s);

class service {
  public:
    /// Serves `eng` (which must outlive the service) once listen() is called.
    service(asio::any_io_executor ex, pipeline::engine& eng, logger& log,
            http::server_options opts = default_options());
    ~service();
    service(const service&) = delete;
    service& operator=(const service&) = delete;

    /// Binds; throws std::system_error naming the address when it cannot.
    void listen(const asio::ip::tcp::endpoint& ep);
    asio::ip::tcp::endpoint local_endpoint() const { return server_.local_endpoint(); }
    /// Closes the listener and connections (the loop can then end). Idempotent.
    void stop();

    /// One request, as the server passes it (public for tests and benchmarks).
    asio::awaitable<http::server_response> handle(const http::server_request& req);

    /// Small limits: nothing here takes a body beyond a few bytes.
    static http::server_options default_options();

  private:
    http::server_response healthz() const;
    void tick();

    pipeline::engine& engine_;
    logger& log_;
    std::chrono::steady_clock::time_point started_;
    // A one-second heartbeat on the loop: a late beat means the loop was blocked.
    asio::steady_timer heartbeat_;
    std::chrono::steady_clock::time_point last_beat_;
    std::chrono::steady_clock::duration worst_lag_{};     ///< of the last stall
    std::chrono::steady_clock::time_point stalled_at_{};  ///< when it was seen
    http::server server_;
    bool stopped_ = false;
};

/// Starts the status server from the config: nullptr when status.listen is off. An address the
/// file names must bind (else std::system_error: a start-up error); the default one is best
/// effort (taken: logged as status.unavailable and nullptr). Logs status.listening with the bound
/// address (the real port when the config says port 0).
std::unique_ptr<service> start(asio::any_io_executor ex, const config::config& cfg,
                               pipeline::engine& eng, logger& log);

}  // namespace briefd::status
