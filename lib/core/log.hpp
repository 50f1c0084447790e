// Levelled logging with stable event names (STYLE §10): one line per event,
// `event key=value key="spaced value"`. When stderr is connected to journald (JOURNAL_STREAM is set)
// lines carry the `<N>` syslog priority prefix and no timestamp; otherwise a UTC timestamp and level.
// The sink is injectable so tests can assert on what was logged.
#pragma once

#include <concepts>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

namespace briefd {

enum class log_level { error = 3, warning = 4, notice = 5, info = 6, debug = 7 };

std::string_view to_string(log_level l) noexcept;
/// Accepts error, warning, notice, info, debug; false otherwise.
bool parse_log_level(std::string_view s, log_level& out) noexcept;

/// One `key=value` of a log line. Values are quoted and escaped when needed; never pass a secret.
struct log_field {
    std::string_view key;
    std::string value;

    log_field(std::string_view k, std::string_view v) : key(k), value(v) {}
    log_field(std::string_view k, const std::string& v) : key(k), value(v) {}
    log_field(std::string_view k, const char* v) : key(k), value(v ? v : "") {}
    template <std::integral I>
    log_field(std::string_view k, I v) : key(k), value(std::to_string(v)) {}
    log_field(std::string_view k, double v);
};

class logger {
public:
    using sink = std::function<void(log_level, std::string_view line)>;
    /// A sink that also gets the event name and its fields, for structured destinations (the
    /// journal's JOB=, PROVIDER=, RUN= fields: ops/journal.hpp).
    using structured_sink =
        std::function<void(log_level, std::string_view event, std::span<const log_field> fields,
                           std::string_view line)>;

    /// Writes to stderr; journald format if JOURNAL_STREAM is set in the environment.
    logger();
    /// Writes every line (without trailing newline) to `s`; used by tests.
    explicit logger(sink s, log_level level = log_level::debug);

    /// Sends every later event to `s` instead of the line sink (set before logging starts).
    void set_structured_sink(structured_sink s) { structured_ = std::move(s); }

    void set_level(log_level l) noexcept { level_ = l; }
    log_level level() const noexcept { return level_; }
    bool enabled(log_level l) const noexcept { return l <= level_; }

    void log(log_level l, std::string_view event, std::initializer_list<log_field> fields = {});
    void error(std::string_view ev, std::initializer_list<log_field> f = {}) { log(log_level::error, ev, f); }
    void warning(std::string_view ev, std::initializer_list<log_field> f = {}) { log(log_level::warning, ev, f); }
    void notice(std::string_view ev, std::initializer_list<log_field> f = {}) { log(log_level::notice, ev, f); }
    void info(std::string_view ev, std::initializer_list<log_field> f = {}) { log(log_level::info, ev, f); }
    void debug(std::string_view ev, std::initializer_list<log_field> f = {}) { log(log_level::debug, ev, f); }

    /// The line `log` would produce (without prefix or timestamp). Exposed for tests.
    static std::string format(std::string_view event, std::initializer_list<log_field> fields);

private:
    sink sink_;
    structured_sink structured_;
    log_level level_ = log_level::info;
    bool journal_ = false;
    std::mutex mutex_;
};

}  // namespace briefd
