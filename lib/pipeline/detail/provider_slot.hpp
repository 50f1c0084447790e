// Everything briefd holds for one configured provider (provider_slot.cpp), and the coroutine
// semaphore the engine's components use to bound concurrent work (engine.cpp).
#pragma once

#include "config/config.hpp"
#include "core/log.hpp"
#include "http/client.hpp"
#include "pipeline/tracker_fsm.hpp"
#include "providers/provider.hpp"
#include "scheduler/host.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/url/url.hpp>

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>

namespace briefd::pipeline::detail {

namespace asio = boost::asio;

/// A counting semaphore for coroutines on one thread.
class semaphore {
  public:
    semaphore(asio::any_io_executor ex, std::size_t n) : ex_(ex), free_(n) {}
    asio::awaitable<void> acquire();
    void release();

  private:
    asio::any_io_executor ex_;
    std::size_t free_;
    std::deque<asio::steady_timer*> waiters_;
};

/// Kept-alive connections a provider's client parks per origin: at least the default
/// max_concurrent_downloads (16), so concurrent downloads from one CDN reuse their connections.
inline constexpr std::size_t max_idle_connections_per_origin = 32;

/// Everything briefd holds for one configured provider.
struct provider_slot {
    provider_slot(asio::any_io_executor ex, const providers::provider& api,
                  config::provider_config cfg, const secret* key, logger& log, std::uint64_t seed);

    const providers::provider& api;
    config::provider_config cfg;
    boost::urls::url base_url;
    http::client client;
    std::unique_ptr<scheduler::host> host;

    const std::string& name() const { return cfg.name; }
    /// An http::request for `c` against base_url: segments appended one by one (percent-encoded),
    /// query set, the provider's headers, the request deadline from config.
    http::request request(const providers::api_call& c) const;
    /// Tracker knobs for a run with these channels under this provider's tracking config.
    tracker_config tracker_cfg(unsigned channels) const;
    bool uses_list(unsigned channels) const;
    void set_key(const secret& key);
    /// Applies what can change live.
    void reload(const config::provider_config& n);
};

}  // namespace briefd::pipeline::detail
