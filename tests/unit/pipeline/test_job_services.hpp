// A job_services for component tests (submission, run tracking, downloads): the engine's narrow
// interface (lib/pipeline/detail/job_services.hpp) over real parts — a real temp directory, a real
// io_context that runs the spawned tasks, real timers for the naps — with the jobs and provider
// slots the test sets up, and a record of every call a component made into the engine.
//
// Differences from engine_impl, on purpose:
// - persist() writes the job's state file synchronously (state_dir()/<job>.state.json) and keeps
//   every snapshot; state_durable() completes at once with `durable_error` (empty: durable), so a
//   test can make intent fail to reach the disk.
// - item_failed() marks the item failed with its reason (as the engine does) and records the call;
//   it neither persists nor files (the engine's business, tested in its own cases).
// - maybe_file() only records the call.
//
// Use:
//   test_job_services svc;
//   svc.slots["lamina"] = &slot;            // a provider_slot built on svc.executor()
//   auto& job = svc.add(make_job(...));     // the jobs a component finds
//   svc.spawn(component.op(...), true);
//   CHECK(svc.run_until_drained());         // runs the loop until no drain task is left
//   CHECK(svc.failures.size() == 1);
//
// Run the loop until the component's tasks are done (or stop() and run it once more) before a
// test ends: frames still pending are destroyed with the io_context, never resumed, after the
// test's own slots and components are gone.
#pragma once

#include "jobs/job.hpp"
#include "pipeline/detail/job_ctx.hpp"
#include "pipeline/detail/job_services.hpp"
#include "unit/store/temp_dir.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace briefd::test {

class test_job_services : public pipeline::detail::job_services {
  public:
    using job_ctx = pipeline::detail::job_ctx;
    using provider_slot = pipeline::detail::provider_slot;

    /// One item_failed() call.
    struct failure {
        std::string job_id;
        std::size_t index;
        std::string reason;  ///< `why`, with the diagnostics' message appended as the engine does
    };

    // ---- what the test sets up
    boost::asio::io_context io;
    temp_dir dir;  ///< job_dir() is dir/outputs/<job>, state files dir/active/<job>.state.json
    /// The jobs find() sees, by id (add() fills it; a test may erase one to "file" it).
    std::map<std::string, std::unique_ptr<job_ctx>, std::less<>> jobs;
    /// Provider slots by provider name; slot_of() looks a job's provider up here.
    std::map<std::string, provider_slot*> slots;
    /// What every state_durable() completes with (set it to make intent fail to be durable).
    std::error_code durable_error;

    // ---- what happened
    /// Every snapshot persist() took, per job, oldest first (persisted[id].size(): the calls).
    std::map<std::string, std::vector<jobs::job_record>, std::less<>> persisted;
    std::vector<failure> failures;     ///< item_failed() calls, in order
    std::vector<std::string> filed;    ///< maybe_file() calls (job ids), in order
    std::vector<std::string> crashes;  ///< exceptions that escaped spawned tasks (what())
    std::size_t spawned = 0;           ///< spawn() calls
    std::size_t drain_tasks = 0;       ///< spawned with drain = true and not finished yet
    std::size_t other_tasks = 0;       ///< spawned with drain = false and not finished yet

    test_job_services() {
        std::filesystem::create_directories(dir / "outputs");
        std::filesystem::create_directories(state_dir());
    }
    boost::asio::any_io_executor executor() { return io.get_executor(); }
    std::filesystem::path state_dir() const { return dir / "active"; }
    std::filesystem::path state_file(std::string_view job_id) const {
        return jobs::state_path(state_dir(), job_id);
    }

    /// Adds a job of `provider` with `items` items, all `submitted` with run ids run-0, run-1, …
    /// (Hrizn items for hrizn, content items otherwise); returns the stored one.
    job_ctx& add_submitted(const std::string& id, const std::string& provider,
                           std::size_t items = 1) {
        job_ctx job;
        job.rec.job_id = id;
        job.rec.provider = provider;
        job.brief.provider = provider;
        for (std::size_t i = 0; i < items; ++i) {
            jobs::item_record it;
            it.index = i;
            it.state = jobs::item_state::submitted;
            it.run_id = "run-" + std::to_string(i);
            job.rec.items.push_back(it);
            if (provider == "hrizn")
                job.brief.items.push_back({i, brief::hrizn_item{}});
            else
                job.brief.items.push_back({i, brief::content_item{}});
        }
        return add(std::move(job));
    }

    /// Makes `job` findable by its rec.job_id; returns the stored one.
    job_ctx& add(job_ctx job) {
        auto id = job.rec.job_id;
        auto& slot = jobs[id];
        slot = std::make_unique<job_ctx>(std::move(job));
        return *slot;
    }

    /// As engine::stop() for the components: stopping() turns true and every nap ends now.
    void stop() {
        stopping_ = true;
        for (auto* t : naps_) t->cancel();
    }

    /// Runs the loop until `done()` holds or `limit` passes; returns done().
    bool run_until(const std::function<bool()>& done,
                   std::chrono::steady_clock::duration limit = std::chrono::seconds(10)) {
        const auto deadline = clock::now() + limit;
        while (!done() && clock::now() < deadline) {
            if (io.stopped()) io.restart();
            io.run_one_for(std::chrono::milliseconds(20));
        }
        return done();
    }
    /// Runs the loop until every drain task (submissions, downloads…) has finished.
    bool run_until_drained(std::chrono::steady_clock::duration limit = std::chrono::seconds(10)) {
        return run_until([this] { return drain_tasks == 0; }, limit);
    }
    /// Runs what is ready now (handlers and tasks that need no wait), without blocking.
    void poll() {
        if (io.stopped()) io.restart();
        io.poll();
    }

    /// persist() calls for `job_id` so far.
    std::size_t persists(std::string_view job_id) const {
        auto it = persisted.find(job_id);
        return it == persisted.end() ? 0 : it->second.size();
    }

    // ---- job_services
    job_ctx* find(std::string_view job_id) override {
        auto it = jobs.find(job_id);
        return it == jobs.end() ? nullptr : it->second.get();
    }
    provider_slot* slot_of(const job_ctx& job) const override {
        auto it = slots.find(job.rec.provider);
        return it == slots.end() ? nullptr : it->second;
    }
    const brief::item& item_of(const job_ctx& job, std::size_t index) const override {
        static const brief::item absent{0, brief::content_item{}};
        return index < job.brief.items.size() ? job.brief.items[index] : absent;
    }
    std::filesystem::path job_dir(const job_ctx& job) const override {
        return dir / "outputs" / job.rec.job_id;
    }

    std::error_code persist(job_ctx& job) override {
        persisted[job.rec.job_id].push_back(job.rec);
        std::ofstream out(state_file(job.rec.job_id), std::ios::binary | std::ios::trunc);
        out << jobs::to_text(jobs::to_json(job.rec));
        return job.state_dirty ? job.state_error : std::error_code{};
    }
    boost::asio::awaitable<std::error_code> state_durable(std::string) override {
        co_return durable_error;
    }
    void item_failed(job_ctx& job, std::size_t index, std::string why,
                     const diagnostics& d = {}) override {
        if (!d.message.empty()) why += ": " + d.message;
        if (index < job.rec.items.size()) {
            job.rec.items[index].state = jobs::item_state::failed;
            job.rec.items[index].error = why;
        }
        failures.push_back({job.rec.job_id, index, std::move(why)});
    }
    void maybe_file(job_ctx& job) override { filed.push_back(job.rec.job_id); }

    void spawn(boost::asio::awaitable<void> task, bool drain) override {
        ++spawned;
        (drain ? drain_tasks : other_tasks)++;
        boost::asio::co_spawn(io, std::move(task), [this, drain](std::exception_ptr e) {
            (drain ? drain_tasks : other_tasks)--;
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                crashes.emplace_back(ex.what());
            } catch (...) {
                crashes.emplace_back("(not a std::exception)");
            }
        });
    }
    boost::asio::awaitable<void> nap_until(clock::time_point t) override {
        if (stopping_ || t <= clock::now()) co_return;
        boost::asio::steady_timer timer(io, t);
        naps_.insert(&timer);
        co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        naps_.erase(&timer);
    }
    bool stopping() const override { return stopping_; }

    /// Naps under way now.
    std::size_t napping() const { return naps_.size(); }

  private:
    bool stopping_ = false;
    std::set<boost::asio::steady_timer*> naps_;
};

}  // namespace briefd::test
