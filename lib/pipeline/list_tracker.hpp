// list_tracker: follows many runs of one provider with one list request instead of one status
// request per run (Hrizn: GET /content shows every article's status, newest first, 100 a page).
// Sans-I/O, like tracker_fsm: it decides which page to ask for next and which runs need a
// request of their own; the driver (list_tracking.cpp) sends them through the scheduler.
//
// A sweep starts every `interval` while runs are tracked. It asks for the first page, and for the
// next one while tracked runs are still unseen, the list has more, and fewer than
// ceil(tracked / page) + 1 pages were read (our runs are among the newest, so this bounds a sweep
// even when other clients of the same account add content). Past that bound it goes on only to
// where an unseen run was last seen plus the pages our own newer runs pushed it down, and only
// while at least `miss_limit` runs are unseen (a page is then no dearer than their own requests):
// at the end of a big batch the slowest runs sit under hundreds of finished ones, and the bound
// alone missed them every sweep. A run that is missing from
// `miss_limit` sweeps in a row (deep in a busy list, or a list that does not show it) gets one
// status request of its own, then goes back to the list. A failed page ends the sweep; the runs
// it did not show count a miss.
#pragma once

#include "providers/provider.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace briefd::pipeline {

using clock = std::chrono::steady_clock;

struct list_tracker_config {
    clock::duration interval = std::chrono::seconds(15);  ///< between the starts of two sweeps
    std::size_t page_limit = 100;                         ///< runs per page asked for
    unsigned miss_limit = 2;  ///< sweeps a run may be missing before its own poll
};

/// For a run followed through its children (provider::list_shows_children(): Layers jobs through
/// their containers), given each child's phase as the list last showed it (nullopt: not shown
/// yet): true when the run's own status request is due, i.e. every child shows an end, or one
/// shows failed or cancelled (the job may have ended without the others). False with no children.
bool children_settled(const std::vector<std::optional<providers::run_phase>>& phases);

class list_tracker {
  public:
    explicit list_tracker(list_tracker_config cfg) : cfg_(cfg) {}

    void set_config(list_tracker_config cfg) { cfg_ = cfg; }
    /// Starts following `run_id` (its first sweep is the next one).
    void add(const std::string& run_id);
    /// Stops following it (it reached a terminal phase, or its job went away).
    void remove(const std::string& run_id);
    bool tracking(const std::string& run_id) const { return runs_.count(run_id) != 0; }
    std::size_t size() const noexcept { return runs_.size(); }

    /// When the next sweep may start: nullopt while nothing is tracked.
    std::optional<clock::time_point> next_sweep() const;

    /// Starts a sweep at `now`: the cursor of the first page ("" = newest).
    std::string begin_sweep(clock::time_point now);

    struct page_outcome {
        std::vector<providers::run_view> seen;  ///< tracked runs this page showed
        std::optional<std::string>
            next_cursor;  ///< ask for this page next; nullopt: the sweep is over
    };
    /// A page of the sweep arrived.
    page_outcome on_page(const providers::list_page& page);
    /// A page request failed: the sweep is over.
    void on_page_failed();

    /// After a sweep ended: the runs that need a status request of their own now. Their miss count
    /// is reset (they go back to the list after that request).
    std::vector<std::string> take_overdue();

    /// Sweeps started and pages read so far (for figures).
    std::uint64_t sweeps() const noexcept { return sweeps_; }
    std::uint64_t pages() const noexcept { return pages_; }

  private:
    void end_sweep();

    list_tracker_config cfg_;
    std::map<std::string, unsigned> runs_;  ///< run id → consecutive sweeps it was missing from
    std::map<std::string, std::size_t> last_page_;  ///< run id → the page it was last seen on
    std::size_t added_ = 0;                         ///< runs added since the current sweep began
    std::size_t sweep_added_ = 0;           ///< runs added between the last two sweep starts
    std::set<std::string> unseen_;          ///< during a sweep: tracked runs not yet seen
    bool in_sweep_ = false;
    std::size_t pages_this_sweep_ = 0;
    clock::time_point last_start_{};
    bool started_once_ = false;
    std::vector<std::string> overdue_;
    std::uint64_t sweeps_ = 0, pages_ = 0;
};

}  // namespace briefd::pipeline
