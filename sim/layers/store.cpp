#include "store.hpp"

#include "../files.hpp"
#include "../hrizn/content.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace briefd::sim::layers {

namespace json = boost::json;

namespace {

// Share of a job's run each stage takes; generating_visuals is the longest (generate-content).
constexpr std::array<double, stages.size()> stage_share = {0.05, 0.15, 0.5, 0.2, 0.1};

std::string_view field(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

}  // namespace

std::string_view to_string(job_status s) noexcept {
    switch (s) {
        case job_status::running:
            return "running";
        case job_status::completed:
            return "completed";
        case job_status::failed:
            return "failed";
        case job_status::canceled:
            return "canceled";
    }
    return "running";
}

std::string prefixed_id(std::string_view prefix, std::mt19937_64& g) {
    static constexpr char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    std::string s(prefix);
    std::uint64_t a = g(), b = g();
    for (int i = 0; i < 26; ++i) {
        std::uint64_t& w = i < 13 ? a : b;
        s.push_back(crockford[w & 31]);
        w >>= 5;
    }
    return s;
}

std::string iso_millis(std::chrono::system_clock::time_point tp) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_iso(std::string_view s) {
    std::tm tm{};
    int consumed = 0;
    const std::string text(s);
    if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
        consumed != 19)
        return std::nullopt;
    std::string_view rest = s.substr(19);
    long millis = 0;
    if (rest.starts_with(".")) {
        std::size_t n = 1;
        long scale = 100;
        while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9') {
            millis += (rest[n] - '0') * scale;
            scale /= 10;
            ++n;
        }
        if (n == 1) return std::nullopt;
        rest.remove_prefix(n);
    }
    if (rest != "Z" && rest != "+00:00") return std::nullopt;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return std::nullopt;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const std::time_t t = timegm(&tm);
    return std::chrono::system_clock::from_time_t(t) + std::chrono::milliseconds(millis);
}

job_status job::status_at(clock::time_point t) const {
    if (canceled_at && t >= *canceled_at) return job_status::canceled;
    if (fails && t >= stage_end[2]) return job_status::failed;
    if (t >= stage_end.back()) return job_status::completed;
    return job_status::running;
}

std::optional<job::clock::time_point> job::ended_at(clock::time_point t) const {
    switch (status_at(t)) {
        case job_status::running:
            return std::nullopt;
        case job_status::canceled:
            return *canceled_at;
        case job_status::failed:
            return stage_end[2];
        case job_status::completed:
            return stage_end.back();
    }
    return std::nullopt;
}

std::size_t job::stage_at(clock::time_point t) const {
    for (std::size_t i = 0; i < stage_end.size(); ++i)
        if (t < stage_end[i]) return i;
    return stage_end.size() - 1;
}

double job::progress_at(clock::time_point t) const {
    const double total = std::chrono::duration<double>(stage_end.back() - created).count();
    if (total <= 0) return 1;
    const double done = std::chrono::duration<double>(t - created).count() / total;
    return std::clamp(std::floor(done * 20) / 20, 0.0, 1.0);
}

job& store::create(const std::string& project, const json::object& body, unsigned variants,
                   const std::string& first_id, clock::time_point now) {
    auto& c = st_.counters.layers;
    auto j = std::make_unique<job>();
    j->id = prefixed_id("job_", st_.run_rng);
    j->project_id = project;
    j->format = std::string(field(body, "format"));
    if (j->format.empty()) j->format = "auto";
    j->created = now;
    j->created_wall = std::chrono::system_clock::now();
    std::uniform_real_distribution<double> jitter(0.75, 1.25), unit(0, 1);
    const double length = st_.opt.layers.gen_seconds * jitter(st_.run_rng);
    double at = 0;
    for (std::size_t i = 0; i < stages.size(); ++i) {
        at += length * stage_share[i];
        j->stage_end[i] = now + st_.real(at);
    }
    j->fails = unit(st_.run_rng) < st_.faults.fail_rate;

    const json::object* brief = nullptr;
    if (const auto* b = body.if_contains("brief")) brief = b->if_object();
    const std::string topic(brief ? field(*brief, "topic") : std::string_view{});
    const std::string hook(brief ? field(*brief, "hook") : std::string_view{});
    const bool slideshow = j->format.find("slideshow") != std::string::npos;
    for (unsigned v = 0; v < variants; ++v) {
        auto ct = std::make_unique<container>();
        ct->id = v == 0 && !first_id.empty() ? first_id : prefixed_id("cnt_", st_.run_rng);
        ct->project_id = project;
        ct->format = j->format;
        ct->seq = containers_.size() + 1;
        ct->owner = j.get();
        ct->approval = project == approval_project ? "pending" : "not_required";
        ct->created_wall = j->created_wall;
        const std::string subject = topic.empty() ? "your day" : topic;
        ct->hook = hook.empty() ? "Variant " + std::to_string(v + 1) + ": " + subject : hook;
        ct->caption =
            "Everything about " + subject + " in one post (variant " + std::to_string(v + 1) + ").";
        const unsigned n = slideshow ? 3 : 1;
        for (unsigned k = 0; k < n; ++k) {
            asset a;
            a.id = prefixed_id("ast_", st_.run_rng);
            a.kind = slideshow ? "image" : "video";
            a.ext = slideshow ? "png" : "mp4";
            a.mime = slideshow ? "image/png" : "video/mp4";
            a.seed = st_.run_rng();
            ct->assets.push_back(std::move(a));
        }
        containers_by_id_[ct->id] = ct.get();
        j->containers.push_back(ct.get());
        containers_.push_back(std::move(ct));
        ++c.containers_created;
    }
    ++c.jobs_created;
    if (!generated_.insert(project + "\n" + hrizn::canonical_json(body)).second)
        ++c.duplicate_generations;
    jobs_by_id_[j->id] = j.get();
    jobs_.push_back(std::move(j));
    const auto now_running = running(now);
    if (now_running > c.concurrent_jobs_peak) c.concurrent_jobs_peak = now_running;
    if (on_job) on_job(*jobs_.back());
    return *jobs_.back();
}

job* store::find_job(std::string_view id) {
    auto it = jobs_by_id_.find(std::string(id));
    return it == jobs_by_id_.end() ? nullptr : it->second;
}

container* store::find_container(std::string_view id) {
    auto it = containers_by_id_.find(std::string(id));
    return it == containers_by_id_.end() ? nullptr : it->second;
}

std::size_t store::running(clock::time_point now, clock::duration* soonest) const {
    std::size_t n = 0;
    clock::duration best = clock::duration::max();
    for (const auto& j : jobs_) {
        if (j->status_at(now) != job_status::running) continue;
        ++n;
        const auto end = (j->fails ? j->stage_end[2] : j->stage_end.back()) - now;
        best = std::min(best, end);
    }
    if (soonest) *soonest = n ? best : clock::duration{};
    return n;
}

bool store::cancel(job& j, clock::time_point now) {
    if (j.status_at(now) != job_status::running) return false;
    j.canceled_at = now;
    if (on_cancel) on_cancel(j);
    return true;
}

std::string_view store::container_status(const container& c, clock::time_point now) const {
    const job& j = *c.owner;
    switch (j.status_at(now)) {
        case job_status::running:
            return j.stage_at(now) == 0 ? "queued" : "processing";
        case job_status::completed:
            return "completed";
        case job_status::failed:
            return "failed";
        case job_status::canceled:
            return "canceled";
    }
    return "queued";
}

std::vector<container*> store::list(std::string_view project, std::string_view status,
                                    std::optional<std::chrono::system_clock::time_point> since,
                                    std::uint64_t before, std::size_t limit) {
    const auto now = clock::now();
    std::vector<container*> out;
    for (auto it = containers_.rbegin(); it != containers_.rend() && out.size() < limit; ++it) {
        container& c = **it;
        if (c.seq >= before || c.project_id != project) continue;
        if (!status.empty() && container_status(c, now) != status) continue;
        if (since && c.created_wall < *since) continue;
        out.push_back(&c);
    }
    return out;
}

std::string store::wall(const job& j, clock::time_point t) const {
    return iso_millis(
        j.created_wall +
        std::chrono::duration_cast<std::chrono::system_clock::duration>(t - j.created));
}

json::array store::assets_json(container& c) {
    json::array out;
    for (auto& a : c.assets) {
        if (a.sha256.empty()) measure_(a);
        json::object o{
            {"assetId", a.id},
            {"kind", a.kind},
            {"url", st_.files_base + media_path(c.id, a.id, a.ext)},
            {"thumbnailUrl", nullptr},
            {"durationMs", a.kind == "video" ? json::value(15000) : json::value(nullptr)},
            {"width", a.kind == "video" ? 1080 : 64},
            {"height", a.kind == "video" ? 1920 : 64},
            {"mimeType", a.mime},
            {"sizeBytes", a.size},
            {"checksumSha256", a.sha256},
        };
        out.emplace_back(std::move(o));
    }
    return out;
}

json::object store::job_json(const job& j, clock::time_point now) {
    const auto s = j.status_at(now);
    json::object o{{"jobId", j.id},
                   {"kind", "content_generate"},
                   {"status", to_string(s)},
                   {"projectId", j.project_id}};
    if (s == job_status::running) {
        o["stage"] = stages[j.stage_at(now)];
        o["progress"] = j.progress_at(now);
    }
    o["startedAt"] = iso_millis(j.created_wall);
    if (auto end = j.ended_at(now)) o["finishedAt"] = wall(j, *end);
    if (s == job_status::completed) {
        // Only the first container, as the documentation shows it.
        container& first = *j.containers.front();
        o["result"] = {{"containerId", first.id}, {"assets", assets_json(first)}};
    } else if (s == job_status::failed) {
        o["error"] = {{"code", "GENERATION_FAILED"},
                      {"message", "Visual generation failed for this request."}};
    }
    return o;
}

json::object store::container_json(container& c, clock::time_point now) {
    const auto status = container_status(c, now);
    const bool done = status == "completed";
    json::object o{{"id", c.id},
                   {"projectId", c.project_id},
                   {"jobId", c.owner->id},
                   {"status", status},
                   {"format", c.format},
                   {"hook", done ? json::value(c.hook) : json::value(nullptr)},
                   {"caption", done ? json::value(c.caption) : json::value(nullptr)},
                   {"firstComment", nullptr},
                   {"approvalStatus", c.approval},
                   {"createdAt", iso_millis(c.created_wall)}};
    if (status == "failed")
        o["lastError"] = {{"code", "GENERATION_FAILED"},
                          {"message", "Visual generation failed for this request."}};
    json::array assets = done ? assets_json(c) : json::array{};
    json::object preview{{"kind", nullptr},      {"primaryUrl", nullptr},
                         {"videoUrl", nullptr},  {"thumbnailUrl", nullptr},
                         {"hlsUrl", nullptr},    {"durationMs", nullptr},
                         {"aspectRatio", "9:16"}};
    if (!assets.empty()) {
        const auto& first = assets.front().as_object();
        const bool video = first.at("kind") == "video";
        preview["kind"] = video ? "video" : "slideshow";
        preview["primaryUrl"] = first.at("url");
        if (video) {
            preview["videoUrl"] = first.at("url");
            preview["durationMs"] = 15000;
        }
    }
    o["preview"] = std::move(preview);
    o["assets"] = std::move(assets);
    return o;
}

}  // namespace briefd::sim::layers
