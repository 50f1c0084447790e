#include "jobs/job.hpp"

#include "core/utf8.hpp"
#include "store/atomic_file.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>

namespace briefd::jobs {

namespace json = boost::json;

namespace {
constexpr std::array item_state_names{"pending", "submitting", "submitted", "finished", "failed"};

std::string get_str(const json::object& o, std::string_view k) {
    if (auto* v = o.if_contains(k); v && v->is_string()) return std::string(v->get_string());
    return {};
}
std::uint64_t get_u64(const json::object& o, std::string_view k) {
    if (auto* v = o.if_contains(k)) {
        if (v->is_uint64()) return v->get_uint64();
        if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
    }
    return 0;
}
bool get_bool(const json::object& o, std::string_view k) {
    if (auto* v = o.if_contains(k); v && v->is_bool()) return v->get_bool();
    return false;
}
}  // namespace

namespace {
// Every string and key made valid UTF-8 (U+FFFD for bad bytes), in place. File names and server
// text reach our records as raw bytes; Boost.JSON writes them unchecked but refuses them on reading.
void make_valid(json::value& v) {
    if (auto* s = v.if_string()) {
        if (!utf8::is_valid(*s)) *s = utf8::repair(*s);
    } else if (auto* a = v.if_array()) {
        for (auto& e : *a) make_valid(e);
    } else if (auto* o = v.if_object()) {
        bool bad_key = false;
        for (auto& kv : *o) {
            make_valid(kv.value());
            bad_key = bad_key || !utf8::is_valid(kv.key());
        }
        if (bad_key) {
            json::object fixed;
            for (auto& kv : *o) fixed[utf8::repair(kv.key())] = std::move(kv.value());
            *o = std::move(fixed);
        }
    }
}
}  // namespace

std::string_view to_string(item_state s) noexcept { return item_state_names[static_cast<int>(s)]; }

bool job_record::complete() const {
    return std::all_of(items.begin(), items.end(), [](const item_record& i) {
        if (i.state == item_state::failed) return true;
        if (i.state != item_state::finished) return false;
        return std::all_of(i.outputs.begin(), i.outputs.end(),
                           [](const output_record& o) { return o.saved || !o.error.empty(); });
    });
}

std::string job_record::overall_status() const {
    std::size_t good = 0, bad = 0;
    for (const auto& i : items) {
        bool ok = i.state == item_state::finished &&
                  std::all_of(i.outputs.begin(), i.outputs.end(), [](auto& o) { return o.saved; });
        ok ? ++good : ++bad;
    }
    if (bad == 0) return "completed";
    if (good == 0) return "failed";
    return "partial";
}

namespace {
json::array children_json(const std::vector<std::string>& c) {
    json::array a;
    for (const auto& s : c) a.emplace_back(s);
    return a;
}
}  // namespace

json::value to_json(const job_record& j) {
    json::array items;
    for (const auto& i : j.items) {
        json::array outs;
        for (const auto& o : i.outputs) {
            outs.push_back(json::object{{"index", o.index}, {"label", o.label}, {"type", o.type},
                                        {"status", o.status}, {"url", o.url}, {"file", o.file},
                                        {"bytes", o.bytes}, {"sha256", o.sha256},
                                        {"error", o.error}, {"saved", o.saved}, {"fetch", o.fetch},
                                        {"ext", o.ext}, {"expected_bytes", o.expected_bytes},
                                        {"expected_sha256", o.expected_sha256}, {"meta", o.meta_json}});
        }
        json::array group;
        for (const auto& [job, index] : i.submit_group) group.push_back(json::array{json::value(job), json::value(index)});
        items.push_back(json::object{{"index", i.index}, {"state", to_string(i.state)},
                                     {"run_id", i.run_id}, {"run_status", i.run_status},
                                     {"error", i.error}, {"provider_code", i.provider_code},
                                     {"submit_attempts", i.submit_attempts},
                                     {"submit_key", i.submit_key}, {"submit_group", std::move(group)},
                                     {"children", children_json(i.children)},
                                     {"outputs_known", i.outputs_known}, {"outputs", std::move(outs)}});
    }
    return json::object{{"version", 1},           {"job", j.job_id},
                        {"brief", j.brief_name},   {"provider", j.provider},
                        {"claimed_at", j.claimed_at}, {"items", std::move(items)}};
}

std::string to_text(json::value v) {
    make_valid(v);
    return json::serialize(v);
}

std::optional<job_record> from_json(std::string_view text) {
    std::error_code ec;
    // Records written before every string was repaired may hold raw bytes: read them anyway
    // (they are repaired when the record is next written) rather than call the job corrupt.
    json::parse_options opt;
    opt.allow_invalid_utf8 = true;
    auto v = json::parse(text, ec, {}, opt);
    if (!ec) make_valid(v);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.get_object();
    if (get_u64(o, "version") != 1) return std::nullopt;
    job_record j;
    j.job_id = get_str(o, "job");
    j.brief_name = get_str(o, "brief");
    j.provider = get_str(o, "provider");
    j.claimed_at = static_cast<std::int64_t>(get_u64(o, "claimed_at"));
    if (j.job_id.empty() || j.brief_name.empty()) return std::nullopt;
    const auto* items = o.if_contains("items");
    if (!items || !items->is_array()) return std::nullopt;
    for (const auto& iv : items->get_array()) {
        if (!iv.is_object()) return std::nullopt;
        const auto& io = iv.get_object();
        item_record i;
        i.index = get_u64(io, "index");
        auto st = get_str(io, "state");
        auto it = std::find(item_state_names.begin(), item_state_names.end(), st);
        if (it == item_state_names.end()) return std::nullopt;
        i.state = static_cast<item_state>(it - item_state_names.begin());
        i.run_id = get_str(io, "run_id");
        i.run_status = get_str(io, "run_status");
        i.error = get_str(io, "error");
        i.provider_code = get_str(io, "provider_code");
        i.submit_attempts = static_cast<unsigned>(get_u64(io, "submit_attempts"));
        i.outputs_known = get_bool(io, "outputs_known");
        i.submit_key = get_str(io, "submit_key");
        if (auto* c = io.if_contains("children"); c && c->is_array())
            for (const auto& e : c->get_array())
                if (e.is_string()) i.children.emplace_back(e.get_string());
        if (auto* g = io.if_contains("submit_group"); g && g->is_array()) {
            for (const auto& m : g->get_array()) {
                const auto* pair = m.if_array();
                if (!pair || pair->size() != 2 || !(*pair)[0].is_string()) return std::nullopt;
                const auto& n = (*pair)[1];
                if (!n.is_uint64() && !(n.is_int64() && n.get_int64() >= 0)) return std::nullopt;
                i.submit_group.emplace_back(std::string((*pair)[0].get_string()),
                                            n.is_uint64() ? n.get_uint64() : static_cast<std::uint64_t>(n.get_int64()));
            }
        }
        if (auto* outs = io.if_contains("outputs"); outs && outs->is_array()) {
            for (const auto& ov : outs->get_array()) {
                if (!ov.is_object()) return std::nullopt;
                const auto& oo = ov.get_object();
                output_record out;
                out.index = get_u64(oo, "index");
                out.label = get_str(oo, "label");
                out.type = get_str(oo, "type");
                out.status = get_str(oo, "status");
                out.url = get_str(oo, "url");
                out.file = get_str(oo, "file");
                out.bytes = get_u64(oo, "bytes");
                out.sha256 = get_str(oo, "sha256");
                out.error = get_str(oo, "error");
                out.saved = get_bool(oo, "saved");
                out.fetch = get_bool(oo, "fetch");
                out.ext = get_str(oo, "ext");
                out.expected_bytes = get_u64(oo, "expected_bytes");
                out.expected_sha256 = get_str(oo, "expected_sha256");
                out.meta_json = get_str(oo, "meta");
                i.outputs.push_back(std::move(out));
            }
        }
        j.items.push_back(std::move(i));
    }
    return j;
}

std::filesystem::path state_path(const std::filesystem::path& active_dir, std::string_view job_id) {
    return active_dir / (std::string(job_id) + ".state.json");
}

std::error_code save(const std::filesystem::path& active_dir, const job_record& j) {
    return store::write_file_atomic(state_path(active_dir, j.job_id), to_text(to_json(j)));
}

namespace {
json::value nullable(const std::string& s) {
    if (s.empty()) return nullptr;
    return json::value(s);
}
}  // namespace

std::string manifest_json(const job_record& j, std::int64_t finished_at) {
    json::array items;
    for (const auto& i : j.items) {
        json::array outs;
        for (const auto& o : i.outputs) {
            json::object out{{"index", o.index}, {"label", o.label}, {"type", o.type},
                             {"status", o.saved ? "saved" : "error"}};
            out["file"] = nullable(o.file);
            if (o.saved) {
                out["bytes"] = o.bytes;
                out["sha256"] = o.sha256;
            }
            out["source_url"] = nullable(o.url);
            out["error"] = nullable(o.error);
            // Provider extras (Layers: caption, hook, approvalStatus) never replace our own fields.
            if (!o.meta_json.empty()) {
                std::error_code mec;
                auto meta = json::parse(o.meta_json, mec);
                if (!mec && meta.is_object())
                    for (const auto& kv : meta.get_object())
                        if (!out.contains(kv.key())) out[kv.key()] = kv.value();
            }
            outs.push_back(std::move(out));
        }
        std::string status = i.state == item_state::finished ? i.run_status : "failed";
        if (status.empty()) status = "failed";
        json::object item{{"index", i.index}, {"status", status}};
        item["run_id"] = nullable(i.run_id);
        if (!i.error.empty() || !i.provider_code.empty())
            item["error"] = json::object{{"message", i.error}, {"code", nullable(i.provider_code)}};
        else
            item["error"] = nullptr;
        item["outputs"] = std::move(outs);
        items.push_back(std::move(item));
    }
    json::object m{{"manifest_version", 1},
                   {"job", j.job_id},
                   {"source", j.brief_name},
                   {"provider", j.provider},
                   {"status", j.overall_status()},
                   {"claimed_at", j.claimed_at},
                   {"finished_at", finished_at},
                   {"items", std::move(items)}};
    return to_text(std::move(m));
}

std::string error_json(const job_record& j, std::int64_t failed_at) {
    json::array failed;
    for (const auto& i : j.items) {
        bool item_failed = i.state == item_state::failed;
        json::array bad_outputs;
        for (const auto& o : i.outputs)
            if (!o.saved)
                bad_outputs.push_back(json::object{{"index", o.index}, {"label", o.label}, {"error", o.error}});
        if (!item_failed && bad_outputs.empty()) continue;
        json::object e{{"item", i.index}, {"error", i.error.empty() ? "an output could not be saved" : i.error}};
        e["provider_code"] = nullable(i.provider_code);
        e["run_id"] = nullable(i.run_id);
        if (!bad_outputs.empty()) e["outputs"] = std::move(bad_outputs);
        failed.push_back(std::move(e));
    }
    json::object out{{"file", j.brief_name}, {"job", j.job_id},     {"status", j.overall_status()},
                     {"failed_at", failed_at}, {"items", std::move(failed)}};
    return to_text(std::move(out));
}

}  // namespace briefd::jobs
