#include "providers/provider.hpp"

#include "providers/hrizn/hrizn.hpp"
#include "providers/lamina/provider.hpp"
#include "providers/layers/layers.hpp"
#include "store/atomic_file.hpp"

#include <boost/json/parse.hpp>

namespace briefd::providers {

std::string_view to_string(run_phase p) noexcept {
    switch (p) {
        case run_phase::queued:
            return "queued";
        case run_phase::running:
            return "running";
        case run_phase::awaiting_input:
            return "awaiting_input";
        case run_phase::completed:
            return "completed";
        case run_phase::failed:
            return "failed";
        case run_phase::cancelled:
            return "cancelled";
        case run_phase::unknown:
            break;
    }
    return "unknown";
}

// Defaults for what a provider does not offer. The engine only calls these when the provider's
// channels() or schema_key() said it could, so reaching one is a provider bug: the calls below
// name a resource that cannot exist and the parsers read nothing.
api_call provider::schema_request(std::string_view) const {
    return {};
}
std::optional<app_schema> provider::parse_schema(std::string_view) const {
    return std::nullopt;
}
api_call provider::stream(std::string_view) const {
    return {};
}
std::optional<run_view> provider::parse_event(std::string_view, std::string_view) const {
    return std::nullopt;
}
api_call provider::wait(std::string_view, std::chrono::seconds) const {
    return {};
}
std::optional<std::pair<run_view, bool>> provider::parse_wait(std::string_view) const {
    return std::nullopt;
}
api_call provider::list(std::string_view, std::size_t) const {
    return {};
}
std::optional<list_page> provider::parse_list(std::string_view) const {
    return std::nullopt;
}

std::optional<api_call> provider::provide_input(const brief::item&, std::string_view,
                                                std::string& why) const {
    why = "the provider asked for input, and briefd has no way to give it for this provider";
    return std::nullopt;
}

std::optional<std::string> provider::fetched_output(const output_view&, std::string_view,
                                                    std::string_view body, std::string&) const {
    return std::string(body);
}

boost::urls::url url_for(const boost::urls::url_view& base, const api_call& c) {
    boost::urls::url u(base);
    std::string path(base.path());
    while (!path.empty() && path.back() == '/') path.pop_back();
    u.set_path(path);
    auto segs = u.segments();
    for (const auto& s : c.segments) segs.push_back(s);
    u.remove_query();
    if (!c.query.empty()) {
        auto params = u.params();
        for (const auto& [k, v] : c.query) params.append({k, v});
    }
    u.remove_fragment();
    return u;
}

std::optional<boost::json::value> parse_json(std::string_view body) {
    boost::json::parse_options opt;
    opt.max_depth = 64;
    std::error_code ec;
    auto v = boost::json::parse(body, ec, {}, opt);
    if (ec) return std::nullopt;
    return v;
}

std::string string_field(const boost::json::object& o, std::string_view key, std::size_t max) {
    if (const auto* v = o.if_contains(key); v && v->is_string())
        return diagnostics::clean(v->get_string(), max);
    return {};
}

namespace {
// Every provider briefd has: adding one is a folder under lib/providers/ and a line here.
const std::vector<const provider*>& registry() {
    static const lamina::provider lamina_api;
    static const hrizn::provider hrizn_api;
    static const layers::provider layers_api;
    static const std::vector<const provider*> all{&lamina_api, &hrizn_api, &layers_api};
    return all;
}
}  // namespace

const provider* find(std::string_view name) {
    for (const auto* p : registry())
        if (p->name() == name) return p;
    return nullptr;
}

std::span<const brief::item_schema> item_schemas() {
    static const std::vector<brief::item_schema> all = [] {
        std::vector<brief::item_schema> v;
        for (const auto* p : registry()) v.push_back(p->items());
        return v;
    }();
    return all;
}

std::string idempotency_key(std::string_view salt,
                            const std::vector<std::pair<std::string, std::size_t>>& members) {
    std::string text(salt);
    for (const auto& [job, index] : members) {
        text += '\n';
        text += job;
        text += '#';
        text += std::to_string(index);
    }
    // "briefd-" + 40 hex digits: deterministic, fixed length, header-safe whatever the job ids
    // hold.
    return "briefd-" + store::sha256_hex(text).substr(0, 40);
}

}  // namespace briefd::providers
