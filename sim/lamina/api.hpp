// Lamina's /v1 surface: auth, the rate limiter and the fault switches in front, then the
// documented endpoints (PROVIDERS §1) over the run engine.
#pragma once

#include "../server.hpp"
#include "../webhooks/signer.hpp"
#include "runs.hpp"

#include <memory>
#include <set>
#include <string>

namespace briefd::sim::lamina {

class api final : public surface {
public:
    /// `signer` holds the webhook signing key served by GET /v1/webhooks/signing-key.
    api(sim_state& st, run_engine& runs, const webhooks::lamina_signer& signer);
    ~api() override;
    asio::awaitable<handler_result> handle(request_context& ctx) override;

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
    const webhooks::lamina_signer& signer_;
};

}  // namespace briefd::sim::lamina
