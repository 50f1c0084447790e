#include "core/log.hpp"

#include "core/utf8.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace briefd {

std::string_view to_string(log_level l) noexcept {
    switch (l) {
        case log_level::error: return "error";
        case log_level::warning: return "warning";
        case log_level::notice: return "notice";
        case log_level::info: return "info";
        case log_level::debug: return "debug";
    }
    return "info";
}

bool parse_log_level(std::string_view s, log_level& out) noexcept {
    for (auto l : {log_level::error, log_level::warning, log_level::notice, log_level::info,
                   log_level::debug}) {
        if (s == to_string(l)) {
            out = l;
            return true;
        }
    }
    return false;
}

log_field::log_field(std::string_view k, double v) : key(k) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    value = buf;
}

namespace {

bool needs_quotes(std::string_view v) {
    if (v.empty()) return true;
    for (unsigned char c : v)
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
    return !utf8::is_valid(v);  // raw bytes (a file name) are shown escaped, inside quotes
}

void append_value(std::string& out, std::string_view v) {
    if (!needs_quotes(v)) {
        out += v;
        return;
    }
    out += '"';
    for (std::size_t i = 0; i < v.size(); ++i) {
        const auto c = static_cast<unsigned char>(v[i]);
        if (c >= 0x80) {
            // A valid multi-byte character is kept; a byte that starts none is shown as \xNN, so
            // the line stays valid UTF-8 and still tells which bytes the name had.
            if (const auto n = utf8::sequence_length(v, i); n != 0) {
                out.append(v.substr(i, n));
                i += n - 1;
            } else {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\x%02x", c);
                out += buf;
            }
            continue;
        }
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\x%02x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

}  // namespace

std::string logger::format(std::string_view event, std::initializer_list<log_field> fields) {
    std::string line(event);
    for (const auto& f : fields) {
        line += ' ';
        line += f.key;
        line += '=';
        append_value(line, f.value);
    }
    return line;
}

logger::logger() : journal_(std::getenv("JOURNAL_STREAM") != nullptr) {
    sink_ = [this](log_level l, std::string_view line) {
        std::string out;
        if (journal_) {
            out = "<" + std::to_string(static_cast<int>(l)) + ">";
        } else {
            auto now = std::chrono::system_clock::now();
            std::time_t t = std::chrono::system_clock::to_time_t(now);
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
            std::tm tm{};
            gmtime_r(&t, &tm);
            char buf[96];
            std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", tm.tm_year + 1900,
                          tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                          static_cast<int>(ms.count()));
            out = buf;
            out += to_string(l);
            out += ' ';
        }
        out += line;
        out += '\n';
        std::fwrite(out.data(), 1, out.size(), stderr);
    };
}

logger::logger(sink s, log_level level) : sink_(std::move(s)), level_(level) {}

void logger::log(log_level l, std::string_view event, std::initializer_list<log_field> fields) {
    if (!enabled(l)) return;
    auto line = format(event, fields);
    std::lock_guard lock(mutex_);
    if (structured_)
        structured_(l, event, std::span<const log_field>(fields.begin(), fields.size()), line);
    else
        sink_(l, line);
}

}  // namespace briefd
