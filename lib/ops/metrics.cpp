#include "ops/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace briefd::ops::metrics {

namespace {

bool valid_metric_name(std::string_view n) {
    if (n.empty()) return false;
    for (std::size_t i = 0; i < n.size(); ++i) {
        const char c = n[i];
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

bool valid_label_name(std::string_view n) {
    if (n.starts_with("__") || n == "le" || n == "quantile") return false;  // reserved
    return valid_metric_name(n) && n.find(':') == std::string_view::npos;
}

std::string_view type_name(kind k) {
    switch (k) {
        case kind::counter:
            return "counter";
        case kind::gauge:
            return "gauge";
        case kind::histogram:
            return "histogram";
    }
    return "untyped";
}

void append_labels(std::string& out, const std::vector<std::string>& names,
                   const label_values& values, std::string_view le = {}) {
    if (names.empty() && le.empty()) return;
    out += '{';
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i) out += ',';
        out += names[i];
        out += "=\"";
        out += escape_label_value(values[i]);
        out += '"';
    }
    if (!le.empty()) {
        if (!names.empty()) out += ',';
        out += "le=\"";
        out += le;
        out += '"';
    }
    out += '}';
}

// The exposition escapes backslash and line feed everywhere, and the double quote in label values.
std::string escape(std::string_view v, bool quote) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (c == '"' && quote)
            out += "\\\"";
        else
            out += c;
    }
    return out;
}
}  // namespace

std::string escape_label_value(std::string_view v) {
    return escape(v, true);
}

std::string escape_help(std::string_view v) {
    return escape(v, false);
}

std::string format_value(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, end);
}

std::vector<double> request_latency_buckets() {
    return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

std::vector<double> job_latency_buckets() {
    return {1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600};
}

family::family(kind k, std::string name, std::string help, std::vector<std::string> label_names,
               std::vector<double> buckets, std::size_t max_series)
    : kind_(k),
      name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      buckets_(std::move(buckets)),
      max_series_(std::max<std::size_t>(max_series, 1)) {
    if (!valid_metric_name(name_)) throw std::invalid_argument("bad metric name: " + name_);
    if (k == kind::counter && !name_.ends_with("_total"))
        throw std::invalid_argument("a counter's name ends in _total: " + name_);
    for (const auto& l : label_names_)
        if (!valid_label_name(l)) throw std::invalid_argument("bad label name: " + l);
    if (k == kind::histogram) {
        if (buckets_.empty() || !std::is_sorted(buckets_.begin(), buckets_.end()) ||
            std::adjacent_find(buckets_.begin(), buckets_.end()) != buckets_.end())
            throw std::invalid_argument("histogram buckets must be sorted and distinct: " + name_);
        if (std::isinf(buckets_.back())) buckets_.pop_back();  // +Inf is always added
    }
}

family::series_data& family::at(std::initializer_list<std::string_view> labels) {
    label_values key;
    key.reserve(label_names_.size());
    for (auto v : labels) key.emplace_back(v);
    // A caller passing the wrong number of values is a bug; keep the output valid anyway.
    key.resize(label_names_.size());
    auto it = series_.find(key);
    if (it == series_.end()) {
        if (series_.size() + 1 >= max_series_) key.assign(label_names_.size(), "other");
        it = series_.try_emplace(std::move(key)).first;
        if (kind_ == kind::histogram && it->second.bucket.empty())
            it->second.bucket.assign(buckets_.size(), 0);
    }
    return it->second;
}

const family::series_data* family::find(std::initializer_list<std::string_view> labels) const {
    label_values key;
    for (auto v : labels) key.emplace_back(v);
    key.resize(label_names_.size());
    auto it = series_.find(key);
    return it == series_.end() ? nullptr : &it->second;
}

void family::inc(std::initializer_list<std::string_view> labels, double by) {
    if (!(by >= 0)) return;
    at(labels).value += by;
}

void family::set(std::initializer_list<std::string_view> labels, double value) {
    at(labels).value = value;
}

void family::observe(std::initializer_list<std::string_view> labels, double value) {
    auto& s = at(labels);
    s.value += value;
    ++s.count;
    // The first bucket whose upper bound holds the value; the +Inf bucket is the count.
    auto b = std::lower_bound(buckets_.begin(), buckets_.end(), value);
    if (b != buckets_.end()) ++s.bucket[static_cast<std::size_t>(b - buckets_.begin())];
}

double family::value(std::initializer_list<std::string_view> labels) const {
    const auto* s = find(labels);
    if (!s) return 0;
    return kind_ == kind::histogram ? static_cast<double>(s->count) : s->value;
}

double family::sum(std::initializer_list<std::string_view> labels) const {
    const auto* s = find(labels);
    return s && kind_ == kind::histogram ? s->value : 0;
}

void family::write(std::string& out) const {
    out += "# HELP ";
    out += name_;
    out += ' ';
    out += escape_help(help_);
    out += "\n# TYPE ";
    out += name_;
    out += ' ';
    out += type_name(kind_);
    out += '\n';
    for (const auto& [labels, s] : series_) {
        if (kind_ != kind::histogram) {
            out += name_;
            append_labels(out, label_names_, labels);
            out += ' ';
            out += format_value(s.value);
            out += '\n';
            continue;
        }
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < buckets_.size(); ++i) {
            cumulative += s.bucket[i];
            out += name_;
            out += "_bucket";
            append_labels(out, label_names_, labels, format_value(buckets_[i]));
            out += ' ';
            out += std::to_string(cumulative);
            out += '\n';
        }
        out += name_;
        out += "_bucket";
        append_labels(out, label_names_, labels, "+Inf");
        out += ' ';
        out += std::to_string(s.count);
        out += '\n';
        out += name_;
        out += "_sum";
        append_labels(out, label_names_, labels);
        out += ' ';
        out += format_value(s.value);
        out += '\n';
        out += name_;
        out += "_count";
        append_labels(out, label_names_, labels);
        out += ' ';
        out += std::to_string(s.count);
        out += '\n';
    }
}

family& registry::add(kind k, std::string name, std::string help, std::vector<std::string> labels,
                      std::vector<double> buckets, std::size_t max_series) {
    for (const auto& f : families_)
        if (f->name() == name) throw std::invalid_argument("metric registered twice: " + name);
    families_.push_back(std::make_unique<family>(
        k, std::move(name), std::move(help), std::move(labels), std::move(buckets), max_series));
    return *families_.back();
}

family& registry::counter(std::string name, std::string help, std::vector<std::string> labels,
                          std::size_t max_series) {
    return add(kind::counter, std::move(name), std::move(help), std::move(labels), {}, max_series);
}

family& registry::gauge(std::string name, std::string help, std::vector<std::string> labels,
                        std::size_t max_series) {
    return add(kind::gauge, std::move(name), std::move(help), std::move(labels), {}, max_series);
}

family& registry::histogram(std::string name, std::string help, std::vector<std::string> labels,
                            std::vector<double> buckets, std::size_t max_series) {
    return add(kind::histogram, std::move(name), std::move(help), std::move(labels),
               std::move(buckets), max_series);
}

void registry::add_collector(std::function<void()> collect) {
    collectors_.push_back(std::move(collect));
}

void registry::expose(std::string& out) {
    for (auto& c : collectors_) c();
    for (const auto& f : families_) f->write(out);
}

std::string registry::expose() {
    std::string out;
    out.reserve(8192);
    expose(out);
    return out;
}

}  // namespace briefd::ops::metrics
