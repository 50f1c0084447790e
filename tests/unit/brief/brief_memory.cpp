// brief_memory — peak RSS of parsing the worst briefs we can build within max_brief_bytes (issue
// 12, item 3). Each case runs in a forked child; the figure is the child's peak RSS (getrusage),
// minus that of a child that parses nothing. Prints figures; asserts nothing (timings and memory
// are measured, never asserted in tests). Build: cmake --build build --target brief_memory.
#include "brief/brief.hpp"
#include "providers/provider.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace {

struct case_ {
    const char* name;
    const char* file;
    std::function<std::string(std::size_t)> make;  // given the byte budget
};

std::string repeat_to(std::string_view unit, std::size_t n, std::string head = {},
                      std::string tail = {}) {
    while (head.size() + unit.size() + tail.size() <= n) head += unit;
    return head + tail;
}

std::string shared_json(std::size_t budget, std::size_t items) {
    std::string meta;
    std::size_t room = budget - items * 16 - 64;
    for (int k = 0; meta.size() + 16400 < room; ++k)
        meta += std::string(meta.empty() ? "" : ",") + "\"k" + std::to_string(k) + "\":\"" +
                std::string(16000, 'm') + "\"";
    std::string s = "{\"metadata\":{" + meta + "},\"items\":[";
    for (std::size_t i = 0; i < items; ++i) s += std::string(i ? "," : "") + "{\"brief\":\"b\"}";
    return s + "]}";
}

// The largest brief parse() accepts: shared fields up to the merged-bytes budget.
std::string accepted_json(std::size_t budget) {
    const std::size_t items = 1000, per_item = 4 * budget / items - 200;
    std::string s = "{\"metadata\":{\"m\":\"" +
                    std::string(std::min<std::size_t>(per_item, 16000), 'm') + "\"},\"items\":[";
    for (std::size_t i = 0; i < items; ++i) s += std::string(i ? "," : "") + "{\"brief\":\"b\"}";
    return s + "]}";
}

std::string items_yaml(std::size_t budget) {
    std::string s = "items:\n";
    std::string line = "  - {brief: \"" + std::string(900, 'x') + "\", platform: instagram}\n";
    for (int i = 0; i < 1000 && s.size() + line.size() < budget; ++i) s += line;
    return s;
}

std::string alias_yaml(std::size_t) {
    std::string s = "a: &a [\"" + std::string(1000, 'l') +
                    "\",\"l\",\"l\",\"l\",\"l\",\"l\",\"l\",\"l\",\"l\"]\n";
    char prev = 'a';
    for (char c = 'b'; c <= 'f'; ++c, ++prev) {
        s += std::string(1, c) + ": &" + c + " [";
        for (int i = 0; i < 9; ++i) s += std::string(i ? "," : "") + "*" + prev;
        s += "]\n";
    }
    return s + "brief: x\n";
}

long max_rss_kib() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t budget =
        argc > 1 ? std::stoul(argv[1]) : std::size_t{1} << 20;  // max_brief_bytes
    briefd::brief::limits lim;
    lim.max_brief_bytes = budget;
    const std::vector<case_> cases{
        {"yaml: '[' x max_brief_bytes", "a.yaml",
         [](std::size_t n) { return std::string(n, '['); }},
        {"yaml: '{a: ' nested", "a.yaml", [](std::size_t n) { return repeat_to("{a: ", n); }},
        {"yaml: '- ' on one line", "a.yaml", [](std::size_t n) { return repeat_to("- ", n); }},
        {"yaml: flat list of 0", "a.yaml",
         [](std::size_t n) { return repeat_to("0,", n, "brief: x\nmetadata: [", "0]\n"); }},
        {"yaml: alias bomb within the value budget", "a.yaml", alias_yaml},
        {"yaml: shared 16K strings x 50 items", "a.yaml",
         [](std::size_t n) {
             std::string s = shared_json(n, 50);  // JSON is YAML
             return s;
         }},
        {"yaml: 1,000 items of ~1 KB (accepted)", "a.yaml", items_yaml},
        {"json: '[' x max_brief_bytes", "a.json",
         [](std::size_t n) { return std::string(n, '['); }},
        {"json: flat list of 0", "a.json",
         [](std::size_t n) {
             return repeat_to("0,", n, "{\"brief\":\"x\",\"metadata\":[", "0]}");
         }},
        {"json: many keys", "a.json",
         [](std::size_t n) {
             std::string s = "{\"brief\":\"x\",\"metadata\":{";
             for (int k = 0; s.size() + 20 < n; ++k)
                 s += (k ? ",\"" : "\"") + std::to_string(k) + "\":0";
             return s + "}}";
         }},
        {"json: shared 16K strings x 50 items", "a.json",
         [](std::size_t n) { return shared_json(n, 50); }},
        {"json: shared 16K strings x 1,000 items", "a.json",
         [](std::size_t n) { return shared_json(n, 1000); }},
        {"json: largest accepted merge (1,000 items)", "a.json", accepted_json},
    };
    std::printf(
        "max_brief_bytes = %zu; each case runs in a fresh child: peak RSS above the child's own\n"
        "before parsing (its input already built)\n",
        budget);
    std::printf("%-46s %10s %12s %s\n", "case", "bytes", "peak MiB", "outcome");
    for (const auto& c : cases) {
        std::fflush(stdout);
        const pid_t pid = ::fork();
        if (pid == 0) {
            const std::string text = c.make(budget);
            const long before = max_rss_kib();
            auto r = briefd::brief::parse(c.file, text, "lamina", briefd::providers::item_schemas(), lim);
            const long after = max_rss_kib();
            std::string outcome =
                r.ok() ? "accepted, " + std::to_string(r.brief->items.size()) + " items"
                       : "refused: " + r.problems.front().to_string();
            if (outcome.size() > 100) outcome = outcome.substr(0, 100) + "...";
            std::printf("%-46s %10zu %12.1f %s\n", c.name, text.size(),
                        static_cast<double>(after - before) / 1024.0, outcome.c_str());
            std::fflush(stdout);
            ::_exit(0);
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
    }
    return 0;
}
