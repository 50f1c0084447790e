#include "core/url_text.hpp"

#include <algorithm>

namespace briefd {

bool has_http_scheme(std::string_view s) noexcept {
    const auto starts_nocase = [&](std::string_view prefix) {
        if (s.size() < prefix.size()) return false;
        for (std::size_t i = 0; i < prefix.size(); ++i) {
            char c = s[i];
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            if (c != prefix[i]) return false;
        }
        return true;
    };
    return starts_nocase("http://") || starts_nocase("https://");
}

bool is_printable_ascii(std::string_view s) noexcept {
    return std::all_of(s.begin(), s.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c > 0x20 && c < 0x7f;
    });
}

bool is_http_url_text(std::string_view s) noexcept {
    return has_http_scheme(s) && is_printable_ascii(s);
}

}  // namespace briefd
