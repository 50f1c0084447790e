// Run tracking as a component: real provider slots (Lamina, Hrizn) on the test's event loop, a
// real temp directory for outputs, job_services from test_job_services and a port that records
// the hand-offs — no engine, no daemon. What needs a server (streams, polls, list sweeps) is
// covered against briefsim in tests/integration (tracking, hrizn, layers, webhooks); a hostile
// answer briefsim does not give (another run's state on a run's stream) is served here by
// http::server on loopback.
#include "pipeline/run_tracking.hpp"

#include "http/server.hpp"
#include "pipeline/detail/provider_slot.hpp"
#include "store/atomic_file.hpp"
#include "store/paths.hpp"

#include "unit/pipeline/test_job_services.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace asio = boost::asio;
using namespace briefd;
using pipeline::detail::job_ctx;
using pipeline::detail::provider_slot;
using pipeline::detail::run_tracking;
using pipeline::detail::run_tracking_port;
using providers::run_phase;

namespace {

/// A run tracking component on one provider's slot, its port recording what it hands off.
struct tracking_fixture {
    test::test_job_services svc;
    std::vector<std::string> lines;
    logger log{[this](log_level, std::string_view l) { lines.emplace_back(l); }};
    std::vector<std::pair<std::string, std::size_t>> downloads;  ///< start_downloads calls
    std::vector<std::size_t> persisted_at_download;  ///< persist() calls when each was made
    std::vector<std::string> cancelled;              ///< cancel_run calls (run ids)
    std::vector<int> progress;                       ///< note_view calls' percent
    bool by_webhook = false;                         ///< what tracked_by_webhook answers
    std::vector<std::string> webhook_runs;           ///< track_by_webhook calls (run ids)
    std::unique_ptr<provider_slot> slot;
    std::unique_ptr<run_tracking> tracking;

    explicit tracking_fixture(std::string provider = "lamina",
                              std::function<void(config::provider_config&)> tweak = {}) {
        config::provider_config pc;
        pc.name = provider;
        pc.base_url = "http://127.0.0.1:1";  // never reached: nothing here sends a request
        if (tweak) tweak(pc);
        const auto* api = providers::find(provider);
        REQUIRE(api);
        slot = std::make_unique<provider_slot>(svc.executor(), *api, pc, nullptr, log, 1);
        svc.slots[provider] = slot.get();
        tracking = std::make_unique<run_tracking>(
            svc.executor(), svc, log, 7,
            run_tracking_port{
                .start_downloads =
                    [this](job_ctx& job, std::size_t index) {
                        downloads.emplace_back(job.rec.job_id, index);
                        persisted_at_download.push_back(svc.persists(job.rec.job_id));
                    },
                .note_view =
                    [this](const std::string&, std::size_t, const providers::run_view& v) {
                        progress.push_back(v.progress_percent);
                    },
                .cancel_run = [this](provider_slot&, std::string run_id) -> asio::awaitable<bool> {
                    cancelled.push_back(std::move(run_id));
                    co_return true;
                },
                .tracked_by_webhook = [this](const provider_slot&,
                                             const brief::item&) { return by_webhook; },
                .track_by_webhook =
                    [this](provider_slot&, job_ctx& job, std::size_t index) {
                        webhook_runs.push_back(job.rec.items[index].run_id);
                    },
                .stream_opened = [](std::string_view, unsigned, bool) {},
            });
    }
    ~tracking_fixture() {
        // Every task ends before the slot and the component go (see test_job_services.hpp).
        svc.stop();
        tracking->stop();
        slot->host->stop();
        svc.run_until([this] { return svc.drain_tasks + svc.other_tasks == 0; });
    }

    /// A job of `items` items, all submitted with run ids run-0, run-1, …
    job_ctx& add_job(const std::string& id, std::size_t items = 1) {
        return svc.add_submitted(id, slot->name(), items);
    }

    bool logged(std::string_view a, std::string_view b = {}) const {
        return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) {
            return l.find(a) != std::string::npos && l.find(b) != std::string::npos;
        });
    }
};

providers::run_view view(run_phase phase, std::string status) {
    providers::run_view v;
    v.run_id = "run-0";
    v.phase = phase;
    v.status = std::move(status);
    return v;
}

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST_CASE("run_tracking: a run id the provider would not use fails the item with its reason") {
    tracking_fixture f;
    auto& job = f.add_job("job-a");
    job.rec.items[0].run_id = "../../etc?x=1";
    f.tracking->start(job, 0);
    REQUIRE(f.svc.failures.size() == 1);
    CHECK(f.svc.failures[0].job_id == "job-a");
    CHECK(f.svc.failures[0].reason.find("is not one briefd will use in a request") !=
          std::string::npos);
    CHECK(job.rec.items[0].state == jobs::item_state::failed);
    CHECK(f.tracking->running() == 0);
    CHECK(f.svc.spawned == 0);  // nothing follows it
}

TEST_CASE("run_tracking: an item whose provider has no slot fails instead of being tracked") {
    tracking_fixture f;
    auto& job = f.add_job("job-b");
    job.rec.provider = "layers";  // not configured here
    f.tracking->start(job, 0);
    REQUIRE(f.svc.failures.size() == 1);
    CHECK(f.tracking->running() == 0);
    CHECK(f.svc.spawned == 0);
}

TEST_CASE("run_tracking: a cancelled job's item fails, is not tracked, and its run is cancelled") {
    tracking_fixture f;
    auto& job = f.add_job("job-c");
    job.cancelled = true;
    f.tracking->start(job, 0);
    REQUIRE(f.svc.failures.size() == 1);
    CHECK(f.svc.failures[0].reason == "cancelled by operator");
    CHECK(f.tracking->running() == 0);
    CHECK(f.svc.spawned == 1);  // the cancel, nothing else
    CHECK(f.svc.run_until([&] { return !f.cancelled.empty(); }));
    REQUIRE(f.cancelled.size() == 1);
    CHECK(f.cancelled[0] == "run-0");
    CHECK_FALSE(f.logged("run.tracking"));
}

TEST_CASE(
    "run_tracking: a completed run's text output is written, recorded, then downloads start") {
    tracking_fixture f;
    auto& job = f.add_job("job-d");
    auto v = view(run_phase::completed, "completed");
    providers::output_view text;
    text.label = "caption";
    text.type = "text";
    text.status = "completed";
    text.ext = "txt";
    text.text = "hello, world";
    providers::output_view image;
    image.label = "image";
    image.type = "image";
    image.status = "completed";
    image.url = "https://files.example/a.png";
    providers::output_view lost;
    lost.label = "video";
    lost.status = "failed";
    lost.error = "render failed";
    v.outputs = {text, image, lost};
    v.progress_percent = 100;

    bool input_sent = false;
    CHECK_FALSE(f.tracking->on_run_view("job-d", 0, v, input_sent));  // tracking ends

    const auto& it = job.rec.items[0];
    CHECK(it.outputs_known);
    CHECK(it.run_status == "completed");
    REQUIRE(it.outputs.size() == 3);
    CHECK(it.outputs[0].saved);
    CHECK(it.outputs[0].bytes == 12);
    CHECK(it.outputs[0].sha256 == store::sha256_hex("hello, world"));
    CHECK(slurp(f.svc.job_dir(job) / it.outputs[0].file) == "hello, world");
    CHECK(it.outputs[0].file == store::output_file_name(0, 0, "caption", "txt"));
    CHECK_FALSE(it.outputs[1].saved);
    CHECK(it.outputs[1].url == "https://files.example/a.png");
    CHECK(it.outputs[2].error == "render failed");
    CHECK(f.progress == std::vector<int>{100});  // /status heard of it

    // The record (text saved, outputs known) was queued before downloads were handed the item.
    REQUIRE(f.svc.persists("job-d") == 1);
    const auto& snap = f.svc.persisted["job-d"][0].items[0];
    CHECK(snap.outputs_known);
    CHECK(snap.outputs[0].saved);
    REQUIRE(f.downloads.size() == 1);
    CHECK(f.downloads[0] == std::pair<std::string, std::size_t>{"job-d", 0});
    CHECK(f.persisted_at_download == std::vector<std::size_t>{1});
    CHECK(f.svc.failures.empty());

    // A duplicate report (another channel, a replayed delivery) changes nothing.
    CHECK_FALSE(f.tracking->on_run_view("job-d", 0, v, input_sent));
    CHECK(f.svc.persists("job-d") == 1);
    CHECK(f.downloads.size() == 1);
}

TEST_CASE("run_tracking: outputs to download leave the job's directory to the downloads") {
    // Making outputs/<job>/ costs an inode and an fsync: on the event loop only for text.
    tracking_fixture f;
    auto& job = f.add_job("job-u");
    auto v = view(run_phase::completed, "completed");
    providers::output_view image;
    image.label = "image";
    image.type = "image";
    image.status = "completed";
    image.url = "https://files.example/a.png";
    v.outputs = {image};
    bool input_sent = false;
    CHECK_FALSE(f.tracking->on_run_view("job-u", 0, v, input_sent));
    CHECK(job.rec.items[0].outputs_known);
    CHECK(f.downloads.size() == 1);
    CHECK_FALSE(std::filesystem::exists(f.svc.job_dir(job)));
}

TEST_CASE("run_tracking: a failed or cancelled run fails its item with the run's reason") {
    tracking_fixture f;
    auto& job = f.add_job("job-e", 2);
    auto failed = view(run_phase::failed, "failed");
    failed.error = "content policy";
    bool sent = false;
    CHECK_FALSE(f.tracking->on_run_view("job-e", 0, failed, sent));
    auto cancelled = view(run_phase::cancelled, "");
    cancelled.run_id = "run-1";
    CHECK_FALSE(f.tracking->on_run_view("job-e", 1, cancelled, sent));
    REQUIRE(f.svc.failures.size() == 2);
    CHECK(f.svc.failures[0].reason == "run failed: content policy");
    CHECK(f.svc.failures[1].reason == "run cancelled");
    CHECK(job.rec.items[0].run_status == "failed");
    CHECK(job.rec.items[1].run_status == "cancelled");  // the phase's word when no status
    CHECK(f.downloads.empty());
    CHECK(f.svc.persists("job-e") == 0);  // item_failed persists (the engine's), not tracking
}

TEST_CASE("run_tracking: a running view goes on; a job gone ends tracking") {
    tracking_fixture f;
    auto& job = f.add_job("job-f");
    auto running = view(run_phase::running, "running");
    running.progress_percent = 40;
    bool sent = false;
    CHECK(f.tracking->on_run_view("job-f", 0, running, sent));
    CHECK(f.progress == std::vector<int>{40});
    CHECK(job.rec.items[0].state == jobs::item_state::submitted);
    f.svc.jobs.erase("job-f");  // filed meanwhile
    CHECK_FALSE(f.tracking->on_run_view("job-f", 0, view(run_phase::completed, "completed"), sent));
    CHECK(f.downloads.empty());
    CHECK(f.svc.failures.empty());
}

TEST_CASE(
    "run_tracking: a run awaiting input the brief cannot give fails with the provider's why") {
    tracking_fixture f("hrizn");
    auto& job = f.add_job("job-g");
    bool sent = false;
    CHECK_FALSE(f.tracking->on_run_view("job-g", 0,
                                        view(run_phase::awaiting_input, "awaiting_input"), sent));
    CHECK_FALSE(sent);
    REQUIRE(f.svc.failures.size() == 1);
    CHECK(f.svc.failures[0].reason.find("selected_question_ids") != std::string::npos);
    CHECK(job.rec.items[0].state == jobs::item_state::failed);
    CHECK(f.svc.spawned == 0);  // no input request
}

TEST_CASE("run_tracking: Hrizn runs go to the list channel, one loop for all of them") {
    tracking_fixture f("hrizn");
    auto& job = f.add_job("job-h", 3);
    for (std::size_t i = 0; i < 3; ++i) f.tracking->start(job, i);
    CHECK(f.tracking->running() == 3);
    CHECK(f.svc.spawned == 1);  // one list loop, no per-run tracker
    CHECK(f.logged("run.tracking", "channel=list"));
    CHECK(f.svc.failures.empty());
}

TEST_CASE("run_tracking: with list: false a Hrizn run gets a tracker of its own") {
    tracking_fixture f("hrizn", [](config::provider_config& pc) { pc.tracking.list = false; });
    auto& job = f.add_job("job-i", 2);
    f.tracking->start(job, 0);
    f.tracking->start(job, 1);
    CHECK(f.tracking->running() == 2);
    CHECK(f.svc.spawned == 2);  // track_run each
    CHECK_FALSE(f.logged("channel=list"));
    // Stopped before their first request: each tracker ends and gives its run back.
    f.svc.stop();
    f.tracking->stop();
    CHECK(f.svc.run_until([&] { return f.svc.other_tasks == 0; }));
    CHECK(f.tracking->running() == 0);
    CHECK(f.svc.failures.empty());  // stopping fails nothing: the next start tracks them again
}

TEST_CASE("run_tracking: a run that reports by webhook is handed over, and counts until it ends") {
    tracking_fixture f;
    f.by_webhook = true;
    auto& job = f.add_job("job-j");
    f.tracking->start(job, 0);
    CHECK(f.webhook_runs == std::vector<std::string>{"run-0"});
    CHECK(f.svc.spawned == 0);
    CHECK(f.tracking->running() == 1);
    f.tracking->run_ended(*f.slot);
    CHECK(f.tracking->running() == 0);
}

TEST_CASE("run_tracking: a run whose job is filed before its tracker begins gives its place back") {
    tracking_fixture f("lamina", [](config::provider_config& pc) { pc.max_concurrent_jobs = 5; });
    auto& job = f.add_job("job-k");
    f.tracking->start(job, 0);
    CHECK(f.tracking->running() == 1);
    CHECK(f.slot->host->jobs().running() == 1);  // the run holds a place of the jobs cap
    f.svc.jobs.erase("job-k");                   // cancelled and filed meanwhile
    CHECK(f.svc.run_until([&] { return f.svc.other_tasks == 0; }));
    CHECK(f.tracking->running() == 0);
    CHECK(f.slot->host->jobs().running() == 0);
    CHECK(f.svc.failures.empty());
}

TEST_CASE("run_tracking: a stream event about another run is ignored; the run's own state decides") {
    // A Lamina API on loopback whose stream for run-0 reports run-9 complete (with run-9's
    // outputs); its wait answers run-0's own state. The item must get run-0's outputs.
    tracking_fixture f;
    std::vector<std::string> targets;
    http::server srv(f.svc.executor(), [&](const http::server_request& r)
                                           -> asio::awaitable<http::server_response> {
        targets.push_back(r.target);
        http::server_response res;
        const auto run = [](std::string id, std::string file) {
            return R"({"data":{"runId":")" + id +
                   R"(","status":"completed","outputs":[{"id":"o1","label":"image","type":"image","status":"completed","value":"https://files.example/)" +
                   file + R"("}]}})";
        };
        if (r.target.starts_with("/v1/runs/run-0/stream")) {
            res.content_type = "text/event-stream";
            res.body = "event: complete\ndata: " + run("run-9", "other.png") + "\n\n";
        } else if (r.target.starts_with("/v1/runs/run-0/wait") || r.target == "/v1/runs/run-0") {
            res.content_type = "application/json";
            res.body = run("RUN-0", "mine.png");  // the same id, upper-cased: still ours
        } else {
            res.status = 404;
        }
        co_return res;
    });
    srv.listen({asio::ip::make_address("127.0.0.1"), 0});
    f.slot->base_url = boost::urls::url("http://127.0.0.1:" + std::to_string(srv.local_endpoint().port()));
    auto& job = f.add_job("job-x");
    f.tracking->start(job, 0);
    REQUIRE(f.svc.run_until([&] { return job.rec.items[0].outputs_known; }));
    REQUIRE(job.rec.items[0].outputs.size() == 1);
    CHECK(job.rec.items[0].outputs[0].url == "https://files.example/mine.png");
    CHECK(f.logged("run.foreign_view", "run-9"));
    CHECK(std::any_of(targets.begin(), targets.end(),
                      [](const std::string& t) { return t.starts_with("/v1/runs/run-0/stream"); }));
    srv.stop();
}
