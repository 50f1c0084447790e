// Turning untrusted server strings into file names, and checking that paths stay where they belong
// (DESIGN §5: "No output is ever written outside outputs/<job>/"). Pure functions, no I/O.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace briefd::store {

/// Turns an untrusted server string (label, id, type) into a safe file-name part: lowercase ASCII
/// slug [a-z0-9-] — every other byte (space, '/', '.', control, non-ASCII…) becomes '-', runs of
/// '-' collapse, no leading or trailing '-', at most `max_len` bytes. Returns `fallback` when
/// nothing is left. The result never contains "/", "..", a control character, or starts with '.' or
/// '-'.
std::string sanitize_component(std::string_view untrusted, std::size_t max_len = 48,
                               std::string_view fallback = "output");

/// Longest name of one directory entry (NAME_MAX on Linux file systems).
inline constexpr std::size_t name_max = 255;
/// Longest name of a file written with write_file_atomic(): its temp file
/// ".<name>.<pid>-<n>-<t>.tmp" is up to 45 bytes longer and must fit NAME_MAX too.
inline constexpr std::size_t atomic_name_max = name_max - 48;

/// `stem` + `tail` when that fits in `max` bytes; otherwise `stem` cut at a character boundary,
/// then "~" and 12 hex digits of a hash of the whole of `stem` + `tail`, then `tail`. Deterministic
/// (the same name always gives the same result), readable (the name's beginning is kept), and two
/// long names that share their beginning stay distinct. A `tail` longer than half of `max` is
/// treated as part of the stem. `max` must be at least 32.
std::string fit_name(std::string_view stem, std::string_view tail, std::size_t max = name_max);

/// "<item>-<output>-<slug>.<ext>", e.g. output_file_name(0, 0, "AI Designer", "png") ==
/// "0-0-ai-designer.png". The label goes through sanitize_component (fallback "output"); the
/// extension keeps only lower-cased ASCII alphanumerics, at most 8, and becomes "bin" if nothing is
/// left.
std::string output_file_name(std::size_t item, std::size_t output, std::string_view label,
                             std::string_view ext);

/// True if `candidate`, resolved lexically (no file system access, "." and ".." folded), lies
/// strictly below `root`. A relative candidate is taken relative to `root`; a relative root
/// relative to the working directory. `root` itself is not "within". Defence in depth: check before
/// every open of a derived path.
bool is_within(const std::filesystem::path& root, const std::filesystem::path& candidate);

/// A header value's token before any ';' parameters, trimmed of spaces and tabs and lower-cased
/// (locale-free): "Text/HTML; charset=UTF-8" → "text/html", " GZIP " → "gzip".
std::string header_token(std::string_view value);

/// Extension for a download: from the Content-Type (parameters ignored; image/png→png,
/// image/jpeg→jpg, image/webp→webp, image/gif→gif, video/mp4→mp4, video/webm→webm,
/// video/quicktime→mov, audio/mpeg→mp3, text/plain→txt, text/html→html, application/json→json),
/// else from the URL path's last segment (query/fragment ignored; 1–8 ASCII alphanumerics,
/// lower-cased), else from the output type (image→png, video→mp4, audio→mp3, text→txt), else "bin".
std::string pick_extension(std::string_view content_type, std::string_view url_path,
                           std::string_view output_type);

}  // namespace briefd::store
