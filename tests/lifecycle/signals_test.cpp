// SIGTERM (drain, persist, exit 0, resume without resubmitting; a second signal forces) and
// SIGHUP (live changes applied, a broken config keeps the running one, restart-only keys named).
#include "lifecycle/helpers.hpp"

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <csignal>
#include <fstream>
#include <set>
#include <thread>

namespace briefd::lifecycle {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const fs::path& p, std::string_view s) {
    // Write-and-rename, as an operator's editor would, so the daemon never reads half a file.
    auto tmp = fs::path(p).concat(".new");
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out.write(s.data(), static_cast<std::streamsize>(s.size()));
    }
    fs::rename(tmp, p);
}

std::string emit(const YAML::Node& n) {
    YAML::Emitter e;
    e << n;
    return std::string(e.c_str()) + "\n";
}

}  // namespace

TEST_CASE(
    "SIGTERM with runs in flight: exit 0, state kept, runs resumed at restart without "
    "resubmitting") {
    temp_root root("sigterm");
    // Runs last about 3 s, so they are certainly still generating when SIGTERM arrives.
    testing::sim_process sim(
        {"--time-scale", "20", "--run-seconds", "60", "--seed", "11", "--rate-window-s", "60"},
        {.stderr_file = root.path() / "briefsim.log"});
    testing::daemon_options opt;
    opt.api_url = sim.api_url();
    opt.api_key = sim.api_key();
    opt.rate_window_s = 3;
    testing::daemon_process d(root.path() / "d", opt);

    d.drop("long.json", content_brief("sigterm-long", 4));
    REQUIRE(d.wait_log("batch.submitted", 15s));
    auto runs = sim_stat(sim, "runs_created");
    auto batches = sim_stat(sim, "batches");
    CHECK(runs == 4);
    CHECK(batches == 1);

    auto st = d.stop(10s);  // drain_timeout_ms is 5000 in the generated config
    REQUIRE(st.has_value());
    CHECK(st->success());
    auto log = d.log();
    CHECK(count(log, "daemon.stopping") == 1);
    CHECK(count(log, "daemon.stopped") == 1);
    CHECK(lines_with(log, {"daemon.drain_timeout"}).empty());

    // The state says what was paid for: every item submitted, with its run id.
    auto state_file = d.spool() / "active" / "long.state.json";
    REQUIRE(fs::exists(state_file));
    CHECK(fs::exists(d.spool() / "active" / "long.json"));
    auto state = json::parse(read_text(state_file));
    for (const auto& it : state.at("items").as_array()) {
        CHECK(it.at("state").as_string() == "submitted");
        CHECK(!it.at("run_id").as_string().empty());
    }
    CHECK(d.done().empty());
    CHECK(d.failed().empty());

    d.start();
    REQUIRE(d.wait_filed(1, 30s));
    CHECK(d.done() == std::vector<std::string>{"long.json"});
    CHECK(sim_stat(sim, "runs_created") == runs);
    CHECK(sim_stat(sim, "batches") == batches);
    CHECK(sim_stat(sim, "duplicate_submissions") == 0);
    CHECK(lines_with(d.log(), {"recovery.done", "retrack=4"}).size() == 1);
    auto st2 = d.stop(10s);  // before the audit: filing removes the state just after the move
    REQUIRE(st2.has_value());
    CHECK(st2->success());
    auto a = audit_spool(d, {"long.json"});
    for (const auto& p : a.problems) FAIL_CHECK(p);
}

TEST_CASE(
    "SIGTERM with claimed jobs waiting for the in-flight window: nothing lost, each item sent "
    "once, the waiting jobs start after the restart") {
    temp_root root("sigterm-waiting");
    // Runs last 9–15 s: the two in flight are still running when SIGTERM arrives, even when a
    // loaded machine takes seconds to claim all five.
    testing::sim_process sim(
        {"--time-scale", "20", "--run-seconds", "240", "--seed", "13", "--rate-window-s", "60"},
        {.stderr_file = root.path() / "briefsim.log"});
    testing::daemon_options opt;
    opt.api_url = sim.api_url();
    opt.api_key = sim.api_key();
    opt.rate_window_s = 3;
    opt.top_yaml = "max_items_in_flight: 2\n";
    testing::daemon_process d(root.path() / "d", opt);

    const std::set<std::string> names{"w0.json", "w1.json", "w2.json", "w3.json", "w4.json"};
    for (const auto& n : names) d.drop(n, content_brief("sigterm-waiting-" + n, 1));
    // All five are claimed and validated at once (the claim window); two start.
    REQUIRE(wait_until([&] { return count(d.log(), "job.accepted") == 5; }, 15s));
    REQUIRE(wait_until([&] { return sim_stat(sim, "runs_created") >= 2; }, 15s));
    std::this_thread::sleep_for(700ms);  // more than a batch's linger: nothing else starts
    INFO("briefd's log ends:\n" << d.log_tail(60));
    CHECK(sim_stat(sim, "runs_created") == 2);

    auto st = d.stop(10s);
    REQUIRE(st.has_value());
    CHECK(st->success());
    CHECK(lines_with(d.log(), {"daemon.drain_timeout"}).empty());
    // Every brief is still in active/ with a state that says where it stands: two submitted,
    // three never sent (their state written at the stop).
    std::size_t submitted = 0, pending = 0;
    for (const auto& n : names) {
        CHECK(fs::exists(d.spool() / "active" / n));
        auto state_file = d.spool() / "active" / (fs::path(n).stem().string() + ".state.json");
        REQUIRE(fs::exists(state_file));
        auto state = json::parse(read_text(state_file));
        const auto& item = state.at("items").as_array().at(0);
        if (item.at("state").as_string() == "submitted") ++submitted;
        if (item.at("state").as_string() == "pending") ++pending;
    }
    CHECK(submitted == 2);
    CHECK(pending == 3);
    CHECK(d.done().empty());
    CHECK(d.failed().empty());

    d.start();
    REQUIRE(d.wait_filed(5, 120s));
    CHECK(d.done().size() == 5);
    CHECK(sim_stat(sim, "runs_created") == 5);
    CHECK(sim_stat(sim, "duplicate_submissions") == 0);
    auto st2 = d.stop(10s);
    REQUIRE(st2.has_value());
    CHECK(st2->success());
    auto a = audit_spool(d, names);
    for (const auto& p : a.problems) FAIL_CHECK(p);
}

TEST_CASE(
    "SIGTERM while downloads wait to retry: the waits end with the drain, the outputs resume at "
    "restart") {
    temp_root root("sigterm-dl");
    // Every download is cut off half-way, so each output keeps retrying with growing pauses.
    testing::sim_process sim({"--time-scale", "60", "--seed", "15", "--rate-window-s", "60",
                              "--truncate-downloads", "1"},
                             {.stderr_file = root.path() / "briefsim.log"});
    testing::daemon_options opt;
    opt.api_url = sim.api_url();
    opt.api_key = sim.api_key();
    opt.rate_window_s = 1;
    testing::daemon_process d(root.path() / "d", opt);
    d.drop("cut.json", content_brief("sigterm-dl", 2));
    REQUIRE(d.wait_log("attempt=5", 60s));  // the next pauses are up to 30 s long
    auto t0 = std::chrono::steady_clock::now();
    auto st = d.stop(40s);
    auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    REQUIRE(st.has_value());
    CHECK(st->success());
    MESSAGE("SIGTERM to exit with downloads backing off: " << took << " s (drain deadline 5 s)");
    // A pause before a retry is not work in flight: it ends at once, not at (or after) the
    // deadline.
    CHECK(lines_with(d.log(), {"daemon.drain_timeout"}).empty());
    // The outputs were not given up because of the stop: they resume at the next start.
    CHECK(d.failed().empty());
    CHECK(lines_with(d.log(), {"output.failed"}).empty());
    sim.set_faults(json::object{{"truncate-downloads", 0}});
    d.start();
    REQUIRE(d.wait_filed(1, 30s));
    CHECK(d.done() == std::vector<std::string>{"cut.json"});
    d.stop();
}

TEST_CASE(
    "SIGTERM while the API key is rejected: prompt exit, and the brief is not failed at the next "
    "start") {
    temp_root root("sigterm401");
    testing::sim_process sim({"--time-scale", "60", "--seed", "14", "--rate-window-s", "60"},
                             {.stderr_file = root.path() / "briefsim.log"});
    testing::daemon_options opt;
    opt.api_url = sim.api_url();
    opt.api_key = sim.api_key() + "-revoked";
    opt.rate_window_s = 1;
    testing::daemon_process d(root.path() / "d", opt);

    d.drop("held.json", content_brief("sigterm-401", 2));
    REQUIRE(d.wait_log("host.blocked", 15s));
    auto st = d.stop(10s);  // the blocked host's probe must not keep the daemon alive
    REQUIRE(st.has_value());
    CHECK(st->success());
    // Every attempt was answered 401: nothing was created, so nothing is "uncertain".
    auto state = read_text(d.spool() / "active" / "held.state.json");
    CHECK(state.find("\"submitting\"") == std::string::npos);
    CHECK(state.find("\"pending\"") != std::string::npos);

    d.write_key(sim.api_key());
    d.start();
    REQUIRE(d.wait_filed(1, 20s));
    CHECK(d.done() == std::vector<std::string>{"held.json"});
    CHECK(lines_with(d.log(), {"submission.uncertain"}).empty());
    CHECK(sim_stat(sim, "duplicate_submissions") == 0);
    d.stop();
}

TEST_CASE(
    "a second SIGTERM during the drain forces the exit; the unanswered submission is not resent") {
    temp_root root("sigterm2");
    testing::sim_process sim({"--time-scale", "60", "--seed", "12", "--rate-window-s", "60"},
                             {.stderr_file = root.path() / "briefsim.log"});
    testing::daemon_options opt;
    opt.api_url = sim.api_url();
    opt.api_key = sim.api_key();
    opt.rate_window_s = 1;
    testing::daemon_process d(root.path() / "d", opt);

    // briefsim holds every response head for 6.5 s: the batch request stays on the wire, longer
    // than the 5 s drain deadline.
    sim.set_faults(json::object{{"slow-headers", 6500}});
    d.drop("slow.json", content_brief("sigterm-slow", 2));
    auto state_file = d.spool() / "active" / "slow.state.json";
    REQUIRE(wait_until(
        [&] { return read_text(state_file).find("\"submitting\"") != std::string::npos; }, 15s));
    auto sent_at = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(300ms);  // the request leaves right after the intent is recorded

    REQUIRE(d.signal(SIGTERM));
    REQUIRE(d.wait_log("daemon.stopping", 5s));
    std::this_thread::sleep_for(300ms);
    CHECK(d.process().running());  // draining: the request is still in flight
    REQUIRE(d.signal(SIGTERM));
    auto st = d.process().wait(4s);
    REQUIRE(st.has_value());
    CHECK(st->exited);
    auto log = d.log();
    CHECK(lines_with(log, {"daemon.signal", "forced stop"}).size() == 1);
    CHECK(lines_with(log, {"daemon.stopping", "in_flight=0"}).empty());
    // It ended because of the second signal, not because the drain deadline passed.
    CHECK(lines_with(log, {"daemon.drain_timeout"}).empty());
    CHECK(count(log, "daemon.stopped") == 1);
    CHECK(read_text(state_file).find("\"submitting\"") != std::string::npos);

    // Restart: the outcome is unknown and the policy is fail, so it is failed, not resent.
    sim.set_faults(json::object{{"slow-headers", 0}});
    d.start();
    REQUIRE(d.wait_filed(1, 20s));
    CHECK(d.failed() == std::vector<std::string>{"slow.json"});
    CHECK(json::serialize(d.error_file("slow.json")).find("submission outcome unknown") !=
          std::string::npos);
    CHECK(lines_with(d.log(), {"submission.uncertain", "job=slow", "action=fail"}).size() == 2);
    std::this_thread::sleep_until(sent_at + 7s);  // briefsim has answered the held request by now
    CHECK(sim_stat(sim, "duplicate_submissions") == 0);
    CHECK(sim_stat(sim, "batches") <= 1);
    d.stop();
}

TEST_CASE(
    "SIGHUP: live changes applied, a broken config keeps the running one, restart-only keys "
    "named") {
    temp_root root("sighup");
    notify_socket ns(root.path() / "notify.sock");
    testing::sim_process sim({"--time-scale", "60", "--seed", "13", "--rate-window-s", "60"},
                             {.stderr_file = root.path() / "briefsim.log"});
    testing::daemon_options opt;
    opt.api_url = sim.api_url();
    opt.api_key = sim.api_key();
    opt.rate_window_s = 1;
    opt.env = {{"NOTIFY_SOCKET", ns.path().string()}};
    testing::daemon_process d(root.path() / "d", opt);
    auto status_has = [](std::string_view s) {
        return
            [s](const notify_message& m) { return m.value("STATUS").find(s) != std::string::npos; };
    };
    REQUIRE(ns.wait_for(status_has("/100"), 5s) >= 0);

    // 1. Rate limit and log level change live.
    const auto original = read_text(d.config_path());
    auto cfg = YAML::Load(original);
    cfg["log_level"] = "debug";
    cfg["providers"]["lamina"]["rate_limit"]["requests"] = 50;
    write_text(d.config_path(), emit(cfg));
    ns.drain();
    auto mark = ns.messages().size();
    REQUIRE(d.signal(SIGHUP));
    REQUIRE(d.wait_log("config.reloaded", 5s));
    CHECK(lines_with(d.log(), {"config.reloaded", "needs_restart=none"}).size() == 1);
    auto reloading =
        ns.wait_for([](const notify_message& m) { return m.has("RELOADING=1"); }, 5s, mark);
    REQUIRE(reloading >= 0);
    CHECK(!ns.messages()[static_cast<std::size_t>(reloading)].value("MONOTONIC_USEC").empty());
    CHECK(ns.wait_for([](const notify_message& m) { return m.has("READY=1"); }, 5s,
                      static_cast<std::size_t>(reloading) + 1) >= 0);
    CHECK(ns.wait_for(status_has("/50"), 5s, mark) >= 0);
    d.drop("after-reload.json", content_brief("sighup-1", 2));
    REQUIRE(d.wait_filed(1, 20s));
    auto debug_lines = lines_with(d.log(), {"debug run.tracking"}).size();
    CHECK(debug_lines >= 2);  // debug lines appear only since the reload

    // 2. A broken config: the running one stays, the daemon keeps working.
    write_text(d.config_path(), "spool: [unterminated\n");
    REQUIRE(d.signal(SIGHUP));
    REQUIRE(d.wait_log("config.reload_failed", 5s));
    CHECK(
        lines_with(d.log(), {"config.reload_failed", "keeping the running configuration"}).size() ==
        1);
    CHECK(d.process().running());
    d.drop("after-broken.json", content_brief("sighup-2", 3));
    REQUIRE(d.wait_filed(2, 20s));
    CHECK(lines_with(d.log(), {"debug run.tracking"}).size() >= debug_lines + 3);  // still debug

    // 3. A key that needs a restart is named; the old spool keeps working until then.
    cfg["spool"] = (root.path() / "elsewhere").string();
    write_text(d.config_path(), emit(cfg));
    REQUIRE(d.signal(SIGHUP));
    REQUIRE(wait_until([&] { return count(d.log(), "config.reloaded") >= 2; }, 5s));
    auto lines = lines_with(d.log(), {"config.reloaded", "needs_restart="});
    REQUIRE(lines.size() == 2);
    CHECK(lines[1].find("needs_restart=spool") != std::string::npos);
    d.drop("after-restart-key.json", content_brief("sighup-3", 1));
    REQUIRE(d.wait_filed(3, 20s));
    CHECK(d.done().size() == 3);
    CHECK(!fs::exists(root.path() / "elsewhere"));
    auto st = d.stop();
    REQUIRE(st.has_value());
    CHECK(st->success());
}

}  // namespace briefd::lifecycle
