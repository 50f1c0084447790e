// What the engine offers the components that carry a job through its runs — submission, run
// tracking, downloads — in place of its own fields. engine_impl implements it; a component holds
// a job_services& and never sees engine_impl. Calls happen on the event loop.
//
// Hand-offs between components (a submitted item starts tracking, a finished run starts
// downloads) are not here: each component names the ones it makes in its own port, and the engine
// wires them.
#pragma once

#include "brief/brief.hpp"
#include "core/error.hpp"
#include "pipeline/detail/job_ctx.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace briefd::pipeline::detail {

struct provider_slot;

class job_services {
  public:
    using clock = std::chrono::steady_clock;

    // ---- jobs
    /// The running job `job_id`, or nullptr once it is filed (or never was). Coroutines look
    /// their job up again after every co_await: it may be gone.
    virtual job_ctx* find(std::string_view job_id) = 0;
    /// The job's provider slot; nullptr when its provider is not configured (any more).
    virtual provider_slot* slot_of(const job_ctx& job) const = 0;
    /// The brief item behind a job's item (an empty stand-in when the brief could not be re-read).
    virtual const brief::item& item_of(const job_ctx& job, std::size_t index) const = 0;
    /// outputs/<job>/
    virtual std::filesystem::path job_dir(const job_ctx& job) const = 0;

    // ---- job state
    /// Queues a snapshot of the job's state for the state writer (not durable on return). The
    /// error is that of this job's last failed write while it is not yet repaired (a retry is
    /// scheduled, and intake pauses); empty otherwise.
    virtual std::error_code persist(job_ctx& job) = 0;
    /// Completes when the newest snapshot of `job_id` queued so far is durable (no error), or with
    /// the error that kept it from the disk. Await it where the next step needs the state on disk
    /// (a submission's intent, a webhook's 2xx, filing).
    virtual boost::asio::awaitable<std::error_code> state_durable(std::string job_id) = 0;
    /// The item failed for good: its reason (with `d`'s message) is recorded, logged and
    /// persisted, and the job is filed when no item is left unfinished.
    virtual void item_failed(job_ctx& job, std::size_t index, std::string why,
                             const diagnostics& d = {}) = 0;
    /// Files the job (done/ or failed/) when all its items are finished and none is downloading.
    virtual void maybe_file(job_ctx& job) = 0;

    // ---- lifecycle
    /// Runs `task` on the loop. `drain`: stop() waits for it (a submission, a download, filing);
    /// otherwise stop() cancels it (trackers, loops).
    virtual void spawn(boost::asio::awaitable<void> task, bool drain) = 0;
    /// A pause that stop() cuts short; check stopping() after it.
    virtual boost::asio::awaitable<void> nap_until(clock::time_point t) = 0;
    boost::asio::awaitable<void> nap(clock::duration d) { return nap_until(clock::now() + d); }
    /// stop() was called: start nothing new.
    virtual bool stopping() const = 0;

  protected:
    virtual ~job_services() = default;
};

}  // namespace briefd::pipeline::detail
