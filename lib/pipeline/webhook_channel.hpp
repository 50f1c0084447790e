// The webhook channel (DESIGN §12 "Webhooks"): the receiver on its own HTTP listener, and the runs
// that report by delivery instead of by stream or poll.
//
//   POST <public_url path>/<provider> → route → verify (before any parsing) → provider's
//   parse_webhook → duplicate? → the run's item: a terminal view finishes it exactly as a terminal
//   SSE event would (run_tracking::on_run_view) and the job's state is durable → 2xx. Anything
//   that fails before the state is durable is answered 5xx, so the provider delivers again.
//
// A run tracked this way costs no request unless its delivery is late: after its grace period one
// status request checks on it (and again every grace period while it runs). When such checks keep
// finding runs finished whose deliveries never came (webhooks.fallback_after in a row), the
// provider's deliveries have stopped: its runs go back to request-based tracking
// (run_tracking::start), and the log says so, until a delivery verifies again.
//
// It owns the listener, the per-provider webhook state (secrets, signing keys, the runs waiting for
// their delivery, deliveries that came before their run was known) and the set of delivery ids
// seen. It reaches the engine only through job_services, run_tracking and webhook_port, and never
// sees engine_impl. Everything runs on the event loop.
#pragma once

#include "config/config.hpp"
#include "core/log.hpp"
#include "http/server.hpp"
#include "pipeline/detail/job_ctx.hpp"
#include "pipeline/detail/job_services.hpp"
#include "pipeline/detail/webhook_state.hpp"
#include "providers/provider.hpp"
#include "webhooks/receiver.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace briefd::pipeline::detail {

struct provider_slot;
class run_tracking;

/// What the webhook channel asks of the engine beyond job_services (called on the event loop).
struct webhook_port {
    /// The job and item of `provider`'s item in state `submitted` whose run is `run_id` (a run
    /// tracked by requests after a fallback still takes its delivery); nullopt when none is.
    std::function<std::optional<std::pair<std::string, std::size_t>>(std::string_view provider,
                                                                     std::string_view run_id)>
        find_run;
};

class webhook_channel {
  public:
    using clock = job_services::clock;

    /// `cfg` is the engine's live config (webhooks.grace and fallback_after change on reload).
    webhook_channel(boost::asio::any_io_executor ex, job_services& svc, const config::config& cfg,
                    logger& log, run_tracking& tracking, webhook_port port);
    webhook_channel(const webhook_channel&) = delete;
    webhook_channel& operator=(const webhook_channel&) = delete;

    /// Reads the webhook secrets and decides which of `slots`' runs webhooks track (once, before
    /// start()). Throws std::runtime_error (naming the secret's source, never its value) when a
    /// secret is unreadable.
    void setup(const std::vector<provider_slot*>& slots);
    /// Listens on webhooks.listen (when enabled) and starts fetching signing keys (Lamina); false
    /// after logging why when the address is bad or cannot be bound.
    bool start();
    /// Stopping: deliveries from now on are refused at the socket (the providers retry them; the
    /// next start or a grace check picks the runs up), the grace loops and key waits wake up and
    /// end. A delivery being handled when stop() is called is answered 503 unless its state
    /// write is already under way. Idempotent.
    void stop();

    /// The item's run reports by webhook: the provider offers webhooks (see setup()), its
    /// deliveries have not stopped (fallback), and the item's channels include webhooks.
    bool tracked_by_webhook(const provider_slot& slot, const brief::item& it) const;
    /// <public_url>/<provider> while the slot offers webhooks; empty otherwise.
    std::string url(const provider_slot& slot) const;
    /// /status's providers[].webhooks: "on", "fallback" (deliveries stopped), or empty (not used).
    std::string_view mode(std::string_view provider) const;

    /// The channel takes the run over (from run_tracking; the run stays counted there and keeps
    /// its gate place until forget()). Its first grace check is due after webhooks.grace (or the
    /// provider's default), at once when a terminal delivery was recorded before a restart. A
    /// delivery that came before the run was known is applied now (posted).
    void track(provider_slot& slot, job_ctx& job, std::size_t index);
    /// A run no longer waits for its delivery: run_tracking::run_ended (it stops counting as
    /// running and gives back its place of the provider's concurrent-jobs gate). No-op for a run
    /// not waiting.
    void forget(provider_slot& slot, const std::string& run_id);
    /// What the channel counted for `provider` since start (for /metrics); zeros when it has no
    /// webhook state.
    struct counts {
        std::uint64_t delivered = 0, duplicates = 0, refused = 0, grace_checks = 0;
    };
    counts counted(std::string_view provider) const;
    /// Runs of `provider` waiting for their delivery now.
    std::size_t waiting(std::string_view provider) const;

    /// One request to the receiver: route, verify (before parsing), deduplicate, apply, await
    /// the job's state durable, then answer. Completes with 404 (unknown provider or path), 405,
    /// 413, 401 (refused signature), 400 (unreadable payload), 503 with Retry-After (stopping, no
    /// signing key, the state could not be made durable), or 200 (accepted or duplicate). Never
    /// throws for bad input; nothing of a refused request but its sender and size is logged.
    boost::asio::awaitable<http::server_response> on_request(const http::server_request& req);

    /// What one grace check of `run_id` found (the grace loop's decision, sans-I/O):
    /// errc::not_found twice in a row fails the item; no view retries after a quarter of the
    /// grace; a running view goes to on_run_view and is checked again after the grace; a
    /// finished one is forgotten, counted as a missing delivery unless one was recorded, and
    /// finished through on_run_view — webhooks.fallback_after misses in a row fall back.
    void grace_checked(provider_slot& slot, const std::string& run_id, std::error_code ec,
                       std::optional<providers::run_view> v);

  private:
    webhook_state& state_of(const provider_slot& slot);
    const webhook_state* find_state(std::string_view provider) const;
    /// One status request per run whose grace ran out; completes at stop.
    boost::asio::awaitable<void> grace_loop(provider_slot& slot);
    void fall_back(provider_slot& slot);
    /// Fetches the provider's signing keys (Lamina) into its state.
    boost::asio::awaitable<void> fetch_signing_keys(provider_slot& slot);
    /// A verified delivery's effect on its run; false when its state write already failed.
    /// `touched`: the job whose state it changed (the caller awaits state_durable() before 2xx).
    bool apply(provider_slot& slot, const providers::webhook_event& ev, std::string& touched);

    boost::asio::any_io_executor ex_;
    job_services& svc_;
    const config::config& cfg_;
    logger& log_;
    run_tracking& tracking_;
    webhook_port port_;
    std::unique_ptr<http::server> server_;
    std::string base_;  ///< the path of webhooks.public_url
    webhooks::seen_set seen_;
    /// By provider: its slot and its webhook state (every slot given to setup()).
    std::map<std::string, std::pair<provider_slot*, std::unique_ptr<webhook_state>>, std::less<>>
        providers_;
};

}  // namespace briefd::pipeline::detail
