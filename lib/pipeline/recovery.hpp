// Recovery: what the last process left in active/, read once at start (DESIGN §8). A plain
// function over the spool that returns a value — the jobs to resume, the briefs claimed without
// a state, the index of taken names — which the engine adopts; no event loop, no engine.
#pragma once

#include "brief/brief.hpp"
#include "core/log.hpp"
#include "jobs/job.hpp"
#include "spool/spool.hpp"

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace briefd::pipeline {

/// A job found in active/ beside its brief.
struct recovered_job {
    jobs::job_record rec;
    /// Re-read from active/; no items when it became unreadable or invalid. Its items no longer
    /// matching rec's means its pending items were failed and nothing may need its data.
    brief::brief_file brief;
    bool brief_lost() const { return brief.items.size() != rec.items.size(); }
};

struct recovery_result {
    spool::name_index names;             ///< every job id and name taken in the spool
    std::vector<recovered_job> jobs;     ///< in the order of their state files' names
    std::vector<std::string> unclaimed;  ///< briefs in active/ without a state file: claimed
                                         ///< just before a crash, to be adopted by intake
    /// Briefs in active/ whose job state was corrupt (brief name, job id). Some of their items may
    /// have been sent, so they are never claimed again: the engine files them to failed/.
    std::vector<std::pair<std::string, std::string>> orphaned;
    /// Items by what they need next, for the recovery.done log line.
    std::size_t retrack = 0, redownload = 0, pending = 0, uncertain = 0;
};

struct recovery_options {
    std::size_t max_brief_bytes = 0;
    std::string default_provider;
    /// Called before each step ("spool", "jobs", "unclaimed") and after every 64 job records read
    /// (`done` counts them); may be empty.
    std::function<void(std::string_view step, std::size_t done)> progress;
};

/// Reads and parses <dir>/<name>, opened without following links and checked to be a regular
/// file within `max_brief_bytes`. A file that can never be read as a brief (a FIFO, a device,
/// too large) parses as one "file" problem; nullopt, with `why`, when it is gone or reading
/// failed in a way that may pass (EIO, EMFILE…). Blocks; safe on any thread.
std::optional<brief::parse_result> read_brief(const std::filesystem::path& dir,
                                              const std::string& name, std::size_t max_brief_bytes,
                                              const std::string& default_provider,
                                              std::string& why);

/// Reads active/: every <job>.state.json with its brief. Blocks on file I/O (call it before the
/// event loop serves anything). What it changes on disk, each safe to redo after another crash:
/// a corrupt state is renamed aside (<file>.corrupt), and the brief without a state whose name
/// gives that job id (job_stem, or job_stem-N) is listed in `orphaned`, not `unclaimed`, so
/// nothing it sent is sent again; a state whose brief is gone (filed just before the
/// crash) is removed; partial downloads in outputs/<job>/ and stale temps in active/, done/ and
/// failed/ are removed. A brief that changed or became unreadable fails its pending items (the
/// error says why). Logs recovery.* events. Throws std::system_error when the spool cannot be
/// listed.
recovery_result recover_spool(const spool::layout& layout, const recovery_options& opt,
                              logger& log);

}  // namespace briefd::pipeline
