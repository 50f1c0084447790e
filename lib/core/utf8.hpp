// UTF-8 validation and repair for text that comes from outside (server bodies, file names, briefs)
// and goes into briefd's own files (state, manifest, error files) and log lines. Everything we
// write as JSON must be valid UTF-8, or Boost.JSON (and every other strict reader) refuses it
// later.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace briefd::utf8 {

/// Length of the valid UTF-8 sequence starting at `s[i]` (1–4), or 0 when the bytes there do not
/// start one: stray continuation bytes, 0xC0/0xC1 and 0xF5–0xFF leads, overlong forms, surrogates
/// (U+D800–U+DFFF), code points above U+10FFFF and truncated sequences (RFC 3629 §4).
std::size_t sequence_length(std::string_view s, std::size_t i) noexcept;

/// Byte offset of the first invalid sequence, or npos when `s` is valid UTF-8.
std::size_t invalid_at(std::string_view s) noexcept;
inline bool is_valid(std::string_view s) noexcept {
    return invalid_at(s) == std::string_view::npos;
}

/// `s` with every maximal invalid subpart replaced by U+FFFD (the "substitution of maximal
/// subparts" practice of Unicode §3.9). Valid input comes back unchanged.
std::string repair(std::string_view s);

/// The longest prefix of `s` of at most `max` bytes that does not cut a valid sequence in two.
std::string_view truncate(std::string_view s, std::size_t max) noexcept;

}  // namespace briefd::utf8
