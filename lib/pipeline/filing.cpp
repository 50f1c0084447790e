// Filing: a finished job's manifest, its brief moved to done/ or failed/ (with its error file),
// and refused briefs.
#include "pipeline/filing.hpp"

#include "store/atomic_file.hpp"

#include <boost/json.hpp>

namespace briefd::pipeline {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

/// file_failed() when failed/ holds the brief's name or its error file already.
filed file_failed_taken(const spool::layout& layout, spool::name_index& names, logger& log,
                        const fs::path& from, const std::string& error_text) {
    // The name failed before, and the error file under it is that brief's: writing ours there
    // first would replace it. The brief moves first (suffixed), then its error file follows under
    // the name it got; a crash in between leaves this one brief without its reason.
    auto [ec, final_name] = spool::file_brief(layout, from, spool::outcome::failed);
    if (ec) return {ec, {}};
    names.add_spool_name(final_name);
    const auto err = spool::error_file_name(final_name);
    if (auto wec = store::write_file_atomic(layout.failed() / err, error_text))
        // Filed all the same: the brief cannot go back, and a retry would find it gone.
        log.error("brief.error_file_failed", {{"file", final_name}, {"error", wec.message()}});
    else
        names.add_spool_name(err);
    return {{}, final_name};
}

}  // namespace

filer::filer(spool::layout layout, spool::name_index& names, logger& log)
    : layout_(std::move(layout)), names_(names), log_(log) {}

filed filer::file_failed(const fs::path& from, const std::string& name,
                         const std::string& error_text) {
    auto predicted = layout_.failed() / spool::error_file_name(name);
    std::error_code st_ec;
    if (fs::exists(fs::symlink_status(layout_.failed() / name, st_ec)) ||
        fs::exists(fs::symlink_status(predicted, st_ec)))
        return file_failed_taken(layout_, names_, log_, from, error_text);
    // The error file is written first under the name the brief will most likely get, so a crash
    // in between never leaves a failed brief without its reason.
    if (auto ec = store::write_file_atomic(predicted, error_text)) return {ec, {}};
    auto [ec, final_name] = spool::file_brief(layout_, from, spool::outcome::failed);
    std::error_code fs_ec;
    if (ec)
        fs::remove(predicted, fs_ec);
    else if (final_name != name)
        fs::rename(predicted, layout_.failed() / spool::error_file_name(final_name), fs_ec);
    if (!ec)
        for (const auto& n : {final_name, spool::error_file_name(final_name)})
            names_.add_spool_name(n);
    return {ec, final_name};
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

filed filer::file_job(const jobs::job_record& rec, const fs::path& dir, std::int64_t now) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (!ec) fs::permissions(dir, fs::perms(0750), ec);
    if (!ec) ec = store::write_file_atomic(dir / "manifest.json", jobs::manifest_json(rec, now));
    if (ec) return {ec, {}};
    auto from = layout_.active() / rec.brief_name;
    const bool completed = rec.overall_status() == "completed";
    filed r;
    if (completed) {
        std::tie(r.ec, r.final_name) = spool::file_brief(layout_, from, spool::outcome::done);
        if (!r.ec) names_.add_spool_name(r.final_name);
    } else {
        r = file_failed(from, rec.brief_name, jobs::error_json(rec, now));
    }
    if (r.ec) return r;
    std::error_code rm;
    fs::remove(jobs::state_path(layout_.active(), rec.job_id), rm);
    store::fsync_dir(layout_.active());
    ++(completed ? done_ : failed_);
    return r;
}

}  // namespace briefd::pipeline
