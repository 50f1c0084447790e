// briefd_status_bench: what a /metrics scrape and a /status call cost while briefd tracks 1,000
// runs (issue 11: "cheap enough to scrape every second while 1,000 runs are tracked").
//
// briefd runs against briefsim on loopback with runs that last far longer than the benchmark
// (time scale 60, 100 real minutes per run) and polling every minute, so the engine holds 1,000
// live runs and is otherwise quiet. Then the benchmark calls each endpoint N times over one
// kept-alive connection and prints, per call: the round trip seen by the client (median, p90,
// max, µs), briefd's own CPU time (user+sys from /proc, averaged, µs) and the response size.
// A program run on demand (scripts/bench status), not a test: figures depend on the machine.
#include "http/client.hpp"
#include "support/daemon_process.hpp"
#include "support/sim_process.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

// GCC 12 false positive (GCC bug 109224), as in the tests.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;
using briefd::testing::daemon_options;
using briefd::testing::daemon_process;
using briefd::testing::sim_process;

/// briefd's CPU time so far (user + system), from /proc/<pid>/stat, in microseconds.
double cpu_us(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(f)), {});
    auto close = text.rfind(')');
    std::istringstream in(text.substr(close + 2));
    std::string field;
    unsigned long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && in >> field; ++i) {
        if (i == 14) utime = std::stoul(field);
        if (i == 15) stime = std::stoul(field);
    }
    return static_cast<double>(utime + stime) * 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct figures {
    std::vector<double> round_trip_us;
    double cpu_per_call_us = 0;
    std::size_t bytes = 0;
};

/// `n` GETs of `path` over one kept-alive connection.
figures measure(std::uint16_t port, const std::string& path, int n, pid_t daemon) {
    asio::io_context ioc;
    briefd::http::client c(ioc.get_executor(), {});
    figures f;
    double cpu_before = 0;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            briefd::http::request r;
            r.url = boost::urls::url("http://127.0.0.1:" + std::to_string(port) + path);
            r.timeout = std::chrono::seconds(10);
            co_await c.async_request(r);  // warm: the connection is open from here on
            cpu_before = cpu_us(daemon);
            for (int i = 0; i < n; ++i) {
                const auto t0 = clock_type::now();
                auto [ec, res] = co_await c.async_request(r);
                const auto t1 = clock_type::now();
                if (ec || res.status != 200) throw std::runtime_error(path + " failed");
                f.round_trip_us.push_back(
                    std::chrono::duration<double, std::micro>(t1 - t0).count());
                f.bytes = res.body.size();
            }
        },
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    ioc.run();
    f.cpu_per_call_us = (cpu_us(daemon) - cpu_before) / n;
    return f;
}

void print(const std::string& what, figures f) {
    std::sort(f.round_trip_us.begin(), f.round_trip_us.end());
    auto at = [&](double q) {
        return f.round_trip_us[static_cast<std::size_t>(q * (f.round_trip_us.size() - 1))];
    };
    std::printf(
        "%-9s  round trip µs: median %8.0f  p90 %8.0f  max %8.0f   briefd CPU µs/call: %8.0f"
        "   bytes: %zu\n",
        what.c_str(), at(0.5), at(0.9), f.round_trip_us.back(), f.cpu_per_call_us, f.bytes);
}

std::string brief(int b, int items) {
    json::array list;
    for (int i = 0; i < items; ++i)
        list.push_back(
            json::object{{"brief", "status bench " + std::to_string(b) + "." + std::to_string(i)},
                         {"platform", "instagram"},
                         {"modality", "image"}});
    return json::serialize(json::object{{"items", std::move(list)}});
}

}  // namespace

int main(int argc, char** argv) {
    int runs = 1000, calls = 200;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--runs")
            runs = std::stoi(argv[i + 1]);
        else if (a == "--calls")
            calls = std::stoi(argv[i + 1]);
        else {
            std::cerr << "usage: briefd_status_bench [--runs N (multiple of 10)] [--calls N]\n";
            return 2;
        }
    }
    const auto root = fs::temp_directory_path() /
                      ("briefd-status-bench-" + std::to_string(std::random_device{}()));
    fs::create_directories(root);
    try {
        sim_process sim({"--time-scale", "60", "--run-seconds", "360000", "--seed", "1", "--key",
                         "lma_status_bench", "--quiet"});
        daemon_options o;
        o.api_url = sim.api_url();
        o.api_key = "lma_status_bench";
        o.rate_requests = 100;
        o.rate_window_s = 1;
        o.tracking_mode = "poll";
        o.poll_interval_ms = 60000;
        o.top_yaml = "log_level: notice\n";
        daemon_process d(root / "briefd", o);
        const auto port = d.status_port();
        if (!port) throw std::runtime_error("no status.listening line in the log");
        for (int b = 0; b < runs / 10; ++b) d.drop("b" + std::to_string(b) + ".json", brief(b, 10));

        // Wait until every item is tracked (bounded).
        const auto until = clock_type::now() + std::chrono::minutes(3);
        std::size_t tracked = 0;
        while (clock_type::now() < until) {
            asio::io_context ioc;
            briefd::http::client c(ioc.get_executor(), {});
            std::string body;
            asio::co_spawn(
                ioc,
                [&]() -> asio::awaitable<void> {
                    briefd::http::request r;
                    r.url =
                        boost::urls::url("http://127.0.0.1:" + std::to_string(port) + "/status");
                    auto [ec, res] = co_await c.async_request(r);
                    if (!ec) body = std::move(res.body);
                },
                [](std::exception_ptr) {});
            ioc.run();
            tracked = 0;
            std::error_code jec;
            auto doc = json::parse(body, jec);
            if (!jec && doc.is_object())
                for (const auto& j : doc.at("jobs").as_array())
                    for (const auto& it : j.at("items").as_array())
                        tracked += it.at("state") == "tracking" ? 1 : 0;
            if (tracked >= static_cast<std::size_t>(runs)) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
        std::printf(
            "briefd_status_bench: %zu runs tracked, %d calls per endpoint, one kept-alive "
            "connection\n",
            tracked, calls);
        if (tracked < static_cast<std::size_t>(runs))
            throw std::runtime_error("only " + std::to_string(tracked) + " runs tracked");
        print("/metrics", measure(port, "/metrics", calls, d.process().pid()));
        print("/status", measure(port, "/status", calls, d.process().pid()));
        print("/healthz", measure(port, "/healthz", calls, d.process().pid()));
        d.stop();
    } catch (const std::exception& e) {
        std::cerr << "briefd_status_bench: " << e.what() << "\n";
        fs::remove_all(root);
        return 1;
    }
    fs::remove_all(root);
    return 0;
}
