// briefd_hrizn_bench: briefd against briefsim's Hrizn origin, time-scaled, printing what Hrizn
// articles cost in requests: per endpoint and per completed article, 429s, the steady request rate
// against the per-key limit, and what per-item polling every 15 s would have cost on the same run.
// Figures, not pass/fail (scripts/bench hrizn).
#include "support/daemon_process.hpp"
#include "support/sim_process.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
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
    std::size_t articles = 500;
    std::size_t per_brief = 10;
    int time_scale = 30;
    int rate = 60;             ///< Hrizn's default per-key limit per 60 API-s
    int gen_seconds = 120;     ///< mean generation time, API seconds
    int poll_interval_s = 15;  ///< Hrizn's suggested polling interval, API seconds
};

double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(in)), {});
    auto close = s.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream rest(s.substr(close + 2));
    std::string f;
    std::vector<std::string> v;
    while (rest >> f) v.push_back(f);
    if (v.size() < 13) return 0;
    return (std::stod(v[11]) + std::stod(v[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::uint64_t num(const json::value* v) {
    return v && v->is_number() ? v->to_number<std::uint64_t>() : 0;
}

std::string brief(std::size_t b, std::size_t n) {
    static const char* types[] = {"basic", "qa", "expert", "comparison", "modellanding"};
    json::array items;
    for (std::size_t i = 0; i < n; ++i)
        items.push_back(
            json::object{{"article_type", types[(b + i) % 5]},
                         {"title", "bench " + std::to_string(b) + "-" + std::to_string(i)}});
    return json::serialize(json::object{{"provider", "hrizn"},
                                        {"ideacloud_id", "4b1f6c1e-0d3a-4e59-9a47-1f1f5e0b6d11"},
                                        {"items", std::move(items)}});
}

int run(const options& o) {
    auto root = fs::temp_directory_path() / ("briefd-hrizn-bench-" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root);
    const std::string hkey = "hzk_" + std::string(64, 'b');
    sim_process sim({"--time-scale", std::to_string(o.time_scale), "--seed", "11", "--hrizn-key",
                     hkey, "--hrizn-rate-limit", std::to_string(o.rate), "--hrizn-rate-window-s",
                     "60", "--hrizn-gen-seconds", std::to_string(o.gen_seconds),
                     "--hrizn-daily-cap", "1000000"});
    daemon_options d;
    d.api_url = sim.api_url();
    d.api_key = sim.api_key();
    d.hrizn_url = sim.hrizn_url();
    d.hrizn_key = hkey;
    d.hrizn_rate_requests = static_cast<std::size_t>(o.rate);
    // briefd's window is whole seconds: 60 API-s at the time scale, rounded up (never faster).
    d.hrizn_rate_window_s = std::max(1, (60 + o.time_scale - 1) / o.time_scale);
    d.hrizn_poll_interval_ms = o.poll_interval_s * 1000 / o.time_scale;
    d.top_yaml = "log_level: info\n";
    daemon_process daemon(root / "d", d);

    const std::size_t briefs = (o.articles + o.per_brief - 1) / o.per_brief;
    auto t0 = std::chrono::steady_clock::now();
    for (std::size_t b = 0; b < briefs; ++b)
        daemon.drop("articles-" + std::to_string(b) + ".json",
                    brief(b, std::min(o.per_brief, o.articles - b * o.per_brief)));
    std::vector<std::pair<double, double>> samples;  // (seconds, hrizn requests)
    auto deadline = t0 + std::chrono::minutes(20);
    while (std::chrono::steady_clock::now() < deadline) {
        auto s = sim.stats();
        double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        samples.emplace_back(
            t, static_cast<double>(num(s.at("hrizn").as_object().if_contains("requests_total"))));
        if (daemon.done().size() + daemon.failed().size() >= briefs) break;
        std::this_thread::sleep_for(250ms);
    }
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double cpu = cpu_seconds(daemon.process().pid());
    auto stats = sim.stats();
    const auto& h = stats.at("hrizn").as_object();
    std::size_t completed = 0;
    for (const auto& f : daemon.done()) {
        (void)f;
        completed += o.per_brief;
    }
    completed = std::min(completed, o.articles);
    std::uint64_t total = num(h.if_contains("requests_total"));
    std::cout << "\n== briefd_hrizn_bench: " << o.articles << " articles in " << briefs
              << " briefs, Hrizn " << o.rate << " requests / 60 API-s, time scale " << o.time_scale
              << "x, generation ~" << o.gen_seconds << " API-s\n";
    std::cout << "filed: " << daemon.done().size() << " done, " << daemon.failed().size()
              << " failed, in " << elapsed << " s (" << elapsed * o.time_scale / 60
              << " API-min)\n";
    std::cout << "requests by endpoint (per completed article):\n";
    if (const auto* routes = h.if_contains("requests"); routes && routes->is_object())
        for (const auto& kv : routes->as_object()) {
            std::uint64_t n = 0;
            if (kv.value().is_number())
                n = num(&kv.value());
            else if (kv.value().is_object())
                n = num(
                    kv.value().as_object().if_contains("total"));  // {"<status>": n, "total": n}
            std::printf("  %-45s %6llu  (%.3f)\n", std::string(kv.key()).c_str(),
                        static_cast<unsigned long long>(n),
                        completed ? static_cast<double>(n) / completed : 0.0);
        }
    double per_article = completed ? static_cast<double>(total) / completed : 0;
    std::printf(
        "requests per completed article: %.3f   (target <= 2.3; floor 2.1 = 1/10 batch + html + "
        "components)\n",
        per_article);
    std::printf("429s: %llu   over the limit: %llu   duplicate generations: %llu\n",
                static_cast<unsigned long long>(num(h.if_contains("responses_429"))),
                static_cast<unsigned long long>(num(h.if_contains("over_limit"))),
                static_cast<unsigned long long>(num(h.if_contains("duplicate_generations"))));
    // Steady rate: requests per API-minute over the middle 80 % of the run, against the limit.
    if (samples.size() > 10) {
        auto a = samples[samples.size() / 10], b = samples[samples.size() * 9 / 10];
        double rate = (b.second - a.second) / ((b.first - a.first) * o.time_scale / 60);
        std::printf(
            "steady request rate: %.1f / API-min = %.1f %% of the limit (middle 80 %% of the "
            "run)\n",
            rate, 100 * rate / o.rate);
    }
    // What per-item polling every poll_interval would have cost: the batch share, one GET per
    // article per interval over its generation time, then the two output fetches.
    double per_item = 1.0 / static_cast<double>(o.per_brief) +
                      std::ceil(static_cast<double>(o.gen_seconds) / o.poll_interval_s) + 2;
    std::printf("per-item polling every %d API-s would cost ~%.2f requests per article (%.1fx)\n",
                o.poll_interval_s, per_item, per_article > 0 ? per_item / per_article : 0.0);
    std::printf("briefd CPU: %.2f s (%.2f ms per article)\n", cpu,
                completed ? 1000 * cpu / completed : 0.0);
    daemon.stop();
    fs::remove_all(root);
    return daemon.failed().empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        auto v = std::stoi(argv[i + 1]);
        if (a == "--articles")
            o.articles = static_cast<std::size_t>(v);
        else if (a == "--per-brief")
            o.per_brief = static_cast<std::size_t>(std::max(1, v));
        else if (a == "--time-scale")
            o.time_scale = std::max(1, v);
        else if (a == "--rate")
            o.rate = std::max(1, v);
        else if (a == "--gen-seconds")
            o.gen_seconds = std::max(1, v);
        else {
            std::cerr << "usage: briefd_hrizn_bench [--articles N] [--per-brief N] [--time-scale "
                         "N] [--rate N] "
                         "[--gen-seconds N]\n";
            return 2;
        }
    }
    try {
        return run(o);
    } catch (const std::exception& e) {
        std::cerr << "briefd_hrizn_bench: " << e.what() << "\n";
        return 1;
    }
}
