// Filing: where a brief ends (DESIGN §3). A finished job's manifest is written, then its brief
// moves from active/ to done/ (every item completed) or to failed/ beside <name>.error.json, then
// its state file goes. A refused brief (invalid, unreadable, not a regular file, too large) goes
// to failed/ with its problems, from incoming/ or active/.
//
// Plain synchronous file operations with the durability of store/atomic_file.hpp: each step is
// durable before the next begins, and a failed step leaves the brief where it was, so the caller
// may simply try again. The directory fsyncs of a brief's move (done/ or failed/, then active/ or
// incoming/) and of a new outputs/<job>/ (outputs/) are shared with the filings that run at the
// same moment on other threads (store/dir_sync.hpp): each call still returns only after fsyncs
// that began after its own changes. The manifest's fsync of outputs/<job>/ is also what makes
// the outputs' names durable (downloads rename them in without one), before the brief moves. The
// engine decides when to retry, what pauses intake and what to count in its metrics; the filer
// keeps the spool's name index current and counts what it filed.
#pragma once

#include "brief/brief.hpp"
#include "core/log.hpp"
#include "jobs/job.hpp"
#include "spool/spool.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace briefd::pipeline {

/// What one filing operation did.
struct filed {
    std::error_code ec;      ///< set: nothing was filed; the brief is still where it was
    std::string final_name;  ///< the brief's name in done/ or failed/ ("name-2.json" when taken)
    std::vector<std::string> taken;  ///< the spool names it created (for the name index)
};

class filer {
  public:
    /// `names` (the intake's index of taken spool names) gets every name filed here, so later job
    /// ids and suffixes avoid them without a scan. It must outlive the filer.
    filer(spool::layout layout, spool::name_index& names, logger& log);

    /// Writes failed/<name>.error.json (`error_text`, atomically) under the name the brief will
    /// most likely get, then moves `from` into failed/ (durable, never replacing; suffixed when
    /// the name is taken, the error file then renamed to match). A crash in between never leaves
    /// a failed brief without its reason. On error the error file is removed and `from` stays.
    /// When failed/ already holds `name` or its error file (a brief of that name failed before),
    /// that error file is left alone: the brief moves first (suffixed), then its error file is
    /// written under the name it got; a crash in between leaves this one without its reason.
    filed file_failed(const std::filesystem::path& from, const std::string& name,
                      const std::string& error_text);

    /// file_failed() with an error file that lists `problems` ("status": "invalid", "failed_at":
    /// `now`, Unix seconds), logged as brief.refused. When it cannot be filed it is logged
    /// (brief.file_failed) and left where it is: a brief in incoming/ is refused again on the
    /// next scan, one in active/ at the next start.
    /// `status` replaces "invalid" for a brief refused for another reason (recovery's "orphaned").
    filed refuse(const std::filesystem::path& from, const std::string& name,
                 const std::vector<brief::problem>& problems, std::int64_t now,
                 std::string_view status = "invalid");

    /// Files a finished job (`rec.complete()`): `outputs_dir` created (0750) with manifest.json
    /// (atomic), then the brief moved from active/ to done/ when its overall status is
    /// "completed", else to failed/ with jobs::error_json(rec) (file_failed()), then its state
    /// file removed and active/ fsynced. On error nothing after the failed step happened and the
    /// state file stays, so a retry (or recovery after a crash) files it again; a crash after the
    /// move leaves a state file whose brief is gone, which recovery removes.
    filed file_job(const jobs::job_record& rec, const std::filesystem::path& outputs_dir,
                   std::int64_t now);

    /// file_job() in two halves, so that the blocking half can run off the event loop:
    /// file_job_io() does the disk work (manifest, the brief's move, its error file, each durable
    /// as above) and touches nothing else — safe on any thread while the loop uses this filer;
    /// it leaves the state file to the caller (the engine removes it through its state writer).
    /// note_filed(), back on the loop, records what it created in the name index and counts it.
    filed file_job_io(const jobs::job_record& rec, const std::filesystem::path& outputs_dir,
                      std::int64_t now) const;
    void note_filed(const filed& r, bool completed);

    /// Briefs filed to done/, and to failed/ (failed jobs and refused briefs), since start.
    std::size_t done() const noexcept { return done_; }
    std::size_t failed() const noexcept { return failed_; }

  private:
    /// file_failed() without the name index: safe on any thread.
    filed file_failed_io(const std::filesystem::path& from, const std::string& name,
                         const std::string& error_text) const;

    spool::layout layout_;
    spool::name_index& names_;
    logger& log_;
    std::size_t done_ = 0;
    std::size_t failed_ = 0;
};

}  // namespace briefd::pipeline
