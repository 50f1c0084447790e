#include "store/paths.hpp"

#include "core/utf8.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace briefd::store {
namespace {

namespace fs = std::filesystem;

// Locale-free on purpose: std::isalnum/std::tolower depend on the C locale and are UB for negative
// chars.
constexpr bool is_alnum(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
constexpr char to_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lower_trimmed(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), to_lower);
    return out;
}

/// 1–8 ASCII alphanumerics, lower-cased; empty if `s` has anything else (then it is not an
/// extension we trust).
std::string clean_extension(std::string_view s) {
    if (s.empty() || s.size() > 8 || !std::all_of(s.begin(), s.end(), is_alnum)) return {};
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), to_lower);
    return out;
}

/// Path components without the empty element a trailing '/' leaves after lexically_normal().
std::vector<fs::path> components(const fs::path& p) {
    std::vector<fs::path> out;
    for (const auto& c : p) {
        if (!c.empty()) out.push_back(c);
    }
    return out;
}

}  // namespace

std::string sanitize_component(std::string_view untrusted, std::size_t max_len,
                               std::string_view fallback) {
    std::string out;
    out.reserve(std::min(untrusted.size(), max_len));
    for (char c : untrusted) {
        if (out.size() >= max_len) break;
        if (is_alnum(c)) {
            out.push_back(to_lower(c));
        } else if (!out.empty() && out.back() != '-') {
            out.push_back(
                '-');  // leading separators are dropped here, so the slug never starts with '-'
        }
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    if (out.empty()) return std::string(fallback);
    return out;
}

std::string fit_name(std::string_view stem, std::string_view tail, std::size_t max) {
    if (stem.size() + tail.size() <= max) return std::string(stem) + std::string(tail);
    std::string whole = std::string(stem) + std::string(tail);
    if (tail.size() > max / 2) {
        stem = whole;
        tail = {};
    }
    std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a: stable across runs and builds
    for (unsigned char c : whole) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string tag = "~";
    for (int i = 11; i >= 0; --i) tag.push_back(hex[(h >> (4 * i)) & 0xf]);
    const std::size_t room = max > tag.size() + tail.size() ? max - tag.size() - tail.size() : 0;
    std::string out(utf8::truncate(stem, room));
    out += tag;
    out += tail;
    return out;
}

std::string output_file_name(std::size_t item, std::size_t output, std::string_view label,
                             std::string_view ext) {
    std::string e;
    for (char c : ext) {
        if (e.size() == 8) break;
        if (is_alnum(c)) e.push_back(to_lower(c));
    }
    if (e.empty()) e = "bin";
    return std::to_string(item) + "-" + std::to_string(output) + "-" + sanitize_component(label) +
           "." + e;
}

bool is_within(const fs::path& root, const fs::path& candidate) {
    std::error_code ec;
    fs::path r = root.is_absolute() ? root : fs::absolute(root, ec);
    if (ec || r.empty()) return false;
    r = r.lexically_normal();
    fs::path c = candidate.is_absolute() ? candidate : r / candidate;
    c = c.lexically_normal();
    const auto rc = components(r);
    const auto cc = components(c);
    if (cc.size() <= rc.size()) return false;
    if (!std::equal(rc.begin(), rc.end(), cc.begin())) return false;
    // lexically_normal folds "a/.." but cannot fold a leading ".." above the root: refuse it
    // explicitly.
    return std::none_of(cc.begin() + static_cast<std::ptrdiff_t>(rc.size()), cc.end(),
                        [](const fs::path& p) { return p == ".." || p == "."; });
}

std::string header_token(std::string_view value) {
    return lower_trimmed(value.substr(0, value.find(';')));
}

std::string pick_extension(std::string_view content_type, std::string_view url_path,
                           std::string_view output_type) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 11> by_type{{
        {"image/png", "png"},
        {"image/jpeg", "jpg"},
        {"image/webp", "webp"},
        {"image/gif", "gif"},
        {"video/mp4", "mp4"},
        {"video/webm", "webm"},
        {"video/quicktime", "mov"},
        {"audio/mpeg", "mp3"},
        {"text/plain", "txt"},
        {"text/html", "html"},
        {"application/json", "json"},
    }};
    const std::string mime = header_token(content_type);
    for (const auto& [m, ext] : by_type) {
        if (mime == m) return std::string(ext);
    }

    std::string_view path = url_path.substr(0, url_path.find_first_of("?#"));
    path = path.substr(
        path.find_last_of('/') == std::string_view::npos ? 0 : path.find_last_of('/') + 1);
    if (auto dot = path.find_last_of('.'); dot != std::string_view::npos && dot > 0) {
        if (auto ext = clean_extension(path.substr(dot + 1)); !ext.empty()) return ext;
    }

    static constexpr std::array<std::pair<std::string_view, std::string_view>, 4> by_output{{
        {"image", "png"},
        {"video", "mp4"},
        {"audio", "mp3"},
        {"text", "txt"},
    }};
    const std::string type = lower_trimmed(output_type);
    for (const auto& [t, ext] : by_output) {
        if (type == t) return std::string(ext);
    }
    return "bin";
}

}  // namespace briefd::store
