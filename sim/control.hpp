// The simulator's own endpoints under /_sim on the API origin: no auth, not rate limited, not
// counted. GET /_sim/stats, POST /_sim/stats/reset, GET|POST /_sim/faults, POST /_sim/ratelimit.
#pragma once

#include "server.hpp"

#include <functional>

namespace briefd::sim {

class control_surface final : public surface {
  public:
    /// `extra_stats` adds provider-specific members (e.g. run counts) to GET /_sim/stats;
    /// `hrizn`, if set, answers /_sim/hrizn; `layers`, if set, /_sim/layers; `webhooks`, if
    /// set, /_sim/webhooks.
    control_surface(sim_state& st, std::function<void(boost::json::object&)> extra_stats,
                    surface* hrizn = nullptr, surface* layers = nullptr,
                    surface* webhooks = nullptr)
        : st_(st),
          extra_stats_(std::move(extra_stats)),
          hrizn_(hrizn),
          layers_(layers),
          webhooks_(webhooks) {}
    asio::awaitable<handler_result> handle(request_context& ctx) override;

  private:
    sim_state& st_;
    std::function<void(boost::json::object&)> extra_stats_;
    surface* hrizn_;
    surface* layers_;
    surface* webhooks_;
};

/// In front of an origin where no Hrizn key belongs (the Lamina API, the files origin): counts
/// requests carrying one (`hzk_` in X-API-Key or Authorization) in `counter`, then hands over.
class hrizn_key_watch final : public surface {
  public:
    hrizn_key_watch(sim_state& st, surface& inner, std::uint64_t hrizn_stats::*counter)
        : st_(st), inner_(inner), counter_(counter) {}
    asio::awaitable<handler_result> handle(request_context& ctx) override;

  private:
    sim_state& st_;
    surface& inner_;
    std::uint64_t hrizn_stats::*counter_;
};

/// In front of an origin where no Layers key belongs (Lamina API, files, Hrizn): counts requests
/// carrying one (`lp_test_`/`lp_live_` in X-API-Key or Authorization) in `counter`, then hands
/// over.
class layers_key_watch final : public surface {
  public:
    layers_key_watch(sim_state& st, surface& inner, std::uint64_t layers_stats::*counter)
        : st_(st), inner_(inner), counter_(counter) {}
    asio::awaitable<handler_result> handle(request_context& ctx) override;

  private:
    sim_state& st_;
    surface& inner_;
    std::uint64_t layers_stats::*counter_;
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
