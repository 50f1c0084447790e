// Layers projects, jobs and content containers (PROVIDERS §3.2-3.4). A generate request makes one
// job and one container per variant. A job runs through its stages (queued, planning,
// generating_visuals, assembling, finalizing) and ends completed, failed (a seeded share: the
// fail-rate fault; it fails at the end of generating_visuals) or canceled (only through the
// control endpoint: the API has no documented cancel). Like Lamina runs and Hrizn items, a job's
// state is a pure function of the clock: no timers.
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

namespace briefd::sim::layers {

/// Well-known project ids: every other UUID is a project with one content layer.
inline constexpr std::string_view missing_project = "00000000-0000-4000-8000-000000000404";
inline constexpr std::string_view two_layer_project = "00000000-0000-4000-8000-000000000002";
inline constexpr std::string_view approval_project = "00000000-0000-4000-8000-000000000003";
/// The content layers of two_layer_project (the 409 CONFLICT candidates).
inline constexpr std::array<std::string_view, 2> two_layers = {"lyr_01HXSOCIALCONTENT0000000",
                                                               "lyr_02HXMANAGEDUGC0000000000"};

inline constexpr std::array<std::string_view, 5> stages = {
    "queued", "planning", "generating_visuals", "assembling", "finalizing"};

enum class job_status { running, completed, failed, canceled };
std::string_view to_string(job_status s) noexcept;

struct asset {
    std::string id;    ///< ast_...
    std::string kind;  ///< video | image
    std::string ext;   ///< mp4 | png
    std::string mime;
    std::uint64_t seed = 0;
    std::uint64_t size = 0;  ///< filled in when the container is first shown
    std::string sha256;      ///< lower-case hex, likewise
    unsigned downloads = 0;  ///< GETs served so far
};

struct job;

struct container {
    std::string id;  ///< cnt_... or the caller's `id` (a bare UUID)
    std::string project_id, format, hook, caption;
    std::uint64_t seq = 0;  ///< creation order: the list is newest first
    job* owner = nullptr;
    std::string approval;  ///< not_required | pending | approved | rejected
    std::vector<asset> assets;
    std::chrono::system_clock::time_point created_wall;
};

struct job {
    using clock = std::chrono::steady_clock;

    std::string id;  ///< job_...
    std::string project_id, format;
    clock::time_point created;
    std::chrono::system_clock::time_point created_wall;
    std::array<clock::time_point, stages.size()> stage_end{};  ///< the last one is the finish
    bool fails = false;
    std::optional<clock::time_point> canceled_at;
    std::vector<container*> containers;

    job_status status_at(clock::time_point t) const;
    /// When it stopped running (none while running at `t`).
    std::optional<clock::time_point> ended_at(clock::time_point t) const;
    std::size_t stage_at(clock::time_point t) const;
    /// Share of the run done, in steps of 0.05 (so an unchanged job keeps its ETag a while).
    double progress_at(clock::time_point t) const;
};

class store {
  public:
    using clock = std::chrono::steady_clock;
    /// Fills in an asset's size and checksum (the files origin's bytes).
    using measure_fn = std::function<void(asset&)>;

    store(sim_state& st, measure_fn measure) : st_(st), measure_(std::move(measure)) {}

    /// Starts a job of `variants` containers for a validated generate body; the first container
    /// takes `first_id` when set. Counts a duplicate when the project had this body before.
    job& create(const std::string& project, const boost::json::object& body, unsigned variants,
                const std::string& first_id, clock::time_point now);
    job* find_job(std::string_view id);
    /// By `cnt_` id or the caller's bare UUID id.
    container* find_container(std::string_view id);
    /// Jobs running at `now`; `soonest` gets the time until the first of them ends.
    std::size_t running(clock::time_point now, clock::duration* soonest = nullptr) const;
    /// Cancels a running job; false when it is not running.
    bool cancel(job& j, clock::time_point now);

    /// `project`'s containers newest first, seq below `before`, status and since filters.
    std::vector<container*> list(std::string_view project, std::string_view status,
                                 std::optional<std::chrono::system_clock::time_point> since,
                                 std::uint64_t before, std::size_t limit);

    boost::json::object job_json(const job& j, clock::time_point now);
    boost::json::object container_json(container& c, clock::time_point now);
    std::string_view container_status(const container& c, clock::time_point now) const;

    std::size_t job_count() const noexcept { return jobs_.size(); }

    /// Called for every job created, and for every job cancelled (sim/webhooks watches them).
    std::function<void(job&)> on_job, on_cancel;

  private:
    boost::json::array assets_json(container& c);
    std::string wall(const job& j, clock::time_point t) const;
    sim_state& st_;
    measure_fn measure_;
    std::vector<std::unique_ptr<job>> jobs_;
    std::vector<std::unique_ptr<container>> containers_;
    std::unordered_map<std::string, job*> jobs_by_id_;
    std::unordered_map<std::string, container*> containers_by_id_;
    std::set<std::string> generated_;  ///< project + canonical body of every job started
};

/// A Crockford base-32 ULID-like id with `prefix` (job_, cnt_, ast_, req_) from `g`.
std::string prefixed_id(std::string_view prefix, std::mt19937_64& g);

/// Layers' timestamp form: 2026-11-30T11:51:02.123Z.
std::string iso_millis(std::chrono::system_clock::time_point tp);
/// Parses an ISO 8601 UTC timestamp (YYYY-MM-DDTHH:MM:SS[.fff](Z|+00:00)); none when malformed.
std::optional<std::chrono::system_clock::time_point> parse_iso(std::string_view s);

}  // namespace briefd::sim::layers
