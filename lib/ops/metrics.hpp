// Prometheus metrics: a small registry of counters, gauges and histograms, and the text exposition
// format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/) that /metrics serves.
//
// Rules it enforces so a scrape is always valid: metric and label names are checked when a family
// is registered (a bad name is a bug: std::invalid_argument); counters end in `_total`; every
// family has `# HELP` and `# TYPE`; label values are escaped (\\, \", \n) and always printed in
// the order the family declared its label names; series are printed sorted by label values, so two
// scrapes of the same state are byte-identical. Cardinality is bounded: a family holds at most
// `max_series` label sets; values beyond that are counted under the label set whose every value is
// "other" (labels are meant for provider, endpoint class, status code — never job or run ids).
//
// Single-threaded, like the rest of the daemon: the engine writes, the status server reads, both on
// the io_context.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace briefd::ops::metrics {

/// "text/plain; version=0.0.4; charset=utf-8", the Content-Type of the exposition.
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

using label_values = std::vector<std::string>;

enum class kind { counter, gauge, histogram };

/// One named family: a help text, a type, fixed label names, and its series by label values.
class family {
  public:
    family(kind k, std::string name, std::string help, std::vector<std::string> label_names,
           std::vector<double> buckets, std::size_t max_series);

    const std::string& name() const noexcept { return name_; }
    kind type() const noexcept { return kind_; }
    std::size_t series() const noexcept { return series_.size(); }

    /// Counter: adds `by` (≥ 0; a negative value is ignored, counters never go down).
    void inc(std::initializer_list<std::string_view> labels, double by = 1);
    /// Gauge: sets the value.
    void set(std::initializer_list<std::string_view> labels, double value);
    /// Histogram: records one observation (seconds, bytes… in base units).
    void observe(std::initializer_list<std::string_view> labels, double value);
    /// Gauge: forgets every series (a collector recomputing the family from scratch calls this so a
    /// provider that went away does not linger).
    void clear() { series_.clear(); }

    /// The current value of a counter or gauge series; a histogram's count. 0 when absent.
    double value(std::initializer_list<std::string_view> labels) const;
    /// A histogram series' sum of observations; 0 when absent.
    double sum(std::initializer_list<std::string_view> labels) const;

    /// Appends this family's exposition (HELP, TYPE, samples) to `out`.
    void write(std::string& out) const;

  private:
    struct series_data {
        double value = 0;                   // counter/gauge value; histogram sum
        std::uint64_t count = 0;            // histogram
        std::vector<std::uint64_t> bucket;  // histogram: per bucket, not cumulative
    };
    series_data& at(std::initializer_list<std::string_view> labels);
    const series_data* find(std::initializer_list<std::string_view> labels) const;

    kind kind_;
    std::string name_;
    std::string help_;
    std::vector<std::string> label_names_;
    std::vector<double> buckets_;  // sorted upper bounds, without +Inf
    std::size_t max_series_;
    std::map<label_values, series_data> series_;
};

class registry {
  public:
    /// Families are printed in registration order. Registering a name twice is a bug
    /// (std::invalid_argument), as is a counter not ending in `_total` or a histogram without
    /// buckets or with unsorted ones.
    family& counter(std::string name, std::string help, std::vector<std::string> label_names = {},
                    std::size_t max_series = 256);
    family& gauge(std::string name, std::string help, std::vector<std::string> label_names = {},
                  std::size_t max_series = 256);
    family& histogram(std::string name, std::string help, std::vector<std::string> label_names,
                      std::vector<double> buckets, std::size_t max_series = 64);

    /// Called at the start of every expose(), in order: fills gauges computed from live state.
    void add_collector(std::function<void()> collect);

    /// The whole exposition; collectors run first.
    std::string expose();
    void expose(std::string& out);

  private:
    family& add(kind k, std::string name, std::string help, std::vector<std::string> labels,
                std::vector<double> buckets, std::size_t max_series);
    std::vector<std::unique_ptr<family>> families_;
    std::vector<std::function<void()>> collectors_;
};

/// Escapes a label value for the exposition: backslash, double quote and line feed.
std::string escape_label_value(std::string_view v);
/// Escapes a HELP text: backslash and line feed.
std::string escape_help(std::string_view v);
/// A sample value as Prometheus reads it: shortest round-trip decimal, "+Inf", "-Inf", "NaN".
std::string format_value(double v);

/// Buckets for one HTTP request's latency in seconds, 5 ms to 60 s.
std::vector<double> request_latency_buckets();
/// Buckets for a brief's drop-to-done time in seconds, 1 s to 6 h.
std::vector<double> job_latency_buckets();

}  // namespace briefd::ops::metrics
