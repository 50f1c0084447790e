// systemd integration seen from outside: sd_notify datagrams on a real AF_UNIX socket passed as
// NOTIFY_SOCKET (READY=1 only after recovery, STATUS=, WATCHDOG=1, RELOADING=1 + MONOTONIC_USEC,
// STOPPING=1), and the journald log format chosen by JOURNAL_STREAM, never showing the API key.
#include "lifecycle/helpers.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <ctime>
#include <random>
#include <thread>

namespace briefd::lifecycle {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST_CASE(
    "sd_notify on a real socket: READY after recovery, STATUS, WATCHDOG, RELOADING, STOPPING") {
    temp_root root("notify");
    testing::sim_process sim(
        {"--time-scale", "20", "--run-seconds", "40", "--seed", "21", "--rate-window-s", "60"},
        {.stderr_file = root.path() / "briefsim.log"});
    testing::daemon_options opt;
    opt.api_url = sim.api_url();
    opt.api_key = sim.api_key();
    opt.rate_window_s = 3;

    // A job left in active/ by a crash, with its runs still generating.
    {
        testing::daemon_process first(root.path() / "d", opt);
        first.drop("left.json", content_brief("notify-left", 2));
        REQUIRE(first.wait_log("batch.submitted", 15s));
        first.kill();
    }

    notify_socket ns(root.path() / "notify.sock");
    opt.env = {{"NOTIFY_SOCKET", ns.path().string()}, {"WATCHDOG_USEC", "400000"}};
    opt.wait_ready = false;
    testing::daemon_process d(root.path() / "d", opt);

    auto ready = ns.wait_for([](const notify_message& m) { return m.has("READY=1"); }, 20s);
    REQUIRE(ready >= 0);
    // Read the log the moment READY=1 arrived: recovery of the crashed job is already logged.
    auto log_at_ready = d.log();
    CHECK(lines_with(log_at_ready, {"recovery.done", "jobs=1", "retrack=2"}).size() == 1);
    auto ready_at = ns.messages()[static_cast<std::size_t>(ready)].at;

    // STATUS= carries the one-line summary; the recovered job is active.
    bool status_seen = false;
    for (const auto& m : ns.messages()) {
        auto s = m.value("STATUS");
        if (s.find("queued") != std::string::npos && s.find("active 1") != std::string::npos)
            status_seen = true;
    }
    CHECK(status_seen);

    // WATCHDOG=1 at about half of WATCHDOG_USEC (200 ms): several in two seconds. No timing
    // asserted beyond "several".
    std::this_thread::sleep_for(2s);
    ns.drain();
    std::size_t beats = 0;
    for (const auto& m : ns.messages())
        if (m.has("WATCHDOG=1") && m.at >= ready_at) ++beats;
    MESSAGE("WATCHDOG=1 datagrams in ~2 s after READY: " << beats);
    CHECK(beats >= 4);

    // SIGHUP: RELOADING=1 with MONOTONIC_USEC (CLOCK_MONOTONIC µs), then READY=1 again.
    auto mark = ns.messages().size();
    REQUIRE(d.signal(SIGHUP));
    auto rl = ns.wait_for([](const notify_message& m) { return m.has("RELOADING=1"); }, 5s, mark);
    REQUIRE(rl >= 0);
    auto usec_text = ns.messages()[static_cast<std::size_t>(rl)].value("MONOTONIC_USEC");
    REQUIRE(!usec_text.empty());
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    auto now_us = static_cast<unsigned long long>(now.tv_sec) * 1000000ull +
                  static_cast<unsigned long long>(now.tv_nsec) / 1000;
    auto usec = std::stoull(usec_text);
    CHECK(usec <= now_us);
    CHECK(usec + 60000000ull > now_us);  // the same clock, not wall time
    CHECK(ns.wait_for([](const notify_message& m) { return m.has("READY=1"); }, 5s,
                      static_cast<std::size_t>(rl) + 1) >= 0);
    REQUIRE(d.wait_log("config.reloaded", 5s));

    // The recovered job completes: tracked again, not resubmitted.
    REQUIRE(d.wait_filed(1, 30s));
    CHECK(d.done() == std::vector<std::string>{"left.json"});
    CHECK(sim_stat(sim, "runs_created") == 2);
    CHECK(ns.wait_for(
              [](const notify_message& m) {
                  return m.value("STATUS").find("done 1") != std::string::npos;
              },
              5s) >= 0);

    // SIGTERM: STOPPING=1, then a clean exit.
    mark = ns.messages().size();
    REQUIRE(d.signal(SIGTERM));
    CHECK(ns.wait_for([](const notify_message& m) { return m.has("STOPPING=1"); }, 5s, mark) >= 0);
    auto st = d.process().wait(10s);
    REQUIRE(st.has_value());
    CHECK(st->success());
}

TEST_CASE("sd_notify: start-up recovery asks for more time (EXTEND_TIMEOUT_USEC) before READY=1") {
    temp_root root("extend");
    testing::sim_process sim(
        {"--time-scale", "20", "--run-seconds", "40", "--seed", "22", "--rate-window-s", "60"},
        {.stderr_file = root.path() / "briefsim.log"});
    testing::daemon_options opt;
    opt.api_url = sim.api_url();
    opt.api_key = sim.api_key();
    opt.rate_window_s = 3;
    {  // jobs left in active/ by a crash: the next start has something to recover
        testing::daemon_process first(root.path() / "d", opt);
        first.drop("left.json", content_brief("extend-left", 2));
        REQUIRE(first.wait_log("batch.submitted", 15s));
        first.kill();
    }
    notify_socket ns(root.path() / "notify.sock");
    opt.env = {{"NOTIFY_SOCKET", ns.path().string()}};
    opt.wait_ready = false;
    testing::daemon_process d(root.path() / "d", opt);
    auto ready = ns.wait_for([](const notify_message& m) { return m.has("READY=1"); }, 20s);
    REQUIRE(ready >= 0);
    long extend = -1;
    for (std::size_t i = 0; i < ns.messages().size(); ++i)
        if (!ns.messages()[i].value("EXTEND_TIMEOUT_USEC").empty()) {
            extend = static_cast<long>(i);
            break;
        }
    REQUIRE(extend >= 0);
    CHECK(extend < ready);  // asked while recovering, not after
    CHECK(ns.messages()[static_cast<std::size_t>(extend)].value("EXTEND_TIMEOUT_USEC") ==
          "60000000");
    REQUIRE(d.wait_filed(1, 30s));
}

namespace {

// Runs one brief through a daemon with `env`, then a SIGHUP with a wrong key and one more brief
// (which is held back, the key being rejected), and returns the whole log.
std::string run_for_log(const fs::path& dir, const testing::sim_process& sim,
                        const std::string& key,
                        std::vector<std::pair<std::string, std::string>> env) {
    testing::daemon_options opt;
    opt.api_url = sim.api_url();
    opt.api_key = key;
    opt.rate_window_s = 1;
    opt.env = std::move(env);
    testing::daemon_process d(dir, opt);
    d.drop("one.json", content_brief(dir.filename().string() + "-one", 2));
    REQUIRE(d.wait_filed(1, 20s));
    d.write_key(key + "x");  // a wrong key: 401, logged loudly
    REQUIRE(d.signal(SIGHUP));
    REQUIRE(d.wait_log("config.reloaded", 5s));
    d.drop("two.json", content_brief(dir.filename().string() + "-two", 1));
    CHECK(d.wait_log("host.blocked", 15s));
    auto st = d.stop();
    REQUIRE(st.has_value());
    CHECK(st->success());
    return d.log();
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        if (nl == std::string::npos) nl = text.size();
        if (nl > pos) out.push_back(text.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return out;
}

}  // namespace

TEST_CASE("logging: <N> prefixes with JOURNAL_STREAM, plain without, and never the API key") {
    temp_root root("journal");
    std::mt19937_64 rng(std::random_device{}());
    const std::string key = "lma_lifecycle_" + std::to_string(rng()) + std::to_string(rng());
    testing::sim_process sim(
        {"--time-scale", "60", "--seed", "31", "--rate-window-s", "60", "--key", key},
        {.stderr_file = root.path() / "briefsim.log"});
    REQUIRE(sim.api_key() == key);

    auto journal = run_for_log(root.path() / "journal", sim, key, {{"JOURNAL_STREAM", "8:123456"}});
    auto plain = run_for_log(root.path() / "plain", sim, key, {});

    auto jl = split_lines(journal);
    auto pl = split_lines(plain);
    CHECK(jl.size() >= 8);
    CHECK(pl.size() >= 8);
    for (const auto& l : jl) {
        bool prefixed = l.size() > 3 && l[0] == '<' && l[1] >= '0' && l[1] <= '7' && l[2] == '>';
        if (!prefixed) FAIL_CHECK("journal line without <N>: " << l);
    }
    CHECK(lines_with(journal, {"<3>host.blocked"}).size() >= 1);  // errors are priority 3
    CHECK(lines_with(journal, {"<5>brief.done"}).size() == 1);    // notices 5
    for (const auto& l : pl) {
        bool plain_line = !l.empty() && l[0] >= '0' && l[0] <= '9';  // an ISO timestamp first
        if (!plain_line) FAIL_CHECK("plain line not starting with a timestamp: " << l);
    }
    CHECK(journal.find(key) == std::string::npos);
    CHECK(plain.find(key) == std::string::npos);
    CHECK(journal.find(key.substr(4)) == std::string::npos);  // not even without its prefix
    CHECK(plain.find(key.substr(4)) == std::string::npos);
    CHECK(sim_stat(sim, "output_requests_with_api_key") == 0);
}

}  // namespace briefd::lifecycle
