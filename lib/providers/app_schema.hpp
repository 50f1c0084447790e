// An input schema: the parameters an item's inputs are checked against before anything is spent
// (Lamina: an app's parameters, GET /v1/apps/{appId}). Providers without one never produce it.
#pragma once

#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <vector>

namespace briefd::providers {

/// One parameter of an app (`GET /v1/apps/{appId}` → data.parameters[]).
struct app_parameter {
    std::string name;  ///< what inputs are keyed by (case-sensitive)
    std::string type;  ///< "text" | "options" | "url" (others are accepted unchecked)
    bool required = false;
    std::vector<std::string> options;  ///< option labels, for type "options"
    std::optional<boost::json::value> default_value;
    bool multiple = false;  ///< the value may be an array of values
    std::string key;        ///< optional snake_case alias the SDK also accepts as an input key
};

/// An app's input schema.
struct app_schema {
    std::string app_id;
    std::string name;
    std::vector<app_parameter> parameters;
};

}  // namespace briefd::providers
