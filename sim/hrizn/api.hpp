// Hrizn's public API (PROVIDERS §2) on an origin of its own, under /v1/public: X-API-Key auth with
// scopes and key states, per-key rate limits (minute window and daily cap), X-Idempotency-Key on
// the POSTs, the shared fault switches in front, then the content endpoints over the store.
#pragma once

#include "../server.hpp"
#include "content.hpp"
#include "limits.hpp"

#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

namespace briefd::sim::hrizn {

/// The base path of every Hrizn endpoint: briefd's base_url is <origin>/v1/public.
inline constexpr std::string_view base_path = "/v1/public";

class api final : public surface {
  public:
    api(sim_state& st, content_store& store);
    asio::awaitable<handler_result> handle(request_context& ctx) override;

    /// GET /_sim/hrizn: the settings in force. POST /_sim/hrizn: changes them (see sim/README.md);
    /// atomic: a bad member gives 400 and changes nothing. New limits reset every budget and
    /// start a new day.
    handler_result control(const request& req);

    struct exchange;  ///< one request in flight (defined in api.cpp)

    /// The webhook subscription endpoints (sim/webhooks): given the request, its path and the
    /// accepted key, an answer, or none when the path is not one of them. Runs after auth.
    std::function<std::optional<response>(const request&, std::string_view path,
                                          const std::string& key)>
        subscriptions;

  private:
    handler_result dispatch(exchange& ex);
    handler_result batch(exchange& ex);
    handler_result create(exchange& ex);
    handler_result generate(exchange& ex, item& it);
    handler_result list(exchange& ex);
    handler_result html(exchange& ex, const item& it);
    /// Answers a POST carrying X-Idempotency-Key: a replay, a conflict, or dispatch + store.
    handler_result idempotent(exchange& ex, std::string_view idem_key);
    handler_result error_reply(const exchange& ex, http::status status, std::string_view code,
                               std::string_view message,
                               boost::json::value details = nullptr) const;
    void reset_limits();

    struct stored_response {
        std::string fingerprint;  ///< route + canonical body of the original request
        std::chrono::steady_clock::time_point expires;
        response res;
    };

    sim_state& st_;
    content_store& store_;
    key_limits limits_;
    std::unordered_map<std::string, stored_response>
        idempotency_;  ///< API key + "\n" + X-Idempotency-Key
};

/// `/_sim/hrizn` on the API origin's control surface.
class control_surface final : public surface {
  public:
    explicit control_surface(api& a) : api_(a) {}
    asio::awaitable<handler_result> handle(request_context& ctx) override {
        co_return api_.control(ctx.req);
    }

  private:
    api& api_;
};

}  // namespace briefd::sim::hrizn
