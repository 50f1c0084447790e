// The operator commands end to end: the built briefd binary run as a person would, against a real
// daemon and briefsim on loopback, and with the daemon stopped.
#include "integration/helpers.hpp"

#include <doctest/doctest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <csignal>
#include <fstream>
#include <thread>

namespace briefd::it {

namespace json = boost::json;

namespace {

struct cli_result {
    testing::exit_status status;
    std::string out, err;
    int code() const { return status.exited ? status.code : 128 + status.signal; }
};

/// Runs `briefd <args…>` to its end (30 s at most) and collects its stdout and stderr.
cli_result briefd_cli(const fs::path& dir, std::vector<std::string> args) {
    static int n = 0;
    auto err_file = dir / ("cli-" + std::to_string(++n) + ".err");
    args.insert(args.begin(), testing::briefd_binary());
    testing::child_process p(args, {.stderr_file = err_file});
    std::string out;
    std::optional<testing::exit_status> st;
    auto until = std::chrono::steady_clock::now() + 30s;
    while (!(st = p.wait(50ms)) && std::chrono::steady_clock::now() < until)
        out += p.read_available();
    REQUIRE_MESSAGE(st.has_value(), "briefd " << args[1] << " did not end");
    out += p.read_available();
    return {*st, std::move(out), read_file(err_file)};
}

/// A loopback port nobody listens on.
std::string free_listen() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return "127.0.0.1:" + std::to_string(a.local_endpoint().port());
}

void write_file(const fs::path& p, std::string_view text) {
    std::ofstream(p, std::ios::binary) << text;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> v;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        if (nl == std::string::npos) nl = text.size();
        if (nl > pos) v.push_back(text.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return v;
}

std::size_t count_briefs(const fs::path& dir) {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir))
        n += !e.path().filename().string().starts_with(".");
    return n;
}

constexpr const char* product_shots = "ec7ec3ce-69b4-43c9-8eea-fe9752d679a4";

std::string app_brief(const std::string& inputs) {
    return std::string(R"({"app":")") + product_shots + R"(","inputs":)" + inputs + "}";
}

}  // namespace

TEST_CASE("cli: commands, --help per command, usage errors exit 2") {
    temp_dir tmp;
    auto help = briefd_cli(tmp.path(), {"--help"});
    CHECK(help.code() == 0);
    for (auto c : {"status", "validate", "submit", "retry", "cancel", "--check"})
        CHECK(help.out.find(c) != std::string::npos);
    for (auto verb : {"run", "status", "validate", "submit", "retry", "cancel"}) {
        CAPTURE(verb);
        auto r = briefd_cli(tmp.path(), {verb, "--help"});
        CHECK(r.code() == 0);
        CHECK(r.out.find(std::string("Usage: briefd ") +
                         (std::string(verb) == "run" ? "[run]" : verb)) != std::string::npos);
        auto bad = briefd_cli(tmp.path(), {verb, "--frobnicate"});
        CHECK(bad.code() == 2);
        CHECK(bad.err.find("unrecognized option '--frobnicate'") != std::string::npos);
    }
    auto unknown = briefd_cli(tmp.path(), {"frobnicate"});
    CHECK(unknown.code() == 2);
    CHECK(unknown.err.find("briefd: unknown command 'frobnicate'") != std::string::npos);
    CHECK(briefd_cli(tmp.path(), {"retry"}).code() == 2);               // JOB missing
    CHECK(briefd_cli(tmp.path(), {"cancel", "a", "b"}).code() == 2);    // one JOB only
    CHECK(briefd_cli(tmp.path(), {"validate"}).code() == 2);            // FILE missing
    CHECK(briefd_cli(tmp.path(), {"status", "--listen"}).code() == 2);  // value missing
    auto v = briefd_cli(tmp.path(), {"--version"});
    CHECK(v.code() == 0);
    CHECK(v.out.starts_with("briefd "));
}

TEST_CASE(
    "cli: validate gives the daemon's own file:item:field words, app schemas from the provider") {
    rig r;
    RIG_CONTEXT(r);
    auto cfg = r.d->config_path().string();
    auto dir = r.tmp.path();
    write_file(dir / "good.json", content_brief("cli-good", 2));
    write_file(dir / "app.json",
               app_brief(R"({"Upload":"https://example.com/a.jpg","Style":"Studio"})"));
    // Parses fine; only the app's schema shows the unknown input and the option not offered.
    const auto bad_inputs =
        app_brief(R"({"Upload":"https://example.com/a.jpg","Style":"Neon","Bogus":1})");
    write_file(dir / "inputs.json", bad_inputs);
    write_file(dir / "broken.json", R"({"items":[{"brief":"x","platform":7}]})");

    auto ok = briefd_cli(
        dir, {"validate", "-c", cfg, (dir / "good.json").string(), (dir / "app.json").string()});
    CHECK(ok.code() == 0);
    CHECK(ok.out.find("good.json: ok (lamina, 2 items)") != std::string::npos);
    CHECK(ok.out.find("app.json: ok (lamina, 1 item)") != std::string::npos);
    CHECK(r.route_count("GET /v1/apps/{id}") >= 1);  // the schema was fetched with the key

    auto bad = briefd_cli(dir, {"validate", "-c", cfg, (dir / "inputs.json").string(),
                                (dir / "broken.json").string(), (dir / "good.json").string()});
    CHECK(bad.code() == 1);
    auto cli_lines = lines_of(bad.err);
    CHECK(std::any_of(cli_lines.begin(), cli_lines.end(), [](auto& l) {
        return l.starts_with("inputs.json: item 0: inputs.Bogus: ");
    }));
    CHECK(std::any_of(cli_lines.begin(), cli_lines.end(), [](auto& l) {
        return l.starts_with("inputs.json: item 0: inputs.Style: ");
    }));
    CHECK(std::any_of(cli_lines.begin(), cli_lines.end(),
                      [](auto& l) { return l.starts_with("broken.json: item 0: platform: "); }));
    CHECK(bad.out.find("good.json: ok") != std::string::npos);

    // Without the schema check the inputs cannot be judged: it passes, no network needed.
    CHECK(briefd_cli(dir, {"validate", "--no-schemas", "-c", cfg, (dir / "inputs.json").string()})
              .code() == 0);

    // The daemon, given the same files, writes the same words into failed/.
    r.d->drop("inputs.json", bad_inputs);
    r.d->drop("broken.json", read_file(dir / "broken.json"));
    REQUIRE(r.d->wait_filed(2, filed_timeout));
    std::vector<std::string> daemon_lines;
    for (auto name : {"inputs.json", "broken.json"}) {
        const auto err = r.d->error_file(name);
        for (const auto& p : err.at("problems").as_array()) {
            const auto& o = p.as_object();
            std::string line = std::string(o.at("file").as_string());
            if (!o.at("item").is_null())
                line += ": item " + std::to_string(o.at("item").to_number<std::size_t>());
            if (!o.at("field").as_string().empty())
                line += ": " + std::string(o.at("field").as_string());
            line += ": " + std::string(o.at("message").as_string());
            daemon_lines.push_back(line);
        }
    }
    std::sort(daemon_lines.begin(), daemon_lines.end());
    std::sort(cli_lines.begin(), cli_lines.end());
    CHECK(cli_lines == daemon_lines);
}

TEST_CASE(
    "cli: submit drops into incoming/ whether the daemon runs or not; invalid sends nothing") {
    rig r;
    RIG_CONTEXT(r);
    auto cfg = r.d->config_path().string();
    auto dir = r.tmp.path();
    write_file(dir / "one.json", content_brief("cli-submit-one", 2));
    write_file(dir / "two.yaml", "platform: instagram\nitems:\n  - brief: cli-submit-two #0\n");
    write_file(dir / "bad.json", R"({"brief": 3})");

    auto invalid = briefd_cli(
        dir, {"submit", "-c", cfg, (dir / "one.json").string(), (dir / "bad.json").string()});
    CHECK(invalid.code() == 1);
    CHECK(invalid.err.find("bad.json: item 0: brief: ") != std::string::npos);
    CHECK(invalid.err.find("nothing was submitted") != std::string::npos);
    CHECK(count_briefs(r.d->spool() / "incoming") == 0);

    auto sent = briefd_cli(
        dir, {"submit", "-c", cfg, (dir / "one.json").string(), (dir / "two.yaml").string()});
    REQUIRE(sent.code() == 0);
    CHECK(sent.out.find("submitted as " + (r.d->spool() / "incoming" / "one.json").string()) !=
          std::string::npos);
    REQUIRE(r.d->wait_filed(2, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"one.json", "two.yaml"});
    CHECK(check_outputs(*r.d, "one") == 2);

    // Daemon stopped: the brief waits in incoming/ under its name, then is taken at the next start.
    REQUIRE(r.d->stop().has_value());
    auto again = briefd_cli(dir, {"submit", "-c", cfg, (dir / "one.json").string()});
    REQUIRE(again.code() == 0);
    CHECK(fs::exists(r.d->spool() / "incoming" / "one.json"));
    std::vector<std::string> incoming;  // dot-files too: no temp left behind
    for (const auto& e : fs::directory_iterator(r.d->spool() / "incoming"))
        incoming.push_back(e.path().filename().string());
    CHECK(incoming == std::vector<std::string>{"one.json"});
    r.d->start();
    REQUIRE(r.d->wait_filed(3, filed_timeout));
    CHECK(r.d->done().size() == 3);
}

TEST_CASE("cli: retry sends back only the failed items, with the daemon stopped and running") {
    rig r({.sim_args = {"--no-video"}});
    RIG_CONTEXT(r);
    auto cfg = r.d->config_path().string();
    auto dir = r.tmp.path();
    // Two images and a video; the workspace has no video app, so the video item fails.
    const std::string brief =
        R"({"platform":"instagram","items":[{"brief":"cli-retry #0","modality":"image"},
        {"brief":"cli-retry #1","modality":"video"},{"brief":"cli-retry #2","modality":"image"}]})";
    r.d->drop("mixed.json", brief);
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    REQUIRE(r.d->failed() == std::vector<std::string>{"mixed.json"});
    CHECK(r.d->manifest("mixed").at("status").as_string() == "partial");
    const auto created_before = r.stat("runs_created");

    auto none = briefd_cli(dir, {"retry", "-c", cfg, "nosuchjob"});
    CHECK(none.code() == 1);
    CHECK(none.err.find("no failed job named nosuchjob") != std::string::npos);

    // Daemon stopped: the retry is only files.
    REQUIRE(r.d->stop().has_value());
    auto dry = briefd_cli(dir, {"retry", "-n", "-c", cfg, "mixed"});
    CHECK(dry.code() == 0);
    CHECK(dry.out.find("would send item(s) 1 back") != std::string::npos);
    CHECK(count_briefs(r.d->spool() / "incoming") == 0);
    auto rt = briefd_cli(dir, {"retry", "-c", cfg, "mixed"});
    REQUIRE(rt.code() == 0);
    CHECK(rt.out.find("mixed: item(s) 1 sent back as") != std::string::npos);
    const auto queued = r.d->spool() / "incoming" / "mixed-retry1.json";
    REQUIRE(fs::exists(queued));
    auto q = json::parse(read_file(queued));
    REQUIRE(q.at("items").as_array().size() == 1);
    CHECK(q.at("items").as_array()[0].at("modality").as_string() == "video");
    CHECK(q.at("platform").as_string() == "instagram");
    // Asked again while it waits: refused, nothing doubled.
    auto twice = briefd_cli(dir, {"retry", "-c", cfg, "mixed"});
    CHECK(twice.code() == 1);
    CHECK(twice.err.find("already being retried as mixed-retry1 (in incoming/)") !=
          std::string::npos);

    // The video app is back; the daemon runs the retry: one item, one new run, nothing else redone.
    r.sim->set_faults(json::object{{"no-video", nullptr}});
    r.d->start();
    REQUIRE(r.d->wait_filed(2, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"mixed-retry1.json"});
    CHECK(r.stat("runs_created") == created_before + 1);
    CHECK(check_outputs(*r.d, "mixed-retry1") == 1);
    CHECK(fs::exists(r.d->spool() / "failed" / "mixed.json"));  // the original stays as it was
    auto done = briefd_cli(dir, {"retry", "-c", cfg, "mixed-retry1"});
    CHECK(done.code() == 1);
    CHECK(done.err.find("mixed-retry1 completed; there is nothing to retry") != std::string::npos);
}

TEST_CASE("cli: status and cancel with nothing listening say briefd is not running (exit 3)") {
    temp_dir tmp;
    auto listen = free_listen();
    auto st = briefd_cli(tmp.path(), {"status", "--listen", listen});
    CHECK(st.code() == 3);
    CHECK(st.err.find("briefd is not running (no answer on " + listen + ")") != std::string::npos);
    auto js = briefd_cli(tmp.path(), {"status", "--json", "--listen", listen});
    CHECK(js.code() == 3);
    CHECK(js.out.empty());
    auto c = briefd_cli(tmp.path(), {"cancel", "--listen", listen, "sneakers"});
    CHECK(c.code() == 3);
    CHECK(c.err.find("briefd is not running (no answer on " + listen + ")") != std::string::npos);
    auto bad_cfg = briefd_cli(tmp.path(), {"status", "-c", (tmp.path() / "missing.yaml").string()});
    CHECK(bad_cfg.code() == 1);
    CHECK(bad_cfg.err.find("missing.yaml") != std::string::npos);
}

// Against the daemon's status server (GET /status, POST /jobs/<job>/cancel).

TEST_CASE("cli: status of a running daemon, found through --config; --json is the daemon's JSON") {
    auto listen = free_listen();
    rig_options o;
    o.sim_args = {"--run-seconds", "600"};  // runs stay in flight while we look
    o.daemon.status_listen = listen;
    rig r(o);
    RIG_CONTEXT(r);
    auto cfg = r.d->config_path().string();
    r.d->drop("looking.json", content_brief("cli-status", 3));
    REQUIRE(r.d->wait_log("batch.submitted", 20s));

    auto st = briefd_cli(r.tmp.path(), {"status", "-c", cfg});
    REQUIRE(st.code() == 0);
    INFO(st.out);
    CHECK(st.out.find("briefd 0.1.0, running") != std::string::npos);
    CHECK(st.out.find("PROVIDER") != std::string::npos);
    CHECK(st.out.find("lamina") != std::string::npos);
    CHECK(st.out.find("JOB looking  provider lamina") != std::string::npos);
    CHECK(st.out.find("3 items") != std::string::npos);

    auto js = briefd_cli(r.tmp.path(), {"status", "--json", "-c", cfg});
    REQUIRE(js.code() == 0);
    auto v = json::parse(js.out);
    CHECK(v.at("daemon").at("state").as_string() == "running");
    const auto& jobs = v.at("jobs").as_array();
    REQUIRE(jobs.size() == 1);
    CHECK(jobs[0].at("job").as_string() == "looking");
    CHECK(jobs[0].at("items").as_array().size() == 3);

    // Stopped: the same command, a clear exit 3.
    REQUIRE(r.d->stop().has_value());
    auto gone = briefd_cli(r.tmp.path(), {"status", "-c", cfg});
    CHECK(gone.code() == 3);
    CHECK(gone.err.find("briefd is not running (no answer on " + listen + ")") !=
          std::string::npos);
}

TEST_CASE("cli: status shows a provider paused by a rejected key, and why") {
    rig_options o;
    o.daemon.status_listen = free_listen();
    rig r(o);
    RIG_CONTEXT(r);
    auto cfg = r.d->config_path().string();
    r.d->write_key(r.key + "x");  // a wrong key: 401 blocks the provider
    REQUIRE(r.d->signal(SIGHUP));
    REQUIRE(r.d->wait_log("config.reloaded", 10s));
    r.d->drop("blocked.json", content_brief("cli-blocked", 1));
    REQUIRE(r.d->wait_log("host.blocked", 20s));
    auto st = briefd_cli(r.tmp.path(), {"status", "-c", cfg});
    REQUIRE(st.code() == 0);
    INFO(st.out);
    std::string lamina_row;
    for (const auto& l : lines_of(st.out))
        if (l.starts_with("lamina ")) lamina_row = l;
    CHECK(lamina_row.find("401") != std::string::npos);
}

TEST_CASE("cli: cancel files the job as cancelled, then retry sends its items back") {
    rig_options o;
    o.sim_args = {"--run-seconds", "600"};
    o.daemon.status_listen = free_listen();
    rig r(o);
    RIG_CONTEXT(r);
    auto cfg = r.d->config_path().string();
    r.d->drop("stopme.json", content_brief("cli-cancel", 2));
    REQUIRE(r.d->wait_log("batch.submitted", 20s));

    auto c = briefd_cli(r.tmp.path(), {"cancel", "-c", cfg, "stopme"});
    REQUIRE(c.code() == 0);
    CHECK(c.out.find("stopme cancelled") != std::string::npos);
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->failed() == std::vector<std::string>{"stopme.json"});
    CHECK(json::serialize(r.d->error_file("stopme.json")).find("cancelled by operator") !=
          std::string::npos);
    CHECK(r.route_count("POST /v1/runs/{id}/cancel") >= 1);

    auto again = briefd_cli(r.tmp.path(), {"cancel", "-c", cfg, "stopme"});
    CHECK(again.code() == 1);
    CHECK(again.err.find("stopme") != std::string::npos);
    auto nojob = briefd_cli(r.tmp.path(), {"cancel", "-c", cfg, "never-was"});
    CHECK(nojob.code() == 1);

    auto rt = briefd_cli(r.tmp.path(), {"retry", "-n", "-c", cfg, "stopme"});
    CHECK(rt.code() == 0);
    CHECK(rt.out.find("would send item(s) 0, 1 back") != std::string::npos);

    REQUIRE(r.d->stop().has_value());
    auto stopped = briefd_cli(r.tmp.path(), {"cancel", "-c", cfg, "stopme"});
    CHECK(stopped.code() == 3);
}

}  // namespace briefd::it
