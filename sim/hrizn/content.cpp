#include "content.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <functional>

namespace briefd::sim::hrizn {

namespace json = boost::json;

std::string_view to_string(item_status s) noexcept {
    switch (s) {
        case item_status::awaiting_input:
            return "awaiting_input";
        case item_status::generating:
            return "generating";
        case item_status::complete:
            return "complete";
        case item_status::failed:
            return "failed";
    }
    return "unknown";
}

std::string_view to_string(component_status s) noexcept {
    switch (s) {
        case component_status::pending:
            return "pending";
        case component_status::generating:
            return "generating";
        case component_status::complete:
            return "complete";
        case component_status::failed:
            return "failed";
    }
    return "unknown";
}

item_status item::status_at(clock::time_point t) const {
    if (!generation_started) return item_status::awaiting_input;
    if (fails && t >= done_at[fail_index]) return item_status::failed;
    if (t >= done_at.back()) return item_status::complete;
    return item_status::generating;
}

component_status item::component_at(std::size_t i, clock::time_point t) const {
    if (!generation_started) return component_status::pending;
    if (fails && i >= fail_index) {
        if (t >= done_at[fail_index]) return component_status::failed;
    } else if (t >= done_at[i]) {
        return component_status::complete;
    }
    const auto begins = i == 0 ? *generation_started : done_at[i - 1];
    return t >= begins ? component_status::generating : component_status::pending;
}

item::clock::time_point item::updated_at(clock::time_point t) const {
    auto last = created;
    if (!generation_started) return last;
    last = std::max(last, std::min(t, *generation_started));
    const std::size_t end = fails ? fail_index : done_at.size() - 1;
    for (std::size_t i = 0; i <= end; ++i)
        if (done_at[i] <= t) last = std::max(last, done_at[i]);
    return last;
}

std::string iso_micros(std::chrono::system_clock::time_point tp) {
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(tp.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(us / 1000000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(us % 1000000));
    return buf;
}

namespace {

std::string string_or(const json::object& o, std::string_view key, std::string fallback) {
    if (const auto* v = o.if_contains(key); v && v->is_string())
        return std::string(v->get_string());
    return fallback;
}

std::string escape_html(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

void canonical_into(const json::value& v, std::string& out) {
    if (const auto* o = v.if_object()) {
        std::vector<const json::key_value_pair*> members;
        for (const auto& kv : *o) members.push_back(&kv);
        std::sort(members.begin(), members.end(),
                  [](auto* a, auto* b) { return a->key() < b->key(); });
        out += '{';
        for (std::size_t i = 0; i < members.size(); ++i) {
            if (i) out += ',';
            out += json::serialize(json::string(members[i]->key()));
            out += ':';
            canonical_into(members[i]->value(), out);
        }
        out += '}';
    } else if (const auto* a = v.if_array()) {
        out += '[';
        for (std::size_t i = 0; i < a->size(); ++i) {
            if (i) out += ',';
            canonical_into((*a)[i], out);
        }
        out += ']';
    } else {
        out += json::serialize(v);
    }
}

// A UUID that is always the same for `seed` (ids of categories, of API keys).
std::string stable_uuid(std::string_view seed) {
    std::mt19937_64 g(std::hash<std::string_view>{}(seed));
    return sim_state::uuid(g);
}

// When component `i` last changed at `t` (its finish or failure; its item's creation before that).
item::clock::time_point component_changed(const item& it, std::size_t i, component_status s) {
    if (s == component_status::complete) return it.done_at[i];
    if (s == component_status::failed) return it.done_at[it.fail_index];
    return it.created;
}

}  // namespace

std::string canonical_json(const json::value& v) {
    std::string out;
    canonical_into(v, out);
    return out;
}

item& content_store::create(const std::string& owner, const json::object& body,
                            clock::time_point now) {
    auto it = std::make_unique<item>();
    it->id = st_.uuid();
    it->owner = owner;
    it->seq = items_.size() + 1;
    it->fingerprint = canonical_json(body);
    it->ideacloud_id = string_or(body, "ideacloud_id", "");
    it->article_type = string_or(body, "article_type", "basic");
    it->mode = string_or(body, "mode", "simple");
    it->content_intent = string_or(body, "content_intent", "general");
    it->title =
        string_or(body, "title",
                  "Simulated " + it->article_type + " article " + it->ideacloud_id.substr(0, 8));
    it->created = now;
    it->created_wall = std::chrono::system_clock::now();
    ++st_.counters.hrizn.items_created;
    item& ref = *it;
    by_id_.emplace(ref.id, &ref);
    items_.push_back(std::move(it));
    if (ref.mode != "interactive") start_generation(ref, now);
    return ref;
}

void content_store::start_generation(item& it, clock::time_point now) {
    std::uniform_real_distribution<double> jitter(0.75, 1.25), unit(0, 1);
    const double total_s = st_.opt.hrizn.gen_seconds * jitter(st_.run_rng);
    it.generation_started = now;
    const std::size_t n = it.done_at.size();
    for (std::size_t i = 0; i < n; ++i)
        it.done_at[i] =
            now + st_.real(total_s * static_cast<double>(i + 1) / static_cast<double>(n));
    it.fails = unit(st_.run_rng) < st_.faults.fail_rate;
    it.fail_index = static_cast<std::size_t>(st_.run_rng() % n);
    auto& c = st_.counters.hrizn;
    ++c.generations;
    if (!generated_.insert(it.owner + "\n" + it.fingerprint).second) ++c.duplicate_generations;
    if (on_generation) on_generation(it);
}

item* content_store::find(std::string_view id, const std::string& owner) {
    auto it = by_id_.find(std::string(id));
    return it == by_id_.end() || it->second->owner != owner ? nullptr : it->second;
}

std::vector<const item*> content_store::list(const std::string& owner,
                                             std::string_view article_type, std::uint64_t before,
                                             std::size_t limit, std::size_t& total) const {
    std::vector<const item*> out;
    total = 0;
    for (auto it = items_.rbegin(); it != items_.rend(); ++it) {
        const item& x = **it;
        if (x.owner != owner || (!article_type.empty() && x.article_type != article_type)) continue;
        ++total;
        if (x.seq < before && out.size() < limit) out.push_back(&x);
    }
    return out;
}

std::string content_store::wall(const item& it, clock::time_point t) const {
    return iso_micros(
        it.created_wall +
        std::chrono::duration_cast<std::chrono::system_clock::duration>(t - it.created));
}

json::object content_store::to_json(const item& it, clock::time_point now) const {
    json::array components;
    for (std::size_t i = 0; i < component_types.size(); ++i) {
        const auto s = it.component_at(i, now);
        components.emplace_back(
            json::object{{"type", component_types[i]},
                         {"status", to_string(s)},
                         {"updated_at", wall(it, component_changed(it, i, s))}});
    }
    const auto status = it.status_at(now);
    json::object o{
        {"id", it.id},
        {"title", it.title},
        {"status", to_string(status)},
        {"article_type", it.article_type},
        {"category",
         {{"id", stable_uuid("category:" + it.article_type)},
          {"name", "Simulated " + it.article_type}}},
        {"ideacloud",
         {{"id", it.ideacloud_id},
          {"keyword", "simulated keyword " + it.ideacloud_id.substr(0, 8)}}},
        {"metadata",
         {{"source", "public_api"},
          // An id for the key, never the key: the key is a secret.
          {"api_key_id", stable_uuid("key:" + it.owner)},
          {"api_creator_label", "briefsim"},
          {"outputFormat", "html"},
          {"visualDesignMode", "standard"}}},
        {"components", std::move(components)},
        {"created_at", iso_micros(it.created_wall)},
        {"updated_at", wall(it, it.updated_at(now))},
        {"content_intent", it.content_intent},
        {"target_audience", "Simulated shoppers"},
        {"funnel_stage", "consideration"},
        {"content_lifespan", "evergreen"},
        {"search_intent_type", "informational"},
    };
    if (status == item_status::failed) o["error"] = "Simulated generation failure (--fail-rate)";
    return o;
}

json::array content_store::components_json(const item& it, clock::time_point now) const {
    json::array out;
    for (std::size_t i = 0; i < component_types.size(); ++i) {
        const auto s = it.component_at(i, now);
        json::value content = nullptr;
        if (s == component_status::complete) {
            const std::string_view type = component_types[i];
            if (type == "body")
                content = html(it);
            else if (type == "searchIntent")
                content = {{"type", "informational"}, {"keyword", it.title}};
            else if (type == "imagePrompt")
                content = "A photo for: " + it.title;
            else if (type == "seoMetadata")
                content = {{"meta_title", it.title.substr(0, 60)},
                           {"meta_description", "Simulated description of " + it.title},
                           {"keywords", json::array{"simulated", it.article_type}}};
            else
                content = "Read our new article: " + it.title;
        }
        out.emplace_back(json::object{{"type", component_types[i]},
                                      {"status", to_string(s)},
                                      {"content", std::move(content)},
                                      {"updated_at", wall(it, component_changed(it, i, s))}});
    }
    return out;
}

std::string content_store::html(const item& it) const {
    const std::string title = escape_html(it.title);
    return "<article><h1>" + title + "</h1>\n<p>Simulated " + escape_html(it.article_type) +
           " article for ideacloud " + escape_html(it.ideacloud_id) +
           ".</p>\n<h2>Overview</h2>\n<p>" + title +
           " explained, with questions answered.</p>\n</article>\n";
}

}  // namespace briefd::sim::hrizn
