// The receiver's decisions, without I/O (DESIGN §12 "Webhooks"): which provider a request is for,
// whether its signature holds (by the provider's scheme), whether Lamina's signing key should be
// fetched again, and whether a delivery was seen before. lib/pipeline/webhook_channel.cpp carries
// them out on the shared HTTP server (lib/http/server) and the providers' clients.
#pragma once

#include "webhooks/verify.hpp"

#include <boost/beast/http/fields.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace briefd::webhooks {

/// The path part of public_url, without a trailing slash ("" for "https://host", "/briefd" for
/// "https://host/briefd/"); deliveries for provider P arrive at "<base>/P".
std::string base_path(std::string_view public_url);

/// The provider a request-target names, "<base>/<provider>" (a query is ignored, a trailing
/// slash tolerated); nullopt when the target is anything else.
std::optional<std::string> route(std::string_view base, std::string_view target);

/// What a provider's deliveries are checked with.
struct credentials {
    std::string_view secret;                         ///< Hrizn, Layers: the subscription secret
    const std::vector<ed25519_key>* keys = nullptr;  ///< Lamina: the published keys
};

/// Checks one delivery by `provider`'s scheme (lamina, hrizn, layers), reading its signature
/// headers from `headers`. An unknown provider is `unsigned_`.
verdict verify_delivery(std::string_view provider, const boost::beast::http::fields& headers,
                        std::string_view body, const credentials& c, std::int64_t now,
                        std::chrono::seconds tolerance = default_tolerance);

/// Lamina's published keys, cached. Fetched when there are none and again when a signature fails
/// against them (a rotation), but never more than once per `min_interval`, so forged deliveries
/// cannot make briefd hammer the provider.
class key_cache {
  public:
    using clock = std::chrono::steady_clock;
    explicit key_cache(clock::duration min_interval = std::chrono::minutes(1))
        : min_interval_(min_interval) {}

    const std::vector<ed25519_key>& keys() const noexcept { return keys_; }
    /// True when a fetch may start now: none in flight, and none started within min_interval
    /// (the very first fetch is always allowed).
    bool may_fetch(clock::time_point now) const;
    /// A fetch starts (call only when may_fetch).
    void fetch_started(clock::time_point now);
    /// The fetch ended: the new keys, or empty on failure (the old ones are kept then).
    void fetch_done(std::vector<ed25519_key> keys);
    bool fetching() const noexcept { return fetching_; }

  private:
    clock::duration min_interval_;
    std::vector<ed25519_key> keys_;
    std::optional<clock::time_point> last_start_;
    bool fetching_ = false;
};

/// Delivery keys seen recently (provider + event id, or run id + status), the oldest forgotten
/// past `capacity`. A retried delivery long after its first (Layers retries for up to 32 h) is
/// still harmless: by then the run is finished and the engine ignores it.
class seen_set {
  public:
    explicit seen_set(std::size_t capacity = 8192) : capacity_(capacity) {}
    bool contains(const std::string& key) const { return set_.count(key) != 0; }
    void insert(std::string key);
    std::size_t size() const noexcept { return set_.size(); }

  private:
    std::size_t capacity_;
    std::unordered_set<std::string> set_;
    std::deque<std::string> order_;
};

}  // namespace briefd::webhooks
