// How the fuzz targets that read HTTP headers split their input: "Name: value" lines, a blank
// line, then the body. Lines without a colon are skipped; names and values Beast would refuse
// (its parser never yields them) are not inserted, but every value is shown to `on_value` first.
#pragma once

#include <boost/beast/http/fields.hpp>

#include <string_view>

namespace briefd::fuzz {

/// Fills `h` from the header lines of `text` and returns what follows the blank line.
template <class OnValue>
std::string_view read_header_lines(std::string_view text, boost::beast::http::fields& h,
                                   OnValue on_value) {
    while (!text.empty()) {
        auto eol = text.find('\n');
        auto line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        if (line.empty()) return text;
        auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) continue;
        auto name = line.substr(0, colon);
        auto value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        on_value(value);
        bool ok = true;
        for (char c : name) ok = ok && c > 0x20 && c < 0x7f && c != ':';
        for (char c : value) ok = ok && c != '\r' && c != '\n' && c != '\0';
        if (ok) h.insert(name, value);
    }
    return {};
}

}  // namespace briefd::fuzz
