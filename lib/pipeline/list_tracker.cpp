#include "pipeline/list_tracker.hpp"

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
    runs_.emplace(run_id, 0);
}

void list_tracker::remove(const std::string& run_id) {
    runs_.erase(run_id);
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
        out.seen.push_back(r);
    }
    auto max_pages =
        (runs_.size() + cfg_.page_limit - 1) / std::max<std::size_t>(cfg_.page_limit, 1) + 1;
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
