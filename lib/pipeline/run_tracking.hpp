// Run tracking (DESIGN §6): from a submitted item's run id to its outcome. Each run is followed on
// the channel its provider and config allow — its own event stream, long-poll or status polls
// (track_run, tracking.cpp, driving tracker_fsm), one list sweep for many runs (list_tracking.cpp,
// driving list_tracker), or webhook deliveries (handed to the webhook channel through the port) —
// and every channel reports what it sees to on_run_view(): a terminal view finishes the item (a
// failed or cancelled run fails it; a completed run's outputs are recorded and handed to
// downloads), a run awaiting input is given its input once.
//
// It owns the runs it follows (counted in running(), each holding a place of its provider's
// concurrent-jobs gate until it ends), the event streams open now, and each provider's list
// trackers. It reaches the engine only through job_services and run_tracking_port, and never
// sees engine_impl. Everything runs on the event loop.
#pragma once

#include "core/log.hpp"
#include "http/client.hpp"
#include "pipeline/detail/job_ctx.hpp"
#include "pipeline/detail/job_services.hpp"
#include "pipeline/list_tracker.hpp"
#include "providers/provider.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace briefd::pipeline::detail {

struct provider_slot;

/// The hand-offs run tracking makes; the engine wires them (all called on the event loop).
struct run_tracking_port {
    /// A completed run's outputs are recorded in the job (text outputs saved, the state queued):
    /// their downloads start.
    std::function<void(job_ctx& job, std::size_t index)> start_downloads;
    /// The latest view of a run, from any channel (for /status progress).
    std::function<void(const std::string& job_id, std::size_t index, const providers::run_view& v)>
        note_view;
    /// Cancels a run at the provider when it offers that; completes with true when confirmed.
    std::function<boost::asio::awaitable<bool>(provider_slot& slot, std::string run_id)> cancel_run;
    /// This item's run reports by webhook (it is then handed over with track_by_webhook).
    std::function<bool(const provider_slot& slot, const brief::item& it)> tracked_by_webhook;
    /// The webhook channel takes the run over. It stays counted in running() (and keeps its gate
    /// place) until that channel calls run_ended(), or start() again on a fallback.
    std::function<void(provider_slot& slot, job_ctx& job, std::size_t index)> track_by_webhook;
    /// An event stream open was answered (`status` 0: the transport failed); `reopened`: not the
    /// first open of this run's stream (for /metrics).
    std::function<void(std::string_view provider, unsigned status, bool reopened)> stream_opened;
};

class run_tracking {
  public:
    run_tracking(boost::asio::any_io_executor ex, job_services& svc, logger& log,
                 std::uint64_t seed, run_tracking_port port);
    run_tracking(const run_tracking&) = delete;
    run_tracking& operator=(const run_tracking&) = delete;

    /// The item (state `submitted`, run id set, outputs not known) starts being tracked; returns
    /// at once. A run id its provider would not put in a request fails the item; an item of a
    /// cancelled job is failed and its run cancelled at the provider (spawned, not awaited).
    /// Otherwise the run counts as running and holds a place of the provider's concurrent-jobs
    /// gate until it ends; its tracker is a task that stop() cancels (the item stays `submitted`
    /// on disk, and the next start tracks it again).
    void start(job_ctx& job, std::size_t index);

    /// What a run's status says, from any channel: a terminal view finishes the item (see
    /// below); an `awaiting_input` view has the run's input supplied (once per `input_sent`; a
    /// drained task, a refusal fails the item). Returns false when tracking of the run must stop
    /// (its job is gone, or the run ended).
    ///
    /// A finished run: a failed or cancelled one fails the item (its reason recorded durably by
    /// item_failed). A completed one's outputs become the item's output records — text outputs
    /// in the payload are written to the job's directory atomically first, so a crash never
    /// loses them — the state is queued (persist: not yet durable on return), then
    /// port.start_downloads. Outputs that need more requests (provider::expand) are fetched by a
    /// drained task first; stopped during it, nothing is recorded and the next start tracks the
    /// run again. A duplicate report of a settled item changes nothing.
    bool on_run_view(const std::string& job_id, std::size_t index, const providers::run_view& view,
                     bool& input_sent);

    /// A run tracked by another channel (webhooks) ends: it no longer counts as running and gives
    /// back its place of the provider's concurrent-jobs gate.
    void run_ended(provider_slot& slot);

    /// Stopping: the list loops wake up and end, every open event stream is closed (their
    /// trackers end). Idempotent.
    void stop();
    /// Closes every open event stream (stop, the drain deadline, a forced stop).
    void close_streams();
    /// Applies a reloaded provider config (list sweep interval) to the list trackers.
    void reload();

    /// Runs followed now, on any channel (for /metrics and the STATUS= line).
    std::size_t running() const noexcept { return running_; }
    /// Event streams of `provider`'s runs open now (for /status and /metrics).
    std::size_t streams_open(std::string_view provider) const;

  private:
    /// Per provider (channel_list): one tracker per list scope (Layers: project), the runs they
    /// follow and the loop sweeping them.
    struct list_channel {
        explicit list_channel(boost::asio::any_io_executor ex) : wake(ex) {}
        list_tracker_config config;
        std::map<std::string, list_tracker, std::less<>> lists;  ///< by scope
        std::map<std::string, std::pair<std::string, std::size_t>, std::less<>>
            runs;  ///< run → (job, item)
        /// What the trackers follow (the run, or its children's list_key()s) → (scope, run).
        std::map<std::string, std::pair<std::string, std::string>, std::less<>> ids;
        boost::asio::steady_timer wake;
        bool loop_running = false;
    };

    /// The driver of tracker_fsm for one run (SSE, wait, poll). Completes when the run ended,
    /// was given up (the item fails), its job is gone or cancelled, or at stop; the run is then
    /// no longer running (run_ended).
    boost::asio::awaitable<void> track_run(provider_slot& slot, std::string job_id,
                                           std::size_t index, std::string run_id);
    /// Sends the run's input (idempotency key per item); a refusal fails the item.
    boost::asio::awaitable<void> supply_input(std::string job_id, std::size_t index,
                                              std::string run_id);
    void run_finished(const std::string& job_id, std::size_t index, const providers::run_view& run);
    /// A completed run whose outputs need more requests (provider::expand): fetched, then
    /// recorded.
    boost::asio::awaitable<void> expand_outputs(std::string job_id, std::size_t index,
                                                providers::run_view run,
                                                std::vector<providers::api_call> calls);
    /// The completed run's outputs become the item's output records (text written at once), then
    /// downloads start.
    void record_outputs(const std::string& job_id, std::size_t index,
                        const providers::run_view& run);
    void track_by_list(provider_slot& slot, job_ctx& job, std::size_t index);
    /// Sweeps `slot`'s lists while it has runs listed; completes at stop.
    boost::asio::awaitable<void> list_loop(provider_slot& slot);
    list_channel& list_of(provider_slot& slot);
    void note_view(const std::string& job_id, std::size_t index, const providers::run_view& v);

    boost::asio::any_io_executor ex_;
    job_services& svc_;
    logger& log_;
    std::mt19937_64 rng_;
    run_tracking_port port_;
    std::size_t running_ = 0;
    std::set<http::client::body_stream*> open_streams_;
    std::map<std::string, std::size_t, std::less<>> streams_;  ///< open streams by provider
    /// By provider; with the slot whose config they follow.
    std::map<std::string, std::pair<provider_slot*, std::unique_ptr<list_channel>>, std::less<>>
        list_channels_;
};

}  // namespace briefd::pipeline::detail
