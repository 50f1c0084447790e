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

std::optional<yaml_error> yaml_nesting_check(std::string_view text, std::size_t max_depth) {
    // A conservative estimate of the nesting yaml-cpp would build, from the text alone: flow
    // collections ('[', '{' outside quoted scalars and comments) plus block levels (the indentation
    // stack, and every "- " / "? " on a line, whose content sits a level deeper). It is off by a
    // level here and there (a multi-line plain scalar counts one too many, a sequence at its
    // parent's indentation one too few), so it allows twice the limit: a valid brief is never
    // refused here, and the builder checks the exact depth. Flow brackets, the costly case, are
    // counted exactly.
    const std::size_t allowed = 2 * max_depth;
    std::size_t flow = 0;
    char quote = 0;                          // inside a quoted scalar: its quote character
    constexpr std::size_t none = std::string_view::npos;
    std::size_t block_scalar = none;         // inside a | or > scalar: the indentation it sits at
    std::vector<std::size_t> indents;        // open block levels, by column
    int line_no = 0;
    std::size_t pos = 0;
    const auto too_deep = [&]() {
        return yaml_error{"nested deeper than " + std::to_string(max_depth) + " levels", line_no};
    };
    while (pos <= text.size()) {
        const std::size_t eol = std::min(text.find('\n', pos), text.size());
        std::string_view line = text.substr(pos, eol - pos);
        pos = eol + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        std::size_t i = 0;
        if (flow == 0) {
            while (i < line.size() && line[i] == ' ') ++i;
            if (i == line.size() || line[i] == '#') continue;  // blank or comment
            if (block_scalar != none) {
                if (i > block_scalar) continue;               // the scalar's own text
                block_scalar = none;
            }
            while (!indents.empty() && indents.back() >= i) indents.pop_back();
            indents.push_back(i);
        }
        const std::size_t line_indent = indents.empty() ? 0 : indents.back();
        std::size_t inline_levels = 0;
        // A quoted scalar (or a block scalar indicator) counts only where a node starts: at the
        // start of a line, after "- ", "? ", ": ", or in flow after '[', '{', ',', ':'. A quote in
        // the middle of a plain scalar is text. Quotes are not carried over to the next line: a
        // multi-line quoted scalar then only counts too many brackets, never too few.
        bool node_start = true;
        quote = 0;
        for (; i < line.size(); ++i) {
            const char c = line[i];
            if (quote == '"') {
                if (c == '\\') ++i;
                else if (c == '"') quote = 0;
                continue;
            }
            if (quote == '\'') {
                if (c == '\'' && i + 1 < line.size() && line[i + 1] == '\'') ++i;
                else if (c == '\'') quote = 0;
                continue;
            }
            const bool space_before = i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t';
            const bool space_after = i + 1 == line.size() || line[i + 1] == ' ' || line[i + 1] == '\t';
            if (c == ' ' || c == '\t') continue;  // keeps node_start as it is
            if (c == '#' && space_before) break;  // a comment
            if ((c == '"' || c == '\'') && node_start) {
                quote = c;
                node_start = false;
            } else if ((c == '[' || c == '{') && (node_start || flow > 0)) {
                // In block context a bracket inside a plain scalar ("a [b") is text.
                ++flow;
                node_start = true;
            } else if ((c == '&' || c == '!') && node_start) {
                // An anchor or tag: the node itself starts after it.
                while (i + 1 < line.size() && line[i + 1] != ' ' && line[i + 1] != '\t') ++i;
            } else if (c == ']' || c == '}') {
                if (flow > 0) --flow;
                node_start = false;
            } else if (flow > 0 && (c == ',' || c == ':')) {
                node_start = true;
            } else if ((c == '-' || c == '?') && node_start && space_after) {
                if (flow == 0) ++inline_levels;  // what follows "- " or "? " sits a level deeper
                node_start = true;
            } else if (c == ':' && space_after) {
                node_start = true;
            } else if ((c == '|' || c == '>') && node_start && flow == 0 &&
                       line.find_first_not_of("+-123456789", i + 1) ==
                           line.find_first_not_of("+-123456789 \t", i + 1)) {
                // "key: |", "- >-", "|2": the following more-indented lines are its text. (The
                // check above: after the indicators only spaces follow, up to the end or a comment.)
                const auto rest = line.find_first_not_of("+-123456789 \t", i + 1);
                if (rest == std::string_view::npos || line[rest] == '#') {
                    block_scalar = line_indent;
                    break;
                }
                node_start = false;
            } else {
                node_start = false;
            }
        }
        quote = 0;
        if (indents.size() + inline_levels + flow > allowed) return too_deep();
    }
    return std::nullopt;
}

std::variant<boost::json::value, yaml_error> yaml_to_json(std::string_view text, const yaml_limits& lim) {
    // yaml-cpp tokenises a whole flow collection before its first event, so the builder's depth
    // check would come after 250 bytes per '[' were spent: look at the text first.
    if (auto e = yaml_nesting_check(text, lim.max_depth)) return *e;
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
