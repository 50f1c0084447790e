// Small helpers shared by the brief tests.
#pragma once

#include "brief/brief.hpp"
#include "providers/provider.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <string_view>

namespace briefd::brief::test {

/// brief::parse() with the item schemas of every provider briefd has, as the daemon calls it.
inline parse_result parse_all(std::string_view file, std::string_view bytes, std::string_view default_provider,
                              const limits& lim = {}) {
    return parse(file, bytes, default_provider, providers::item_schemas(), lim);
}

/// True when some problem matches the item, the field exactly, and contains `text` in its message.
inline bool has_problem(const parse_result& r, std::optional<std::size_t> item, std::string_view field,
                        std::string_view text = {}) {
    for (const auto& p : r.problems)
        if (p.item == item && p.field == field && p.message.find(text) != std::string::npos) return true;
    return false;
}

inline std::string dump(const parse_result& r) {
    std::string s;
    for (const auto& p : r.problems) s += p.to_string() + "\n";
    return s;
}

}  // namespace briefd::brief::test
