#include <doctest/doctest.h>

#include "support/process.hpp"
#include "support/sim_process.hpp"

#include <csignal>
#include <fstream>

using namespace briefd::testing;
using namespace std::chrono_literals;

TEST_CASE("child_process captures stdout, stderr to a file, environment and exit status") {
    const auto err =
        std::filesystem::temp_directory_path() / ("sim_proc_err_" + std::to_string(::getpid()));
    process_options o;
    o.env = {{"SIM_TEST_VALUE", "forty two"}};
    o.stderr_file = err;
    child_process p(
        {"/bin/sh", "-c", "echo first; echo \"$SIM_TEST_VALUE\"; echo oops >&2; exit 3"}, o);
    CHECK(p.pid() > 0);
    CHECK(p.read_line(5s) == std::optional<std::string>("first"));
    CHECK(p.read_line(5s) == std::optional<std::string>("forty two"));
    auto st = p.wait(5s);
    REQUIRE(st);
    CHECK(st->exited);
    CHECK(st->code == 3);
    CHECK_FALSE(p.read_line(100ms));
    std::ifstream in(err);
    std::string line;
    std::getline(in, line);
    CHECK(line == "oops");
    std::filesystem::remove(err);
}

TEST_CASE("child_process: read_line and wait time out; signals end the child; destructor kills") {
    child_process p({"sleep", "30"});
    CHECK_FALSE(p.read_line(50ms));
    CHECK_FALSE(p.wait(50ms));
    CHECK(p.running());
    CHECK(p.signal(SIGTERM));
    auto st = p.wait(5s);
    REQUIRE(st);
    CHECK_FALSE(st->exited);
    CHECK(st->signal == SIGTERM);
    CHECK_FALSE(p.signal(SIGTERM));  // already reaped
    pid_t orphan = 0;
    {
        child_process q({"sleep", "30"});
        orphan = q.pid();
    }
    CHECK(::kill(orphan, 0) != 0);  // killed and reaped by the destructor
}

TEST_CASE("sim_process parses the listening line and briefsim exits 0 on SIGTERM and SIGINT") {
    sim_process sim;
    CHECK(sim.api_url().starts_with("http://127.0.0.1:"));
    CHECK(sim.files_url().starts_with("http://127.0.0.1:"));
    CHECK(sim.api_url() != sim.files_url());
    CHECK(sim.hrizn_url().starts_with("http://127.0.0.1:"));
    CHECK(sim.hrizn_url().ends_with("/v1/public"));
    CHECK(sim.stats().as_object().contains("requests"));
    auto st = sim.stop();
    REQUIRE(st);
    CHECK(st->success());

    sim_process sim2;
    sim2.process().signal(SIGINT);
    auto st2 = sim2.process().wait(5s);
    REQUIRE(st2);
    CHECK(st2->success());
}

TEST_CASE("briefsim rejects bad options with exit code 2 and prints help with exit 0") {
    child_process bad({sim_process::binary(), "--time-scale", "zero"}, {{}, "/dev/null", {}});
    auto st = bad.wait(5s);
    REQUIRE(st);
    CHECK(st->code == 2);
    child_process help({sim_process::binary(), "--help"});
    std::string text;
    while (auto l = help.read_line(5s)) text += *l + "\n";
    CHECK(help.wait(5s)->success());
    for (const char* opt :
         {"--time-scale", "--fail-5xx", "--storm-429", "--sse-drop-after", "--sse-stall",
          "--sse-refuse", "--slow-headers", "--truncate-downloads", "--malformed-json",
          "--extra-fields", "--no-video", "--fail-rate", "--rate-mode", "--tls-cert"})
        CHECK_MESSAGE(text.find(opt) != std::string::npos, opt);
}
