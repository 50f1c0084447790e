// The 1,000-run measurement: starts briefsim at a high time scale, submits 100 batches of 10
// briefs, streams every run to its terminal event (falling back to wait), and reports wall time
// and briefsim's CPU time (from /proc/<pid>/stat); each completed run's output is downloaded from
// the files origin. Usage: sim_bench [parallel_streams=50] [time_scale=200] [run_seconds=20]
#include "helpers.hpp"

#include <boost/json.hpp>

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

using namespace briefd::testing;
using namespace briefd::sim_tests;

int main(int argc, char** argv) {
    const int parallel = argc > 1 ? std::stoi(argv[1]) : 50;
    const std::string scale = argc > 2 ? argv[2] : "200";
    const std::string run_seconds = argc > 3 ? argv[3] : "20";
    sim_process sim({"--time-scale", scale, "--run-seconds", run_seconds, "--rate-limit", "1000000"});
    const double cpu0 = cpu_seconds(sim.process().pid());
    const auto t0 = std::chrono::steady_clock::now();

    std::vector<std::string> runs;
    for (int b = 0; b < 100; ++b) {
        std::vector<std::string> briefs;
        for (int i = 0; i < 10; ++i) briefs.push_back("bench brief " + std::to_string(b) + "-" + std::to_string(i));
        auto ids = submit_batch(sim, briefs);
        runs.insert(runs.end(), ids.begin(), ids.end());
    }
    const auto t_submit = std::chrono::steady_clock::now();

    std::atomic<std::size_t> next{0}, completed{0}, via_wait{0}, events{0}, downloaded{0}, download_bytes{0};
    auto download = [&](const boost::json::value& status) {
        for (const auto& o : status.at("outputs").as_array()) {
            if (!o.at("value").is_string()) continue;
            auto f = http_fetch(std::string(o.at("value").as_string()));
            if (f.status == 200 && f.complete) {
                ++downloaded;
                download_bytes += f.body.size();
            }
        }
    };
    std::vector<std::thread> workers;
    for (int w = 0; w < parallel; ++w)
        workers.emplace_back([&] {
            for (std::size_t i; (i = next++) < runs.size();) {
                http_request_options o;
                o.headers = {{"x-api-key", sim.api_key()}};
                o.timeout = std::chrono::seconds(60);
                auto r = http_fetch(sim.api_url() + "/v1/runs/" + runs[i] + "/stream", o);
                auto ev = parse_sse(r.body);
                events += ev.size();
                if (!ev.empty() && ev.back().event == "complete") {
                    ++completed;
                    download(parse_json(ev.back().data));
                    continue;
                }
                auto wr = parse_json(sim.api("GET", "/v1/runs/" + runs[i] + "/wait?timeout=120").body);
                ++via_wait;
                if (wr.is_object() && wr.at("data").at("status") == "completed") {
                    ++completed;
                    download(wr.at("data"));
                }
            }
        });
    for (auto& t : workers) t.join();
    const auto t1 = std::chrono::steady_clock::now();
    const double cpu1 = cpu_seconds(sim.process().pid());
    auto stats = sim.stats();
    auto secs = [](auto d) { return std::chrono::duration<double>(d).count(); };
    std::cout << "runs submitted: " << runs.size() << " (100 batches of 10) in " << secs(t_submit - t0) << " s\n"
              << "runs completed: " << completed << " (via wait fallback: " << via_wait << ")\n"
              << "sse events received: " << events << "\n"
              << "outputs downloaded: " << downloaded << " (" << download_bytes << " bytes)\n"
              << "wall time total: " << secs(t1 - t0) << " s, parallel streams: " << parallel
              << ", time scale: " << scale << "\n"
              << "briefsim cpu time: " << (cpu1 - cpu0) << " s\n"
              << "briefsim stats: requests_total=" << stats.at("requests_total") << " streams.peak="
              << stats.at("streams").at("peak") << " connections.peak=" << stats.at("connections").at("peak")
              << " bytes_served=" << stats.at("bytes_served") << "\n";
    return completed == runs.size() && runs.size() == 1000 ? 0 : 1;
}
