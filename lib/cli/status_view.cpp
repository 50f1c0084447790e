#include "cli/status_view.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string_view>
#include <vector>

namespace briefd::cli {

namespace json = boost::json;

namespace {

constexpr std::size_t max_cell = 80;

/// Server text made safe for a terminal cell: control characters become spaces, long text is cut.
std::string cell(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (out.size() >= max_cell) {
            out += "…";
            break;
        }
        out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
    }
    return out.empty() ? "-" : out;
}

const json::value* field(const json::value* v, std::string_view key) {
    if (!v || !v->is_object()) return nullptr;
    return v->as_object().if_contains(key);
}

std::string text(const json::value* v) {
    if (!v || v->is_null()) return "-";
    if (v->is_string()) return cell(v->as_string());
    if (v->is_int64()) return std::to_string(v->as_int64());
    if (v->is_uint64()) return std::to_string(v->as_uint64());
    if (v->is_double()) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", v->as_double());
        return buf;
    }
    if (v->is_bool()) return v->as_bool() ? "yes" : "no";
    return "-";
}

std::optional<long long> number(const json::value* v) {
    if (!v) return std::nullopt;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) return static_cast<long long>(v->as_uint64());
    if (v->is_double()) return static_cast<long long>(v->as_double());
    return std::nullopt;
}

/// Columns padded to their widest cell (by UTF-8 code points), two spaces apart.
class table {
  public:
    explicit table(std::vector<std::string> header, std::string indent = {})
        : indent_(std::move(indent)) {
        rows_.push_back(std::move(header));
    }
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    void print(std::string& out) const {
        std::vector<std::size_t> width;
        for (const auto& r : rows_)
            for (std::size_t i = 0; i < r.size(); ++i) {
                if (width.size() <= i) width.resize(i + 1);
                width[i] = std::max(width[i], columns(r[i]));
            }
        for (const auto& r : rows_) {
            std::string line = indent_;
            for (std::size_t i = 0; i < r.size(); ++i) {
                line += r[i];
                if (i + 1 < r.size()) line.append(width[i] - columns(r[i]) + 2, ' ');
            }
            out += line + "\n";
        }
    }

  private:
    static std::size_t columns(std::string_view s) {
        return static_cast<std::size_t>(
            std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xc0) != 0x80; }));
    }
    std::string indent_;
    std::vector<std::vector<std::string>> rows_;
};

std::string budget(const json::value* b) {
    if (!b || !b->is_object()) return "-";
    auto s = text(field(b, "remaining")) + "/" + text(field(b, "limit"));
    if (auto r = number(field(b, "reset_in_s")); r && *r > 0)
        s += " (reset " + format_duration(*r) + ")";
    return s;
}

std::string pause(const json::value* p) {
    if (!p || !p->is_object()) return "-";
    auto s = text(field(p, "reason"));
    if (auto u = number(field(p, "until_in_s"))) s += " (" + format_duration(*u) + " left)";
    return s;
}

std::string progress(const json::value* v) {
    auto n = number(v);
    if (!n || *n < 0) return "-";
    return std::to_string(*n) + "%";
}

std::string item_error(const json::value* e) {
    if (!e || e->is_null()) return "-";
    if (e->is_string()) return cell(e->as_string());
    if (auto* m = field(e, "message")) return text(m);
    return "-";
}

}  // namespace

std::string format_duration(long long s) {
    if (s < 0) s = 0;
    char buf[48];
    if (s < 60)
        std::snprintf(buf, sizeof buf, "%llds", s);
    else if (s < 3600)
        std::snprintf(buf, sizeof buf, "%lldm %02llds", s / 60, s % 60);
    else if (s < 86400)
        std::snprintf(buf, sizeof buf, "%lldh %02lldm", s / 3600, (s % 3600) / 60);
    else
        std::snprintf(buf, sizeof buf, "%lldd %02lldh", s / 86400, (s % 86400) / 3600);
    return buf;
}

std::string render_status(const json::value& v) {
    std::string out;
    const auto* d = field(&v, "daemon");
    out += "briefd " + text(field(d, "version")) + ", " + text(field(d, "state"));
    if (auto up = number(field(d, "uptime_s"))) out += " for " + format_duration(*up);
    if (auto* sp = field(d, "spool"); sp && sp->is_string()) out += ", spool " + text(sp);
    out += "\n";

    const auto* providers = field(&v, "providers");
    out += "\n";
    if (!providers || !providers->is_array() || providers->as_array().empty()) {
        out += "No providers.\n";
    } else {
        table t({"PROVIDER", "BUDGET", "IN FLIGHT", "STREAMS", "QUEUED", "PAUSED"});
        for (const auto& p : providers->as_array())
            t.add({text(field(&p, "name")), budget(field(&p, "budget")),
                   text(field(&p, "in_flight")), text(field(&p, "streams")),
                   text(field(&p, "queued_items")), pause(field(&p, "paused"))});
        t.print(out);
    }

    const auto* jobs = field(&v, "jobs");
    out += "\n";
    if (!jobs || !jobs->is_array() || jobs->as_array().empty()) {
        out += "No active jobs.\n";
        return out;
    }
    for (const auto& j : jobs->as_array()) {
        const auto* items = field(&j, "items");
        std::size_t n = items && items->is_array() ? items->as_array().size() : 0;
        out += "JOB " + text(field(&j, "job")) + "  provider " + text(field(&j, "provider")) +
               "  " + text(field(&j, "state")) + "  " + std::to_string(n) +
               (n == 1 ? " item\n" : " items\n");
        if (!n) continue;
        table t({"ITEM", "STATE", "RUN", "PROGRESS", "SAVED", "ERROR"}, "  ");
        for (const auto& it : items->as_array())
            t.add({text(field(&it, "item")), text(field(&it, "state")), text(field(&it, "run_id")),
                   progress(field(&it, "progress")), text(field(&it, "outputs_saved")),
                   item_error(field(&it, "error"))});
        t.print(out);
    }
    return out;
}

}  // namespace briefd::cli
