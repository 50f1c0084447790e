// The brief targets: parse() is total, and what it returns is bounded and writable.
#pragma once

#include "brief/brief.hpp"
#include "providers/provider.hpp"
#include "core/utf8.hpp"
#include "fuzz_check.hpp"

#include <boost/json/serialize.hpp>

namespace briefd::fuzz {
inline void check_brief(std::string_view name, std::string_view text) {
    brief::limits lim;
    lim.max_brief_bytes = 64 * 1024;
    auto r = brief::parse(name, text, "lamina", providers::item_schemas(), lim);
    FUZZ_CHECK(r.ok() || !r.problems.empty());
    FUZZ_CHECK(r.problems.size() <= lim.max_problems);
    if (r.ok()) FUZZ_CHECK(!r.brief->items.empty() && r.brief->items.size() <= lim.max_items);
    for (const auto& p : r.problems) {
        (void)p.to_string();
        (void)boost::json::serialize(p.to_json());
    }
}
}  // namespace briefd::fuzz
