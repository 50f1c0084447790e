// The webhook delivery queue: a real HTTP/1.1 client (Beast) on the simulator's io_context that
// POSTs each event to its subscriber, at least once: non-2xx answers and connection errors are
// retried after the provider's backoff (API seconds, divided by --time-scale) up to a bounded
// count. Every attempt is signed afresh ("Each retry has a fresh signature", PROVIDERS §1.6).
// Deliveries go to loopback addresses only: anything else is counted and never sent.
#pragma once

#include "../server.hpp"
#include "../state.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace briefd::sim::webhooks {

enum class provider { lamina, hrizn, layers };
std::string_view to_string(provider p) noexcept;
/// The provider's bit in fault_settings::faults_on.
unsigned provider_bit_of(provider p) noexcept;

/// When a failed attempt is tried again. Sans-I/O: next_retry() decides, the queue waits.
struct retry_policy {
    std::vector<double> delays_s;  ///< API seconds before retry 1, 2, ...; bounds the retries
    bool retry_4xx = true;         ///< false: a 4xx other than 429 ends the delivery at once
};

/// The documented (or, where unknown, chosen) schedules; see sim/README.md "Webhooks".
retry_policy lamina_retries();  ///< 3 retries after 5 s, 30 s, 2 min; any non-2xx
retry_policy hrizn_retries();   ///< 3 retries after 15 s, 60 s, 4 min (schedule unknown)
retry_policy layers_retries();  ///< 5 attempts: 30 s, 1 min, 5 min, 15 min; 4xx but 429 final

/// After attempt `attempt` (0 = the first) ended with HTTP `status` (0 = no response: connect
/// error, timeout, reset), the delay in API seconds before the next attempt; none when the
/// delivery is over (a 2xx, a final 4xx, or no retries left).
std::optional<double> next_retry(const retry_policy& p, unsigned attempt, unsigned status);

/// One event on its way to one subscriber.
struct delivery {
    provider from = provider::lamina;
    std::string url;   ///< http://<loopback>[:port]/path
    std::string body;  ///< the raw JSON bytes sent (and signed)
    std::vector<std::pair<std::string, std::string>> headers;  ///< fixed across attempts
    /// Adds the signature headers for an attempt made at Unix time `now` (called per attempt).
    std::function<void(std::int64_t now, std::string_view body, http::fields& h)> sign;
    retry_policy policy;
};

/// Where a URL points when it is deliverable: loopback address, port and request target.
struct loopback_target {
    std::string address;  ///< 127.0.0.1, ::1, ...
    std::uint16_t port = 80;
    std::string target;  ///< path and query, "/" at least
    std::string host;    ///< the Host header value
};
/// Parses `url`; none unless it is http:// to a loopback address or "localhost".
std::optional<loopback_target> parse_loopback(std::string_view url);

class delivery_queue {
  public:
    delivery_queue(asio::any_io_executor ex, sim_state& st) : ex_(std::move(ex)), st_(st) {}

    /// Sends `d` until a 2xx or the policy gives up, counting every attempt in
    /// st.counters.webhooks. Each attempt has the receiver timeout (--webhook-timeout-s, API
    /// seconds, at least 1 real second) for connect, write and read together. Completes with
    /// true when a 2xx arrived. Never throws for network trouble.
    asio::awaitable<bool> async_deliver(delivery d);

    const asio::any_io_executor& executor() const noexcept { return ex_; }

  private:
    /// One attempt: the HTTP status, or 0 when no response arrived.
    asio::awaitable<unsigned> async_attempt(const loopback_target& t, const delivery& d);

    asio::any_io_executor ex_;
    sim_state& st_;
};

}  // namespace briefd::sim::webhooks
