// A spool in a throwaway directory, with a logger that keeps its lines: the base of the intake,
// recovery and filing tests.
#pragma once

#include "core/log.hpp"
#include "spool/spool.hpp"
#include "unit/store/temp_dir.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace briefd::test {

/// A valid Lamina brief of two items.
inline constexpr std::string_view two_item_brief = R"({"items":[
    {"brief":"a","platform":"instagram","modality":"image"},
    {"brief":"b","platform":"instagram","modality":"image"}]})";

struct temp_spool {
    temp_dir t;
    spool::layout layout{t / "spool", t / "outputs"};
    std::vector<std::string> lines;
    logger log{[this](log_level, std::string_view l) { lines.emplace_back(l); }};

    temp_spool() { REQUIRE_FALSE(spool::ensure_dirs(layout)); }

    /// Some line logged so far names `event`.
    bool logged(std::string_view event) const {
        return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) {
            return l.find(event) != std::string::npos;
        });
    }
};

}  // namespace briefd::test
