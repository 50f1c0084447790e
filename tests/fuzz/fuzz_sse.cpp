// SSE parser: any bytes, and the invariant that feeding them whole or split at any point yields
// the same events, the same last event id, retry and overflow state.
#include "fuzz_check.hpp"
#include "sse/parser.hpp"

#include <string>
#include <vector>

namespace {
struct outcome {
    std::vector<briefd::sse::event> events;
    std::string last_id;
    std::optional<std::chrono::milliseconds> retry;
    bool overflowed = false;
};

bool same(const outcome& a, const outcome& b) {
    if (a.events.size() != b.events.size() || a.last_id != b.last_id || a.retry != b.retry ||
        a.overflowed != b.overflowed)
        return false;
    for (std::size_t i = 0; i < a.events.size(); ++i)
        if (a.events[i].type != b.events[i].type || a.events[i].data != b.events[i].data ||
            a.events[i].last_event_id != b.events[i].last_event_id)
            return false;
    return true;
}

outcome run(std::string_view bytes, std::vector<std::size_t> cuts, std::size_t max) {
    briefd::sse::parser p(max);
    outcome o;
    std::size_t at = 0;
    cuts.push_back(bytes.size());
    for (auto c : cuts) {
        p.feed(bytes.substr(at, c - at),
               [&](const briefd::sse::event& e) { o.events.push_back(e); });
        at = c;
    }
    p.end_of_stream();
    o.last_id = p.last_event_id();
    o.retry = p.retry();
    o.overflowed = p.overflowed();
    return o;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    if (size < 2) return 0;
    // First two bytes: where to split, and a small max_size so overflow paths are reached.
    const std::size_t max = 16 + data[0] * 4u;
    auto bytes = briefd::fuzz::as_text(data + 2, size - 2);
    const std::size_t cut = bytes.empty() ? 0 : data[1] % (bytes.size() + 1);
    const auto whole = run(bytes, {}, max);
    FUZZ_CHECK(same(whole, run(bytes, {cut}, max)));
    // Byte at a time is the harshest split.
    if (bytes.size() < 512) {
        std::vector<std::size_t> every;
        for (std::size_t i = 1; i < bytes.size(); ++i) every.push_back(i);
        FUZZ_CHECK(same(whole, run(bytes, every, max)));
    }
    for (const auto& e : whole.events) FUZZ_CHECK(e.data.size() <= max && e.type.size() <= max);
    return 0;
}
