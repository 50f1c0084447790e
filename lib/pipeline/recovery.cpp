// Recovery: what the last process left in active/, read at start.
#include "pipeline/recovery.hpp"

#include "providers/provider.hpp"
#include "store/atomic_file.hpp"
#include "store/read_file.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace briefd::pipeline {

namespace fs = std::filesystem;

std::optional<brief::parse_result> read_brief(const fs::path& dir, const std::string& name,
                                              std::size_t max_brief_bytes,
                                              const std::string& default_provider,
                                              std::string& why) {
    auto [rec, bytes] = store::read_regular_file(dir / name, max_brief_bytes, why);
    if (store::unreadable_for_good(rec))  // a FIFO swapped in, too large…: refused, never retried
        return brief::parse_result{std::nullopt, {{name, std::nullopt, "file", why}}};
    if (rec) return std::nullopt;
    brief::limits lim;
    lim.max_brief_bytes = max_brief_bytes;
    return brief::parse(name, bytes, default_provider, providers::item_schemas(), lim);
}

namespace {

/// The job id among `corrupt` that brief `name` was given: its stem, or its stem suffixed -N.
std::optional<std::string> corrupt_job_of(const std::string& name,
                                          const std::set<std::string, std::less<>>& corrupt) {
    if (corrupt.empty()) return std::nullopt;
    const auto stem = spool::job_stem(name);
    for (auto it = corrupt.lower_bound(stem); it != corrupt.end() && it->starts_with(stem); ++it) {
        std::string_view rest(*it);
        rest.remove_prefix(stem.size());
        if (rest.empty()) return *it;
        if (rest.size() > 1 && rest[0] == '-' &&
            rest.find_first_not_of("0123456789", 1) == std::string_view::npos)
            return *it;
    }
    return std::nullopt;
}

}  // namespace

recovery_result recover_spool(const spool::layout& layout, const recovery_options& opt,
                              logger& log) {
    auto progress = [&](std::string_view step, std::size_t done) {
        if (opt.progress) opt.progress(step, done);
    };
    recovery_result out;
    progress("spool", 0);
    std::error_code ec;
    out.names = spool::name_index::load(layout, ec);
    if (ec) throw std::system_error(ec, "cannot list the spool");
    std::set<std::string> referenced;
    std::set<std::string, std::less<>> corrupt;  // job ids whose state could not be read
    std::vector<fs::path> states;
    for (const auto& de : fs::directory_iterator(layout.active(), ec)) {
        auto n = de.path().filename().string();
        if (n.ends_with(".state.json") && !n.starts_with(".")) states.push_back(de.path());
    }
    std::sort(states.begin(), states.end());
    progress("jobs", 0);
    for (const auto& sp : states) {
        if (auto n = static_cast<std::size_t>(&sp - states.data()); n && n % 64 == 0)
            progress("jobs", n);
        std::ifstream in(sp);
        std::stringstream ss;
        ss << in.rdbuf();
        auto rec = jobs::from_json(ss.str());
        if (!rec) {
            log.error("state.corrupt",
                      {{"file", sp.filename().string()},
                       {"action", "moved aside; its brief is failed, not resubmitted"}});
            auto n = sp.filename().string();
            corrupt.insert(n.substr(0, n.size() - std::string_view(".state.json").size()));
            std::error_code mv;
            fs::rename(sp, fs::path(sp).concat(".corrupt"), mv);
            continue;
        }
        referenced.insert(rec->brief_name);
        auto brief_path = layout.active() / rec->brief_name;
        if (!fs::exists(
                brief_path)) {  // filed already; the crash came before the state was removed
            std::error_code rm;
            fs::remove(sp, rm);
            continue;
        }
        std::error_code tec;
        if (fs::exists(layout.outputs / rec->job_id)) {
            auto n = store::remove_stale_temps(layout.outputs / rec->job_id, tec);
            for (const auto& de : fs::directory_iterator(layout.outputs / rec->job_id, tec)) {
                auto fn = de.path().filename().string();
                if (fn.starts_with(".") && fn.ends_with(".dl")) {
                    fs::remove(de.path(), tec);
                    ++n;
                }
            }
            if (n) log.info("recovery.removed_partial", {{"job", rec->job_id}, {"files", n}});
        }
        std::string why;
        auto res = read_brief(layout.active(), rec->brief_name, opt.max_brief_bytes,
                              opt.default_provider, why)
                       .value_or(brief::parse_result{});
        if (!res.ok() || res.brief->items.size() != rec->items.size()) {
            log.error("recovery.brief_changed", {{"job", rec->job_id}, {"file", rec->brief_name}});
            for (auto& it : rec->items)
                if (it.state == jobs::item_state::pending) {
                    it.state = jobs::item_state::failed;
                    it.error =
                        "the brief file changed or became unreadable while its job was active";
                }
        }
        auto& job = out.jobs.emplace_back();
        job.rec = std::move(*rec);
        if (res.ok())
            job.brief = std::move(*res.brief);
        else
            job.brief.items.resize(0);
        for (const auto& it : job.rec.items) {
            switch (it.state) {
                case jobs::item_state::pending:
                    ++out.pending;
                    break;
                case jobs::item_state::submitting:
                    ++out.uncertain;
                    break;
                case jobs::item_state::submitted:
                    it.outputs_known ? ++out.redownload : ++out.retrack;
                    break;
                case jobs::item_state::finished:
                    ++out.redownload;
                    break;
                default:
                    break;
            }
        }
    }
    // Briefs claimed just before a crash, before their state was written.
    progress("unclaimed", states.size());
    for (const auto& de : fs::directory_iterator(layout.active(), ec)) {
        auto n = de.path().filename().string();
        if (n.starts_with(".") || n.ends_with(".state.json") || n.ends_with(".corrupt")) continue;
        if (spool::classify_name(n) != spool::name_kind::brief) continue;
        if (referenced.count(n)) continue;
        if (auto id = corrupt_job_of(n, corrupt))
            out.orphaned.emplace_back(n, *id);
        else
            out.unclaimed.push_back(n);
    }
    std::error_code tec;
    store::remove_stale_temps(layout.active(), tec);
    store::remove_stale_temps(layout.failed(), tec);
    store::remove_stale_temps(layout.done(), tec);
    log.notice("recovery.done", {{"jobs", out.jobs.size()},
                                 {"retrack", out.retrack},
                                 {"redownload", out.redownload},
                                 {"pending", out.pending},
                                 {"uncertain", out.uncertain},
                                 {"unclaimed", out.unclaimed.size()},
                                 {"orphaned", out.orphaned.size()}});
    return out;
}

}  // namespace briefd::pipeline
