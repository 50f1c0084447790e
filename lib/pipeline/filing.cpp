// Filing: a finished job's manifest, its brief moved to done/ or failed/ (with its error file),
// and refused briefs.
#include "pipeline/filing.hpp"

#include "store/atomic_file.hpp"
#include "store/dir_sync.hpp"

#include <boost/json.hpp>

namespace briefd::pipeline {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

/// Makes a brief's move out of `from`'s directory into `to_dir` durable: `to_dir` first, then the
/// source (durable_rename's order: a crash in between leaves the brief in both places, never in
/// neither). Each fsync is shared with the filings of the same moment (store::dir_syncer).
std::error_code sync_move(const fs::path& to_dir, const fs::path& from) {
    if (auto ec = store::dir_syncer::of(to_dir).sync()) return ec;
    return store::dir_syncer::of(from.parent_path()).sync();
}

/// spool::file_brief() with its two directory fsyncs grouped across concurrent filings.
std::pair<std::error_code, std::string> file_brief_grouped(const spool::layout& layout,
                                                           const fs::path& from, spool::outcome o) {
    auto [ec, final_name] = spool::file_brief_deferred(layout, from, o);
    if (!ec) ec = sync_move(o == spool::outcome::done ? layout.done() : layout.failed(), from);
    return {ec, ec ? std::string{} : final_name};
}

/// file_failed_io() when failed/ holds the brief's name or its error file already.
filed file_failed_taken(const spool::layout& layout, logger& log, const fs::path& from,
                        const std::string& error_text) {
    // The name failed before, and the error file under it is that brief's: writing ours there
    // first would replace it. The brief moves first (suffixed), then its error file follows under
    // the name it got; a crash in between leaves this one brief without its reason.
    auto [ec, final_name] = file_brief_grouped(layout, from, spool::outcome::failed);
    if (ec) return {ec, {}, {}};
    filed r{{}, final_name, {final_name}};
    const auto err = spool::error_file_name(final_name);
    if (auto wec = store::write_file_atomic(layout.failed() / err, error_text))
        // Filed all the same: the brief cannot go back, and a retry would find it gone.
        log.error("brief.error_file_failed", {{"file", final_name}, {"error", wec.message()}});
    else
        r.taken.push_back(err);
    return r;
}

}  // namespace

filer::filer(spool::layout layout, spool::name_index& names, logger& log)
    : layout_(std::move(layout)), names_(names), log_(log) {}

filed filer::file_failed_io(const fs::path& from, const std::string& name,
                            const std::string& error_text) const {
    auto predicted = layout_.failed() / spool::error_file_name(name);
    std::error_code st_ec;
    if (fs::exists(fs::symlink_status(layout_.failed() / name, st_ec)) ||
        fs::exists(fs::symlink_status(predicted, st_ec)))
        return file_failed_taken(layout_, log_, from, error_text);
    // The error file is written first under the name the brief will most likely get, so a crash
    // in between never leaves a failed brief without its reason.
    if (auto ec = store::write_file_atomic(predicted, error_text)) return {ec, {}, {}};
    auto [ec, final_name] = spool::file_brief_deferred(layout_, from, spool::outcome::failed);
    std::error_code fs_ec;
    if (ec) {
        fs::remove(predicted, fs_ec);
        return {ec, {}, {}};
    }
    if (final_name != name)
        fs::rename(predicted, layout_.failed() / spool::error_file_name(final_name), fs_ec);
    // One fsync of failed/ (grouped) for the brief's move and its error file's rename.
    if (auto sec = sync_move(layout_.failed(), from)) return {sec, {}, {}};
    return {{}, final_name, {final_name, spool::error_file_name(final_name)}};
}

filed filer::file_failed(const fs::path& from, const std::string& name,
                         const std::string& error_text) {
    auto r = file_failed_io(from, name, error_text);
    for (const auto& n : r.taken) names_.add_spool_name(n);
    return r;
}

filed filer::refuse(const fs::path& from, const std::string& name,
                    const std::vector<brief::problem>& problems, std::int64_t now,
                    std::string_view status) {
    json::array list;
    for (const auto& p : problems) list.push_back(p.to_json());
    json::object err{
        {"file", name}, {"status", status}, {"failed_at", now}, {"problems", std::move(list)}};
    auto r = file_failed(from, name, jobs::to_text(std::move(err)));
    if (r.ec) {
        // Left where it is: a brief in incoming/ is refused again on the next scan, one in
        // active/ at the next start.
        log_.error("brief.file_failed", {{"file", name}, {"error", r.ec.message()}});
        return r;
    }
    ++failed_;
    log_.warning("brief.refused",
                 {{"file", name},
                  {"filed_as", r.final_name},
                  {"reason", problems.empty() ? "" : problems.front().to_string()}});
    return r;
}

filed filer::file_job_io(const jobs::job_record& rec, const fs::path& dir, std::int64_t now) const {
    // Made here when no output was saved into it (durably: outputs/ is fsynced when it is new,
    // that fsync shared with the jobs' made at the same moment). Opened once, never followed.
    auto [ec, out] = store::output_dir::open(dir, store::dir_syncer::of(dir.parent_path()));
    // The manifest's fsync of the directory, after its rename, is also the one that makes the
    // names of the outputs renamed into it durable (downloads do not fsync it): before the brief
    // moves, so a filed brief never lacks an output its manifest names.
    if (!ec) ec = out.write_file_atomic("manifest.json", jobs::manifest_json(rec, now));
    if (ec) return {ec, {}, {}};
    auto from = layout_.active() / rec.brief_name;
    if (rec.overall_status() != "completed")
        return file_failed_io(from, rec.brief_name, jobs::error_json(rec, now));
    auto [mec, final_name] = file_brief_grouped(layout_, from, spool::outcome::done);
    if (mec) return {mec, {}, {}};
    return {{}, final_name, {final_name}};
}

void filer::note_filed(const filed& r, bool completed) {
    if (r.ec) return;
    for (const auto& n : r.taken) names_.add_spool_name(n);
    ++(completed ? done_ : failed_);
}

filed filer::file_job(const jobs::job_record& rec, const fs::path& dir, std::int64_t now) {
    auto r = file_job_io(rec, dir, now);
    if (r.ec) return r;
    note_filed(r, rec.overall_status() == "completed");
    std::error_code rm;
    fs::remove(jobs::state_path(layout_.active(), rec.job_id), rm);
    store::fsync_dir(layout_.active());
    return r;
}

}  // namespace briefd::pipeline
