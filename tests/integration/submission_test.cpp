// Submission as a component against a real briefsim (Hrizn: batched, idempotency keys), without
// the rest of the daemon: a test_job_services (real temp dir, real event loop) holds the jobs and
// records what submission persisted; a real provider slot sends the requests; briefsim's counters
// say what arrived. The cases: intent (state `submitting` with its key and request group) is
// persisted before a request leaves, and no request leaves while it cannot be made durable; an
// uncertain request replayed under its key is answered with the runs it created, never new ones.
#include "pipeline/submission.hpp"
#include "integration/helpers.hpp"
#include "pipeline/detail/provider_slot.hpp"
#include "unit/pipeline/test_job_services.hpp"

#include <doctest/doctest.h>

#include <set>

namespace briefd::it {

namespace {

using pipeline::detail::job_ctx;
using pipeline::detail::provider_slot;

/// briefsim with its Hrizn origin, and a submission wired to a test_job_services and a real
/// Hrizn slot pointing at it. Accepted items are recorded instead of tracked.
struct hrizn_submission {
    sim_process sim{{"--time-scale", std::to_string(time_scale), "--seed", "7"}};
    test::test_job_services svc;
    std::vector<std::string> lines;
    logger log{[this](log_level, std::string_view l) { lines.emplace_back(l); }};
    config::config cfg;
    std::unique_ptr<provider_slot> slot;
    std::vector<std::pair<std::string, std::size_t>> tracked;
    std::unique_ptr<pipeline::detail::submission> sub;

    hrizn_submission() {
        config::provider_config pc;
        pc.name = "hrizn";
        pc.base_url = sim.hrizn_url();
        pc.rate_limit = {60, std::chrono::seconds(1), 0};  // briefsim's 60/min, time-scaled
        pc.batch.linger = std::chrono::milliseconds(50);
        secret key(sim.hrizn_key());
        slot = std::make_unique<provider_slot>(svc.executor(), *providers::find("hrizn"), pc, &key,
                                               log, 7);
        svc.slots["hrizn"] = slot.get();
        sub = std::make_unique<pipeline::detail::submission>(
            svc.executor(), svc, cfg, log,
            pipeline::detail::submission_port{
                .start_tracking = [this](job_ctx& j,
                                         std::size_t i) { tracked.emplace_back(j.rec.job_id, i); },
                .webhook_url = [](const provider_slot&) { return std::string(); },
                .start_job = [](job_ctx&) {},
                .refuse_job = [](const std::string&, const std::vector<brief::problem>&) {},
            });
        svc.spawn(sub->batch_loop(*slot), false);
    }
    ~hrizn_submission() {
        // Everything still waiting ends before the slot and the component go.
        svc.stop();
        sub->stop();
        slot->host->stop();
        slot->client.cancel_all();
        svc.run_until([this] { return svc.drain_tasks + svc.other_tasks == 0; });
    }

    /// A job of `n` Hrizn articles, every item pending.
    job_ctx& add_job(const std::string& id, std::size_t n) {
        auto parsed =
            brief::parse(id + ".json", hrizn_brief(id, n), "lamina", providers::item_schemas());
        REQUIRE(parsed.ok());
        job_ctx job;
        job.brief = std::move(*parsed.brief);
        job.rec.job_id = id;
        job.rec.brief_name = id + ".json";
        job.rec.provider = "hrizn";
        for (std::size_t i = 0; i < n; ++i) {
            jobs::item_record it;
            it.index = i;
            job.rec.items.push_back(it);
        }
        job.validated = true;
        return svc.add(std::move(job));
    }
    std::uint64_t stat(const std::string& name) const {
        return sim.stats().as_object().at("hrizn").as_object().at(name).to_number<std::uint64_t>();
    }
};

}  // namespace

TEST_CASE(
    "submission (briefsim, Hrizn): intent with its key and group is persisted before the "
    "batch is sent, then the accepted runs go to tracking") {
    hrizn_submission h;
    auto& job = h.add_job("s1", 3);
    for (std::size_t i = 0; i < 3; ++i) h.sub->enqueue_item(job, i);
    REQUIRE(h.svc.run_until([&] { return h.tracked.size() == 3; }));
    CHECK(h.stat("batches") == 1);
    CHECK(h.stat("items_created") == 3);
    CHECK(h.svc.failures.empty());

    // The first snapshot is the intent, taken before the request: every member `submitting`,
    // under one key, each naming the whole request.
    const auto& snaps = h.svc.persisted["s1"];
    REQUIRE(snaps.size() >= 2);
    const auto& intent = snaps.front();
    const auto key = intent.items[0].submit_key;
    CHECK_FALSE(key.empty());
    for (const auto& it : intent.items) {
        CHECK(it.state == jobs::item_state::submitting);
        CHECK(it.submit_key == key);
        CHECK(it.submit_attempts == 1);
        CHECK(it.submit_group.size() == 3);
        CHECK(it.run_id.empty());
    }
    // The last is the outcome: every item submitted with its own run.
    std::set<std::string> runs;
    for (const auto& it : snaps.back().items) {
        CHECK(it.state == jobs::item_state::submitted);
        CHECK_FALSE(it.run_id.empty());
        runs.insert(it.run_id);
    }
    CHECK(runs.size() == 3);
    CHECK(job.rec.items[2].run_id == snaps.back().items[2].run_id);
    CHECK(h.svc.crashes.empty());
}

TEST_CASE(
    "submission (briefsim, Hrizn): no request leaves while its intent cannot be made "
    "durable; it goes, under the same key, once it can") {
    hrizn_submission h;
    h.svc.durable_error = std::make_error_code(std::errc::io_error);
    auto& job = h.add_job("s2", 1);
    h.sub->enqueue_item(job, 0);
    // Long enough for the batch to linger out (50 ms) and its request to be refused at the gate.
    h.svc.run_until([] { return false; }, std::chrono::milliseconds(1500));
    CHECK(h.stat("batches") == 0);
    CHECK(h.stat("items_created") == 0);
    CHECK(h.tracked.empty());
    REQUIRE(h.svc.persists("s2") >= 1);  // it tried to record the intent
    const auto key = job.rec.items[0].submit_key;
    CHECK_FALSE(key.empty());

    h.svc.durable_error = {};  // the disk is back
    REQUIRE(h.svc.run_until([&] { return h.tracked.size() == 1; }, std::chrono::seconds(20)));
    CHECK(h.stat("batches") == 1);
    CHECK(h.stat("items_created") == 1);
    CHECK(job.rec.items[0].state == jobs::item_state::submitted);
    CHECK(job.rec.items[0].submit_key == key);
}

TEST_CASE(
    "submission (briefsim, Hrizn): an uncertain request is replayed once under its key and "
    "answered with the runs it created") {
    hrizn_submission h;
    auto& job = h.add_job("s3", 2);
    h.sub->enqueue_item(job, 0);
    h.sub->enqueue_item(job, 1);
    REQUIRE(h.svc.run_until([&] { return h.tracked.size() == 2; }));
    const auto run0 = job.rec.items[0].run_id, run1 = job.rec.items[1].run_id;
    REQUIRE_FALSE(run0.empty());

    // As the next start finds it after a crash between sending and recording the answer.
    for (auto& it : job.rec.items) {
        it.state = jobs::item_state::submitting;
        it.run_id.clear();
    }
    h.tracked.clear();
    const auto spawned = h.svc.spawned;
    std::set<std::string> replayed;
    h.sub->replay_uncertain(job, 0, replayed);
    h.sub->replay_uncertain(job, 1, replayed);  // rides along with item 0's request
    CHECK(h.svc.spawned == spawned + 1);
    REQUIRE(h.svc.run_until([&] { return h.tracked.size() == 2; }));
    CHECK(job.rec.items[0].run_id == run0);
    CHECK(job.rec.items[1].run_id == run1);
    CHECK(h.stat("items_created") == 2);
    CHECK(h.stat("duplicate_generations") == 0);
    CHECK(h.svc.crashes.empty());
}

}  // namespace briefd::it
