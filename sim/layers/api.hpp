// Layers' Partner API (PROVIDERS §3) on an origin of its own, no base path: Bearer auth with
// scopes, per-key rate limits by bucket class (read-light, write-light, long-running) and a daily
// write cap, Idempotency-Key and `id` UPSERT on generate, the org's concurrent-jobs cap, credits,
// the shared fault switches in front, then the jobs and content endpoints over the store.
#pragma once

#include "../files.hpp"
#include "../server.hpp"
#include "limits.hpp"
#include "store.hpp"

#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

namespace briefd::sim::layers {

class api final : public surface {
  public:
    explicit api(sim_state& st);
    asio::awaitable<handler_result> handle(request_context& ctx) override;

    /// GET /_sim/layers: the settings in force (with credits and running jobs). POST: changes
    /// them (see sim/README.md); atomic: a bad member gives 400 and changes nothing. New limits
    /// reset every budget and start a new day. {"cancel": "<jobId>"} cancels a running job.
    handler_result control(const request& req);

    /// The files origin's lookup of `/public-media/content-container/<c>/media/<a>.<ext>`:
    /// counts downloads and draws the corrupt fault for an asset's first GET.
    std::optional<file_spec> media(std::string_view container, std::string_view asset,
                                   std::string_view ext, bool download);

    store& jobs() noexcept { return store_; }

    struct exchange;  ///< one request in flight (defined in api.cpp)

    /// The webhook subscription endpoints (sim/webhooks): given the request, its path and the
    /// accepted key, an answer, or none when the path is not one of them. Runs after auth.
    std::function<std::optional<response>(const request&, std::string_view path,
                                          const std::string& key)>
        subscriptions;

  private:
    handler_result dispatch(exchange& ex);
    handler_result generate(exchange& ex);
    handler_result get_job(exchange& ex);
    handler_result list(exchange& ex);
    handler_result review(exchange& ex, bool approve);
    handler_result idempotent(exchange& ex, std::string_view idem_key);
    handler_result error_reply(const exchange& ex, http::status status, std::string_view code,
                               std::string_view message,
                               boost::json::value details = boost::json::object{}) const;
    void reset_limits();

    struct stored_response {
        std::string fingerprint;  ///< route + canonical body of the original request
        std::chrono::steady_clock::time_point expires;
        response res;
    };

    sim_state& st_;
    files_origin measurer_;  ///< computes asset sizes and checksums exactly as served
    store store_;
    class_limits limits_;
    std::unordered_map<std::string, stored_response>
        idempotency_;                                       ///< key + "\n" + Idempotency-Key
    std::unordered_map<std::string, stored_response> ids_;  ///< the `id` UPSERT store
};

/// `/_sim/layers` on the API origin's control surface.
class control_surface final : public surface {
  public:
    explicit control_surface(api& a) : api_(a) {}
    asio::awaitable<handler_result> handle(request_context& ctx) override {
        co_return api_.control(ctx.req);
    }

  private:
    api& api_;
};

}  // namespace briefd::sim::layers
