#include "pipeline/list_tracker.hpp"

#include <utility>

namespace briefd::pipeline {

bool children_settled(const std::vector<std::optional<providers::run_phase>>& phases) {
    bool all_ended = !phases.empty();
    for (const auto& p : phases) {
        if (p == providers::run_phase::failed || p == providers::run_phase::cancelled) return true;
        if (!p || !providers::is_terminal(*p)) all_ended = false;
    }
    return all_ended;
}

void list_tracker::add(const std::string& run_id) {
    if (runs_.emplace(run_id, 0).second) ++added_;
}

void list_tracker::remove(const std::string& run_id) {
    runs_.erase(run_id);
    last_page_.erase(run_id);
    unseen_.erase(run_id);
    std::erase(overdue_, run_id);
}

std::optional<clock::time_point> list_tracker::next_sweep() const {
    if (runs_.empty() || in_sweep_) return std::nullopt;
    if (!started_once_) return clock::time_point::min();
    return last_start_ + cfg_.interval;
}

std::string list_tracker::begin_sweep(clock::time_point now) {
    in_sweep_ = true;
    started_once_ = true;
    last_start_ = now;
    pages_this_sweep_ = 0;
    sweep_added_ = std::exchange(added_, 0);
    ++sweeps_;
    unseen_.clear();
    for (const auto& [id, misses] : runs_) unseen_.insert(id);
    return {};
}

list_tracker::page_outcome list_tracker::on_page(const providers::list_page& page) {
    page_outcome out;
    if (!in_sweep_) return out;
    ++pages_;
    ++pages_this_sweep_;
    for (const auto& r : page.runs) {
        auto it = runs_.find(r.run_id);
        if (it == runs_.end()) continue;
        if (unseen_.erase(r.run_id) == 0)
            continue;  // a run shown twice (the list moved): once is enough
        it->second = 0;
        last_page_[r.run_id] = pages_this_sweep_;
        out.seen.push_back(r);
    }
    const auto per_page = std::max<std::size_t>(cfg_.page_limit, 1);
    auto max_pages = (runs_.size() + per_page - 1) / per_page + 1;
    if (unseen_.size() >= std::max(cfg_.miss_limit, 1u)) {
        // Where the unseen runs were last seen, sunk by our runs created since (other clients'
        // content is not known: the +1 page covers a little of it).
        std::size_t deepest = 0;
        for (const auto& id : unseen_)
            if (auto p = last_page_.find(id); p != last_page_.end())
                deepest = std::max(deepest, p->second);
        if (deepest)
            max_pages = std::max(max_pages, deepest + (sweep_added_ + per_page - 1) / per_page + 1);
    }
    if (!unseen_.empty() && page.has_more && !page.next_cursor.empty() &&
        pages_this_sweep_ < max_pages)
        out.next_cursor = page.next_cursor;
    else
        end_sweep();
    return out;
}

void list_tracker::on_page_failed() {
    if (in_sweep_) end_sweep();
}

void list_tracker::end_sweep() {
    in_sweep_ = false;
    for (const auto& id : unseen_) {
        auto it = runs_.find(id);
        if (it == runs_.end()) continue;
        if (++it->second >= cfg_.miss_limit) {
            it->second = 0;
            overdue_.push_back(id);
        }
    }
    unseen_.clear();
}

std::vector<std::string> list_tracker::take_overdue() {
    return std::exchange(overdue_, {});
}

}  // namespace briefd::pipeline
