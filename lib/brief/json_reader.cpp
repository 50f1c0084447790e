#include "brief/json_reader.hpp"

#include <boost/json/basic_parser_impl.hpp>

#include <algorithm>
#include <optional>
#include <vector>

namespace briefd::brief::detail {
namespace {

namespace json = boost::json;
using boost::system::error_code;

class builder {
  public:
    static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
    static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
    static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
    static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

    explicit builder(const yaml_limits& lim) : lim_(lim) {}

    std::optional<json::value> root;
    std::string problem;  ///< set when a bound stopped the parse

    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }

    bool on_array_begin(error_code& ec) { return open(json::array(), ec); }
    bool on_array_end(std::size_t, error_code& ec) { return close(ec); }
    bool on_object_begin(error_code& ec) { return open(json::object(), ec); }
    bool on_object_end(std::size_t, error_code& ec) { return close(ec); }

    // Strings are bounded by the file's size; their length limit is checked afterwards, where the
    // problem can name the field (brief.cpp, check_strings).
    bool on_string_part(json::string_view s, std::size_t, error_code&) {
        text_.append(s.data(), s.size());
        return true;
    }
    bool on_string(json::string_view s, std::size_t, error_code& ec) {
        text_.append(s.data(), s.size());
        json::string v(text_);
        text_.clear();
        return add(std::move(v), ec);
    }
    bool on_key_part(json::string_view s, std::size_t n, error_code& ec) {
        return on_string_part(s, n, ec);
    }
    bool on_key(json::string_view s, std::size_t, error_code& ec) {
        text_.append(s.data(), s.size());
        auto& top = stack_.back();
        if (top.get_object().contains(text_)) return fail("duplicate key \"" + text_ + "\"", ec);
        key_ = std::move(text_);
        text_.clear();
        return true;
    }
    bool on_number_part(json::string_view, error_code&) { return true; }
    bool on_int64(std::int64_t i, json::string_view, error_code& ec) { return add(i, ec); }
    bool on_uint64(std::uint64_t u, json::string_view, error_code& ec) { return add(u, ec); }
    bool on_double(double d, json::string_view, error_code& ec) { return add(d, ec); }
    bool on_bool(bool b, error_code& ec) { return add(b, ec); }
    bool on_null(error_code& ec) { return add(nullptr, ec); }
    bool on_comment_part(json::string_view, error_code&) { return true; }
    bool on_comment(json::string_view, error_code&) { return true; }

  private:
    bool fail(std::string message, error_code& ec) {
        problem = std::move(message);
        ec = json::error::exception;
        return false;
    }
    bool count(error_code& ec) {
        if (++values_ > lim_.max_values)
            return fail("more than " + std::to_string(lim_.max_values) + " values", ec);
        return true;
    }
    bool open(json::value empty, error_code& ec) {
        if (stack_.size() >= lim_.max_depth)
            return fail("nested deeper than " + std::to_string(lim_.max_depth) + " levels", ec);
        if (!count(ec)) return false;
        keys_.push_back(std::move(key_));
        key_.clear();
        stack_.push_back(std::move(empty));
        return true;
    }
    bool close(error_code& ec) {
        json::value v = std::move(stack_.back());
        stack_.pop_back();
        key_ = std::move(keys_.back());
        keys_.pop_back();
        --values_;  // counted at open
        return add(std::move(v), ec);
    }
    bool add(json::value v, error_code& ec) {
        if (!count(ec)) return false;
        if (stack_.empty()) {
            root = std::move(v);
            return true;
        }
        auto& top = stack_.back();
        if (top.is_array())
            top.get_array().push_back(std::move(v));
        else
            top.get_object().emplace(key_, std::move(v));
        return true;
    }

    const yaml_limits& lim_;
    std::vector<json::value> stack_;
    std::vector<std::string> keys_;  ///< the key each open container will be stored under
    std::string key_, text_;
    std::size_t values_ = 0;
};

}  // namespace

std::variant<json::value, yaml_error> json_to_value(std::string_view text, const yaml_limits& lim) {
    const auto line_at = [&](std::size_t at) {
        at = std::min(at, text.size());
        return 1 + static_cast<int>(std::count(
                       text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
    };
    try {
        json::parse_options opt;
        opt.max_depth = lim.max_depth + 1;  // the builder reports depth in its own words first
        json::basic_parser<builder> p(opt, lim);
        error_code ec;
        const std::size_t n = p.write_some(false, text.data(), text.size(), ec);
        if (ec) {
            std::string msg =
                !p.handler().problem.empty() ? p.handler().problem
                : ec == json::error::too_deep
                    ? "nested deeper than " + std::to_string(lim.max_depth) + " levels"
                    : "not valid JSON: " + ec.message();
            return yaml_error{std::move(msg), line_at(n)};
        }
        // write_some stops at the end of the document: anything but white space after it is an
        // error, as json::parse would say.
        if (text.find_first_not_of(" \t\r\n", n) != std::string_view::npos)
            return yaml_error{"not valid JSON: " + error_code(json::error::extra_data).message(),
                              line_at(n)};
        if (!p.handler().root) return yaml_error{"not valid JSON: no value", 0};
        return std::move(*p.handler().root);
    } catch (const std::bad_alloc&) {
        return yaml_error{"out of memory while reading JSON", 0};
    } catch (const std::exception& e) {
        return yaml_error{std::string("cannot read JSON: ") + e.what(), 0};
    }
}

}  // namespace briefd::brief::detail
