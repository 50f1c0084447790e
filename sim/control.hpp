// The simulator's own endpoints under /_sim on the API origin: no auth, not rate limited, not
// counted. GET /_sim/stats, POST /_sim/stats/reset, GET|POST /_sim/faults, POST /_sim/ratelimit.
#pragma once

#include "server.hpp"

#include <functional>

namespace briefd::sim {

class control_surface final : public surface {
public:
    /// `extra_stats` adds provider-specific members (e.g. run counts) to GET /_sim/stats.
    control_surface(sim_state& st, std::function<void(boost::json::object&)> extra_stats)
        : st_(st), extra_stats_(std::move(extra_stats)) {}
    asio::awaitable<handler_result> handle(request_context& ctx) override;

private:
    sim_state& st_;
    std::function<void(boost::json::object&)> extra_stats_;
};

/// The API origin: /_sim/* to the control surface, everything else to the provider surface.
class api_origin final : public surface {
public:
    api_origin(surface& control, surface& provider) : control_(control), provider_(provider) {}
    asio::awaitable<handler_result> handle(request_context& ctx) override {
        if (ctx.req.target().starts_with("/_sim/")) return control_.handle(ctx);
        return provider_.handle(ctx);
    }

private:
    surface& control_;
    surface& provider_;
};

}  // namespace briefd::sim
