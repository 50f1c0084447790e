#include "cli/retry.hpp"

#include "brief/brief.hpp"
#include "brief/yaml_to_json.hpp"
#include "jobs/job.hpp"
#include "store/read_file.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <optional>
#include <set>

namespace briefd::cli {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_record_bytes = 64u << 20;

std::optional<json::object> read_json_object(const fs::path& p,
                                             std::size_t limit = max_record_bytes) {
    std::string why;
    auto [ec, bytes] = store::read_regular_file(p, limit, why);
    if (ec) return std::nullopt;
    std::error_code jec;
    auto v = json::parse(bytes, jec);
    if (jec || !v.is_object()) return std::nullopt;
    return std::move(v.as_object());
}

std::string str(const json::object& o, std::string_view k) {
    const auto* v = o.if_contains(k);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<std::size_t> index_of(const json::value* v) {
    if (!v) return std::nullopt;
    if (v->is_uint64()) return static_cast<std::size_t>(v->as_uint64());
    if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::size_t>(v->as_int64());
    return std::nullopt;
}

bool is_job_name(std::string_view s) {
    if (s.empty() || s.size() > 255 || s.front() == '.' || s.front() == '-') return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    });
}

std::string stem(std::string_view name) {
    auto dot = name.rfind('.');
    return std::string(dot == std::string_view::npos || dot == 0 ? name : name.substr(0, dot));
}

/// The error file of `job`'s brief in failed/: first where the job's own name would put it, then
/// (a renamed job, sneakers-2) every error file.
std::optional<std::pair<fs::path, json::object>> find_error_file(
    const spool::layout& l, std::string_view job, std::optional<json::object>& invalid) {
    auto matches = [&](const json::object& e) {
        if (str(e, "job") == job) return true;
        if (!e.contains("job") && stem(str(e, "file")) == job) invalid = e;
        return false;
    };
    for (const char* ext : {".json", ".yaml", ".yml", ".JSON", ".YAML", ".YML"}) {
        auto p = l.failed() / spool::error_file_name(std::string(job) + ext);
        if (auto e = read_json_object(p); e && matches(*e)) return std::pair{p, std::move(*e)};
    }
    std::error_code ec;
    for (const auto& de : fs::directory_iterator(l.failed(), ec)) {
        auto n = de.path().filename().string();
        if (!n.ends_with(".error.json") || n.starts_with(".")) continue;
        if (auto e = read_json_object(de.path()); e && matches(*e))
            return std::pair{de.path(), std::move(*e)};
    }
    return std::nullopt;
}

/// Where a job name is in use: "incoming/", "active/", "done/", "failed/", "outputs/" or "".
std::string where_taken(const spool::layout& l, const std::string& name) {
    std::error_code ec;
    for (const char* ext : {".json", ".yaml", ".yml"})
        if (fs::exists(fs::symlink_status(l.incoming() / (name + ext), ec))) return "incoming/";
    if (fs::exists(fs::symlink_status(l.active() / (name + ".state.json"), ec))) return "active/";
    if (spool::make_job_id(l, name + ".json") == name) return "";
    for (auto [dir, label] :
         {std::pair{l.active(), "active/"}, {l.done(), "done/"}, {l.failed(), "failed/"}})
        for (const char* ext : {".json", ".yaml", ".yml"})
            if (fs::exists(fs::symlink_status(dir / (name + ext), ec))) return label;
    return "outputs/";
}

}  // namespace

std::optional<std::string> select_items(std::string_view file_name, std::string_view text,
                                        const std::vector<std::size_t>& keep,
                                        std::string_view provider, std::string& why) {
    json::value doc;
    auto lower = std::string(file_name);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (lower.ends_with(".yaml") || lower.ends_with(".yml")) {
        auto r = brief::detail::yaml_to_json(text, {});
        if (auto* e = std::get_if<brief::detail::yaml_error>(&r)) {
            why = e->message;
            return std::nullopt;
        }
        doc = std::move(std::get<json::value>(r));
    } else {
        std::error_code ec;
        doc = json::parse(text, ec);
        if (ec) {
            why = ec.message();
            return std::nullopt;
        }
    }
    if (!doc.is_object()) {
        why = "not a brief object";
        return std::nullopt;
    }
    auto& o = doc.as_object();
    if (auto* items = o.if_contains("items"); items && items->is_array()) {
        json::array kept;
        for (auto i : keep) {
            if (i >= items->as_array().size()) {
                why = "the brief has no item " + std::to_string(i);
                return std::nullopt;
            }
            kept.push_back(items->as_array()[i]);
        }
        *items = std::move(kept);
    } else if (keep != std::vector<std::size_t>{0}) {
        why = "the brief has one item only";
        return std::nullopt;
    }
    if (!provider.empty() && !o.contains("provider")) {
        json::object with{{"provider", provider}};
        for (auto& kv : o) with[kv.key()] = std::move(kv.value());
        o = std::move(with);
    }
    return json::serialize(doc) + "\n";
}

std::variant<retry_plan, std::string> plan_retry(const spool::layout& l, std::string_view job,
                                                 const retry_options& opt) {
    const std::string j(job);
    if (!is_job_name(job)) return "'" + j + "' is not a job name (letters, digits, '.', '_', '-')";
    std::optional<json::object> invalid;
    auto found = find_error_file(l, job, invalid);
    if (!found) {
        if (invalid) {
            const auto* probs = invalid->if_contains("problems");
            std::string first;
            if (probs && probs->is_array() && !probs->as_array().empty() &&
                probs->as_array()[0].is_object()) {
                const auto& p = probs->as_array()[0].as_object();
                first = ": " + str(p, "message");
                if (auto f = str(p, "field"); !f.empty()) first = ": " + f + first;
            }
            return j + " was refused as invalid (" + str(*invalid, "file") + first +
                   "); nothing of it was submitted. Fix the brief, then `briefd submit` it";
        }
        std::error_code ec;
        if (fs::exists(l.active() / (j + ".state.json"), ec))
            return j +
                   " is still active; only a job filed in failed/ can be retried (cancel it first: "
                   "briefd cancel " +
                   j + ")";
        if (auto m = read_json_object(l.outputs / j / "manifest.json");
            m && str(*m, "status") == "completed")
            return j + " completed; there is nothing to retry";
        return "no failed job named " + j + " in " + l.failed().string();
    }
    auto& [err_path, err] = *found;
    retry_plan plan;
    plan.job = j;
    plan.brief_name = str(err, "file");
    if (plan.brief_name.empty()) return err_path.string() + " does not name its brief";

    // Which items failed: the error file lists them; the manifest says which of them still ran
    // to completion or saved something (those are not generated again).
    std::set<std::size_t> listed;
    if (const auto* items = err.if_contains("items"); items && items->is_array())
        for (const auto& e : items->as_array())
            if (auto i = index_of(e.is_object() ? e.as_object().if_contains("item") : nullptr))
                listed.insert(*i);
    std::string provider;
    auto manifest = read_json_object(l.outputs / j / "manifest.json");
    std::map<std::size_t, const json::object*> by_index;
    if (manifest) {
        provider = str(*manifest, "provider");
        if (const auto* items = manifest->if_contains("items"); items && items->is_array())
            for (const auto& it : items->as_array())
                if (it.is_object())
                    if (auto i = index_of(it.as_object().if_contains("index")))
                        by_index[*i] = &it.as_object();
        // An item the manifest shows as failed counts even if the error file was cut short.
        for (auto& [i, it] : by_index)
            if (str(*it, "status") == "failed") listed.insert(i);
    }
    for (auto i : listed) {
        auto m = by_index.find(i);
        if (m == by_index.end()) {
            plan.items.push_back(i);
            continue;
        }
        const auto& it = *m->second;
        std::size_t saved = 0;
        if (const auto* outs = it.if_contains("outputs"); outs && outs->is_array())
            for (const auto& o : outs->as_array())
                if (o.is_object() && str(o.as_object(), "status") == "saved") ++saved;
        auto status = str(it, "status");
        bool failed = status == "failed" || status == "cancelled" || status == "canceled";
        if (failed && saved == 0)
            plan.items.push_back(i);
        else if (saved)
            plan.kept.emplace_back(i, "its run " + status + " and saved " + std::to_string(saved) +
                                          " output(s); the outputs that could not be saved are "
                                          "listed in " +
                                          err_path.filename().string());
        else
            plan.kept.emplace_back(
                i, "its run " + status + " at the provider; only its outputs could not be saved");
    }
    if (plan.items.empty())
        return "nothing to retry in " + j + ": no item failed before its run completed" +
               (plan.kept.empty() ? ""
                                  : " (item " + std::to_string(plan.kept.front().first) + ": " +
                                        plan.kept.front().second + ")");

    std::string why;
    auto [rec, bytes] =
        store::read_regular_file(l.failed() / plan.brief_name, opt.max_brief_bytes, why);
    if (rec)
        return "cannot read the failed brief " + (l.failed() / plan.brief_name).string() + ": " +
               why;
    auto content = select_items(plan.brief_name, bytes, plan.items, provider, why);
    if (!content) return "cannot take the failed items out of " + plan.brief_name + ": " + why;
    plan.content = std::move(*content);

    // The new job's name: <base>-retry<n>, the first free one; a retry of a retry counts on.
    std::string base = j;
    unsigned n = 1;
    if (auto pos = j.rfind("-retry"); pos != std::string::npos && pos + 6 < j.size() &&
                                      std::all_of(j.begin() + static_cast<long>(pos) + 6, j.end(),
                                                  [](char c) { return c >= '0' && c <= '9'; }) &&
                                      j.size() - pos - 6 < 6) {
        base = j.substr(0, pos);
        n = static_cast<unsigned>(std::stoul(j.substr(pos + 6))) + 1;
    }
    for (;; ++n) {
        auto name = base + "-retry" + std::to_string(n);
        auto where = where_taken(l, name);
        if (where.empty()) {
            plan.new_job = name;
            break;
        }
        if (where == "incoming/" || where == "active/")
            return j + " is already being retried as " + name + " (in " + where +
                   "); wait for it to be filed, then retry that job";
        if (!opt.force)
            return j + " was already retried as " + name + " (in " + where +
                   "); retry the latest (briefd retry " + base + "-retry<N>) or use --force";
        if (n > 10000) return "no free name for a retry of " + j;
    }
    return plan;
}

}  // namespace briefd::cli
