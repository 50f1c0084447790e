// YAML text → boost::json::value with bounded work. Internal to the brief component.
#pragma once

#include <boost/json/value.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace briefd::brief::detail {

struct yaml_limits {
    std::size_t max_depth = 16;
    std::size_t max_values = 100000;
    std::size_t max_string_bytes = 16 * 1024;
};

/// What went wrong, in words, with the 1-based line when yaml-cpp knows it (0 otherwise).
struct yaml_error { std::string message; int line = 0; };

/// Refuses text nested deeper than about 2 × `max_depth` (flow brackets and block levels), from the
/// text alone, before any YAML parser sees it. yaml_to_json() calls it first.
std::optional<yaml_error> yaml_nesting_check(std::string_view text, std::size_t max_depth);

/// Converts the first YAML document to JSON (core-schema scalars: null, bool, int, float, string).
/// Builds from parser events instead of YAML::Load so that depth, alias expansion and total size are
/// checked before the work is done: yaml-cpp's own node tree shares aliased nodes, and walking it would
/// turn a "billion laughs" file into billions of steps. Never throws.
std::variant<boost::json::value, yaml_error> yaml_to_json(std::string_view text, const yaml_limits& lim);

}  // namespace briefd::brief::detail
