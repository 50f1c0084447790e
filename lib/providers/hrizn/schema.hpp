// What a Hrizn brief item may say: the fields of POST /content, sent as a POST /content/batch item
// (PROVIDERS.md §2).
#pragma once

#include "brief/brief.hpp"

namespace briefd::providers::hrizn {

/// Hrizn's item schema for brief::parse().
const brief::item_schema& item_schema();

}  // namespace briefd::providers::hrizn
