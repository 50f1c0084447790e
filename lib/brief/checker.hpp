// What a provider's item schema is written with (lib/providers/<name>/schema.cpp): a reporter that
// collects one file's problems, and an item_checker whose every check reports and carries on, so a
// person sees all that is wrong with a brief at once, each problem naming file, item and field.
#pragma once

#include "brief/brief.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace briefd::brief {

/// "null", "a boolean", "an integer", "a number", "a string", "a list", "an object": for messages.
std::string kind_of(const boost::json::value& v);
/// The strings of `v` joined by `sep`.
std::string join(const std::vector<std::string>& v, std::string_view sep = ", ");
/// ASCII lower case.
std::string lower(std::string_view s);
/// True when `s` is empty or only white space.
bool blank(std::string_view s);
/// True for an absolute http(s) URL with a host (checked with Boost.URL).
bool is_http_url(std::string_view s);

/// Collects the problems of one file, up to `max` (the rest are dropped, not counted).
class reporter {
  public:
    reporter(std::string_view file, std::size_t max) : file_(file), max_(max) {}
    void add(std::optional<std::size_t> item, std::string field, std::string message);
    std::vector<problem>& problems() { return out_; }
    std::size_t size() const { return out_.size(); }
    const std::string& file() const { return file_; }

  private:
    std::string file_;
    std::size_t max_;
    std::vector<problem> out_;
};

/// Checks the fields of one item (the shared fields already merged in). Every check reports a
/// problem naming the field and returns nullopt/nothing when the value is wrong, then carries on.
class item_checker {
  public:
    /// `fields`: the item with the shared fields merged in; `own`: the item as written in the file
    /// (null when the file is one brief without items:), used so an unknown shared field is
    /// reported once for the file rather than once per item.
    item_checker(reporter& rep, std::size_t index, const boost::json::object& fields,
                 const boost::json::object* own)
        : rep_(rep), index_(index), o_(fields), own_(own) {}

    /// Reports a problem of this item at `field`.
    void problem(const std::string& field, std::string message) {
        rep_.add(index_, field, std::move(message));
    }
    /// The value of `key`, or null when absent.
    const boost::json::value* get(std::string_view key) const { return o_.if_contains(key); }
    /// The item's fields (shared ones merged in).
    const boost::json::object& fields() const { return o_; }

    /// A string field; nullopt when absent, null (if allowed) or wrong. Required strings must not
    /// be blank.
    std::optional<std::string> string(std::string_view key, bool required, bool allow_null = true);
    /// A string that must be a canonical UUID.
    std::optional<std::string> uuid(std::string_view key, bool required, bool allow_null = true);
    /// A string from `allowed`.
    std::optional<std::string> one_of(std::string_view key, bool required,
                                      std::initializer_list<std::string_view> allowed);
    /// true/false when present.
    void boolean(std::string_view key);
    /// An integer in [min, max] (a whole double is accepted); nullopt when absent or wrong.
    std::optional<std::int64_t> integer(const boost::json::value* v, const std::string& field,
                                        std::int64_t min, std::int64_t max);
    /// An object (or null) when present.
    void object(std::string_view key);
    /// A list of strings, each from `allowed` when that is not empty, at most `max` long.
    void string_list(const boost::json::value* v, const std::string& field, std::size_t max,
                     std::initializer_list<std::string_view> allowed = {}, bool non_empty = false);
    /// Reports fields not in `known`; those inherited from the shared part are left to the file
    /// check.
    void unknown_fields(const std::vector<std::string_view>& known);
    /// The present, non-null fields among `keys`.
    boost::json::object copy_present(std::initializer_list<std::string_view> keys) const;

  private:
    reporter& rep_;
    std::size_t index_;
    const boost::json::object& o_;
    const boost::json::object* own_;
};

}  // namespace briefd::brief
