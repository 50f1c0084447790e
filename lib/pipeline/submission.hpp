// Submission (DESIGN §4): a job's pending items become provider runs. Items that may share a
// request fan into batches of ≤ the provider's maximum per group; the others go one by one, after
// their inputs were checked against the provider's published schema. Intent to submit (with the
// idempotency key, where the provider takes one) is made durable after the rate-limit slot is
// granted and before the request leaves; what happens next is decided by decide_submission()
// (submit_decider.hpp, sans-I/O, unit-tested), and carried out here.
//
// It owns, per provider, the batcher and its linger timer, and the input-schema cache with its
// one-fetch-at-a-time gate. It reaches the engine through job_services (jobs, their state, item
// failures, spawning and naps) and through submission_port for the hand-offs it makes; the engine
// reaches it through the functions below. Everything runs on the event loop.
#pragma once

#include "brief/brief.hpp"
#include "config/config.hpp"
#include "core/log.hpp"
#include "pipeline/batcher.hpp"
#include "pipeline/detail/job_ctx.hpp"
#include "pipeline/detail/job_services.hpp"
#include "pipeline/detail/schema_cache.hpp"
#include "providers/provider.hpp"
#include "scheduler/host.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace briefd::pipeline::detail {

struct provider_slot;

/// The hand-offs submission makes to the rest of the engine.
struct submission_port {
    /// Its provider accepted the item: state `submitted` with its run id, queued for the state
    /// writer (not yet durable). Follow the run from here on.
    std::function<void(job_ctx& job, std::size_t index)> start_tracking;
    /// Where the slot's provider is told to deliver run events (<public_url>/<provider>); empty
    /// while the slot does not offer webhooks (its requests then ask for none).
    std::function<std::string(const provider_slot& slot)> webhook_url;
    /// validate_inputs() is done with the job: job.validated is set and items with wrong inputs are
    /// failed. Start it (its pending items come back to enqueue_item()).
    std::function<void(job_ctx& job)> start_job;
    /// Some inputs of the job are wrong and none of its items was sent yet: the job goes away
    /// (state file removed, counted out of items in flight, intake kicked) and its brief is filed
    /// to failed/ with `problems`, like a brief that fails to parse. `job_id` is gone from find()
    /// on return.
    std::function<void(const std::string& job_id, const std::vector<brief::problem>& problems)>
        refuse_job;
};

class submission {
  public:
    using clock = job_services::clock;

    /// `cfg` is the engine's live config (on_uncertain is read at each use: it changes on
    /// reload). Per-provider state is made on first use of a slot.
    submission(boost::asio::any_io_executor ex, job_services& svc, const config::config& cfg,
               logger& log, submission_port port);
    ~submission();
    submission(const submission&) = delete;
    submission& operator=(const submission&) = delete;

    /// Puts a `pending` item in line: into its provider's batcher when it may share a request (the
    /// batch loop sends it), else its own submission is spawned (a drain task). An item whose
    /// provider has no slot, or of a cancelled job, is failed (item_failed) at once, and nothing
    /// is sent.
    void enqueue_item(job_ctx& job, std::size_t index);
    /// Sends the slot's batches as they fill up or linger out, each as one drain task; completes
    /// at stop(). Start one per slot.
    boost::asio::awaitable<void> batch_loop(provider_slot& slot);
    /// An item left `submitting` with an idempotency key by the last process: its request (all the
    /// members of submit_group, under submit_key) is sent again exactly as it was, so the provider
    /// answers with what it created, if anything. Members of one request are sent once: `replayed`
    /// collects the keys already resent (one set per recovered job).
    void replay_uncertain(job_ctx& job, std::size_t index, std::set<std::string>& replayed);
    /// The item may or may not have reached its provider, and there is no key to ask again with:
    /// config on_uncertain decides — `resubmit` puts it back to pending (persisted) and in line,
    /// `fail` fails it with a reason that says how to retry.
    void uncertain(job_ctx& job, std::size_t index, std::string_view what);
    /// Checks the inputs of the job's pending items against their providers' input schemas
    /// (fetched or cached), then hands the job to port.start_job — or to port.refuse_job when
    /// something is wrong and nothing was sent yet (items already sent: the wrong ones are failed
    /// instead). Completes when done; when the schemas cannot be had now (outage, not a missing
    /// app) it naps 10 s and spawns itself again. Completes early, doing nothing, when the job
    /// goes away or at stop.
    boost::asio::awaitable<void> validate_inputs(std::string job_id);

    /// The slot's config changed (provider_slot::reload): new batch limits apply now.
    void reload(const provider_slot& slot);
    /// No more batches: the batch loops complete. Submissions on the wire finish (they are drain
    /// tasks); items still in batches stay `pending` on disk and go at the next start.
    void stop();
    /// Items waiting in `provider`'s batcher (for /status and /metrics).
    std::size_t batched(std::string_view provider) const;

  private:
    /// What submission holds for one provider.
    struct lane {
        lane(boost::asio::any_io_executor ex, const provider_slot& slot);
        pipeline::batcher batches;
        boost::asio::steady_timer batch_timer;   ///< the batch loop's wake-up
        schema_cache schemas;                    ///< input schemas by key, across briefs
        boost::asio::steady_timer schema_ready;  ///< briefs waiting for a schema fetch in flight
    };
    lane& lane_of(const provider_slot& slot);

    /// Sends one request for `members` (all of one slot and group). `replay_key`: resend the
    /// request that carried this idempotency key, exactly as it was (same members, same key).
    /// Completes when the verdict is carried out: items accepted (handed to start_tracking),
    /// failed, put back in line after a pause, or left `submitting` for the next start.
    boost::asio::awaitable<void> submit_items(provider_slot& slot, std::vector<batch_item> members,
                                              std::string replay_key = {}, unsigned resends = 0);
    /// The input schema of `key`: cached (schema_cache says for how long), or fetched, one fetch
    /// per key at a time. `recheck`: the cached one says an item is wrong, so fetch it again first
    /// unless it was fetched within the recheck interval. Completes with nullopt when it cannot be
    /// had; `failure` (if given) then says why (errc::not_found: no such app).
    boost::asio::awaitable<std::optional<providers::app_schema>> get_schema(
        provider_slot& slot, std::string key, bool recheck,
        scheduler::call_result* failure = nullptr);
    /// Puts items back in line after a failure that created nothing, after a pause.
    boost::asio::awaitable<void> requeue_later(std::vector<batch_item> items,
                                               clock::duration delay);
    /// Resends a request under its key after a pause.
    boost::asio::awaitable<void> resend_later(provider_slot* slot, std::vector<batch_item> items,
                                              std::string key, unsigned resends,
                                              clock::duration delay);

    boost::asio::any_io_executor ex_;
    job_services& svc_;
    const config::config& cfg_;
    logger& log_;
    submission_port port_;
    std::map<std::string, std::unique_ptr<lane>, std::less<>> lanes_;  ///< by provider
};

}  // namespace briefd::pipeline::detail
