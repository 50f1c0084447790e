#include "brief/checker.hpp"

#include "core/url_text.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>

namespace briefd::brief {

namespace json = boost::json;

std::string kind_of(const json::value& v) {
    switch (v.kind()) {
        case json::kind::null:
            return "null";
        case json::kind::bool_:
            return "a boolean";
        case json::kind::int64:
        case json::kind::uint64:
            return "an integer";
        case json::kind::double_:
            return "a number";
        case json::kind::string:
            return "a string";
        case json::kind::array:
            return "a list";
        case json::kind::object:
            return "an object";
    }
    return "a value";
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
    std::string r;
    for (const auto& s : v) {
        if (!r.empty()) r += sep;
        r += s;
    }
    return r;
}

std::string lower(std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

bool blank(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

bool is_http_url(std::string_view s) {
    // Boost.URL 1.81 asserts on some bytes after "scheme:" (fixed in 1.82): only text that already
    // looks like an http(s) URL of printable ASCII reaches the parser.
    if (!is_http_url_text(s)) return false;
    auto u = boost::urls::parse_absolute_uri(s);
    if (!u) return false;
    std::string scheme = lower(u->scheme());
    return (scheme == "http" || scheme == "https") && u->has_authority() && !u->host().empty();
}

void reporter::add(std::optional<std::size_t> item, std::string field, std::string message) {
    if (out_.size() < max_)
        out_.push_back(problem{file_, item, std::move(field), std::move(message)});
}

std::optional<std::string> item_checker::string(std::string_view key, bool required,
                                                bool allow_null) {
    const auto* v = get(key);
    if (!v || (v->is_null() && allow_null && !required)) {
        if (required) problem(std::string(key), v ? "required, must not be null" : "required");
        return std::nullopt;
    }
    if (!v->is_string()) {
        problem(std::string(key), "must be a string, not " + kind_of(*v));
        return std::nullopt;
    }
    std::string s(v->get_string());
    if (required && blank(s)) {
        problem(std::string(key), "must not be empty");
        return std::nullopt;
    }
    return s;
}

std::optional<std::string> item_checker::uuid(std::string_view key, bool required,
                                              bool allow_null) {
    auto s = string(key, required, allow_null);
    if (s && !is_uuid(*s)) {
        problem(std::string(key), "must be a UUID like ec7ec3ce-69b4-43c9-8eea-fe9752d679a4");
        return std::nullopt;
    }
    return s;
}

std::optional<std::string> item_checker::one_of(std::string_view key, bool required,
                                                std::initializer_list<std::string_view> allowed) {
    auto s = string(key, required, false);
    if (!s) return s;
    if (std::find(allowed.begin(), allowed.end(), *s) == allowed.end()) {
        std::vector<std::string> names(allowed.begin(), allowed.end());
        problem(std::string(key), "must be one of " + join(names, "|"));
        return std::nullopt;
    }
    return s;
}

void item_checker::boolean(std::string_view key) {
    const auto* v = get(key);
    if (v && !v->is_bool()) problem(std::string(key), "must be true or false, not " + kind_of(*v));
}

std::optional<std::int64_t> item_checker::integer(const json::value* v, const std::string& field,
                                                  std::int64_t min, std::int64_t max) {
    if (!v) return std::nullopt;
    std::optional<std::int64_t> n;
    if (v->is_int64())
        n = v->get_int64();
    else if (v->is_uint64())
        n = v->get_uint64() > static_cast<std::uint64_t>(max)
                ? max + 1
                : static_cast<std::int64_t>(v->get_uint64());
    else if (v->is_double() && std::isfinite(v->get_double()) &&
             std::trunc(v->get_double()) == v->get_double() && std::abs(v->get_double()) < 1e15)
        n = static_cast<std::int64_t>(v->get_double());
    if (!n) {
        problem(field, "must be an integer, not " + kind_of(*v));
        return std::nullopt;
    }
    if (*n < min || *n > max) {
        problem(field, "must be between " + std::to_string(min) + " and " + std::to_string(max));
        return std::nullopt;
    }
    return n;
}

void item_checker::object(std::string_view key) {
    const auto* v = get(key);
    if (v && !v->is_object() && !v->is_null())
        problem(std::string(key), "must be an object, not " + kind_of(*v));
}

void item_checker::string_list(const json::value* v, const std::string& field, std::size_t max,
                               std::initializer_list<std::string_view> allowed, bool non_empty) {
    if (!v) return;
    if (!v->is_array()) {
        problem(field, "must be a list of strings, not " + kind_of(*v));
        return;
    }
    const auto& a = v->get_array();
    if (a.size() > max) problem(field, "at most " + std::to_string(max) + " entries");
    if (non_empty && a.empty()) problem(field, "must not be empty when given");
    for (std::size_t i = 0; i < a.size(); ++i) {
        std::string at = field + "[" + std::to_string(i) + "]";
        if (!a[i].is_string()) {
            problem(at, "must be a string, not " + kind_of(a[i]));
        } else if (allowed.size() != 0 &&
                   std::find(allowed.begin(), allowed.end(), std::string_view(a[i].get_string())) ==
                       allowed.end()) {
            std::vector<std::string> names(allowed.begin(), allowed.end());
            problem(at, "must be one of " + join(names, "|"));
        }
    }
}

void item_checker::unknown_fields(const std::vector<std::string_view>& known) {
    for (const auto& kv : o_) {
        if (std::find(known.begin(), known.end(), kv.key()) != known.end()) continue;
        if (own_ && !own_->contains(kv.key())) continue;
        problem(std::string(kv.key()), "unknown field");
    }
}

json::object item_checker::copy_present(std::initializer_list<std::string_view> keys) const {
    json::object r;
    for (auto k : keys)
        if (const auto* v = get(k); v && !v->is_null()) r[k] = *v;
    return r;
}

}  // namespace briefd::brief
