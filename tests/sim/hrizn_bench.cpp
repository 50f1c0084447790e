// The Hrizn measurement: 500 articles in 50 batches of 10, tracked by paging GET /content (100 per
// page) until every item has finished, then each article's HTML and components fetched once.
// Reports wall time, briefsim's CPU time (from /proc/<pid>/stat) and requests per endpoint.
// Usage: sim_hrizn_bench [time_scale=200] [gen_seconds=120]
#include "helpers.hpp"

#include <boost/json.hpp>

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

using namespace briefd::testing;
using namespace briefd::sim_tests;

int main(int argc, char** argv) {
    const std::string scale = argc > 1 ? argv[1] : "200";
    const std::string gen = argc > 2 ? argv[2] : "120";
    sim_process sim(
        {"--time-scale", scale, "--hrizn-gen-seconds", gen, "--hrizn-rate-limit", "1000000"});
    const double cpu0 = cpu_seconds(sim.process().pid());
    const auto t0 = std::chrono::steady_clock::now();

    std::size_t created = 0;
    for (int b = 0; b < 50; ++b) {
        std::string body = R"({"items":[)";
        for (int i = 0; i < 10; ++i) {
            char id[40];
            std::snprintf(id, sizeof id, "a1b2c3d4-%04d-4000-8000-%012d", b, i);
            body += std::string(i ? "," : "") + R"({"ideacloud_id":")" + id +
                    R"(","article_type":"basic"})";
        }
        auto v = parse_json(sim.hrizn("POST", "/content/batch", body + "]}").body);
        if (v.is_object()) created += v.at("data").at("items").as_array().size();
    }
    const auto t_submit = std::chrono::steady_clock::now();

    std::vector<std::string> finished;
    std::size_t polls = 0;
    while (finished.size() < created) {
        finished.clear();
        std::string cursor;
        do {
            auto v = parse_json(
                sim.hrizn("GET", "/content?limit=100" + (cursor.empty() ? "" : "&cursor=" + cursor))
                    .body);
            if (!v.is_object()) break;
            for (const auto& it : v.at("data").as_array())
                if (it.at("status") == "complete") finished.emplace_back(it.at("id").as_string());
            const auto& next = v.at("pagination").at("next_cursor");
            cursor = next.is_string() ? std::string(next.as_string()) : std::string();
        } while (!cursor.empty());
        ++polls;
        if (finished.size() < created) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const auto t_done = std::chrono::steady_clock::now();
    std::size_t bytes = 0;
    for (const auto& id : finished) {
        bytes += sim.hrizn("GET", "/content/" + id + "/html").body.size();
        bytes += sim.hrizn("GET", "/content/" + id + "/components").body.size();
    }
    const auto t1 = std::chrono::steady_clock::now();
    const double cpu1 = cpu_seconds(sim.process().pid());
    auto h = sim.stats().at("hrizn");
    auto secs = [](auto d) { return std::chrono::duration<double>(d).count(); };
    std::cout << "articles created: " << created << " (50 batches of 10) in " << secs(t_submit - t0)
              << " s\n"
              << "all complete after " << secs(t_done - t0) << " s, list sweeps: " << polls << "\n"
              << "outputs fetched: " << 2 * finished.size() << " (" << bytes << " bytes) in "
              << secs(t1 - t_done) << " s\n"
              << "time scale: " << scale << ", generation: " << gen << " API-s\n"
              << "briefsim cpu time: " << (cpu1 - cpu0) << " s\n"
              << "briefsim hrizn requests: " << boost::json::serialize(h.at("requests")) << "\n";
    return created == 500 && finished.size() == 500 ? 0 : 1;
}
