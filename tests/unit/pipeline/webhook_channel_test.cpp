// The webhook channel as a component: a real Hrizn provider slot on the test's event loop, a real
// run_tracking wired to it as the engine wires them, job_services from test_job_services — no
// listener, no request sent. What needs a server (deliveries, signatures against briefsim, grace
// checks' status requests, key fetches) is covered in tests/integration/webhooks_test.cpp.
#include "pipeline/webhook_channel.hpp"

#include "core/error.hpp"
#include "pipeline/detail/provider_slot.hpp"
#include "pipeline/run_tracking.hpp"

#include "unit/pipeline/test_job_services.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>

namespace asio = boost::asio;
using namespace briefd;
using pipeline::detail::job_ctx;
using pipeline::detail::provider_slot;
using pipeline::detail::run_tracking;
using pipeline::detail::run_tracking_port;
using pipeline::detail::webhook_channel;
using pipeline::detail::webhook_port;
using providers::run_phase;

namespace {

struct channel_options {
    bool enabled = true;
    bool secret = true;  ///< a webhook_secret_file is configured (Hrizn needs one)
    config::tracking_mode mode = config::tracking_mode::auto_;
    unsigned fallback_after = 2;
};

/// Run tracking and the webhook channel on one Hrizn slot, wired to each other as engine.cpp does.
struct channel_fixture {
    test::test_job_services svc;
    std::vector<std::string> lines;
    logger log{[this](log_level, std::string_view l) { lines.emplace_back(l); }};
    config::config cfg;
    std::vector<std::pair<std::string, std::size_t>> downloads;  ///< start_downloads calls
    std::unique_ptr<provider_slot> slot;
    std::unique_ptr<run_tracking> tracking;
    std::unique_ptr<webhook_channel> hooks;

    explicit channel_fixture(channel_options o = {}) {
        cfg.webhooks.enabled = o.enabled;
        cfg.webhooks.public_url = "https://render.example.com/briefd";
        cfg.webhooks.fallback_after = o.fallback_after;
        config::provider_config pc;
        pc.name = "hrizn";
        pc.base_url = "http://127.0.0.1:1";  // never reached: nothing here sends a request
        pc.tracking.mode = o.mode;
        if (o.secret) {
            pc.webhook_secret_file = (svc.dir / "hrizn.whsec").string();
            std::ofstream(pc.webhook_secret_file) << "whsec_0123456789abcdef0123456789abcdef";
        }
        cfg.providers.emplace("hrizn", pc);
        slot = std::make_unique<provider_slot>(svc.executor(), *providers::find("hrizn"), pc,
                                               nullptr, log, 1);
        svc.slots["hrizn"] = slot.get();
        tracking = std::make_unique<run_tracking>(
            svc.executor(), svc, log, 7,
            run_tracking_port{
                .start_downloads =
                    [this](job_ctx& job, std::size_t index) {
                        downloads.emplace_back(job.rec.job_id, index);
                    },
                .note_view = [](const std::string&, std::size_t, const providers::run_view&) {},
                .cancel_run = [](provider_slot&, std::string) -> asio::awaitable<bool> {
                    co_return false;
                },
                .tracked_by_webhook =
                    [this](const provider_slot& s, const brief::item& it) {
                        return hooks->tracked_by_webhook(s, it);
                    },
                .track_by_webhook = [this](provider_slot& s, job_ctx& job,
                                           std::size_t index) { hooks->track(s, job, index); },
                .stream_opened = [](std::string_view, unsigned, bool) {},
            });
        hooks = std::make_unique<webhook_channel>(
            svc.executor(), svc, cfg, log, *tracking,
            webhook_port{.find_run = [](std::string_view, std::string_view)
                             -> std::optional<std::pair<std::string, std::size_t>> {
                return std::nullopt;
            }});
        hooks->setup({slot.get()});
    }
    ~channel_fixture() {
        // Every task ends before the slot and the components go (see test_job_services.hpp).
        svc.stop();
        hooks->stop();
        tracking->stop();
        slot->host->stop();
        svc.run_until([this] { return svc.drain_tasks + svc.other_tasks == 0; });
    }

    /// A job of `items` Hrizn items, all submitted with run ids run-0, run-1, …
    job_ctx& add_job(const std::string& id, std::size_t items = 1) {
        return svc.add_submitted(id, "hrizn", items);
    }
    bool logged(std::string_view a) const {
        return std::any_of(lines.begin(), lines.end(),
                           [&](const std::string& l) { return l.find(a) != std::string::npos; });
    }
};

providers::run_view finished(std::string run_id) {
    providers::run_view v;
    v.run_id = std::move(run_id);
    v.phase = run_phase::completed;
    v.status = "complete";
    return v;
}

const brief::item hrizn_item{0, brief::hrizn_item{}};

}  // namespace

TEST_CASE("webhook_channel: webhooks track a provider's runs only when config and secret allow") {
    SUBCASE("enabled, auto mode, secret configured") {
        channel_fixture f;
        CHECK(f.hooks->tracked_by_webhook(*f.slot, hrizn_item));
        CHECK(f.hooks->url(*f.slot) == "https://render.example.com/briefd/hrizn");
        CHECK(f.hooks->mode("hrizn") == "on");
        CHECK(f.hooks->mode("lamina").empty());  // not configured here
    }
    SUBCASE("no secret: not used, and the log says why") {
        channel_fixture f({.secret = false});
        CHECK_FALSE(f.hooks->tracked_by_webhook(*f.slot, hrizn_item));
        CHECK(f.hooks->url(*f.slot).empty());
        CHECK(f.hooks->mode("hrizn").empty());
        CHECK(f.logged("webhooks.not_used"));
    }
    SUBCASE("tracking mode poll") {
        channel_fixture f({.mode = config::tracking_mode::poll});
        CHECK_FALSE(f.hooks->tracked_by_webhook(*f.slot, hrizn_item));
        CHECK(f.hooks->url(*f.slot).empty());
    }
    SUBCASE("webhooks disabled") {
        channel_fixture f({.enabled = false});
        CHECK_FALSE(f.hooks->tracked_by_webhook(*f.slot, hrizn_item));
        CHECK(f.hooks->mode("hrizn").empty());
        CHECK(f.hooks->start());  // nothing to listen on: starts at once
    }
}

TEST_CASE(
    "webhook_channel: a handed-over run waits for its delivery; forget gives back its place") {
    channel_fixture f;
    auto& job = f.add_job("job-a", 2);
    f.tracking->start(job, 0);
    f.tracking->start(job, 1);
    CHECK(f.hooks->waiting("hrizn") == 2);
    CHECK(f.tracking->running() == 2);  // counted in run tracking while the channel holds them
    CHECK(f.svc.spawned == 1);          // one grace loop for the provider, no tracker per run

    f.hooks->forget(*f.slot, "run-0");
    CHECK(f.hooks->waiting("hrizn") == 1);
    CHECK(f.tracking->running() == 1);
    f.hooks->forget(*f.slot, "run-0");  // not waiting any more: nothing given back twice
    CHECK(f.tracking->running() == 1);
    f.hooks->forget(*f.slot, "run-1");
    CHECK(f.hooks->waiting("hrizn") == 0);
    CHECK(f.tracking->running() == 0);
}

TEST_CASE("webhook_channel: a run gone at the provider fails after the second 404 in a row") {
    channel_fixture f;
    auto& job = f.add_job("job-b");
    f.tracking->start(job, 0);
    f.hooks->grace_checked(*f.slot, "run-0", make_error_code(errc::not_found), std::nullopt);
    CHECK(f.svc.failures.empty());
    CHECK(f.hooks->waiting("hrizn") == 1);
    f.hooks->grace_checked(*f.slot, "run-0", make_error_code(errc::not_found), std::nullopt);
    REQUIRE(f.svc.failures.size() == 1);
    CHECK(f.svc.failures[0].reason == "run run-0 no longer exists at the provider");
    CHECK(f.hooks->waiting("hrizn") == 0);
    CHECK(f.tracking->running() == 0);
}

TEST_CASE("webhook_channel: fallback_after runs finished without delivery fall back to requests") {
    channel_fixture f({.fallback_after = 2});
    auto& job = f.add_job("job-c", 3);
    for (std::size_t i = 0; i < 3; ++i) f.tracking->start(job, i);
    REQUIRE(f.hooks->waiting("hrizn") == 3);

    // A failed check (no view) and a running view count nothing.
    f.hooks->grace_checked(*f.slot, "run-0", make_error_code(errc::server_error), std::nullopt);
    auto running = finished("run-0");
    running.phase = run_phase::running;
    running.status = "generating";
    f.hooks->grace_checked(*f.slot, "run-0", {}, running);
    CHECK(f.hooks->waiting("hrizn") == 3);
    CHECK_FALSE(f.logged("webhooks.delivery_missing"));

    f.hooks->grace_checked(*f.slot, "run-0", {}, finished("run-0"));
    CHECK(f.logged("webhooks.delivery_missing"));
    CHECK(f.hooks->mode("hrizn") == "on");  // one miss: not yet
    CHECK(job.rec.items[0].outputs_known);  // the check finished the run
    CHECK(f.downloads.size() == 1);

    f.hooks->grace_checked(*f.slot, "run-1", {}, finished("run-1"));
    CHECK(f.hooks->mode("hrizn") == "fallback");
    CHECK(f.logged("webhooks.fallback"));
    CHECK_FALSE(f.hooks->tracked_by_webhook(*f.slot, hrizn_item));
    // The run still waiting went back to request-based tracking: still running, not waiting.
    CHECK(f.hooks->waiting("hrizn") == 0);
    CHECK(f.tracking->running() == 1);
}
