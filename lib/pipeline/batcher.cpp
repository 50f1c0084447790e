#include "pipeline/batcher.hpp"

#include <algorithm>
#include <utility>

namespace briefd::pipeline {

batcher::batcher(std::size_t max_items, clock::duration linger)
    : max_items_(1), linger_(clock::duration::zero()) {
    set_limits(max_items, linger);
}

void batcher::set_limits(std::size_t max_items, clock::duration linger) {
    max_items_ = std::max<std::size_t>(1, max_items);
    linger_ = std::max(linger, clock::duration::zero());
}

void batcher::add(batch_item it, clock::time_point now) {
    auto key = it.group_key;
    groups_[std::move(key)].push_back(entry{std::move(it), now, next_seq_++});
    ++pending_;
}

std::vector<batch> batcher::take_ready(clock::time_point now, bool flush_all) {
    struct ready {
        clock::time_point first_added;
        std::uint64_t first_seq;
        batch b;
    };
    std::vector<ready> out;

    for (auto g = groups_.begin(); g != groups_.end();) {
        auto& q = g->second;
        // Cut full batches first; then the remainder goes only once its oldest item has lingered.
        // All items of a group that lingered go, however many: holding some back would let them
        // wait past their linger.
        while (!q.empty()) {
            const bool full = q.size() >= max_items_;
            const bool lingered = flush_all || now - q.front().added >= linger_;
            if (!full && !lingered) break;
            const std::size_t n = std::min(q.size(), max_items_);
            ready r{q.front().added, q.front().seq, batch{g->first, {}}};
            r.b.items.reserve(n);
            for (std::size_t i = 0; i < n; ++i) {
                r.b.items.push_back(std::move(q.front().item));
                q.pop_front();
            }
            pending_ -= n;
            out.push_back(std::move(r));
        }
        g = q.empty() ? groups_.erase(g) : std::next(g);
    }

    // Oldest first, so a busy group can't keep pushing a quiet group's batch to the back.
    std::sort(out.begin(), out.end(), [](const ready& a, const ready& b) {
        return a.first_added != b.first_added ? a.first_added < b.first_added
                                              : a.first_seq < b.first_seq;
    });
    std::vector<batch> batches;
    batches.reserve(out.size());
    for (auto& r : out) batches.push_back(std::move(r.b));
    return batches;
}

std::optional<clock::time_point> batcher::next_deadline() const {
    std::optional<clock::time_point> best;
    for (const auto& [key, q] : groups_) {
        if (q.empty()) continue;
        // A full group is ready now: its oldest add time is in the past, which says exactly that.
        const auto t = q.size() >= max_items_ ? q.front().added : q.front().added + linger_;
        if (!best || t < *best) best = t;
    }
    return best;
}

std::size_t batcher::remove_job(std::string_view job_id) {
    std::size_t removed = 0;
    for (auto g = groups_.begin(); g != groups_.end();) {
        auto& q = g->second;
        const auto before = q.size();
        q.erase(std::remove_if(q.begin(), q.end(),
                               [&](const entry& e) { return e.item.job_id == job_id; }),
                q.end());
        removed += before - q.size();
        g = q.empty() ? groups_.erase(g) : std::next(g);
    }
    pending_ -= removed;
    return removed;
}

}  // namespace briefd::pipeline
