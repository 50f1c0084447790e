// A minimal config and loaders shared by the config tests of one key each (proxy:, status:).
#pragma once

#include "config/config.hpp"

#include <doctest/doctest.h>

#include <string>
#include <variant>

namespace briefd::config::test {

inline const std::string base = R"(spool: /s
outputs: /o
providers:
  lamina:
    base_url: https://app.uselamina.ai
    api_key_env: LAMINA_API_KEY
)";

/// `base` + `extra` loaded; the test fails with the loader's message when it does not load.
inline config load_ok(const std::string& extra) {
    auto r = load_from_string(base + extra, "briefd.yaml");
    if (auto* e = std::get_if<load_error>(&r)) FAIL(e->to_string());
    return std::get<config>(r);
}

/// The error of `base` + `extra`, which must not load.
inline load_error load_bad(const std::string& extra) {
    auto r = load_from_string(base + extra, "briefd.yaml");
    REQUIRE_MESSAGE(std::holds_alternative<load_error>(r), extra);
    return std::get<load_error>(r);
}

}  // namespace briefd::config::test
