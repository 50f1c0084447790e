#include "helpers.hpp"

#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>

namespace briefd::sim_tests {

namespace json = boost::json;

std::vector<sse_event> parse_sse(std::string_view body) {
    std::vector<sse_event> out;
    sse_event cur;
    bool any = false;
    std::size_t pos = 0;
    while (pos < body.size()) {
        const auto nl = body.find('\n', pos);
        if (nl == std::string_view::npos) break;  // unterminated line: not part of an event yet
        std::string_view line = body.substr(pos, nl - pos);
        pos = nl + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) {
            if (any) out.push_back(cur);
            cur = sse_event{};
            any = false;
            continue;
        }
        if (line.front() == ':') continue;
        const auto colon = line.find(':');
        std::string_view field = line.substr(0, colon), value;
        if (colon != std::string_view::npos) {
            value = line.substr(colon + 1);
            if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        }
        any = true;
        if (field == "id") cur.id = value;
        else if (field == "event") cur.event = value;
        else if (field == "data") cur.data += (cur.data.empty() ? "" : "\n") + std::string(value);
    }
    return out;
}

json::value parse_json(std::string_view body) {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    return ec ? json::value(nullptr) : v;
}

std::vector<std::string> submit_batch(const testing::sim_process& sim, const std::vector<std::string>& briefs) {
    json::array items;
    for (const auto& b : briefs) items.push_back(json::object{{"brief", b}, {"platform", "instagram"}, {"modality", "image"}});
    auto r = sim.api("POST", "/v1/content/batch", json::serialize(json::object{{"items", items}}));
    std::vector<std::string> ids;
    auto v = parse_json(r.body);
    if (r.status != 202 || !v.is_object()) return ids;
    for (const auto& it : v.at("data").at("items").as_array())
        if (it.as_object().contains("runId")) ids.emplace_back(it.at("runId").as_string());
    return ids;
}

double cpu_seconds(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(in)), {});
    std::istringstream rest(s.substr(s.rfind(')') + 2));
    std::vector<std::string> f;
    for (std::string field; rest >> field;) f.push_back(field);
    // after the command: state(0) ... utime(11) stime(12)
    return (std::stod(f.at(11)) + std::stod(f.at(12))) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::int64_t stat(const testing::sim_process& sim, std::string_view key) {
    json::value v = sim.stats();
    const json::value* cur = &v;
    while (!key.empty()) {
        const auto dot = key.find('.');
        const auto part = key.substr(0, dot);
        cur = cur->as_object().if_contains(part);
        if (!cur) return -1;
        key = dot == std::string_view::npos ? std::string_view{} : key.substr(dot + 1);
    }
    return cur->to_number<std::int64_t>();
}

}  // namespace briefd::sim_tests
