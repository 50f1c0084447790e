#include "brief/yaml_to_json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <charconv>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

namespace briefd::brief::detail {
namespace {

// Thrown from inside the event handler to stop yaml-cpp early; caught in yaml_to_json().
struct stop {
    yaml_error error;
};

[[noreturn]] void fail(const YAML::Mark& mark, std::string message) {
    throw stop{{std::move(message), mark.is_null() ? 0 : mark.line + 1}};
}

bool is_core_int(std::string_view s) {
    std::size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    if (i == s.size()) return false;
    for (; i < s.size(); ++i)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

bool is_core_float(std::string_view s) {
    // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    std::size_t i = 0;
    auto digits = [&] {
        std::size_t start = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        return i - start;
    };
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    std::size_t int_digits = digits();
    std::size_t frac_digits = 0;
    if (i < s.size() && s[i] == '.') {
        ++i;
        frac_digits = digits();
    }
    if (int_digits == 0 && frac_digits == 0) return false;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
        if (digits() == 0) return false;
    }
    return i == s.size();
}

// YAML 1.2 core schema for plain (unquoted) scalars. .inf/.nan stay strings: JSON cannot hold them.
boost::json::value resolve_plain(const std::string& s) {
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    if (is_core_int(s)) {
        std::string_view digits = s;
        if (digits.front() == '+') digits.remove_prefix(1);
        std::int64_t v = 0;
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
        if (ec == std::errc() && p == digits.data() + digits.size()) return v;
        // Too large for int64: keep the text rather than silently losing precision.
        return boost::json::string(s);
    }
    if (is_core_float(s)) {
        double d = 0;
        std::string_view text = s;
        if (text.front() == '+') text.remove_prefix(1);
        auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
        if (ec == std::errc() && p == text.data() + text.size()) return d;
        return boost::json::string(s);
    }
    return boost::json::string(s);
}

class builder final : public YAML::EventHandler {
public:
    explicit builder(const yaml_limits& lim) : lim_(lim) {}

    std::optional<boost::json::value> root_;

    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}

    void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        if (expecting_key()) fail(mark, "a mapping key is empty");
        count(mark, 1);
        add(mark, nullptr, anchor, 1);
    }

    void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        auto it = anchors_.find(anchor);
        if (it == anchors_.end()) fail(mark, "alias to an unknown anchor");
        // Charging the full size of the aliased value is what bounds alias bombs.
        count(mark, it->second.values);
        if (expecting_key()) {
            if (!it->second.value.is_string()) fail(mark, "mapping keys must be strings");
            set_key(mark, std::string(it->second.value.get_string()));
            return;
        }
        add(mark, it->second.value, 0, it->second.values);
    }

    void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  const std::string& value) override {
        if (value.size() > lim_.max_string_bytes)
            fail(mark, "a string is longer than " + std::to_string(lim_.max_string_bytes) + " bytes");
        count(mark, 1);
        if (expecting_key()) {
            if (anchor != 0) anchors_[anchor] = {boost::json::string(value), 1};
            set_key(mark, value);
            return;
        }
        // "?" = plain scalar, resolved by the core schema; "!" = quoted, always a string; explicit
        // standard tags are honoured for the plain forms, anything else is kept as text.
        boost::json::value v;
        if (tag == "?" || tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" ||
            tag == "tag:yaml.org,2002:bool" || tag == "tag:yaml.org,2002:null")
            v = resolve_plain(value);
        else
            v = boost::json::string(value);
        add(mark, std::move(v), anchor, 1);
    }

    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                         YAML::EmitterStyle::value) override {
        open(mark, boost::json::array(), anchor);
    }
    void OnSequenceEnd() override { close(); }

    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                    YAML::EmitterStyle::value) override {
        open(mark, boost::json::object(), anchor);
    }
    void OnMapEnd() override { close(); }

private:
    struct frame {
        boost::json::value value;
        YAML::anchor_t anchor = 0;
        std::size_t values_at_start = 0;
        std::optional<std::string> key;
        YAML::Mark mark;
    };
    struct anchored {
        boost::json::value value;
        std::size_t values = 1;
    };

    bool expecting_key() const {
        return !stack_.empty() && stack_.back().value.is_object() && !stack_.back().key;
    }

    void set_key(const YAML::Mark& mark, std::string key) {
        auto& top = stack_.back();
        if (top.value.get_object().contains(key)) fail(mark, "duplicate key \"" + key + "\"");
        top.key = std::move(key);
    }

    void count(const YAML::Mark& mark, std::size_t n) {
        values_ += n;
        if (values_ > lim_.max_values)
            fail(mark, "more than " + std::to_string(lim_.max_values) + " values (aliases included)");
    }

    void open(const YAML::Mark& mark, boost::json::value empty, YAML::anchor_t anchor) {
        if (expecting_key()) fail(mark, "mapping keys must be strings");
        if (stack_.size() >= lim_.max_depth)
            fail(mark, "nested deeper than " + std::to_string(lim_.max_depth) + " levels");
        count(mark, 1);
        stack_.push_back(frame{std::move(empty), anchor, values_, std::nullopt, mark});
    }

    void close() {
        frame f = std::move(stack_.back());
        stack_.pop_back();
        add(f.mark, std::move(f.value), f.anchor, values_ - f.values_at_start + 1);
    }

    void add(const YAML::Mark& mark, boost::json::value v, YAML::anchor_t anchor, std::size_t values) {
        if (anchor != 0) anchors_[anchor] = {v, values};
        if (stack_.empty()) {
            if (root_) fail(mark, "more than one top-level value");
            root_ = std::move(v);
            return;
        }
        auto& top = stack_.back();
        if (top.value.is_array()) {
            top.value.get_array().push_back(std::move(v));
        } else {
            top.value.get_object()[*top.key] = std::move(v);
            top.key.reset();
        }
    }

    const yaml_limits& lim_;
    std::vector<frame> stack_;
    std::map<YAML::anchor_t, anchored> anchors_;
    std::size_t values_ = 0;
};

// Swallows the events of any further document: only whether one exists matters.
class discard final : public YAML::EventHandler {
public:
    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
        throw stop{{"a brief file holds one YAML document", m.line + 1}};
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
        throw stop{{"a brief file holds one YAML document", m.line + 1}};
    }
    void OnMapEnd() override {}
};

}  // namespace

std::variant<boost::json::value, yaml_error> yaml_to_json(std::string_view text, const yaml_limits& lim) {
    try {
        std::istringstream in{std::string(text)};
        YAML::Parser parser(in);
        builder b(lim);
        if (!parser.HandleNextDocument(b) || !b.root_) return yaml_error{"the file holds no YAML document", 0};
        discard rest;
        if (parser.HandleNextDocument(rest)) return yaml_error{"a brief file holds one YAML document", 0};
        return std::move(*b.root_);
    } catch (const stop& s) {
        return s.error;
    } catch (const YAML::Exception& e) {
        return yaml_error{e.msg, e.mark.is_null() ? 0 : e.mark.line + 1};
    } catch (const std::bad_alloc&) {
        return yaml_error{"out of memory while reading YAML", 0};
    } catch (const std::exception& e) {
        return yaml_error{std::string("cannot read YAML: ") + e.what(), 0};
    }
}

}  // namespace briefd::brief::detail
