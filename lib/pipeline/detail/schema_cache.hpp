// App input schemas (GET /v1/apps/{appId}), cached per provider across briefs: the decisions of
// get_schema/validate_inputs (submission.cpp), without I/O. Private to lib/pipeline.
//
// How long a cached schema is trusted. PROVIDERS.md §1.11 documents the schema endpoint and
// nothing about how often an app's parameters change (no ETag, no Cache-Control, no version).
// So the cache is never the last word on refusing or rejecting an item:
//   - before a brief is refused on a cached schema, the schema is fetched again (at most once per
//     `recheck` per app, so a flood of bad briefs cannot become a flood of schema requests);
//   - a run POST answered 400 (VALIDATION_ERROR, §1.7) refetches it the same way, so a schema the
//     cache accepted wrongly is replaced and the item gets the exact input that is wrong;
//   - otherwise a schema is used for `ttl` after its fetch (1 h by default: one request per app
//     per hour, which picks up additions such as new options or defaults within the hour).
#pragma once

#include "providers/provider.hpp"

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <string_view>

namespace briefd::pipeline::detail {

class schema_cache {
  public:
    using clock = std::chrono::steady_clock;
    static constexpr clock::duration default_ttl = std::chrono::hours(1);
    static constexpr clock::duration default_recheck = std::chrono::minutes(1);

    explicit schema_cache(clock::duration ttl = default_ttl,
                          clock::duration recheck = default_recheck)
        : ttl_(ttl), recheck_(recheck) {}

    /// The schema of `key` if one was fetched within ttl of `now`, else null.
    const providers::app_schema* fresh(std::string_view key, clock::time_point now) const {
        auto it = entries_.find(key);
        return it != entries_.end() && now - it->second.fetched < ttl_ ? &it->second.schema
                                                                       : nullptr;
    }
    /// True when a cached schema that says an item is wrong should be fetched again before the
    /// item is refused or failed: none is cached, or it was fetched `recheck` or more ago.
    bool worth_recheck(std::string_view key, clock::time_point now) const {
        auto it = entries_.find(key);
        return it == entries_.end() || now - it->second.fetched >= recheck_;
    }
    void store(std::string key, providers::app_schema s, clock::time_point now) {
        entries_.insert_or_assign(std::move(key), entry{std::move(s), now});
    }

    // One fetch per app at a time: a burst of briefs for the same app waits for the first
    // fetch instead of sending its own (begin_fetch false: another is in flight).
    bool begin_fetch(const std::string& key) { return in_flight_.insert(key).second; }
    void end_fetch(const std::string& key) { in_flight_.erase(key); }
    bool fetching(std::string_view key) const { return in_flight_.find(key) != in_flight_.end(); }

    std::size_t size() const noexcept { return entries_.size(); }

  private:
    struct entry {
        providers::app_schema schema;
        clock::time_point fetched;
    };
    clock::duration ttl_, recheck_;
    std::map<std::string, entry, std::less<>> entries_;
    std::set<std::string, std::less<>> in_flight_;
};

}  // namespace briefd::pipeline::detail
