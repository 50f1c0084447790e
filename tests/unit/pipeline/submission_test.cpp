// Submission as a component, without the engine: a test_job_services (real temp dir, real event
// loop), real provider slots that point at a port where nothing listens, and the cases where
// nothing may be sent — an unconfigured provider, a cancelled job, items waiting in their batch,
// an uncertain item under both on_uncertain policies. What a request carries to a real provider is
// tested against briefsim in tests/integration/submission_test.cpp.
#include "pipeline/submission.hpp"
#include "pipeline/detail/provider_slot.hpp"

#include "unit/pipeline/test_job_services.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace briefd;
using pipeline::detail::job_ctx;
using pipeline::detail::provider_slot;
using pipeline::detail::submission;
using test::test_job_services;

namespace {

/// Two Lamina content items: both may share a request (they have a group key).
constexpr std::string_view lamina_brief = R"({"items":[
    {"brief":"a","platform":"instagram","modality":"image"},
    {"brief":"b","platform":"instagram","modality":"image"}]})";

/// A job of `brief` for its provider, every item pending.
job_ctx make_job(const std::string& id, std::string_view brief_json) {
    auto parsed = brief::parse(id + ".json", brief_json, "lamina", providers::item_schemas());
    REQUIRE(parsed.ok());
    job_ctx job;
    job.brief = std::move(*parsed.brief);
    job.rec.job_id = id;
    job.rec.brief_name = id + ".json";
    job.rec.provider = job.brief.provider;
    for (std::size_t i = 0; i < job.brief.items.size(); ++i) {
        jobs::item_record it;
        it.index = i;
        job.rec.items.push_back(it);
    }
    job.validated = true;
    return job;
}

/// A submission wired to a test_job_services, with its hand-offs recorded.
struct fixture {
    test_job_services svc;
    std::vector<std::string> lines;
    logger log{[this](log_level, std::string_view l) { lines.emplace_back(l); }};
    config::config cfg;
    std::vector<std::unique_ptr<provider_slot>> owned;
    std::vector<std::pair<std::string, std::size_t>> tracked;
    std::vector<std::string> started, refused;
    submission sub{
        svc.executor(), svc, cfg, log,
        pipeline::detail::submission_port{
            .start_tracking = [this](job_ctx& j,
                                     std::size_t i) { tracked.emplace_back(j.rec.job_id, i); },
            .webhook_url = [](const provider_slot&) { return std::string(); },
            .start_job = [this](job_ctx& j) { started.push_back(j.rec.job_id); },
            .refuse_job = [this](const std::string& id,
                                 const std::vector<brief::problem>&) { refused.push_back(id); },
        }};

    /// A slot for `name` whose base URL is a loopback port where nothing listens: whatever would
    /// be sent fails to connect, and the tests below check that nothing even tries.
    provider_slot& add_slot(const std::string& name, std::chrono::milliseconds linger) {
        config::provider_config pc;
        pc.name = name;
        pc.base_url = "http://127.0.0.1:9";
        pc.batch.linger = linger;
        const auto* api = providers::find(name);
        REQUIRE(api);
        secret key("test-key");
        owned.push_back(std::make_unique<provider_slot>(svc.executor(), *api, pc, &key, log, 7));
        svc.slots[name] = owned.back().get();
        return *owned.back();
    }
    bool logged(std::string_view event) const {
        return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) {
            return l.find(event) != std::string::npos;
        });
    }
};

}  // namespace

TEST_CASE(
    "submission: an item whose provider has no slot is failed with that reason; nothing "
    "is sent") {
    fixture f;
    auto& job = f.svc.add(make_job("j1", lamina_brief));  // no slot for lamina
    f.sub.enqueue_item(job, 0);
    REQUIRE(f.svc.failures.size() == 1);
    CHECK(f.svc.failures[0].job_id == "j1");
    CHECK(f.svc.failures[0].index == 0);
    CHECK(f.svc.failures[0].reason == "provider lamina is not configured");
    CHECK(job.rec.items[0].state == jobs::item_state::failed);
    CHECK(job.rec.items[1].state == jobs::item_state::pending);
    CHECK(f.svc.spawned == 0);
    CHECK(f.svc.persists("j1") == 0);
    CHECK(f.sub.batched("lamina") == 0);
}

TEST_CASE("submission: an item of a cancelled job is failed as cancelled; nothing is sent") {
    fixture f;
    f.add_slot("lamina", std::chrono::milliseconds(0));
    auto& job = f.svc.add(make_job("j2", lamina_brief));
    job.cancelled = true;
    f.sub.enqueue_item(job, 1);
    REQUIRE(f.svc.failures.size() == 1);
    CHECK(f.svc.failures[0].index == 1);
    CHECK(f.svc.failures[0].reason == "cancelled by operator");
    CHECK(f.svc.spawned == 0);
    CHECK(f.sub.batched("lamina") == 0);
    CHECK(f.svc.persists("j2") == 0);
}

TEST_CASE(
    "submission: items that may share a request wait in their batch; at stop the batch "
    "loop ends and they stay pending, unsent") {
    fixture f;
    auto& slot = f.add_slot("lamina", std::chrono::hours(1));  // never lingers out in this test
    auto& job = f.svc.add(make_job("j3", lamina_brief));
    f.sub.enqueue_item(job, 0);
    f.sub.enqueue_item(job, 1);
    CHECK(f.sub.batched("lamina") == 2);
    CHECK(f.svc.spawned == 0);  // no submission of their own: the batch loop sends them
    f.svc.spawn(f.sub.batch_loop(slot), false);
    f.svc.poll();
    CHECK(f.svc.other_tasks == 1);  // the loop waits for the batch to fill or linger out
    CHECK(f.svc.drain_tasks == 0);  // and sent nothing
    f.svc.stop();
    f.sub.stop();
    CHECK(f.svc.run_until([&] { return f.svc.other_tasks == 0; }));
    CHECK(f.svc.drain_tasks == 0);
    CHECK(f.svc.spawned == 1);  // the loop itself
    CHECK(job.rec.items[0].state == jobs::item_state::pending);
    CHECK(job.rec.items[1].state == jobs::item_state::pending);
    CHECK(f.svc.persists("j3") == 0);
    CHECK(f.svc.crashes.empty());
}

TEST_CASE("submission: a full batch leaves the batcher at once, whatever the linger") {
    fixture f;
    auto& slot = f.add_slot("lamina", std::chrono::hours(1));
    slot.cfg.batch.max_items = 2;
    f.sub.reload(slot);  // the live limits: two items fill a batch
    auto& job = f.svc.add(make_job("j4", lamina_brief));
    f.svc.spawn(f.sub.batch_loop(slot), false);
    f.svc.poll();
    f.sub.enqueue_item(job, 0);
    f.svc.poll();
    CHECK(f.sub.batched("lamina") == 1);
    f.sub.enqueue_item(job, 1);
    CHECK(f.svc.run_until([&] { return f.sub.batched("lamina") == 0; }));
    CHECK(f.svc.spawned == 2);  // the loop, and one submission for the pair
    // The submission goes to a port where nothing listens; stop before it can end.
    f.svc.stop();
    f.sub.stop();
    slot.host->stop();
    slot.client.cancel_all();
    CHECK(f.svc.run_until([&] { return f.svc.other_tasks + f.svc.drain_tasks == 0; }));
    CHECK(f.svc.crashes.empty());
}

TEST_CASE("submission: an uncertain item without a key is failed under on_uncertain fail") {
    fixture f;
    f.add_slot("lamina", std::chrono::hours(1));
    auto& job = f.svc.add(make_job("j5", lamina_brief));
    job.rec.items[0].state = jobs::item_state::submitting;
    f.cfg.on_uncertain = config::uncertain_policy::fail;
    f.sub.uncertain(job, 0, "the daemon stopped after sending it");
    REQUIRE(f.svc.failures.size() == 1);
    CHECK(f.svc.failures[0].reason.find("submission outcome unknown (the daemon stopped after "
                                        "sending it)") == 0);
    CHECK(f.svc.failures[0].reason.find("on_uncertain is fail") != std::string::npos);
    CHECK(f.sub.batched("lamina") == 0);
    CHECK(f.logged("submission.uncertain"));
}

TEST_CASE(
    "submission: an uncertain item is put back in line, persisted pending, under "
    "on_uncertain resubmit (read live from the config)") {
    fixture f;
    f.add_slot("lamina", std::chrono::hours(1));
    auto& job = f.svc.add(make_job("j6", lamina_brief));
    job.rec.items[1].state = jobs::item_state::submitting;
    f.cfg.on_uncertain = config::uncertain_policy::resubmit;  // after the component was made
    f.sub.uncertain(job, 1, "no response to the request");
    CHECK(f.svc.failures.empty());
    CHECK(job.rec.items[1].state == jobs::item_state::pending);
    REQUIRE(f.svc.persists("j6") == 1);
    CHECK(f.svc.persisted["j6"].back().items[1].state == jobs::item_state::pending);
    CHECK(f.sub.batched("lamina") == 1);
}
