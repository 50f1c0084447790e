// Hrizn content items (PROVIDERS §2.2-2.3). An item belongs to the API key that created it. A
// simple-mode item starts generating when it is created; an interactive one waits in
// `awaiting_input` until POST /content/{id}/generate. Once generating, its five components finish
// one after another and the item ends `complete`, or `failed` (a seeded share: the fail-rate
// fault) when one component fails. Like Lamina runs, an item's state is a pure function of the
// clock once its generation has started: no timers.
#pragma once

#include "../state.hpp"

#include <boost/json.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace briefd::sim::hrizn {

/// The component types of an article, in the order they finish.
inline constexpr std::array<std::string_view, 5> component_types = {
    "body", "searchIntent", "imagePrompt", "seoMetadata", "facebookSnip"};

enum class item_status { awaiting_input, generating, complete, failed };
enum class component_status { pending, generating, complete, failed };

std::string_view to_string(item_status s) noexcept;
std::string_view to_string(component_status s) noexcept;

struct item {
    using clock = std::chrono::steady_clock;

    std::string id;
    std::string owner;      ///< the API key that created it (its site)
    std::uint64_t seq = 0;  ///< creation order: the list is newest first
    std::string
        fingerprint;  ///< canonical create body: the same body generated twice is a duplicate
    std::string ideacloud_id, article_type, title, mode, content_intent;
    std::chrono::system_clock::time_point created_wall;
    clock::time_point created;
    std::optional<clock::time_point> generation_started;  ///< none while awaiting_input
    std::array<clock::time_point, component_types.size()> done_at{};
    bool fails = false;
    std::size_t fail_index = 0;  ///< this component fails; the item fails with it

    item_status status_at(clock::time_point t) const;
    component_status component_at(std::size_t i, clock::time_point t) const;
    /// The last time before `t` anything about the item changed.
    clock::time_point updated_at(clock::time_point t) const;
};

class content_store {
  public:
    using clock = std::chrono::steady_clock;

    explicit content_store(sim_state& st) : st_(st) {}

    /// Creates an item from a validated create body owned by `owner`; simple mode starts
    /// generating.
    item& create(const std::string& owner, const boost::json::object& body, clock::time_point now);
    /// Moves an awaiting_input item to generating: draws its timing and fate; counts the
    /// generation and, if the owner generated the same body before, a duplicate.
    void start_generation(item& it, clock::time_point now);
    /// The item with `id` owned by `owner`; none for an unknown id or another key's item.
    item* find(std::string_view id, const std::string& owner);
    /// `owner`'s items, newest first, with sequence numbers below `before`, optionally of one
    /// article type; at most `limit`. `total` gets the number of matching items over all pages.
    std::vector<const item*> list(const std::string& owner, std::string_view article_type,
                                  std::uint64_t before, std::size_t limit,
                                  std::size_t& total) const;

    /// GET /content/{id}'s `data`.
    boost::json::object to_json(const item& it, clock::time_point now) const;
    /// GET /content/{id}/components's `data`: every component with its content once complete.
    boost::json::array components_json(const item& it, clock::time_point now) const;
    /// The rendered article (an HTML fragment).
    std::string html(const item& it) const;

    std::size_t size() const noexcept { return items_.size(); }

    /// Called when an item starts generating (sim/webhooks watches it).
    std::function<void(item&)> on_generation;

  private:
    std::string wall(const item& it, clock::time_point t) const;
    sim_state& st_;
    std::vector<std::unique_ptr<item>> items_;  ///< creation order
    std::unordered_map<std::string, item*> by_id_;
    std::set<std::string> generated_;  ///< owner + fingerprint of every generation started
};

/// Hrizn's timestamp form, with microseconds and an offset: 2026-02-28T11:41:46.114731+00:00.
std::string iso_micros(std::chrono::system_clock::time_point tp);

/// `v` serialized with object members sorted by key at every level: equal JSON, equal text.
std::string canonical_json(const boost::json::value& v);

}  // namespace briefd::sim::hrizn
