#include "config/config.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace briefd::config;
using namespace std::chrono_literals;

namespace {

const std::string minimal = R"(spool: /var/spool/briefd
outputs: /var/lib/briefd/outputs
providers:
  lamina:
    base_url: https://app.uselamina.ai
    api_key_file: /run/credentials/briefd.service/lamina
)";

config ok(std::string_view yaml) {
    auto r = load_from_string(yaml, "briefd.yaml");
    if (auto* e = std::get_if<load_error>(&r)) FAIL(e->to_string());
    return std::get<config>(r);
}

load_error bad(std::string_view yaml) {
    auto r = load_from_string(yaml, "briefd.yaml");
    REQUIRE_MESSAGE(std::holds_alternative<load_error>(r), yaml);
    return std::get<load_error>(r);
}

// A temp directory removed at the end of the test.
struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        std::string templ = (std::filesystem::temp_directory_path() / "briefd-config-XXXXXX").string();
        REQUIRE(::mkdtemp(templ.data()) != nullptr);
        path = templ;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

void write(const std::filesystem::path& p, std::string_view text) {
    std::ofstream out(p, std::ios::binary);
    out << text;
}

const std::filesystem::path example = std::filesystem::path(BRIEFD_SOURCE_DIR) / "config" / "briefd.yaml";

}  // namespace

TEST_CASE("config: a minimal file gets every default") {
    auto c = ok(minimal);
    CHECK(c.source == "briefd.yaml");
    CHECK(c.spool == "/var/spool/briefd");
    CHECK(c.outputs == "/var/lib/briefd/outputs");
    CHECK(c.default_provider == "lamina");
    REQUIRE(c.providers.count("lamina"));
    const auto& p = c.providers.at("lamina");
    CHECK(p.name == "lamina");
    CHECK(p.base_url == "https://app.uselamina.ai");
    CHECK(p.rate_limit.requests == 100);
    CHECK(p.rate_limit.per_seconds == 60s);
    CHECK(p.batch.max_items == 10);
    CHECK(p.batch.linger == 1500ms);
    CHECK(p.tracking.mode == tracking_mode::auto_);
    CHECK(p.tracking.poll_interval == 4000ms);
    CHECK(p.tracking.wait_timeout == 60s);
    CHECK(p.tracking.sse_idle_timeout == 45000ms);
    CHECK(p.tracking.sse_max_failures == 3);
    CHECK(p.timeouts.connect == 10000ms);
    CHECK(p.retry.max_attempts == 8);
    CHECK(c.max_brief_bytes == 1u << 20);
    CHECK(c.max_output_bytes == 2ull << 30);
    CHECK(c.settle == 2000ms);
    CHECK(c.retention == 0h);
    CHECK(c.on_uncertain == uncertain_policy::fail);
    CHECK(c.log_level == "info");
}

TEST_CASE("config: every key is read") {
    auto c = ok(R"(spool: /s
outputs: /o
default_provider: hrizn
providers:
  lamina:
    base_url: https://app.uselamina.ai/
    api_key_env: LAMINA_API_KEY
  hrizn:
    base_url: https://api.app.hrizn.io/v1/public
    api_key_file: /keys/hrizn
    ca_file: /etc/briefd/ca.pem
    rate_limit: { requests: 30, per_seconds: 10 }
    batch: { max_items: 5, linger_ms: 250 }
    tracking: { mode: poll, poll_interval_ms: 15000, wait_timeout_s: 120, sse_idle_timeout_ms: 30000, sse_max_failures: 0 }
    timeouts: { connect_ms: 1000, request_ms: 2000, download_idle_ms: 3000, download_min_bytes_per_s: 0, download_rate_window_ms: 10000 }
    retry: { base_ms: 100, cap_ms: 5000, max_attempts: 3 }
max_brief_bytes: 4096
max_output_bytes: 1000000
settle_ms: 0
rescan_interval_ms: 5000
retention_hours: 48
on_uncertain: resubmit
drain_timeout_ms: 1000
max_concurrent_downloads: 2
max_items_waiting: 300
max_items_in_flight: 200
log_level: debug
)");
    CHECK(c.default_provider == "hrizn");
    CHECK(c.providers.at("lamina").base_url == "https://app.uselamina.ai");  // trailing slash dropped
    CHECK(c.providers.at("lamina").api_key_env == "LAMINA_API_KEY");
    const auto& h = c.providers.at("hrizn");
    CHECK(h.base_url == "https://api.app.hrizn.io/v1/public");
    CHECK(h.ca_file == "/etc/briefd/ca.pem");
    CHECK(h.rate_limit.requests == 30);
    CHECK(h.rate_limit.per_seconds == 10s);
    CHECK(h.batch.max_items == 5);
    CHECK(h.batch.linger == 250ms);
    CHECK(h.tracking.mode == tracking_mode::poll);
    CHECK(h.tracking.poll_interval == 15000ms);
    CHECK(h.tracking.wait_timeout == 120s);
    CHECK(h.tracking.sse_idle_timeout == 30000ms);
    CHECK(h.tracking.sse_max_failures == 0);
    CHECK(h.timeouts.connect == 1000ms);
    CHECK(h.timeouts.request == 2000ms);
    CHECK(h.timeouts.download_idle == 3000ms);
    CHECK(h.timeouts.download_min_bytes_per_s == 0);  // 0 turns the minimum off
    CHECK(h.timeouts.download_rate_window == 10000ms);
    CHECK(c.providers.at("lamina").timeouts.download_min_bytes_per_s == 1024);  // defaults
    CHECK(c.providers.at("lamina").timeouts.download_rate_window == 30000ms);
    CHECK(h.retry.base == 100ms);
    CHECK(h.retry.cap == 5000ms);
    CHECK(h.retry.max_attempts == 3);
    CHECK(c.max_brief_bytes == 4096);
    CHECK(c.max_output_bytes == 1000000);
    CHECK(c.settle == 0ms);
    CHECK(c.rescan_interval == 5000ms);
    CHECK(c.retention == 48h);
    CHECK(c.on_uncertain == uncertain_policy::resubmit);
    CHECK(c.drain_timeout == 1000ms);
    CHECK(c.max_concurrent_downloads == 2);
    CHECK(c.max_items_waiting == 300);
    CHECK(c.max_items_in_flight == 200);
    CHECK(c.log_level == "debug");
}

TEST_CASE("config: the shipped config/briefd.yaml loads") {
    auto r = load(example);
    if (auto* e = std::get_if<load_error>(&r)) FAIL(e->to_string());
    const auto& c = std::get<config>(r);
    CHECK(c.source == example);
    CHECK(c.spool == "/var/spool/briefd");
    CHECK(c.providers.at("lamina").tracking.mode == tracking_mode::auto_);
    CHECK(c.retention == 720h);
}

TEST_CASE("config: load_error text is file:line: key: problem") {
    CHECK(load_error{"/etc/briefd/briefd.yaml", 7, "providers.lamina.batch.max_items", "must be an integer from 1 to 10"}
              .to_string() == "/etc/briefd/briefd.yaml:7: providers.lamina.batch.max_items: must be an integer from 1 to 10");
    CHECK(load_error{"f.yaml", 0, "", "cannot open: No such file or directory"}.to_string() ==
          "f.yaml: cannot open: No such file or directory");
}

TEST_CASE("config: unknown keys name their line and dotted key") {
    auto e = bad(minimal + "    batch: { max_items: 10, lingr_ms: 5 }\n");
    CHECK(e.file == "briefd.yaml");
    CHECK(e.line == 7);
    CHECK(e.key == "providers.lamina.batch.lingr_ms");
    CHECK(e.problem.find("unknown key") == 0);

    auto top = bad("spool: /s\noutputs: /o\nspoool: /x\n");
    CHECK(top.line == 3);
    CHECK(top.key == "spoool");
}

TEST_CASE("config: impossible values") {
    auto items = bad(minimal + "    batch:\n      max_items: 11\n");
    CHECK(items.line == 8);
    CHECK(items.key == "providers.lamina.batch.max_items");
    CHECK(items.problem == "must be an integer from 1 to 10");
    CHECK(bad(minimal + "    batch: { max_items: 0 }\n").key == "providers.lamina.batch.max_items");

    auto wait = bad(minimal + "    tracking: { wait_timeout_s: 121 }\n");
    CHECK(wait.key == "providers.lamina.tracking.wait_timeout_s");
    CHECK(bad(minimal + "    tracking: { wait_timeout_s: 0 }\n").key == "providers.lamina.tracking.wait_timeout_s");

    auto req = bad(minimal + "    rate_limit: { requests: 0, per_seconds: 60 }\n");
    CHECK(req.key == "providers.lamina.rate_limit.requests");
    CHECK(req.line == 7);

    auto neg = bad(minimal + "settle_ms: -5\n");
    CHECK(neg.key == "settle_ms");
    CHECK(neg.line == 7);
    CHECK(neg.problem.find("must not be negative") == 0);

    CHECK(bad(minimal + "    retry: { base_ms: 1000, cap_ms: 500 }\n").key == "providers.lamina.retry.cap_ms");
    CHECK(bad(minimal + "    retry: { base_ms: 70000 }\n").key == "providers.lamina.retry.base_ms");
    CHECK(bad(minimal + "max_concurrent_downloads: 0\n").key == "max_concurrent_downloads");
    CHECK(bad(minimal + "max_items_waiting: 0\n").key == "max_items_waiting");
    CHECK(bad(minimal + "max_items_in_flight: 0\n").key == "max_items_in_flight");
    CHECK(bad(minimal + "max_items_in_flight: many\n").key == "max_items_in_flight");
}

TEST_CASE("config: wrong types") {
    CHECK(bad(minimal + "settle_ms: soon\n").problem.find("integer") != std::string::npos);
    CHECK(bad(minimal + "settle_ms: 1.5\n").key == "settle_ms");
    CHECK(bad(minimal + "settle_ms: \"2000\"\n").key == "settle_ms");  // quoted: a string, not a number
    CHECK(bad(minimal + "settle_ms: [1]\n").key == "settle_ms");
    CHECK(bad(minimal + "max_output_bytes: 99999999999999999999999\n").key == "max_output_bytes");
    auto m = bad(minimal + "    batch: 10\n");
    CHECK(m.key == "providers.lamina.batch");
    CHECK(m.problem == "must be a mapping of keys");
    CHECK(bad("spool: [a]\noutputs: /o\n").key == "spool");
    CHECK(bad(minimal + "log_level: loud\n").problem == "must be one of error | warning | notice | info | debug");
    CHECK(bad(minimal + "on_uncertain: maybe\n").key == "on_uncertain");
    CHECK(bad(minimal + "    tracking: { mode: carrier-pigeon }\n").key == "providers.lamina.tracking.mode");
    CHECK(bad("- a\n- b\n").problem == "must be a mapping of keys");
}

TEST_CASE("config: providers and default_provider") {
    auto name = bad("spool: /s\noutputs: /o\nproviders:\n  openai:\n    base_url: https://x.example\n    api_key_env: K\n");
    CHECK(name.line == 4);
    CHECK(name.key == "providers.openai");
    CHECK(name.problem.find("lamina, hrizn or layers") != std::string::npos);

    auto def = bad(minimal + "default_provider: layers\n");
    CHECK(def.key == "default_provider");
    CHECK(def.line == 7);
    CHECK(def.problem.find("not configured") != std::string::npos);

    auto none = bad("spool: /s\noutputs: /o\ndefault_provider: lamina\n");
    CHECK(none.key == "providers");

    auto no_key = bad("spool: /s\noutputs: /o\nproviders:\n  lamina:\n    base_url: https://app.uselamina.ai\n");
    CHECK(no_key.key == "providers.lamina");
    CHECK(no_key.problem.find("api_key_file or api_key_env") != std::string::npos);

    auto both = bad(minimal + "    api_key_env: LAMINA_API_KEY\n");
    CHECK(both.key == "providers.lamina.api_key_env");
    CHECK(both.problem.find("not both") != std::string::npos);

    CHECK(bad(minimal + "    api_key_env: not-a-name\n").problem == "must be an environment variable name");
    CHECK(bad("spool: /s\noutputs: /o\nproviders:\n  lamina:\n    base_url: https://a.example\n    api_key_env: 9X\n").key ==
          "providers.lamina.api_key_env");
}

TEST_CASE("config: an api_key literal is refused, naming the alternatives") {
    auto e = bad("spool: /s\noutputs: /o\nproviders:\n  lamina:\n    base_url: https://app.uselamina.ai\n    api_key: lma_secret123\n");
    CHECK(e.line == 6);
    CHECK(e.key == "providers.lamina.api_key");
    CHECK(e.problem == "put the key in api_key_file or api_key_env, never in the config");
    // The key itself never appears in the error.
    CHECK(e.to_string().find("lma_secret123") == std::string::npos);
    CHECK(bad(minimal + "api_key: lma_x\n").problem == "put the key in api_key_file or api_key_env, never in the config");
}

TEST_CASE("config: spool and outputs are required and absolute") {
    CHECK(bad("outputs: /o\nproviders: {}\n").key == "spool");
    CHECK(bad("spool: /s\nproviders: {}\n").key == "outputs");
    auto rel = bad("spool: var/spool\noutputs: /o\n");
    CHECK(rel.key == "spool");
    CHECK(rel.line == 1);
    CHECK(rel.problem.find("absolute") != std::string::npos);
    CHECK(bad("spool: /s\noutputs: ./out\n").key == "outputs");
    CHECK(bad("spool:\noutputs: /o\n").key == "spool");
    CHECK(bad("").problem.find("empty") != std::string::npos);
}

TEST_CASE("config: base_url must be http(s), http only for loopback") {
    auto with = [](std::string_view url) {
        return "spool: /s\noutputs: /o\nproviders:\n  lamina:\n    base_url: " + std::string(url) + "\n    api_key_env: K\n";
    };
    CHECK(ok(with("http://127.0.0.1:8080")).providers.at("lamina").base_url == "http://127.0.0.1:8080");
    CHECK(ok(with("http://127.3.4.5:1")).providers.size() == 1);
    CHECK(ok(with("http://[::1]:9000/")).providers.at("lamina").base_url == "http://[::1]:9000");
    CHECK(ok(with("http://localhost:8080/v1/public")).providers.size() == 1);
    CHECK(ok(with("https://gateway.internal.example:8443/lamina")).providers.size() == 1);

    auto plain = bad(with("http://app.uselamina.ai"));
    CHECK(plain.line == 5);
    CHECK(plain.key == "providers.lamina.base_url");
    CHECK(plain.problem.find("loopback") != std::string::npos);
    CHECK(bad(with("http://10.0.0.1")).problem.find("loopback") != std::string::npos);
    CHECK(bad(with("ftp://app.uselamina.ai")).key == "providers.lamina.base_url");
    CHECK(bad(with("not a url")).key == "providers.lamina.base_url");
    CHECK(bad(with("https://user:pass@app.uselamina.ai")).problem.find("credentials") != std::string::npos);
    CHECK(bad(with("https://app.uselamina.ai/?x=1")).key == "providers.lamina.base_url");
    CHECK(bad(with("https:///path")).key == "providers.lamina.base_url");
}

TEST_CASE("config: base_url is checked before Boost.URL parses it (fuzz finding)") {
    auto with = [](std::string_view url) {
        return "spool: /s\noutputs: /o\nproviders:\n  lamina:\n    base_url: \"" + std::string(url) +
               "\"\n    api_key_env: K\n";
    };
    // Boost.URL 1.81 asserts on some bytes after "scheme:"; such text never reaches it now.
    for (std::string_view u : {"x:\\xff", "a:\\x7f", "https:\\x01//h", "https://h\\x80st/", "https://h st/",
                               "ht\\xc3\\xa9tps://h/"}) {
        auto e = bad(with(u));
        CHECK(e.key == "providers.lamina.base_url");
        CHECK(e.problem.find("https://") != std::string::npos);
    }
    CHECK(ok(with("HTTPS://app.uselamina.ai")).providers.size() == 1);
}

TEST_CASE("config: paths that are not UTF-8 are refused, so --check prints what runs (fuzz finding)") {
    // yaml-cpp's emitter replaces invalid bytes: the printed config would name another directory.
    auto e = bad("spool: /var/spool/bad\xffname\noutputs: /o\n");
    CHECK(e.key == "spool");
    CHECK(e.problem.find("UTF-8") != std::string::npos);
    CHECK(bad("spool: /s\noutputs: \"/o/\\x01\"\n").problem.find("control") != std::string::npos);
    std::string accented = minimal;
    accented.replace(accented.find("/var/spool/briefd"), 17, "/var/spool/caf\xc3\xa9");
    CHECK(ok(accented).spool == "/var/spool/caf\xc3\xa9");
}

TEST_CASE("config: YAML syntax errors and duplicate keys carry a line") {
    auto e = bad("spool: /s\noutputs: [/o\n");
    CHECK(e.line >= 2);
    CHECK_FALSE(e.problem.empty());
    auto d = bad("spool: /s\nspool: /t\noutputs: /o\n");
    CHECK(d.line == 2);
    CHECK(d.key == "spool");
    CHECK(d.problem == "duplicate key");
}

TEST_CASE("config: load() from a file, and a missing file") {
    temp_dir t;
    write(t.path / "briefd.yaml", minimal + "log_level: notice\n");
    auto r = load(t.path / "briefd.yaml");
    REQUIRE(std::holds_alternative<config>(r));
    CHECK(std::get<config>(r).log_level == "notice");
    CHECK(std::get<config>(r).source == t.path / "briefd.yaml");

    write(t.path / "broken.yaml", minimal + "    batch: { max_items: 12 }\n");
    auto b = load(t.path / "broken.yaml");
    REQUIRE(std::holds_alternative<load_error>(b));
    CHECK(std::get<load_error>(b).to_string() ==
          (t.path / "broken.yaml").string() + ":7: providers.lamina.batch.max_items: must be an integer from 1 to 10");

    auto missing = load(t.path / "nope.yaml");
    REQUIRE(std::holds_alternative<load_error>(missing));
    CHECK(std::get<load_error>(missing).problem.find("cannot open") == 0);
}

TEST_CASE("load_api_key: from a file, trailing newline stripped") {
    temp_dir t;
    provider_config p;
    p.name = "lamina";
    p.api_key_file = (t.path / "lamina").string();
    write(p.api_key_file, "lma_abc123\r\n");
    auto k = load_api_key(p);
    REQUIRE(std::holds_alternative<briefd::secret>(k));
    CHECK(std::get<briefd::secret>(k).reveal() == "lma_abc123");
    std::ostringstream shown;
    shown << std::get<briefd::secret>(k);
    CHECK(shown.str() == "<redacted>");

    write(p.api_key_file, "\n");
    auto empty = load_api_key(p);
    REQUIRE(std::holds_alternative<std::string>(empty));
    CHECK(std::get<std::string>(empty).find(p.api_key_file) != std::string::npos);
    CHECK(std::get<std::string>(empty).find("empty") != std::string::npos);

    write(p.api_key_file, "lma_one\nlma_two\n");
    auto two = load_api_key(p);
    REQUIRE(std::holds_alternative<std::string>(two));
    CHECK(std::get<std::string>(two).find("lma_one") == std::string::npos);  // never the value

    p.api_key_file = (t.path / "missing").string();
    auto missing = load_api_key(p);
    REQUIRE(std::holds_alternative<std::string>(missing));
    CHECK(std::get<std::string>(missing).find("api_key_file " + p.api_key_file) != std::string::npos);
}

TEST_CASE("load_api_key: from an environment variable") {
    provider_config p;
    p.name = "hrizn";
    p.api_key_env = "BRIEFD_TEST_HRIZN_KEY";
    ::setenv("BRIEFD_TEST_HRIZN_KEY", "hzk_0123456789abcdef", 1);
    auto k = load_api_key(p);
    REQUIRE(std::holds_alternative<briefd::secret>(k));
    CHECK(std::get<briefd::secret>(k).reveal() == "hzk_0123456789abcdef");

    ::setenv("BRIEFD_TEST_HRIZN_KEY", "", 1);
    auto empty = load_api_key(p);
    REQUIRE(std::holds_alternative<std::string>(empty));
    CHECK(std::get<std::string>(empty) == "provider hrizn: environment variable BRIEFD_TEST_HRIZN_KEY is empty");

    ::unsetenv("BRIEFD_TEST_HRIZN_KEY");
    auto unset = load_api_key(p);
    REQUIRE(std::holds_alternative<std::string>(unset));
    CHECK(std::get<std::string>(unset) == "provider hrizn: environment variable BRIEFD_TEST_HRIZN_KEY is not set");

    provider_config none;
    none.name = "layers";
    CHECK(std::holds_alternative<std::string>(load_api_key(none)));
}

TEST_CASE("to_yaml: every default filled in, no secret, and it loads back the same") {
    temp_dir t;
    auto c = ok(minimal);
    std::string y = to_yaml(c);
    CHECK(y.find("api_key_file: /run/credentials/briefd.service/lamina") != std::string::npos);
    CHECK(y.find("linger_ms: 1500") != std::string::npos);
    CHECK(y.find("wait_timeout_s: 60") != std::string::npos);
    CHECK(y.find("mode: auto") != std::string::npos);
    CHECK(y.find("on_uncertain: fail") != std::string::npos);
    CHECK(y.find("max_output_bytes: 2147483648") != std::string::npos);

    // The key's value never appears, even when it is readable.
    auto p = c.providers.at("lamina");
    p.api_key_file = (t.path / "k").string();
    write(p.api_key_file, "lma_topsecret\n");
    c.providers.at("lamina") = p;
    REQUIRE(std::holds_alternative<briefd::secret>(load_api_key(p)));
    std::string y2 = to_yaml(c);
    CHECK(y2.find("lma_topsecret") == std::string::npos);

    auto back = ok(y2);
    CHECK(restart_required(c, back).empty());
    CHECK(to_yaml(back) == y2);
}

TEST_CASE("restart_required: lists what a reload cannot apply") {
    auto a = ok(minimal);
    auto b = a;
    b.providers.at("lamina").rate_limit.requests = 50;
    b.providers.at("lamina").batch.linger = 10ms;
    b.providers.at("lamina").tracking.mode = tracking_mode::poll;
    b.providers.at("lamina").retry.max_attempts = 2;
    b.log_level = "debug";
    b.max_items_waiting = 7;
    b.max_items_in_flight = 3;
    CHECK(restart_required(a, b).empty());

    b.spool = "/elsewhere";
    b.outputs = "/out2";
    b.providers.at("lamina").base_url = "https://other.example";
    b.providers.at("lamina").timeouts.connect = 1ms;
    b.max_concurrent_downloads = 9;
    provider_config h;
    h.name = "hrizn";
    b.providers["hrizn"] = h;
    auto r = restart_required(a, b);
    CHECK(r == std::vector<std::string>{"spool", "outputs", "max_concurrent_downloads", "providers.lamina.base_url",
                                        "providers.lamina.timeouts.connect_ms", "providers.hrizn (added)"});
    auto back = restart_required(b, a);
    CHECK(std::find(back.begin(), back.end(), "providers.hrizn (removed)") != back.end());
}

TEST_CASE("to_string of the enums") {
    CHECK(to_string(tracking_mode::auto_) == "auto");
    CHECK(to_string(tracking_mode::sse) == "sse");
    CHECK(to_string(tracking_mode::wait) == "wait");
    CHECK(to_string(tracking_mode::poll) == "poll");
    CHECK(to_string(uncertain_policy::fail) == "fail");
    CHECK(to_string(uncertain_policy::resubmit) == "resubmit");
}

TEST_CASE("config: Layers bucket classes and the concurrent-jobs cap") {
    const std::string layers = R"(spool: /s
outputs: /o
default_provider: layers
providers:
  layers:
    base_url: https://api.layers.com
    api_key_env: LAYERS_API_KEY
)";
    SUBCASE("the standard tier by default") {
        auto c = ok(layers);
        const auto& p = c.providers.at("layers");
        CHECK(p.rate_limit.requests == 120);
        REQUIRE(p.rate_limit_classes.size() == 2);
        CHECK(p.rate_limit_classes.at("write-light").requests == 60);
        CHECK(p.rate_limit_classes.at("long-running").requests == 20);
        CHECK(p.rate_limit_classes.at("long-running").per_day == 10000);
        CHECK(p.max_concurrent_jobs == 10);
        CHECK(p.tracking.schedule_scale == 1);
        CHECK(p.tracking.list);  // the content list tracks many jobs at once
        // Lamina has one bucket and no cap.
        CHECK(ok(minimal).providers.at("lamina").rate_limit_classes.empty());
        CHECK(ok(minimal).providers.at("lamina").max_concurrent_jobs == 0);
    }
    SUBCASE("a configured class replaces that class's default; the others stay") {
        auto c = ok(layers + "    rate_limit_classes:\n      long-running: { requests: 60, per_seconds: 60 }\n"
                             "      bulk-export: { requests: 5, per_seconds: 30, per_day: 100 }\n"
                             "    max_concurrent_jobs: 25\n    tracking: { schedule_scale: 30, list: false }\n");
        const auto& p = c.providers.at("layers");
        CHECK(p.rate_limit_classes.at("long-running").requests == 60);
        CHECK(p.rate_limit_classes.at("long-running").per_day == 0);
        CHECK(p.rate_limit_classes.at("write-light").requests == 60);
        CHECK(p.rate_limit_classes.at("bulk-export").per_seconds == 30s);
        CHECK(p.max_concurrent_jobs == 25);
        CHECK(p.tracking.schedule_scale == 30);
        CHECK_FALSE(p.tracking.list);
        auto y = to_yaml(c);
        CHECK(y.find("list: false") != std::string::npos);
        CHECK(y.find("bulk-export") != std::string::npos);
        CHECK(y.find("max_concurrent_jobs: 25") != std::string::npos);
        CHECK(y.find("schedule_scale: 30") != std::string::npos);
    }
    SUBCASE("no cap at all, and what --check prints loads back the same") {
        auto c = ok(layers + "    max_concurrent_jobs: 0\n");
        CHECK(c.providers.at("layers").max_concurrent_jobs == 0);
        auto back = ok(to_yaml(c));
        CHECK(back.providers.at("layers").max_concurrent_jobs == 0);
        CHECK(back.providers.at("layers").rate_limit_classes.size() == 2);
        CHECK(to_yaml(back) == to_yaml(c));
    }
    SUBCASE("bad values name the key and line") {
        auto name = bad(layers + "    rate_limit_classes:\n      Long Running: { requests: 5 }\n");
        CHECK(name.key == "providers.layers.rate_limit_classes.Long Running");
        CHECK(name.line == 9);
        CHECK(bad(layers + "    rate_limit_classes:\n      write-light: { per_seconds: 5 }\n").key ==
              "providers.layers.rate_limit_classes.write-light.requests");
        CHECK(bad(layers + "    rate_limit_classes:\n      write-light: { requests: 0 }\n").key ==
              "providers.layers.rate_limit_classes.write-light.requests");
        CHECK(bad(layers + "    rate_limit_classes:\n      write-light: { requests: 5, burst: 2 }\n").key ==
              "providers.layers.rate_limit_classes.write-light.burst");
        CHECK(bad(layers + "    rate_limit_classes: 5\n").key == "providers.layers.rate_limit_classes");
        CHECK(bad(layers + "    max_concurrent_jobs: -1\n").key == "providers.layers.max_concurrent_jobs");
        CHECK(bad(layers + "    tracking: { schedule_scale: 0 }\n").key == "providers.layers.tracking.schedule_scale");
        CHECK(bad(layers + "    tracking: { list: maybe }\n").key == "providers.layers.tracking.list");
    }
}

TEST_CASE("config: webhooks are off by default and read when present") {
    auto off = ok(minimal);
    CHECK_FALSE(off.webhooks.enabled);
    CHECK(off.providers.at("lamina").webhook_secret_file.empty());
    CHECK(to_yaml(off).find("webhooks") == std::string::npos);

    const std::string hooks = minimal +
                              "  hrizn:\n    base_url: https://api.app.hrizn.io/v1/public\n    api_key_env: HK\n"
                              "    webhook_secret_file: /run/credentials/briefd.service/hrizn-webhook\n"
                              "    tracking: { mode: webhook }\n"
                              "  layers:\n    base_url: https://api.layers.com\n    api_key_env: LK\n"
                              "    webhook_secret_env: LAYERS_WEBHOOK_SECRET\n"
                              "webhooks:\n  listen: 127.0.0.1:8787\n  public_url: https://render-01.example.com/briefd/\n"
                              "  grace_s: 240\n  max_body_bytes: 65536\n  fallback_after: 5\n";
    auto c = ok(hooks);
    CHECK(c.webhooks.enabled);
    CHECK(c.webhooks.listen == "127.0.0.1:8787");
    CHECK(c.webhooks.public_url == "https://render-01.example.com/briefd");  // trailing slash dropped
    CHECK(c.webhooks.grace == 240s);
    CHECK(c.webhooks.tolerance == 300s);
    CHECK(c.webhooks.max_body_bytes == 65536);
    CHECK(c.webhooks.fallback_after == 5);
    CHECK(c.providers.at("hrizn").webhook_secret_file == "/run/credentials/briefd.service/hrizn-webhook");
    CHECK(c.providers.at("hrizn").tracking.mode == tracking_mode::webhook);
    CHECK(c.providers.at("layers").webhook_secret_env == "LAYERS_WEBHOOK_SECRET");
    // --check shows where the secrets are, and round-trips.
    auto y = to_yaml(c);
    CHECK(y.find("webhook_secret_env: LAYERS_WEBHOOK_SECRET") != std::string::npos);
    auto again = ok(y);
    CHECK(again.webhooks.public_url == c.webhooks.public_url);
    CHECK(again.webhooks.grace == 240s);
    CHECK(restart_required(c, again).empty());
    auto moved = c;
    moved.webhooks.listen = "127.0.0.1:9999";
    CHECK(restart_required(c, moved) == std::vector<std::string>{"webhooks"});
}

TEST_CASE("config: webhook mistakes name their key") {
    const std::string base = minimal + "webhooks:\n";
    CHECK(bad(base + "  listen: 127.0.0.1:8787\n").problem.find("public_url") != std::string::npos);
    CHECK(bad(base + "  public_url: ftp://x.example\n").key == "webhooks.public_url");
    CHECK(bad(base + "  public_url: http://render.example.com/b\n").key == "webhooks.public_url");
    CHECK(bad(base + "  public_url: https://x.example/b?q=1\n").key == "webhooks.public_url");
    CHECK(bad(base + "  public_url: https://x.example\n  listen: 8787\n").key == "webhooks.listen");
    CHECK(bad(base + "  public_url: https://x.example\n  listen: h:99999\n").key == "webhooks.listen");
    CHECK(bad(base + "  public_url: https://x.example\n  grace_s: 0\n").key == "webhooks.grace_s");
    CHECK(bad(base + "  public_url: https://x.example\n  secret: x\n").key == "webhooks.secret");
    ok(base + "  public_url: http://127.0.0.1:8787/hooks\n  listen: \"[::1]:0\"\n");
    // Lamina has no secret to configure.
    CHECK(bad(minimal + "    webhook_secret_env: X\n").key == "providers.lamina.webhook_secret_env");
    // mode webhook without the receiver, or without the secret.
    CHECK(bad(minimal + "    tracking: { mode: webhook }\n").key == "providers.lamina.tracking.mode");
    auto no_secret = bad(minimal + "  hrizn:\n    base_url: https://h.example\n    api_key_env: HK\n"
                                   "    tracking: { mode: webhook }\nwebhooks: { public_url: https://x.example }\n");
    CHECK(no_secret.key == "providers.hrizn.tracking.mode");
    CHECK(bad(minimal + "  hrizn:\n    base_url: https://h.example\n    api_key_env: HK\n"
                        "    webhook_secret_env: A\n    webhook_secret_file: /x\n")
              .key == "providers.hrizn.webhook_secret_env");
}

TEST_CASE("config: webhook secrets are read like API keys and never shown") {
    temp_dir d;
    auto file = d.path / "hrizn-webhook";
    write(file, "whsec_abc\n");
    provider_config p;
    p.name = "hrizn";
    CHECK(std::get<briefd::secret>(load_webhook_secret(p)).empty());  // none configured
    p.webhook_secret_file = file.string();
    CHECK(std::get<briefd::secret>(load_webhook_secret(p)).reveal() == "whsec_abc");
    p.webhook_secret_file = (d.path / "missing").string();
    auto err = std::get<std::string>(load_webhook_secret(p));
    CHECK(err.find("webhook_secret_file") != std::string::npos);
    p.webhook_secret_file.clear();
    p.webhook_secret_env = "BRIEFD_TEST_WEBHOOK_SECRET_UNSET";
    ::unsetenv("BRIEFD_TEST_WEBHOOK_SECRET_UNSET");
    CHECK(std::get<std::string>(load_webhook_secret(p)).find("not set") != std::string::npos);
    ::setenv("BRIEFD_TEST_WEBHOOK_SECRET_SET", "s3cret", 1);
    p.webhook_secret_env = "BRIEFD_TEST_WEBHOOK_SECRET_SET";
    CHECK(std::get<briefd::secret>(load_webhook_secret(p)).reveal() == "s3cret");
}
