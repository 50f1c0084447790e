// Lamina's /v1 surface: auth, the rate limiter and the fault switches in front, then the
// documented endpoints (PROVIDERS §1) over the run engine.
#pragma once

#include "../server.hpp"
#include "runs.hpp"

#include <memory>
#include <set>
#include <string>

namespace briefd::sim::lamina {

class api final : public surface {
public:
    /// Generates the webhook signing key (Ed25519); throws std::runtime_error if OpenSSL fails.
    api(sim_state& st, run_engine& runs);
    ~api() override;
    asio::awaitable<handler_result> handle(request_context& ctx) override;

    /// The JWK `x` of the webhook signing key (base64url of the raw 32-byte public key).
    const std::string& signing_key_x() const noexcept { return signing_key_x_; }

    struct exchange;  ///< one request in flight (defined in api.cpp)

private:
    asio::awaitable<handler_result> dispatch(exchange& ex);
    asio::awaitable<handler_result> wait(exchange& ex, run& r);
    asio::awaitable<handler_result> stream(exchange& ex, run& r);
    handler_result batch(exchange& ex);
    handler_result create(exchange& ex);
    handler_result run_app(exchange& ex, const std::string& app_id);

    sim_state& st_;
    run_engine& runs_;
    std::set<std::string> seen_submissions_;
    std::string signing_key_x_;
    struct key_holder;
    std::unique_ptr<key_holder> key_;
};

}  // namespace briefd::sim::lamina
