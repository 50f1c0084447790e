// The crash test (issue 5): briefd against briefsim, SIGKILLed at seeded random moments across its
// whole life cycle — during recovery, intake, batching, submission, tracking, downloads and
// filing — dozens of times, restarted each time; then left to finish. Every brief must be filed
// exactly once with intact outputs and no debris, and briefsim must have seen no submission twice
// unless the on_uncertain policy allows it (and then only as often as the daemon said so).
#include "lifecycle/helpers.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <thread>

namespace briefd::lifecycle {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

struct crash_figures {
    int kills = 0, early_kills = 0;
    std::size_t briefs = 0, items = 0, done = 0, failed = 0, failed_uncertain = 0, outputs = 0;
    std::int64_t duplicates = 0, runs_created = 0, truncated = 0;
    std::int64_t hrizn_articles = 0, hrizn_duplicates = 0, hrizn_replays = 0;
    std::int64_t layers_jobs = 0, layers_duplicates = 0, layers_replays = 0;
    std::size_t uncertain_lines = 0, recoveries = 0;
    double seconds = 0;
    std::map<std::string, int> last_event;  ///< the daemon's last log event before each kill
};

// The last line of this run's log ("" when it logged nothing).
std::string last_line(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::string line, last;
    while (std::getline(in, line))
        if (!line.empty()) last = line;
    return last;
}

// "2026-…Z info output.saved job=…" → "output.saved".
std::string event_of(const std::string& line) {
    auto a = line.find(' ');
    auto b = a == std::string::npos ? a : line.find(' ', a + 1);
    if (b == std::string::npos) return "(nothing logged)";
    auto c = line.find(' ', b + 1);
    return line.substr(b + 1, c == std::string::npos ? std::string::npos : c - b - 1);
}

std::uint32_t seed_from_env(std::uint32_t fallback) {
    if (const char* s = std::getenv("BRIEFD_CRASH_SEED"); s && *s)
        return static_cast<std::uint32_t>(std::strtoul(s, nullptr, 10));
    return fallback;
}

fs::path fast_base() {
    std::error_code ec;
    return fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::path("/tmp");
}

/// The shape of one crash run. The defaults are the original test: 30 briefs dropped one or two
/// at a time, 45 kills 50-800 ms apart.
struct crash_plan {
    int briefs = 30;
    int max_items = 12;
    int app_every = 5;     ///< every n-th brief is an app run
    int hrizn_every = 4;   ///< every n-th brief (not an app run) is a Hrizn brief; 0 = none
    int layers_every = 3;  ///< every n-th brief (neither of those) is a Layers brief; 0 = none
    int drop_min = 1, drop_max = 2;  ///< briefs per drop
    int kill_min_ms = 50, kill_max_ms = 800;
    int target_kills = 45;
};

crash_figures crash_run(const std::string& policy, std::uint32_t seed, const crash_plan& cp = {}) {
    const auto t0 = std::chrono::steady_clock::now();
    std::mt19937 rng(seed);
    auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };

    temp_root root("crash-" + policy, fast_base());
    // A "20 s" run takes about 330 ms; a tenth of the runs fail; a fifth of the downloads are cut
    // off half-way (the daemon retries them). The rate window is one real second. Every API
    // response head is held 120 ms, so kills land inside submissions (intent recorded, answer not
    // yet in) often enough to exercise on_uncertain.
    testing::sim_process sim(
        {"--time-scale", "60", "--run-seconds", "20", "--seed", std::to_string(seed), "--fail-rate",
         "0.1", "--truncate-downloads", "0.2", "--rate-window-s", "60", "--slow-headers", "120"},
        {.stderr_file = root.path() / "briefsim.log"});

    testing::daemon_options opt;
    opt.api_url = sim.api_url();
    opt.api_key = sim.api_key();
    opt.rate_requests = 80;
    opt.rate_window_s = 1;
    opt.top_yaml = "on_uncertain: " + policy + "\n";
    // Hrizn beside Lamina: its idempotency key must make every kill harmless, whatever
    // on_uncertain says.
    opt.hrizn_url = sim.hrizn_url();
    opt.hrizn_key = sim.hrizn_key();
    opt.hrizn_rate_window_s = 1;
    // And Layers: its Idempotency-Key and derived container id must make every kill harmless
    // too. Its polls follow the documented schedule at briefsim's time scale, so kills also land
    // in tracking, container fetches and verified downloads.
    opt.layers_url = sim.layers_url();
    opt.layers_key = sim.layers_key();
    opt.layers_rate_window_s = 1;
    opt.layers_schedule_scale = 60;
    testing::daemon_process d(root.path() / "d", opt);
    // A second handle on the same root that does not wait for daemon.ready, for kills during
    // start-up and recovery.
    auto early_opt = opt;
    early_opt.wait_ready = false;
    std::optional<testing::daemon_process> early;

    // 30 briefs of 1-12 items; every fifth is an app run (by default).
    struct planned {
        std::string name, content;
        std::size_t items;
    };
    std::vector<planned> plan;
    std::set<std::string> dropped;
    crash_figures f;
    for (int b = 0; b < cp.briefs; ++b) {
        auto tag = "s" + std::to_string(seed) + "-" + policy + "-b" + std::to_string(b);
        if (b % cp.app_every == cp.app_every - 1) {
            plan.push_back({"app-" + std::to_string(b) + ".json", app_brief(tag), 1});
        } else if (cp.hrizn_every && b % cp.hrizn_every == cp.hrizn_every - 1) {
            auto n = static_cast<std::size_t>(uniform(1, std::min(cp.max_items, 10)));
            std::string items;
            for (std::size_t i = 0; i < n; ++i)
                items += std::string(i ? "," : "") +
                         R"({"ideacloud_id":"4b1f6c1e-0d3a-4e59-9a47-1f1f5e0b6d11",)" +
                         R"("article_type":"basic","title":")" + tag + "-" + std::to_string(i) +
                         R"("})";
            plan.push_back({"article-" + std::to_string(b) + ".json",
                            R"({"provider":"hrizn","items":[)" + items + "]}", n});
        } else if (cp.layers_every && b % cp.layers_every == cp.layers_every - 1) {
            // 1-4 jobs of 1-3 variants, each with a topic of its own.
            auto n = static_cast<std::size_t>(uniform(1, std::min(cp.max_items, 4)));
            std::string items;
            for (std::size_t i = 0; i < n; ++i)
                items += std::string(i ? "," : "") +
                         R"({"projectId":"0b9f5d1e-7c1a-4d3e-8f2a-5b6c7d8e9f00","format":"auto",)" +
                         R"("variantCount":)" + std::to_string(uniform(1, 3)) +
                         R"(,"brief":{"topic":")" + tag + "-" + std::to_string(i) + R"("}})";
            plan.push_back({"reel-" + std::to_string(b) + ".json",
                            R"({"provider":"layers","items":[)" + items + "]}", n});
        } else {
            auto n = static_cast<std::size_t>(uniform(1, cp.max_items));
            plan.push_back({"brief-" + std::to_string(b) + ".json", content_brief(tag, n), n});
        }
        f.items += plan.back().items;
    }
    f.briefs = plan.size();

    std::size_t next = 0;
    auto drop_some = [&] {
        if (next >= plan.size() || uniform(0, 2) == 0) return;
        for (int k = uniform(cp.drop_min, cp.drop_max); k > 0 && next < plan.size(); --k, ++next) {
            d.drop(plan[next].name, plan[next].content);
            dropped.insert(plan[next].name);
        }
    };

    const int target_kills = cp.target_kills;
    bool d_running = true;  // the constructor started it
    while ((f.kills < target_kills || next < plan.size()) &&
           std::chrono::steady_clock::now() - t0 < 150s) {
        bool before = uniform(0, 1) == 0;
        if (before) drop_some();
        if (!d_running && uniform(0, 4) == 0) {
            // Killed during start-up: config, spool, recovery, or the first moments of intake.
            if (early)
                early->start();
            else
                early.emplace(root.path() / "d", early_opt);
            if (!before) drop_some();
            std::this_thread::sleep_for(std::chrono::milliseconds(uniform(0, 80)));
            early->kill();
            ++f.last_event[event_of(last_line(early->log_path()))];
            ++f.early_kills;
        } else {
            if (!d_running) d.start();
            if (!before) drop_some();
            std::this_thread::sleep_for(
                std::chrono::milliseconds(uniform(cp.kill_min_ms, cp.kill_max_ms)));
            d.kill();
            ++f.last_event[event_of(last_line(d.log_path()))];
        }
        d_running = false;
        ++f.kills;
    }
    REQUIRE(next == plan.size());

    // Let it finish undisturbed.
    d.start();
    bool filed = d.wait_filed(plan.size(), 120s);
    auto st = d.stop();
    auto log = d.log();
    if (!filed) {
        MESSAGE("not every brief was filed; done " << d.done().size() << ", failed "
                                                   << d.failed().size() << "\nlog tail:\n"
                                                   << d.log_tail(60));
    }
    REQUIRE(filed);
    CHECK(st.has_value());
    if (st) CHECK(st->success());

    auto a = audit_spool(d, dropped);
    for (const auto& p : a.problems) FAIL_CHECK(p);
    CHECK(lines_with(log, {"task.crashed"}).empty());
    CHECK(lines_with(log, {"daemon.crashed"}).empty());
    CHECK(lines_with(log, {"state.corrupt"}).empty());

    f.done = a.done;
    f.failed = a.failed;
    f.failed_uncertain = a.failed_uncertain;
    f.outputs = a.outputs_checked;
    f.duplicates = sim_stat(sim, "duplicate_submissions");
    {
        auto hz = sim.stats().at("hrizn").as_object();
        f.hrizn_articles = hz.at("items_created").to_number<std::int64_t>();
        f.hrizn_duplicates = hz.at("duplicate_generations").to_number<std::int64_t>();
        f.hrizn_replays = hz.at("idempotent_replays").to_number<std::int64_t>();
    }
    {
        auto ly = sim.stats().at("layers").as_object();
        f.layers_jobs = ly.at("jobs_created").to_number<std::int64_t>();
        f.layers_duplicates = ly.at("duplicate_generations").to_number<std::int64_t>();
        f.layers_replays = ly.at("idempotent_replays").to_number<std::int64_t>() +
                           ly.at("id_replays").to_number<std::int64_t>();
    }
    f.runs_created = sim_stat(sim, "runs_created");
    f.truncated = sim_stat(sim, "truncated_downloads");
    f.uncertain_lines = lines_with(log, {"submission.uncertain", "action=" + policy}).size();
    f.recoveries = count(log, "recovery.done");
    f.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(f.done > 0);  // the scenario did real work, not only failures
    CHECK(f.outputs > 0);
    return f;
}

void report(const std::string& policy, std::uint32_t seed, const crash_figures& f) {
    MESSAGE("crash test on_uncertain="
            << policy << " seed=" << seed << ": " << f.kills << " SIGKILLs (" << f.early_kills
            << " during start-up), " << f.recoveries << " recoveries; " << f.briefs << " briefs / "
            << f.items << " items -> " << f.done << " done, " << f.failed << " failed ("
            << f.failed_uncertain << " for an unknown submission outcome); " << f.outputs
            << " output files verified; briefsim: " << f.runs_created << " runs, " << f.duplicates
            << " duplicate submissions, " << f.truncated << " truncated downloads; "
            << f.uncertain_lines << " submission.uncertain lines; Hrizn: " << f.hrizn_articles
            << " articles, " << f.hrizn_duplicates << " duplicate generations, " << f.hrizn_replays
            << " idempotent replays; Layers: " << f.layers_jobs << " jobs, " << f.layers_duplicates
            << " duplicate generations, " << f.layers_replays << " replays (key or id); "
            << f.seconds << " s");
    std::string where;
    for (const auto& [event, n] : f.last_event) where += " " + event + "=" + std::to_string(n);
    MESSAGE("last event logged before each kill:" << where);
}

}  // namespace

TEST_CASE(
    "crash test: SIGKILL at random moments, on_uncertain fail — filed once, nothing sent twice") {
    auto seed = seed_from_env(20260505);
    auto f = crash_run("fail", seed);
    report("fail", seed, f);
    CHECK(f.kills >= 40);
    CHECK(f.duplicates == 0);
    CHECK(f.hrizn_duplicates == 0);
    CHECK(f.layers_duplicates == 0);
    CHECK(f.layers_jobs > 0);
    // Runs already submitted were tracked again after each kill, never created a second time.
    CHECK(f.runs_created <= static_cast<std::int64_t>(f.items));
    // Every unknown outcome was failed, never resent: each failed-for-uncertainty brief has a log
    // line.
    CHECK(f.uncertain_lines >= f.failed_uncertain);
}

TEST_CASE(
    "crash test: SIGKILL at random moments, on_uncertain resubmit — filed once, resends only when "
    "said") {
    auto seed = seed_from_env(20260505) + 1;
    auto f = crash_run("resubmit", seed);
    report("resubmit", seed, f);
    CHECK(f.kills >= 40);
    CHECK(f.failed_uncertain == 0);
    // With an idempotency key, resubmit never means generating twice.
    CHECK(f.hrizn_duplicates == 0);
    CHECK(f.layers_duplicates == 0);
    CHECK(f.layers_jobs > 0);
    // A duplicate at briefsim is only possible for an item the daemon logged as resubmitted.
    CHECK(static_cast<std::size_t>(f.duplicates) <= f.uncertain_lines);
    CHECK(f.runs_created <= static_cast<std::int64_t>(f.items) + f.duplicates);
}

TEST_CASE(
    "crash test: SIGKILL again and again while bursts of briefs are claimed (grouped fsyncs, "
    "claims off the event loop)") {
    auto seed = seed_from_env(20260505) + 2;
    crash_plan cp;
    cp.briefs = 240;  // dropped 40-80 at once: every kill lands in or near a burst being claimed
    cp.max_items = 2;
    cp.app_every = 40;
    cp.hrizn_every = 0;
    cp.layers_every = 0;
    cp.drop_min = 40;
    cp.drop_max = 80;
    cp.kill_min_ms = 20;
    cp.kill_max_ms = 400;
    cp.target_kills = 60;
    auto f = crash_run("fail", seed, cp);
    report("fail (bursts)", seed, f);
    CHECK(f.kills >= 50);
    CHECK(f.duplicates == 0);
    CHECK(f.runs_created <= static_cast<std::int64_t>(f.items));
    CHECK(f.uncertain_lines >= f.failed_uncertain);
}

}  // namespace briefd::lifecycle
