// What a Layers brief item may say: one POST /v1/projects/{projectId}/content job (PROVIDERS.md
// §3).
#pragma once

#include "brief/brief.hpp"

namespace briefd::providers::layers {

/// Layers's item schema for brief::parse().
const brief::item_schema& item_schema();

}  // namespace briefd::providers::layers
