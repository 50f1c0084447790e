// JSON text → boost::json::value with bounded work. Internal to the brief component.
#pragma once

#include "brief/yaml_to_json.hpp"

#include <boost/json/value.hpp>

#include <string_view>
#include <variant>

namespace briefd::brief::detail {

/// Parses one JSON document with the same bounds as YAML (yaml_limits): nesting depth and values
/// built in total (string length is left to the caller, which names the field); a duplicate key in
/// an object is an error (as it is in YAML) instead of the last one silently winning. Built from
/// Boost.JSON's basic_parser events, so a bound is checked before the value is built: memory stays
/// a small multiple of the input whatever it holds. Never throws.
std::variant<boost::json::value, yaml_error> json_to_value(std::string_view text,
                                                           const yaml_limits& lim);

}  // namespace briefd::brief::detail
