// Filing: refused briefs and failed jobs to failed/ with their error files.
#include "pipeline/detail/engine_impl.hpp"

#include "store/atomic_file.hpp"

#include <boost/json.hpp>

namespace briefd::pipeline::detail {

namespace fs = std::filesystem;
namespace json = boost::json;

std::pair<std::error_code, std::string> engine_impl::file_failed(const fs::path& from,
                                                                 const std::string& name,
                                                                 const std::string& error_text) {
    // The error file is written first under the name the brief will most likely get, so a crash
    // in between never leaves a failed brief without its reason.
    auto predicted = layout.failed() / spool::error_file_name(name);
    if (auto ec = store::write_file_atomic(predicted, error_text)) return {ec, {}};
    auto [ec, final_name] = spool::file_brief(layout, from, spool::outcome::failed);
    std::error_code fs_ec;
    if (ec) fs::remove(predicted, fs_ec);
    else if (final_name != name)
        fs::rename(predicted, layout.failed() / spool::error_file_name(final_name), fs_ec);
    if (!ec) for (const auto& n : {final_name, spool::error_file_name(final_name)}) names.add_spool_name(n);
    return {ec, final_name};
}

void engine_impl::refuse(const fs::path& from, const std::string& name,
                         const std::vector<brief::problem>& problems) {
    json::array list;
    for (const auto& p : problems) list.push_back(p.to_json());
    json::object err{{"file", name}, {"status", "invalid"}, {"failed_at", unix_now()},
                     {"problems", std::move(list)}};
    auto [ec, final_name] = file_failed(from, name, jobs::to_text(std::move(err)));
    if (ec) {
        // Left where it is: a brief in incoming/ is refused again on the next scan, one in
        // active/ at the next start.
        log.error("brief.file_failed", {{"file", name}, {"error", ec.message()}});
        return;
    }
    ++filed_failed;
    metrics.briefs_refused.inc({});
    log.warning("brief.refused", {{"file", name}, {"filed_as", final_name},
                                  {"reason", problems.empty() ? "" : problems.front().to_string()}});
}

}  // namespace briefd::pipeline::detail
