// What a Lamina brief item may say (PROVIDERS.md §1): content items (POST /v1/content/batch) and
// app runs (POST /v1/apps/{appId}/runs), and an app run's inputs checked against the app's schema.
#pragma once

#include "brief/brief.hpp"
#include "providers/app_schema.hpp"

#include <boost/json/value.hpp>

#include <optional>
#include <string_view>
#include <vector>

namespace briefd::providers::lamina {

/// Lamina's item schema for brief::parse(): an item with `app`, or with `appId` and no `brief`, is
/// an app run; otherwise a content item needing `brief` (an `appId` on a content item is passed
/// through, pinning the app for /v1/content).
const brief::item_schema& item_schema();

/// Accepts {data:{...}} or the bare object; nullopt when it is not an app description (no
/// parameters array).
std::optional<app_schema> parse_app_schema(const boost::json::value& get_app_response);

/// Checks an app run's inputs against the app's schema: unknown names, missing required parameters
/// without a default, option values not among the labels, wrong types (text/url strings, url
/// http(s)). Problems name `file`, `item` and the field as "inputs.<name>".
std::vector<brief::problem> validate_inputs(std::string_view file, std::size_t item,
                                            const brief::app_run_item&, const app_schema&);

}  // namespace briefd::providers::lamina
