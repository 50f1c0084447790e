#include "brief/brief.hpp"

#include "brief/checker.hpp"

#include "brief/json_reader.hpp"
#include "brief/yaml_to_json.hpp"
#include "core/utf8.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <set>

namespace briefd::brief {

namespace json = boost::json;

// ------------------------------------------------------------------------------------------------
// problem

std::string problem::to_string() const {
    std::string s = file;
    if (item) s += ": item " + std::to_string(*item);
    if (!field.empty()) s += ": " + field;
    s += ": " + message;
    return s;
}

json::object problem::to_json() const {
    json::object o;
    o["file"] = file;
    if (item)
        o["item"] = static_cast<std::uint64_t>(*item);
    else
        o["item"] = nullptr;
    o["field"] = field;
    o["message"] = message;
    return o;
}

bool is_uuid(std::string_view s) {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return false;
        } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
            return false;
        }
    }
    return true;
}

namespace detail {
namespace {

std::size_t invalid_utf8_at(std::string_view s) {
    return utf8::invalid_at(s);
}

bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char ch) {
        auto c = static_cast<unsigned char>(ch);
        return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F;
    });
}

std::string child_path(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// Strings everywhere in the document (keys included): size, UTF-8 (YAML is not checked by its
// parser) and control characters, which have no business in a brief and would end up in logs.
void check_strings(const json::value& v, const std::string& path, std::optional<std::size_t> item,
                   std::size_t depth, const limits& lim, reporter& rep) {
    auto check = [&](std::string_view s, const std::string& at) {
        if (s.size() > lim.max_string_bytes)
            rep.add(item, at, "longer than " + std::to_string(lim.max_string_bytes) + " bytes");
        else if (invalid_utf8_at(s) != std::string_view::npos)
            rep.add(item, at, "not valid UTF-8");
        else if (has_control(s))
            rep.add(item, at, "contains a control character");
    };
    if (depth > lim.max_depth + 1) return;  // parse() already refused deeper documents
    if (v.is_string()) {
        check(v.get_string(), path);
    } else if (v.is_array()) {
        const auto& a = v.get_array();
        for (std::size_t i = 0; i < a.size(); ++i) {
            std::optional<std::size_t> it = item;
            std::string p = path + "[" + std::to_string(i) + "]";
            if (!item && path == "items") {
                it = i;
                p.clear();
            }
            check_strings(a[i], p, it, depth + 1, lim, rep);
        }
    } else if (v.is_object()) {
        for (const auto& kv : v.get_object()) {
            std::string p = child_path(path, kv.key());
            check(kv.key(), p.empty() ? std::string("(key)") : p);
            check_strings(kv.value(), p, item, depth + 1, lim, rep);
        }
    }
}

// What merging costs: values built and bytes of text (strings and keys) copied.
struct merged_size {
    std::size_t values = 0, bytes = 0;
    merged_size& operator+=(const merged_size& o) {
        values += o.values;
        bytes += o.bytes;
        return *this;
    }
};

merged_size size_of(const json::value& v) {
    merged_size n{1, 0};
    if (v.is_string()) {
        n.bytes += v.get_string().size();
    } else if (v.is_array()) {
        for (const auto& e : v.get_array()) n += size_of(e);
    } else if (v.is_object()) {
        for (const auto& kv : v.get_object()) {
            n.bytes += kv.key().size();
            n += size_of(kv.value());
        }
    }
    return n;
}

// Shared fields merged under an item's own: the item wins; objects merge key by key.
json::object merge(const json::object& shared, const json::object& own) {
    json::object r = shared;
    for (const auto& kv : own) {
        auto* existing = r.if_contains(kv.key());
        if (existing && existing->is_object() && kv.value().is_object())
            *existing = merge(existing->get_object(), kv.value().get_object());
        else
            r[kv.key()] = kv.value();
    }
    return r;
}

}  // namespace
}  // namespace detail

parse_result parse(std::string_view file_name, std::string_view bytes,
                   std::string_view default_provider, std::span<const item_schema> schemas,
                   const limits& lim) {
    using namespace detail;
    parse_result result;
    reporter rep(file_name, std::max<std::size_t>(lim.max_problems, 1));
    auto finish = [&]() {
        result.problems = std::move(rep.problems());
        if (!result.problems.empty()) result.brief.reset();
        return std::move(result);
    };
    try {
        if (bytes.size() > lim.max_brief_bytes) {
            rep.add(std::nullopt, "file",
                    std::to_string(bytes.size()) + " bytes; briefs may be at most " +
                        std::to_string(lim.max_brief_bytes));
            return finish();
        }
        std::string ext;
        if (auto dot = file_name.rfind('.'); dot != std::string_view::npos)
            ext = lower(file_name.substr(dot));
        if (ext != ".json" && ext != ".yaml" && ext != ".yml") {
            rep.add(std::nullopt, "file", "not a .json, .yaml or .yml file");
            return finish();
        }
        std::string_view text = bytes;
        if (text.substr(0, 3) == "\xEF\xBB\xBF")
            text.remove_prefix(3);  // editors on Windows add a BOM
        if (blank(text)) {
            rep.add(std::nullopt, "file", "empty file");
            return finish();
        }
        if (auto bad = invalid_utf8_at(text); bad != std::string_view::npos) {
            rep.add(std::nullopt, "file",
                    "not UTF-8 text (invalid byte at offset " + std::to_string(bad) + ")");
            return finish();
        }
        if (text.find('\0') != std::string_view::npos) {
            rep.add(std::nullopt, "file", "binary data (a NUL byte) in a text file");
            return finish();
        }

        std::optional<json::value> doc;
        {
            const yaml_limits yl{lim.max_depth, lim.max_values, lim.max_string_bytes};
            auto r = ext == ".json" ? json_to_value(text, yl) : yaml_to_json(text, yl);
            if (auto* e = std::get_if<yaml_error>(&r))
                rep.add(std::nullopt, "file",
                        (e->line > 0 ? "line " + std::to_string(e->line) + ": " : std::string()) +
                            e->message);
            else
                doc = std::move(std::get<json::value>(r));
        }
        if (!doc) return finish();

        if (!doc->is_object()) {
            rep.add(
                std::nullopt, "",
                doc->is_array()
                    ? "the top level is a list; put the items under items:"
                    : "the top level must be an object (one brief, or several under items:), not " +
                          kind_of(*doc));
            return finish();
        }
        const auto& root = doc->get_object();
        // Without items: the top-level object is item 0, so its problems say so like every other
        // check.
        check_strings(*doc, "",
                      root.contains("items") ? std::nullopt : std::optional<std::size_t>(0), 0, lim,
                      rep);

        std::vector<std::string> known_providers;
        for (const auto& s : schemas) known_providers.emplace_back(s.provider);
        const std::string names = join(known_providers, ", ");
        std::string provider(default_provider);
        if (const auto* p = root.if_contains("provider")) {
            if (!p->is_string()) {
                rep.add(std::nullopt, "provider",
                        "must be a string (" + names + "), not " + kind_of(*p));
                return finish();
            }
            provider = std::string(p->get_string());
        }
        const item_schema* schema = nullptr;
        for (const auto& s : schemas)
            if (s.provider == provider) schema = &s;
        if (!schema) {
            rep.add(std::nullopt, "provider",
                    "unknown provider \"" + provider + "\" (" + names + ")");
            return finish();
        }

        json::object shared;
        for (const auto& kv : root)
            if (kv.key() != "provider" && kv.key() != "items") shared[kv.key()] = kv.value();

        const json::array* items = nullptr;
        if (const auto* it = root.if_contains("items")) {
            if (!it->is_array()) {
                rep.add(std::nullopt, "items", "must be a list of items, not " + kind_of(*it));
                return finish();
            }
            items = &it->get_array();
            if (items->empty()) {
                rep.add(std::nullopt, "items",
                        "the list is empty; a brief needs at least one item");
                return finish();
            }
            if (items->size() > lim.max_items) {
                rep.add(std::nullopt, "items",
                        std::to_string(items->size()) + " items; at most " +
                            std::to_string(lim.max_items) + " per file");
                return finish();
            }
            // Shared fields no kind of item of this provider takes: reported once, not once per
            // item.
            for (const auto& kv : shared)
                if (std::find(schema->fields.begin(), schema->fields.end(), kv.key()) ==
                    schema->fields.end())
                    rep.add(std::nullopt, std::string(kv.key()), "unknown field");
        }

        brief_file bf;
        bf.provider = provider;
        auto one = [&](std::size_t index, const json::object& fields, const json::object* own) {
            item_checker c(rep, index, fields, own);
            std::optional<item_body> body = schema->check(c);
            if (body) bf.items.push_back(item{index, std::move(*body)});
        };
        if (!items) {
            one(0, shared, nullptr);
        } else {
            // Every item gets its own copy of the shared fields: a large shared field times many
            // items would turn a small file into gigabytes. Refuse before merging anything.
            const auto shared_size = size_of(json::value(shared));
            merged_size total;
            for (const auto& v : *items) {
                total += shared_size;
                total += size_of(v);
            }
            const std::size_t max_bytes =
                lim.max_merged_bytes != 0 ? lim.max_merged_bytes : 4 * lim.max_brief_bytes;
            if (total.values > lim.max_values || total.bytes > max_bytes) {
                rep.add(std::nullopt, "items",
                        "with the shared fields copied into each of the " +
                            std::to_string(items->size()) + " items, the brief comes to " +
                            std::to_string(total.values) + " values and " +
                            std::to_string(total.bytes) + " bytes of text; at most " +
                            std::to_string(lim.max_values) + " values and " +
                            std::to_string(max_bytes) + " bytes: share less or split the file");
                return finish();
            }
            for (std::size_t i = 0; i < items->size(); ++i) {
                const auto& v = (*items)[i];
                if (!v.is_object()) {
                    rep.add(i, "", "an item must be an object, not " + kind_of(v));
                    continue;
                }
                auto merged = merge(shared, v.get_object());
                one(i, merged, &v.get_object());
            }
        }
        result.brief = std::move(bf);
        return finish();
    } catch (const std::bad_alloc&) {
        rep.add(std::nullopt, "file", "out of memory while reading the brief");
    } catch (const std::exception& e) {
        rep.add(std::nullopt, "file", std::string("cannot read the brief: ") + e.what());
    }
    return finish();
}

}  // namespace briefd::brief
