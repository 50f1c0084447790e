// Layers end to end: briefd against briefsim's Layers origin — one generate per item with an
// Idempotency-Key and a derived id, job polling with If-None-Match on the documented schedule,
// every container of a job fetched and every asset verified against its size and checksum,
// billing exhausted then topped up, a layer conflict and moderation failing one item each; the
// concurrent-jobs cap (briefd's own and the organisation's), a 429 storm, 304s, and a rejected key
// at one of three providers.
#include "integration/helpers.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <thread>

namespace briefd::it {

namespace json = boost::json;

namespace {
rig_options layers_rig(std::vector<std::string> sim_args = {}) {
    rig_options o;
    o.layers = true;
    o.sim_args = std::move(sim_args);
    return o;
}

std::string layers_item(const std::string& topic, int variants,
                        const std::string& project = "0b9f5d1e-7c1a-4d3e-8f2a-5b6c7d8e9f00") {
    return json::serialize(
        json::object{{"projectId", project},
                     {"format", "slideshow_remix"},
                     {"variantCount", variants},
                     {"brief", json::object{{"topic", topic}, {"hook", "Wait for it"}}}});
}

std::string layers_brief(const std::vector<std::string>& items) {
    std::string s = R"({"provider":"layers","items":[)";
    for (std::size_t i = 0; i < items.size(); ++i) s += (i ? "," : "") + items[i];
    return s + "]}";
}

// `n` one-variant jobs with distinct topics.
std::string many_jobs(const std::string& tag, int n) {
    std::vector<std::string> items;
    for (int i = 0; i < n; ++i)
        items.push_back(layers_item(tag + " " + std::to_string(i), 1 + i % 2));
    return layers_brief(items);
}

std::uint64_t num(const json::object& o, std::string_view k) {
    const auto* v = o.if_contains(k);
    return v && v->is_number() ? v->to_number<std::uint64_t>() : 0;
}

// briefsim's Layers over_limit.<what>: requests refused by a class window (read-light,
// write-light, long-running), the daily write cap (daily) or the concurrent-jobs cap (jobs).
std::uint64_t over(const rig& r, std::string_view what) {
    auto st = r.sim->stats();
    return num(st.at("layers").at("over_limit").as_object(), what);
}

// Samples briefsim's running Layers jobs until `briefs` are filed: the most seen at once and the
// mean while jobs were still waiting to start (`jobs` in all).
struct occupancy {
    std::uint64_t peak = 0;
    double mean_while_queued = 0;
};
occupancy watch_jobs(rig& r, std::size_t briefs, std::uint64_t jobs) {
    occupancy o;
    double sum = 0;
    std::size_t n = 0;
    auto deadline = std::chrono::steady_clock::now() + filed_timeout;
    while (r.d->done().size() + r.d->failed().size() < briefs &&
           std::chrono::steady_clock::now() < deadline) {
        auto st = r.sim->stats();
        const auto& l = st.at("layers").as_object();
        auto running = num(l, "running_jobs");
        o.peak = std::max(o.peak, running);
        if (num(l, "jobs_created") < jobs && num(l, "jobs_created") > 0) {
            sum += static_cast<double>(running);
            ++n;
        }
        std::this_thread::sleep_for(30ms);
    }
    o.mean_while_queued = n ? sum / static_cast<double>(n) : 0;
    return o;
}
}  // namespace

TEST_CASE("layers: jobs of 1 to 5 variants complete with every container's assets verified") {
    rig r(layers_rig({"--layers-corrupt", "0.3"}));
    RIG_CONTEXT(r);
    r.d->drop("variants.json",
              layers_brief({layers_item("one", 1), layers_item("two", 2), layers_item("three", 3),
                            layers_item("four", 4), layers_item("five", 5)}));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"variants.json"});
    auto m = r.d->manifest("variants");
    CHECK(m.at("provider").as_string() == "layers");
    CHECK(m.at("status").as_string() == "completed");
    // Every container of every job: at least one asset per variant, each checked against the
    // manifest's size and sha256 (which were verified against the provider's checksum).
    std::size_t outputs = 0;
    for (const auto& it : m.at("items").as_array()) outputs += it.at("outputs").as_array().size();
    CHECK(outputs >= 15);
    CHECK(check_outputs(*r.d, "variants") == outputs);
    CHECK(r.layers_stat("jobs_created") == 5);
    CHECK(r.layers_stat("containers_created") == 15);
    CHECK(r.layers_stat("corrupted_downloads") > 0);  // ...and none of them was saved
    CHECK(r.layers_stat("duplicate_generations") == 0);
    CHECK(r.stat("output_requests_with_api_key") == 0);
}

TEST_CASE("layers: billing exhausted pauses Layers without failing anything; a top-up resumes it") {
    rig r(layers_rig({"--layers-credits", "0"}));
    RIG_CONTEXT(r);
    r.d->drop("billing.json", layers_brief({layers_item("pay me", 1)}));
    REQUIRE(r.d->wait_log("host.blocked", 15s));
    CHECK(r.d->failed().empty());
    r.sim->set_layers(json::object{{"credits", 1000}});
    REQUIRE(r.d->signal(SIGHUP));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"billing.json"});
    CHECK(r.layers_stat("duplicate_generations") == 0);
}

TEST_CASE(
    "layers: a layer conflict names the candidates and moderation fails its item; the rest "
    "completes") {
    rig r(layers_rig());
    RIG_CONTEXT(r);
    r.d->drop("mixed.json",
              layers_brief({layers_item("fine", 1),
                            layers_item("needs a layer", 1, "00000000-0000-4000-8000-000000000002"),
                            layers_item("please blockme now", 1)}));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->failed() == std::vector<std::string>{"mixed.json"});
    auto m = r.d->manifest("mixed");
    CHECK(m.at("status").as_string() == "partial");
    auto& items = m.at("items").as_array();
    CHECK(items[0].at("status").as_string() == "completed");
    CHECK(items[1].at("status").as_string() == "failed");
    CHECK(json::serialize(items[1].at("error")).find("candidate") != std::string::npos);
    CHECK(items[2].at("status").as_string() == "failed");
}

TEST_CASE("layers: never more jobs than max_concurrent_jobs, and the cap is kept full") {
    // briefd's cap 4 below the organisation's 10: no start is ever refused, and at most 4 run.
    rig_options o = layers_rig({"--layers-max-jobs", "10"});
    o.daemon.layers_max_concurrent_jobs = 4;
    o.daemon.layers_schedule_scale = time_scale;  // poll on the documented schedule, time-scaled
    rig r(o);
    RIG_CONTEXT(r);
    r.d->drop("many.json", many_jobs("capped", 16));
    auto occ = watch_jobs(r, 1, 16);
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    MESSAGE("running jobs: peak " << occ.peak << ", mean while work was queued "
                                  << occ.mean_while_queued << " of 4");
    CHECK(r.d->done() == std::vector<std::string>{"many.json"});
    CHECK(r.layers_stat("concurrent_jobs_peak") <= 4);
    CHECK(occ.peak == 4);  // the cap was used to the full, not just respected
    CHECK(over(r, "jobs") == 0);
    CHECK(r.layers_stat("responses_429") == 0);
    CHECK(r.layers_stat("jobs_created") == 16);
    CHECK(r.layers_stat("duplicate_generations") == 0);
}

TEST_CASE(
    "layers: the organisation's cap below briefd's: a concurrent-jobs 429 holds starts until a "
    "job ends, pauses nothing and fails nothing") {
    rig_options o = layers_rig({"--layers-max-jobs", "2"});
    o.daemon.layers_schedule_scale = time_scale;
    rig r(o);
    RIG_CONTEXT(r);
    r.d->drop("org.json", many_jobs("org", 8));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"org.json"});
    CHECK(r.layers_stat("concurrent_jobs_peak") <= 2);
    CHECK(over(r, "jobs") > 0);  // the server said so at least once...
    auto log = r.d->log();
    CHECK(log.find("host.jobs_cap_reached") != std::string::npos);  // ...and briefd heard it
    // A cap refusal is not a rate limit: no bucket (and so no poll) was paused for it.
    CHECK(log.find("host.rate_limited") == std::string::npos);
    // Learned: far fewer refusals than one per start attempt (8 jobs, 2 at a time).
    CHECK(over(r, "jobs") <= 8);
    CHECK(r.layers_stat("jobs_created") == 8);
    CHECK(r.layers_stat("duplicate_generations") == 0);
}

TEST_CASE("layers: a 429 storm pauses Layers' buckets, then every job completes once") {
    rig r(layers_rig({"--faults-on", "layers"}));
    RIG_CONTEXT(r);
    // Two real seconds of 429 for every Layers request, starting now.
    r.sim->set_faults(json::object{{"storm-429", "0:" + std::to_string(2 * time_scale)}});
    r.d->drop("storm.json", many_jobs("storm", 5));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"storm.json"});
    CHECK(r.layers_stat("storm_429") > 0);
    CHECK(r.d->log().find("host.rate_limited") != std::string::npos);
    CHECK(r.layers_stat("jobs_created") == 5);
    CHECK(r.layers_stat("duplicate_generations") == 0);
    CHECK(check_outputs(*r.d, "storm") >= 5);
}

TEST_CASE("layers: polls send If-None-Match and a 304 keeps the last view") {
    // Jobs of ~5 real seconds polled on the time-scaled schedule: many polls see no change.
    rig_options o = layers_rig({"--layers-gen-seconds", "300"});
    o.daemon.layers_schedule_scale = time_scale;
    o.daemon.layers_tracking_yaml = "list: false";  // the per-job poll, not the content list
    rig r(o);
    RIG_CONTEXT(r);
    r.d->drop("slow.json", many_jobs("slow", 2));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"slow.json"});
    CHECK(r.layers_stat("not_modified") > 0);
    CHECK(check_outputs(*r.d, "slow") >= 2);
}

TEST_CASE(
    "layers: Lamina, Hrizn and Layers at once with the Layers key rejected: the other two finish, "
    "Layers waits") {
    rig_options o = layers_rig();
    o.hrizn = true;
    o.daemon.layers_key = "lp_test_wrongkey_00000000000000000000";
    rig r(o);
    RIG_CONTEXT(r);
    r.d->drop("reel.json", many_jobs("blocked", 2));
    r.d->drop("article.json", hrizn_brief("three", 2));
    r.d->drop("photos.json", content_brief("three", 3));
    REQUIRE(r.d->wait_filed(2, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"article.json", "photos.json"});
    REQUIRE(r.d->wait_log("host.blocked", 10s));
    CHECK(r.d->failed().empty());
    CHECK(fs::exists(r.d->spool() / "active" / "reel.json"));
    CHECK(r.layers_stat("jobs_created") == 0);
    // The right key and a reload: Layers resumes where it stopped.
    r.d->write_layers_key(r.sim->layers_key());
    REQUIRE(r.d->signal(SIGHUP));
    REQUIRE(r.d->wait_filed(3, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"article.json", "photos.json", "reel.json"});
    CHECK(r.layers_stat("duplicate_generations") == 0);
    CHECK(r.d->log().find(r.sim->layers_key()) == std::string::npos);
}

}  // namespace briefd::it

namespace briefd::it {
namespace {
// Requests briefsim's Layers origin answered on `route` (e.g. "GET /v1/jobs/{jobId}"), any status.
std::uint64_t layers_route(const rig& r, const std::string& route) {
    auto st = r.sim->stats();
    const auto* routes = st.at("layers").as_object().if_contains("requests");
    if (!routes || !routes->is_object()) return 0;
    const auto* x = routes->as_object().if_contains(route);
    if (!x) return 0;
    if (x->is_number()) return x->to_number<std::uint64_t>();
    return x->is_object() ? num(x->as_object(), "total") : 0;
}

// The documented per-job loop (2 s ×1.3 capped at 10 s, jitter left out) on a job of `length`
// API seconds: the polls until one sees it ended.
int documented_polls(double length) {
    double t = 0, d = 2.0;
    int polls = 0;
    while (t < length) {
        t += d;
        d = std::min(d * 1.3, 10.0);
        ++polls;
    }
    return polls;
}
}  // namespace

TEST_CASE(
    "layers: many jobs in two projects are tracked through each project's content list, with far "
    "fewer reads than one poll per job, and every asset verified") {
    constexpr int per_project = 10, gen_seconds = 600;
    rig_options o = layers_rig(
        {"--layers-gen-seconds", std::to_string(gen_seconds), "--layers-max-jobs", "20"});
    o.daemon.layers_max_concurrent_jobs = 20;
    o.daemon.layers_schedule_scale = time_scale;
    rig r(o);
    RIG_CONTEXT(r);
    const std::string p1 = "0b9f5d1e-7c1a-4d3e-8f2a-5b6c7d8e9f00",
                      p2 = "7e3a1c5b-2d4f-4a6b-9c8d-0e1f2a3b4c5d";
    std::vector<std::string> items;
    for (int i = 0; i < per_project; ++i) {
        items.push_back(layers_item("north " + std::to_string(i), 1 + i % 3, p1));
        items.push_back(layers_item("south " + std::to_string(i), 1 + i % 3, p2));
    }
    r.d->drop("listed.json", layers_brief(items));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"listed.json"});
    const int jobs = 2 * per_project;
    CHECK(r.layers_stat("jobs_created") == jobs);
    CHECK(r.layers_stat("duplicate_generations") == 0);
    CHECK(check_outputs(*r.d, "listed") >=
          static_cast<std::size_t>(r.layers_stat("containers_created")));
    const auto lists = layers_route(r, "GET /v1/projects/{projectId}/content");
    const auto job_reads = layers_route(r, "GET /v1/jobs/{jobId}");
    // Even the shortest job (-25 %) alone would cost this many polls on the documented loop.
    const auto per_job_loop =
        static_cast<std::uint64_t>(jobs) * documented_polls(0.75 * gen_seconds);
    MESSAGE("list reads " << lists << ", job reads " << job_reads << " for " << jobs
                          << " jobs; the per-job loop alone: >= " << per_job_loop);
    CHECK(lists > 0);
    CHECK(job_reads >= static_cast<std::uint64_t>(jobs));      // each finished job got its own GET
    CHECK(job_reads <= static_cast<std::uint64_t>(2 * jobs));  // ...and little more
    CHECK(2 * (lists + job_reads) < per_job_loop);
    CHECK(r.layers_stat("responses_429") == 0);
}

}  // namespace briefd::it
