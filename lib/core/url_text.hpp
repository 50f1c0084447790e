// A gate in front of Boost.URL for untrusted text (config base_url, brief inputs, server-supplied
// download URLs). Boost.URL 1.81 asserts on some bytes after "scheme:" (fixed upstream in 1.82), so
// only text already shaped like an http(s) URL may reach parse_uri / parse_absolute_uri.
#pragma once

#include <string_view>

namespace briefd {

/// True when `s` starts with "http://" or "https://" (scheme in any case) and holds only printable
/// ASCII (0x21–0x7E: no spaces, control bytes or bytes ≥ 0x80). It says nothing about the rest:
/// parse with Boost.URL afterwards. False for everything else.
bool is_http_url_text(std::string_view s) noexcept;

/// True when `s` starts with "http://" or "https://", the scheme in any case (RFC 3986 §3.1).
bool has_http_scheme(std::string_view s) noexcept;

/// True when every byte of `s` is printable ASCII (0x21–0x7E); true for an empty `s`.
bool is_printable_ascii(std::string_view s) noexcept;

}  // namespace briefd
