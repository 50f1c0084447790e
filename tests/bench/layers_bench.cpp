// briefd_layers_bench: briefd against briefsim's Layers origin, time-scaled, with the standard
// tier's limits (read-light 120, write-light 60, long-running 20 per minute) and a concurrent-jobs
// cap of 10 on both sides. It prints how full briefd kept the cap while work was queued (running
// jobs sampled at briefsim), the 429s it got, and the read requests per job beside what the
// documented per-job polling loop alone would cost. Figures, not pass/fail (scripts/bench layers).
#include "support/daemon_process.hpp"
#include "support/sim_process.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using briefd::testing::daemon_options;
using briefd::testing::daemon_process;
using briefd::testing::sim_process;

namespace {

struct options {
    int jobs = 200;
    int per_brief = 5;
    int cap = 10;
    int time_scale = 10;   ///< 60 must be a multiple (briefd's windows are whole seconds)
    int gen_seconds = 60;  ///< mean job length, API seconds (±25 %)
};

std::uint64_t num(const json::object& o, std::string_view k) {
    const auto* v = o.if_contains(k);
    return v && v->is_number() ? v->to_number<std::uint64_t>() : 0;
}

// Requests briefsim's Layers origin answered on `route`, any status, and those with `status`.
std::uint64_t route(const json::object& l, const std::string& r, const char* status = "total") {
    const auto* routes = l.if_contains("requests");
    if (!routes || !routes->is_object()) return 0;
    const auto* x = routes->as_object().if_contains(r);
    if (!x) return 0;
    if (x->is_number()) return x->to_number<std::uint64_t>();
    return x->is_object() ? num(x->as_object(), status) : 0;
}

// The documented loop (2 s ×1.3, capped at 10 s, + 0-500 ms jitter) on a job of `length` API
// seconds: the polls until one sees it ended.
double documented_polls(double length) {
    double t = 0, d = 2.0;
    int polls = 0;
    while (true) {
        t += d + 0.25;
        ++polls;
        if (t >= length) return polls;
        d = std::min(d * 1.3, 10.0);
    }
}

std::string brief(int b, int n, std::mt19937& rng, int& variants) {
    json::array items;
    for (int i = 0; i < n; ++i) {
        int v = std::uniform_int_distribution<int>(1, 3)(rng);
        variants += v;
        items.push_back(json::object{
            {"projectId", "0b9f5d1e-7c1a-4d3e-8f2a-5b6c7d8e9f00"},
            {"format", "slideshow_remix"},
            {"variantCount", v},
            {"brief",
             json::object{{"topic", "bench " + std::to_string(b) + "-" + std::to_string(i)}}}});
    }
    return json::serialize(json::object{{"provider", "layers"}, {"items", std::move(items)}});
}

int run(const options& o) {
    auto root = fs::temp_directory_path() / ("briefd-layers-bench-" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root);
    sim_process sim({"--time-scale", std::to_string(o.time_scale), "--seed", "13", "--layers-tier",
                     "standard", "--layers-max-jobs", std::to_string(o.cap), "--layers-gen-seconds",
                     std::to_string(o.gen_seconds), "--layers-credits", "100000000",
                     "--layers-cost", "1"});
    daemon_options d;
    d.api_url = sim.api_url();
    d.api_key = sim.api_key();
    d.layers_url = sim.layers_url();
    d.layers_key = sim.layers_key();
    // The standard tier per 60 API seconds, which is 60 / time_scale real seconds.
    d.layers_rate_requests = 120;
    d.layers_write_requests = 60;
    d.layers_long_requests = 20;
    d.layers_rate_window_s = 60 / o.time_scale;
    d.layers_max_concurrent_jobs = static_cast<std::size_t>(o.cap);
    d.layers_schedule_scale = o.time_scale;
    d.top_yaml = "log_level: info\nmax_concurrent_downloads: 8\n";
    daemon_process daemon(root / "d", d);

    std::mt19937 rng(5);
    int variants = 0;
    const int briefs = (o.jobs + o.per_brief - 1) / o.per_brief;
    auto t0 = std::chrono::steady_clock::now();
    for (int b = 0; b < briefs; ++b)
        daemon.drop("reels-" + std::to_string(b) + ".json",
                    brief(b, std::min(o.per_brief, o.jobs - b * o.per_brief), rng, variants));
    double busy_sum = 0;
    std::size_t busy_samples = 0;
    std::uint64_t peak = 0;
    double queued_until = 0;
    auto deadline = t0 + std::chrono::minutes(30);
    while (std::chrono::steady_clock::now() < deadline) {
        auto s = sim.stats();
        const auto& l = s.at("layers").as_object();
        double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        auto running = num(l, "running_jobs");
        peak = std::max(peak, running);
        // While jobs are still waiting to start (from the first start on), the cap should be full.
        auto created = num(l, "jobs_created");
        if (created > 0 && created < static_cast<std::uint64_t>(o.jobs)) {
            busy_sum += static_cast<double>(running);
            ++busy_samples;
            queued_until = t;
        }
        if (daemon.done().size() + daemon.failed().size() >= static_cast<std::size_t>(briefs))
            break;
        std::this_thread::sleep_for(100ms);
    }
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto stats = sim.stats();
    const auto& l = stats.at("layers").as_object();
    const double jobs = static_cast<double>(num(l, "jobs_created"));
    const auto polls = route(l, "GET /v1/jobs/{jobId}");
    const auto not_modified = route(l, "GET /v1/jobs/{jobId}", "304");
    const auto containers = route(l, "GET /v1/content/{containerId}");
    const auto generates = route(l, "POST /v1/projects/{projectId}/content");
    const auto reads = polls + containers + route(l, "GET /v1/whoami") +
                       route(l, "GET /v1/projects/{projectId}/content") +
                       route(l, "GET /v1/content/{containerId}/assets/{assetId}");

    std::printf(
        "\n== briefd_layers_bench: %d jobs (%d variants) in %d briefs, standard tier, "
        "cap %d, time scale %dx, jobs ~%d API-s\n",
        o.jobs, variants, briefs, o.cap, o.time_scale, o.gen_seconds);
    std::printf("filed: %zu done, %zu failed, in %.1f s (%.1f API-min)\n", daemon.done().size(),
                daemon.failed().size(), elapsed, elapsed * o.time_scale / 60);
    std::printf(
        "occupancy of the concurrent-jobs cap while work was queued: %.1f %%  (target >= 90 %%; "
        "mean %.2f of %d running over the first %.1f s; peak %llu; briefsim's peak %llu)\n",
        busy_samples ? 100 * busy_sum / static_cast<double>(busy_samples) / o.cap : 0.0,
        busy_samples ? busy_sum / static_cast<double>(busy_samples) : 0.0, o.cap, queued_until,
        static_cast<unsigned long long>(peak),
        static_cast<unsigned long long>(num(l, "concurrent_jobs_peak")));
    const auto& over = l.at("over_limit").as_object();
    std::printf(
        "429s: %llu  (target 0; jobs cap %llu, read-light %llu, write-light %llu, "
        "long-running %llu, daily %llu)\n",
        static_cast<unsigned long long>(num(l, "responses_429")),
        static_cast<unsigned long long>(num(over, "jobs")),
        static_cast<unsigned long long>(num(over, "read-light")),
        static_cast<unsigned long long>(num(over, "write-light")),
        static_cast<unsigned long long>(num(over, "long-running")),
        static_cast<unsigned long long>(num(over, "daily")));
    std::printf("generate POSTs: %llu for %.0f jobs; duplicate generations: %llu\n",
                static_cast<unsigned long long>(generates), jobs,
                static_cast<unsigned long long>(num(l, "duplicate_generations")));
    // The documented per-job loop alone, averaged over the ±25 % job lengths, plus one container
    // read per variant (those are needed whatever the tracking).
    double base = 0;
    for (int k = 0; k <= 100; ++k)
        base += documented_polls(o.gen_seconds * (0.75 + 0.5 * k / 100.0));
    base /= 101;
    const double per_job_variants = jobs > 0 ? static_cast<double>(variants) / o.jobs : 0;
    if (jobs > 0)
        std::printf(
            "read requests per job: %.2f  (job polls %.2f, of them 304 %.2f; container "
            "reads %.2f)\n"
            "documented per-job polling loop alone: %.2f  (%.2f polls + %.2f container "
            "reads)\n",
            static_cast<double>(reads) / jobs, static_cast<double>(polls) / jobs,
            static_cast<double>(not_modified) / jobs, static_cast<double>(containers) / jobs,
            base + per_job_variants, base, per_job_variants);
    daemon.stop();
    fs::remove_all(root);
    return daemon.failed().empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        int v = std::stoi(argv[i + 1]);
        if (a == "--jobs")
            o.jobs = std::max(1, v);
        else if (a == "--per-brief")
            o.per_brief = std::max(1, v);
        else if (a == "--cap")
            o.cap = std::max(1, v);
        else if (a == "--time-scale" && v >= 1 && 60 % v == 0)
            o.time_scale = v;
        else if (a == "--gen-seconds")
            o.gen_seconds = std::max(1, v);
        else {
            std::cerr << "usage: briefd_layers_bench [--jobs N] [--per-brief N] [--cap N] "
                         "[--time-scale N (divides 60)] [--gen-seconds N]\n";
            return 2;
        }
    }
    try {
        return run(o);
    } catch (const std::exception& e) {
        std::cerr << "briefd_layers_bench: " << e.what() << "\n";
        return 1;
    }
}
