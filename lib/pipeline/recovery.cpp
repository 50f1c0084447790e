// Recovery: what the last process left in active/, read at start.
#include "pipeline/detail/engine_impl.hpp"

#include "store/atomic_file.hpp"
#include "store/read_file.hpp"

#include <fstream>

namespace briefd::pipeline::detail {

namespace fs = std::filesystem;

std::optional<brief::parse_result> engine_impl::parse_active(const std::string& name, std::string& why) const {
    auto [rec, bytes] = store::read_regular_file(layout.active() / name, cfg.max_brief_bytes, why);
    if (store::unreadable_for_good(rec))  // a FIFO swapped in, too large…: refused, never retried
        return brief::parse_result{std::nullopt, {{name, std::nullopt, "file", why}}};
    if (rec) return std::nullopt;
    brief::limits lim;
    lim.max_brief_bytes = cfg.max_brief_bytes;
    return brief::parse(name, bytes, cfg.default_provider, providers::item_schemas(), lim);
}

// ---- recovery -----------------------------------------------------------------------------

void engine_impl::recover() {
    auto progress = [&](std::string_view step, std::size_t done) {
        if (recovery_progress) recovery_progress(step, done);
    };
    progress("spool", 0);
    std::error_code ec;
    names = spool::name_index::load(layout, ec);
    if (ec) throw std::system_error(ec, "cannot list the spool");
    std::set<std::string> referenced;
    std::vector<job_ctx*> recovered;
    std::size_t retrack = 0, redownload = 0, pending_items = 0, uncertain_items = 0;
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
            log.error("state.corrupt", {{"file", sp.filename().string()},
                                        {"action", "moved aside; its brief is failed, not resubmitted"}});
            std::error_code mv;
            fs::rename(sp, fs::path(sp).concat(".corrupt"), mv);
            continue;
        }
        referenced.insert(rec->brief_name);
        auto brief_path = layout.active() / rec->brief_name;
        if (!fs::exists(brief_path)) {  // filed already; the crash came before the state was removed
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
        auto res = parse_active(rec->brief_name, why).value_or(brief::parse_result{});
        if (!res.ok() || res.brief->items.size() != rec->items.size()) {
            log.error("recovery.brief_changed", {{"job", rec->job_id}, {"file", rec->brief_name}});
            for (auto& it : rec->items)
                if (it.state == jobs::item_state::pending) {
                    it.state = jobs::item_state::failed;
                    it.error = "the brief file changed or became unreadable while its job was active";
                }
        }
        auto job = std::make_unique<job_ctx>();
        job->rec = std::move(*rec);
        if (res.ok()) job->brief = std::move(*res.brief);
        else job->brief.items.resize(0);
        for (const auto& it : job->rec.items) {
            switch (it.state) {
                case jobs::item_state::pending: ++pending_items; break;
                case jobs::item_state::submitting: ++uncertain_items; break;
                case jobs::item_state::submitted: it.outputs_known ? ++redownload : ++retrack; break;
                case jobs::item_state::finished: ++redownload; break;
                default: break;
            }
        }
        auto* p = job.get();
        items_in_flight += p->rec.items.size();
        jobs.emplace(p->rec.job_id, std::move(job));
        recovered.push_back(p);
    }
    // Briefs claimed just before a crash, before their state was written.
    progress("unclaimed", states.size());
    std::vector<std::string> unreferenced;
    for (const auto& de : fs::directory_iterator(layout.active(), ec)) {
        auto n = de.path().filename().string();
        if (n.starts_with(".") || n.ends_with(".state.json") || n.ends_with(".corrupt")) continue;
        if (spool::classify_name(n) != spool::name_kind::brief) continue;
        if (!referenced.count(n)) unreferenced.push_back(n);
    }
    std::error_code tec;
    store::remove_stale_temps(layout.active(), tec);
    store::remove_stale_temps(layout.failed(), tec);
    store::remove_stale_temps(layout.done(), tec);
    log.notice("recovery.done", {{"jobs", recovered.size()}, {"retrack", retrack},
                                 {"redownload", redownload}, {"pending", pending_items},
                                 {"uncertain", uncertain_items}, {"unclaimed", unreferenced.size()}});
    for (auto* j : recovered) {
        // Jobs whose brief could not be re-read keep only items that need no brief data.
        if (j->brief.items.size() != j->rec.items.size()) {
            j->validated = true;
            for (auto& it : j->rec.items)
                if (it.state == jobs::item_state::pending) it.state = jobs::item_state::failed;
        }
        start_job(*j);
    }
    unclaimed_in_active = std::move(unreferenced);  // the intake loop adopts them first
}

}  // namespace briefd::pipeline::detail
