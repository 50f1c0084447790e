// The HTTP(S) server: four listeners (API origin, files origin, Hrizn origin, Layers origin), a
// keep-alive connection loop per socket, and the seam where a provider surface plugs in. A surface
// answers a request either with a complete response or by streaming through `http_io` (SSE, large
// files) itself.
#pragma once

#include "state.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/url_view.hpp>

#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace briefd::sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

/// The connection as a streaming handler sees it.
class http_io {
  public:
    virtual ~http_io() = default;
    /// Writes raw bytes (a response head or body bytes). Completes with the write's error.
    virtual asio::awaitable<beast::error_code> write(std::string_view bytes) = 0;
    /// Starts watching for the peer to close; `on_gone` runs once when it does (or the read fails).
    /// The watch ends by itself when the connection is closed.
    virtual void watch_peer(std::function<void()> on_gone) = 0;
    /// Closes the connection abruptly: no final chunk, no TLS close_notify.
    virtual void abort() = 0;
};

/// The handler wrote the response itself. keep_alive: the connection can carry another request.
struct streamed {
    bool keep_alive = false;
};
using handler_result = std::variant<response, streamed>;

struct request_context {
    const request& req;
    std::string client;  ///< peer address, the rate-limit key
    http_io& io;
};

class surface {
  public:
    virtual ~surface() = default;
    virtual asio::awaitable<handler_result> handle(request_context& ctx) = 0;
};

/// The head of a response as bytes (status line, fields, blank line).
std::string serialize_head(const http::response_header<>& h);

/// `{"data": ...}`-style JSON response helper; applies the extra-fields fault.
response json_response(sim_state& st, http::status status, boost::json::value body);

/// Adds the extra-fields fault's unknown member to every object in `v`, recursively.
void add_extra_fields(boost::json::value& v);

/// True when `segs` (decoded path segments) have the shape `pattern`: literal segments, and "*"
/// for any one non-empty segment.
bool path_matches(const std::vector<std::string>& segs,
                  std::initializer_list<std::string_view> pattern);
/// The decoded value of query parameter `name`; none when absent (or there is no URL).
std::optional<std::string> query_param(const std::optional<boost::urls::url_view>& url,
                                       std::string_view name);

// Pieces of the fault pipeline every provider surface runs in front of its endpoints.

/// Whole seconds in `d`, rounded up; 0 for a duration <= 0.
std::int64_t ceil_seconds(std::chrono::steady_clock::duration d);
// `provider` is the surface's provider_bit: faults-on may spare it.

/// Waits out the slow-headers fault (real milliseconds, not scaled); completes at once when off.
asio::awaitable<void> slow_headers(const sim_state& st, unsigned provider);
/// How long the storm-429 window still lasts at `now`; none when no storm is on at `now`.
std::optional<std::chrono::steady_clock::duration> storm_left(
    const sim_state& st, std::chrono::steady_clock::time_point now, unsigned provider);
/// Draws the fail-5xx fault for a request of endpoint family `family` (counts nothing).
bool draw_fail_5xx(sim_state& st, unsigned family, unsigned provider);
/// Draws the malformed-json fault for a 2xx response and cuts its body in half when it fires.
/// True when the body was cut (the caller counts it).
bool maybe_malform(sim_state& st, response& res, unsigned provider);

class server {
  public:
    /// `api` answers on the API origin, `files` on the files origin, `hrizn` (if set) on a third
    /// origin of its own (--hrizn-port), `layers` (if set) on a fourth (--layers-port).
    server(asio::io_context& ioc, sim_state& st, surface& api, surface& files,
           surface* hrizn = nullptr, surface* layers = nullptr);
    ~server();

    /// Binds the listeners (throws std::system_error on failure) and starts accepting.
    void listen();
    /// Closes the listeners; open connections finish their current exchange.
    void close();

    std::string api_url() const;
    std::string files_url() const;
    /// The Hrizn origin (scheme, host, port; no base path); empty without a Hrizn surface.
    std::string hrizn_url() const;
    /// The Layers origin (briefd's base_url for Layers); empty without a Layers surface.
    std::string layers_url() const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace briefd::sim
