#include "ops/journal.hpp"

#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace briefd::ops::journal {

namespace {

template <typename T>
bool parse_number(std::string_view s, T& out) {
    if (s.empty()) return false;
    unsigned long long v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) return false;
    out = static_cast<T>(v);
    return static_cast<unsigned long long>(out) == v;
}

}  // namespace

bool stream_matches(std::string_view js, dev_t dev, ino_t ino) noexcept {
    auto colon = js.find(':');
    if (colon == std::string_view::npos) return false;
    dev_t d{};
    ino_t i{};
    return parse_number(js.substr(0, colon), d) && parse_number(js.substr(colon + 1), i) &&
           d == dev && i == ino;
}

bool stderr_is_journal() noexcept {
    const char* js = std::getenv("JOURNAL_STREAM");
    if (!js) return false;
    struct stat st {};
    if (::fstat(2, &st) != 0) return false;
    return stream_matches(js, st.st_dev, st.st_ino);
}

std::vector<std::string> entry_fields(log_level level, std::string_view event,
                                      std::span<const log_field> fields, std::string_view line) {
    std::vector<std::string> out;
    out.push_back("MESSAGE=" + std::string(line));
    out.push_back("PRIORITY=" + std::to_string(static_cast<int>(level)));
    out.push_back("SYSLOG_IDENTIFIER=briefd");
    out.push_back("EVENT=" + std::string(event));
    auto add = [&](std::string_view name, std::initializer_list<std::string_view> keys) {
        for (auto k : keys)
            for (const auto& f : fields)
                if (f.key == k && !f.value.empty()) {
                    out.push_back(std::string(name) + "=" + f.value);
                    return;
                }
    };
    add("JOB", {"job"});
    add("PROVIDER", {"provider", "host"});
    add("RUN", {"run", "run_id"});
    add("ITEM", {"item"});
    return out;
}

logger::structured_sink sink() {
    return [](log_level l, std::string_view event, std::span<const log_field> fields,
              std::string_view line) {
        auto entry = entry_fields(l, event, fields, line);
        std::vector<iovec> iov;
        iov.reserve(entry.size());
        for (auto& f : entry) iov.push_back({f.data(), f.size()});
        if (sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0) return;
        auto text = "<" + std::to_string(static_cast<int>(l)) + ">" + std::string(line) + "\n";
        std::fwrite(text.data(), 1, text.size(), stderr);
    };
}

}  // namespace briefd::ops::journal
