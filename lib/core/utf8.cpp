#include "core/utf8.hpp"

namespace briefd::utf8 {

namespace {
// How far the bytes at s[i] go as the start of a sequence before they turn invalid: 0 for a byte
// that cannot start one, else the number of bytes that are right (a maximal subpart when < need).
struct probe {
    std::size_t need = 0;  ///< the sequence's full length per its lead byte (0: not a lead)
    std::size_t good = 0;  ///< bytes that fit the pattern, lead included
};

probe look(std::string_view s, std::size_t i) noexcept {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    if (c < 0x80) return {1, 1};
    std::size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the range allowed for the second byte
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0;  // overlong below U+0800
        else if (c == 0xED)
            hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90;  // overlong below U+10000
        else if (c == 0xF4)
            hi = 0x8F;  // above U+10FFFF
    } else {
        return {0, 0};  // 0x80–0xC1 (continuation or overlong lead), 0xF5–0xFF
    }
    std::size_t good = 1;
    for (std::size_t k = 1; k < need && i + k < s.size(); ++k) {
        const unsigned char x = b(i + k);
        const bool ok = k == 1 ? (x >= lo && x <= hi) : (x >= 0x80 && x <= 0xBF);
        if (!ok) break;
        ++good;
    }
    return {need, good};
}
}  // namespace

std::size_t sequence_length(std::string_view s, std::size_t i) noexcept {
    if (i >= s.size()) return 0;
    const auto p = look(s, i);
    return p.need != 0 && p.good == p.need ? p.need : 0;
}

std::size_t invalid_at(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size();) {
        const auto n = sequence_length(s, i);
        if (n == 0) return i;
        i += n;
    }
    return std::string_view::npos;
}

std::string repair(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const auto p = look(s, i);
        if (p.need != 0 && p.good == p.need) {
            out.append(s.substr(i, p.need));
            i += p.need;
        } else {
            out += "\xEF\xBF\xBD";  // U+FFFD for the maximal subpart (at least one byte)
            i += p.good == 0 ? 1 : p.good;
        }
    }
    return out;
}

std::string_view truncate(std::string_view s, std::size_t max) noexcept {
    if (s.size() <= max) return s;
    std::size_t end = 0;
    for (std::size_t i = 0; i < max;) {
        const auto n = sequence_length(s, i);
        const std::size_t step = n == 0 ? 1 : n;
        if (i + step > max) break;
        i += step;
        end = i;
    }
    return s.substr(0, end);
}

}  // namespace briefd::utf8
