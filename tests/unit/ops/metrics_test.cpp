// The Prometheus exposition writer and registry: exact text for counters, gauges and histograms,
// escaping, label order, bounded cardinality, and names that would make a scrape invalid.
#include "ops/metrics.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace m = briefd::ops::metrics;

TEST_CASE("metrics: a counter with labels prints HELP, TYPE and series sorted by label values") {
    m::registry r;
    auto& req = r.counter("briefd_requests_total", "HTTP requests sent to providers.",
                          {"provider", "endpoint", "code"});
    req.inc({"lamina", "submit", "200"});
    req.inc({"hrizn", "list", "200"}, 3);
    req.inc({"lamina", "submit", "200"});
    req.inc({"lamina", "submit", "429"});
    req.inc({"lamina", "submit", "429"}, -5);  // ignored: counters never go down
    CHECK(r.expose() ==
          "# HELP briefd_requests_total HTTP requests sent to providers.\n"
          "# TYPE briefd_requests_total counter\n"
          "briefd_requests_total{provider=\"hrizn\",endpoint=\"list\",code=\"200\"} 3\n"
          "briefd_requests_total{provider=\"lamina\",endpoint=\"submit\",code=\"200\"} 2\n"
          "briefd_requests_total{provider=\"lamina\",endpoint=\"submit\",code=\"429\"} 1\n");
    CHECK(req.value({"lamina", "submit", "200"}) == 2);
    CHECK(req.value({"layers", "submit", "200"}) == 0);
}

TEST_CASE("metrics: label values and help texts are escaped") {
    m::registry r;
    auto& g =
        r.gauge("briefd_paused", "1 when paused.\nBackslash \\ stays", {"provider", "reason"});
    g.set({"lamina", "key \"rejected\" \\ (401)\nnext"}, 1);
    CHECK(r.expose() ==
          "# HELP briefd_paused 1 when paused.\\nBackslash \\\\ stays\n"
          "# TYPE briefd_paused gauge\n"
          "briefd_paused{provider=\"lamina\",reason=\"key \\\"rejected\\\" \\\\ "
          "(401)\\nnext\"} 1\n");
    CHECK(m::escape_label_value("plain") == "plain");
}

TEST_CASE("metrics: sample values use Prometheus float syntax") {
    CHECK(m::format_value(0) == "0");
    CHECK(m::format_value(42) == "42");
    CHECK(m::format_value(0.25) == "0.25");
    CHECK(m::format_value(1e21) == "1e+21");
    CHECK(m::format_value(std::numeric_limits<double>::infinity()) == "+Inf");
    CHECK(m::format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
    CHECK(m::format_value(std::nan("")) == "NaN");
}

TEST_CASE("metrics: a histogram prints cumulative buckets, +Inf, _sum and _count") {
    m::registry r;
    auto& h = r.histogram("briefd_request_duration_seconds", "Request latency.", {"provider"},
                          {0.1, 1, 10});
    h.observe({"lamina"}, 0.05);
    h.observe({"lamina"}, 0.1);  // on the bound: counted in le="0.1"
    h.observe({"lamina"}, 5);
    h.observe({"lamina"}, 50);
    CHECK(r.expose() ==
          "# HELP briefd_request_duration_seconds Request latency.\n"
          "# TYPE briefd_request_duration_seconds histogram\n"
          "briefd_request_duration_seconds_bucket{provider=\"lamina\",le=\"0.1\"} 2\n"
          "briefd_request_duration_seconds_bucket{provider=\"lamina\",le=\"1\"} 2\n"
          "briefd_request_duration_seconds_bucket{provider=\"lamina\",le=\"10\"} 3\n"
          "briefd_request_duration_seconds_bucket{provider=\"lamina\",le=\"+Inf\"} 4\n"
          "briefd_request_duration_seconds_sum{provider=\"lamina\"} 55.15\n"
          "briefd_request_duration_seconds_count{provider=\"lamina\"} 4\n");
    CHECK(h.value({"lamina"}) == 4);
    CHECK(h.sum({"lamina"}) == doctest::Approx(55.15));
}

TEST_CASE("metrics: a family without labels prints bare names") {
    m::registry r;
    r.counter("briefd_briefs_claimed_total", "Briefs claimed.").inc({});
    auto& h = r.histogram("briefd_job_seconds", "Drop to done.", {}, {1});
    h.observe({}, 2);
    CHECK(r.expose() ==
          "# HELP briefd_briefs_claimed_total Briefs claimed.\n"
          "# TYPE briefd_briefs_claimed_total counter\n"
          "briefd_briefs_claimed_total 1\n"
          "# HELP briefd_job_seconds Drop to done.\n"
          "# TYPE briefd_job_seconds histogram\n"
          "briefd_job_seconds_bucket{le=\"1\"} 0\n"
          "briefd_job_seconds_bucket{le=\"+Inf\"} 1\n"
          "briefd_job_seconds_sum 2\n"
          "briefd_job_seconds_count 1\n");
}

TEST_CASE("metrics: cardinality is bounded; the excess is counted under \"other\"") {
    m::registry r;
    auto& c = r.counter("briefd_x_total", "x", {"code"}, 4);
    for (int code = 100; code < 110; ++code) c.inc({std::to_string(code)});
    CHECK(c.series() == 4);
    CHECK(c.value({"100"}) == 1);
    CHECK(c.value({"102"}) == 1);
    CHECK(c.value({"103"}) == 0);
    CHECK(c.value({"other"}) == 7);
    c.inc({"101"});  // existing series still count
    CHECK(c.value({"101"}) == 2);
}

TEST_CASE("metrics: collectors refresh gauges before every exposition") {
    m::registry r;
    auto& g = r.gauge("briefd_items", "Items by state.", {"state"});
    int runs = 0;
    r.add_collector([&] {
        g.clear();
        ++runs;
        if (runs == 1) g.set({"queued"}, 3);
        g.set({"tracking"}, runs);
    });
    CHECK(r.expose().find("briefd_items{state=\"queued\"} 3\n") != std::string::npos);
    const auto second = r.expose();
    CHECK(second.find("queued") == std::string::npos);  // cleared: no stale series
    CHECK(second.find("briefd_items{state=\"tracking\"} 2\n") != std::string::npos);
}

TEST_CASE("metrics: names that would make a scrape invalid are refused at registration") {
    m::registry r;
    CHECK_THROWS_AS(r.counter("briefd_requests", "no _total"), std::invalid_argument);
    CHECK_THROWS_AS(r.gauge("1bad", "x"), std::invalid_argument);
    CHECK_THROWS_AS(r.gauge("bad-name", "x"), std::invalid_argument);
    CHECK_THROWS_AS(r.gauge("g", "x", {"le"}), std::invalid_argument);
    CHECK_THROWS_AS(r.gauge("g2", "x", {"__name"}), std::invalid_argument);
    CHECK_THROWS_AS(r.gauge("g3", "x", {"a:b"}), std::invalid_argument);
    CHECK_THROWS_AS(r.histogram("h", "x", {}, {}), std::invalid_argument);
    CHECK_THROWS_AS(r.histogram("h2", "x", {}, {2, 1}), std::invalid_argument);
    r.gauge("dup", "x");
    CHECK_THROWS_AS(r.gauge("dup", "x"), std::invalid_argument);
    CHECK_NOTHROW(r.gauge("ns:ok_name", "x", {"provider"}));
}
