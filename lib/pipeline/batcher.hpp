// batcher: fans items from many brief files into requests of at most max_items, never mixing
// items that must not share a request (DESIGN §2). Pure logic with a caller-supplied clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace briefd::pipeline {

using clock = std::chrono::steady_clock;

/// One item of one brief, waiting for a request.
struct batch_item {
    std::string job_id;
    std::size_t item_index = 0;
    /// What must be shared by every item of a request: brandProfileId + '\n' + campaignId
    /// (the caller builds it). Items with different keys never share a batch.
    std::string group_key;
};

/// Items for one request: all of one group, FIFO, at most max_items.
struct batch {
    std::string group_key;
    std::vector<batch_item> items;
};

/// Groups items by key and releases a group when it fills up or its oldest item has lingered.
/// Not thread-safe: one owner (the pipeline strand) calls it.
///
/// Driver loop: add() items as briefs are validated; call take_ready(now) after adds and when the
/// timer set to next_deadline() fires; take_ready(now, true) on shutdown or when a flush is wanted.
class batcher {
  public:
    /// max_items is clamped to at least 1; a negative linger counts as zero.
    batcher(std::size_t max_items, clock::duration linger);

    /// Queues an item at the back of its group.
    void add(batch_item it, clock::time_point now);

    /// Batches that are full, or whose oldest item has waited >= linger, or all non-empty ones if
    /// `flush_all`. Full batches are cut off a group at once; a group's remainder (fewer than
    /// max_items) is released only when its oldest item has lingered. Batches come out oldest
    /// first (by their first item's add time).
    std::vector<batch> take_ready(clock::time_point now, bool flush_all = false);

    /// When take_ready next has something to release: the earliest linger expiry of any group, or
    /// a time <= now if a group is already full. nullopt when nothing is pending.
    std::optional<clock::time_point> next_deadline() const;

    /// Live reload: new limits apply from the next take_ready (a group now over max_items is full).
    void set_limits(std::size_t max_items, clock::duration linger);

    /// Items waiting, over all groups.
    std::size_t pending() const noexcept { return pending_; }

    /// Removes every pending item of a job (e.g. job cancelled/failed); returns how many were
    /// removed.
    std::size_t remove_job(std::string_view job_id);

  private:
    struct entry {
        batch_item item;
        clock::time_point added;
        std::uint64_t seq;  // add order across groups, to order output deterministically
    };

    std::size_t max_items_;
    clock::duration linger_;
    std::map<std::string, std::deque<entry>, std::less<>> groups_;
    std::size_t pending_ = 0;
    std::uint64_t next_seq_ = 0;
};

}  // namespace briefd::pipeline
