// Webhooks for the three simulated providers: watches Lamina runs submitted with ?webhook=, Hrizn
// items and Layers jobs until they end, builds each provider's documented event (PROVIDERS §1.6,
// §2.4, §3.8), draws the webhook-* faults, and hands the signed deliveries to the queue. Also
// the subscriptions (by option, by /_sim/webhooks, and Hrizn's and Layers' own subscription
// endpoints) and the Lamina signing key with its rotation.
#pragma once

#include "../hrizn/content.hpp"
#include "../lamina/runs.hpp"
#include "../layers/store.hpp"
#include "../server.hpp"
#include "delivery.hpp"
#include "signer.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace briefd::sim::webhooks {

/// A Hrizn or Layers subscription: where its events go and the secret they are signed with.
struct subscription {
    std::string id;
    std::string owner;  ///< the Hrizn key (site) or Layers key it belongs to; "" = every one
    std::string url;
    std::vector<std::string> events;
    std::string secret;
    std::string previous_secret;  ///< Layers: during a rotation overlap, signed with both
    std::string description;
    std::string project_id;  ///< Layers: only this project's events; "" = all
    bool active = true;
    std::string created_at;

    bool wants(std::string_view event) const;
};

class service {
  public:
    /// Hooks itself into the stores (run_engine::on_webhook_run, content_store::on_generation,
    /// store::on_job / on_cancel); `ex` runs the watchers and deliveries.
    service(asio::any_io_executor ex, sim_state& st, lamina_signer& signer,
            lamina::run_engine& runs, hrizn::content_store& content, layers::store& jobs);
    ~service();

    /// GET /_sim/webhooks: settings, subscriptions (without secrets) and the Lamina key id.
    /// POST: changes them (see sim/README.md); atomic: a bad member gives 400, nothing changes.
    handler_result control(const request& req);

    /// Hrizn's subscription endpoints (PROVIDERS §2.4) for the key `owner`: `path` is the route
    /// below the base path, "/webhooks" or "/webhooks/{id}"; none when it is not one of them.
    std::optional<response> hrizn_endpoint(const request& req, std::string_view path,
                                           const std::string& owner);
    /// Layers' `POST /v1/webhook-endpoints` and friends (PROVIDERS §3.8) for key `owner`.
    std::optional<response> layers_endpoint(const request& req, std::string_view path,
                                            const std::string& owner);

  private:
    asio::awaitable<void> watch_lamina(lamina::run& r);
    asio::awaitable<void> watch_hrizn(hrizn::item& it);
    asio::awaitable<void> watch_layers(layers::job& j);
    /// Sends `d` (unless dropped), its duplicate after a 2xx (webhook-duplicate), then the
    /// `older` events when webhook-reorder fires.
    asio::awaitable<void> send(delivery d, std::function<std::vector<delivery>()> older = nullptr);
    void spawn(asio::awaitable<void> work);
    /// True with probability `rate` when the webhook faults apply to `p`.
    bool draw(provider p, double rate);
    webhook_counts& counts(provider p);

    delivery lamina_delivery(const lamina::run& r, boost::json::value body);
    delivery hrizn_delivery(const std::shared_ptr<subscription>& sub, std::string_view type,
                            const std::string& owner, boost::json::object data);
    delivery layers_delivery(const std::shared_ptr<subscription>& sub, std::string_view type,
                             boost::json::object data);
    /// Serializes `v` for the wire: extra-fields, and the oversize fault's padding.
    std::string body_of(provider p, boost::json::value v);
    std::vector<std::shared_ptr<subscription>> matching(
        const std::vector<std::shared_ptr<subscription>>& subs, std::string_view event,
        const std::string& owner, std::string_view project = {}) const;
    std::shared_ptr<subscription> make_sub(std::string prefix, const std::string& owner,
                                           std::string url, std::vector<std::string> events,
                                           std::string secret);
    void set_option_subscriptions();
    /// A subscription from a create request ({url, events[1..50], description?, projectId?});
    /// null when the body is not valid.
    std::shared_ptr<subscription> sub_from_request(const request& req, std::string prefix,
                                                   const std::string& owner, bool with_project);

    asio::any_io_executor ex_;
    sim_state& st_;
    lamina_signer& signer_;
    lamina::run_engine& runs_;
    hrizn::content_store& content_;
    layers::store& jobs_;
    delivery_queue queue_;
    std::mt19937_64 rng_;      ///< event ids and secrets (apart from run_rng: run ids stay put)
    std::string lamina_user_;  ///< X-Lamina-Webhook-User-Id
    std::vector<std::shared_ptr<subscription>> hrizn_subs_, layers_subs_;
    std::unordered_map<std::string, std::weak_ptr<asio::steady_timer>> layers_watch_;
};

/// `/_sim/webhooks` on the API origin's control surface.
class control_surface final : public surface {
  public:
    explicit control_surface(service& s) : s_(s) {}
    asio::awaitable<handler_result> handle(request_context& ctx) override {
        co_return s_.control(ctx.req);
    }

  private:
    service& s_;
};

}  // namespace briefd::sim::webhooks
