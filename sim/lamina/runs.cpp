#include "runs.hpp"

#include <ctime>
#include <functional>

namespace briefd::sim::lamina {

namespace json = boost::json;

std::string_view to_string(run_status s) noexcept {
    switch (s) {
    case run_status::queued: return "queued";
    case run_status::running: return "running";
    case run_status::completed: return "completed";
    case run_status::failed: return "failed";
    case run_status::cancelled: return "cancelled";
    }
    return "unknown";
}

std::string_view to_string(output_status s) noexcept {
    switch (s) {
    case output_status::pending: return "pending";
    case output_status::completed: return "completed";
    case output_status::error: return "error";
    case output_status::cancelled: return "cancelled";
    }
    return "unknown";
}

run::clock::time_point run::ended_at() const {
    const auto natural = fails ? done_at[fail_index] : done_at.back();
    return cancelled_at && *cancelled_at < natural ? *cancelled_at : natural;
}

run_status run::status_at(clock::time_point t) const {
    const auto natural_end = fails ? done_at[fail_index] : done_at.back();
    if (cancelled_at && *cancelled_at <= t && *cancelled_at < natural_end) return run_status::cancelled;
    if (t >= natural_end) return fails ? run_status::failed : run_status::completed;
    return t < started ? run_status::queued : run_status::running;
}

output_status run::output_at(std::size_t i, clock::time_point t) const {
    const bool failing = fails && i >= fail_index;
    const auto finish = failing ? done_at[fail_index] : done_at[i];
    if (cancelled_at && *cancelled_at <= t && *cancelled_at < finish) return output_status::cancelled;
    if (t < finish) return output_status::pending;
    return failing ? output_status::error : output_status::completed;
}

std::optional<run::clock::time_point> run::next_change(clock::time_point t) const {
    if (is_terminal(status_at(t))) return std::nullopt;
    std::optional<clock::time_point> best;
    auto consider = [&](clock::time_point c) {
        if (c > t && (!best || c < *best)) best = c;
    };
    consider(started);
    const std::size_t last = fails ? fail_index : done_at.size() - 1;
    for (std::size_t i = 0; i <= last; ++i) consider(done_at[i]);
    return best;
}

namespace {

std::string iso(std::chrono::system_clock::time_point tp) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[80];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
    return buf;
}

std::string node_prefix(const std::string& type) {
    if (type == "video") return "videoGenNode";
    if (type == "text") return "textNode";
    return "aiDesignerNode";
}

}  // namespace

run& run_engine::create(std::string workflow_id, std::string workflow_name,
                        const std::vector<std::pair<std::string, std::string>>& outputs, std::string text,
                        std::string webhook_url) {
    auto r = std::make_unique<run>();
    r->id = st_.uuid();
    r->workflow_id = std::move(workflow_id);
    r->workflow_name = std::move(workflow_name);
    r->webhook_url = std::move(webhook_url);
    r->text = std::move(text);
    r->created = clock::now();
    r->created_wall = std::chrono::system_clock::now();

    std::uniform_real_distribution<double> jitter(0.75, 1.25), queue_share(0.05, 0.15), unit(0, 1);
    const double total_s = st_.opt.run_seconds * jitter(st_.run_rng);
    const double queued_s = total_s * queue_share(st_.run_rng);
    r->started = r->created + st_.real(queued_s);
    const std::size_t n = outputs.size();
    for (std::size_t i = 0; i < n; ++i) {
        const double at = queued_s + (total_s - queued_s) * static_cast<double>(i + 1) / static_cast<double>(n);
        r->done_at.push_back(r->created + st_.real(at));
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        std::string suffix;
        for (int k = 0; k < 9; ++k) suffix += alphabet[st_.run_rng() % 36];
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(r->created_wall.time_since_epoch()).count();
        r->outputs.push_back({node_prefix(outputs[i].second) + "-" + std::to_string(ms + static_cast<long long>(++node_counter_)) +
                                  "-" + suffix,
                              outputs[i].first, outputs[i].second});
        credits_used_ += outputs[i].second == "video" ? 10 : outputs[i].second == "image" ? 2 : 1;
    }
    r->fails = unit(st_.run_rng) < st_.faults.fail_rate;
    r->fail_index = n / 2;
    ++st_.counters.runs_created;
    auto& ref = *r;
    runs_.emplace(ref.id, std::move(r));
    if (!ref.webhook_url.empty() && on_webhook_run) on_webhook_run(ref);
    return ref;
}

run* run_engine::find(std::string_view id) {
    auto it = runs_.find(std::string(id));
    return it == runs_.end() ? nullptr : it->second.get();
}

bool run_engine::cancel(run& r, clock::time_point now) {
    if (is_terminal(r.status_at(now))) return false;
    r.cancelled_at = now;
    ++st_.counters.runs_cancelled;
    for (auto& w : r.waiters)
        if (auto t = w.lock()) t->cancel();
    r.waiters.clear();
    return true;
}

void run_engine::add_waiter(run& r, const std::shared_ptr<boost::asio::steady_timer>& t) {
    std::erase_if(r.waiters, [](const auto& w) { return w.expired(); });
    // Streams and waits re-register the same timer on every wake-up: keep one entry each.
    for (const auto& w : r.waiters)
        if (w.lock() == t) return;
    r.waiters.push_back(t);
}

std::string run_engine::output_url(const run& r, std::size_t i) const {
    const char* ext = r.outputs[i].type == "video" ? ".mp4" : ".png";
    return st_.files_base + "/files/" + r.id + "/" + std::to_string(i) + ext;
}

json::object run_engine::status_json(const run& r, clock::time_point now) const {
    const run_status s = r.status_at(now);
    json::array outs;
    std::size_t completed = 0, failed = 0;
    for (std::size_t i = 0; i < r.outputs.size(); ++i) {
        const auto& o = r.outputs[i];
        const output_status os = r.output_at(i, now);
        json::object j{{"id", o.id}, {"label", o.label}};
        if (os == output_status::completed) {
            ++completed;
            j["type"] = o.type;
            if (o.type == "text")
                j["value"] = "Simulated copy for: " + r.text;
            else
                j["value"] = output_url(r, i);
        } else {
            if (os == output_status::error) ++failed;
            // Lamina keeps type "pending" on failed outputs: only status flips (PROVIDERS §1.3).
            j["type"] = "pending";
            j["value"] = nullptr;
        }
        j["status"] = to_string(os);
        j["error"] = os == output_status::error ? json::value("Simulated generation failure") : json::value(nullptr);
        outs.emplace_back(std::move(j));
    }
    auto wall = [&](clock::time_point tp) {
        return iso(r.created_wall + std::chrono::duration_cast<std::chrono::system_clock::duration>(tp - r.created));
    };
    json::value error_message = nullptr;
    if (s == run_status::failed) error_message = "Simulated run failure (--fail-rate)";
    if (s == run_status::cancelled) error_message = "Run cancelled";
    const bool began = now >= r.started && !(r.cancelled_at && *r.cancelled_at < r.started);
    const std::size_t total = r.outputs.size();
    return {
        {"runId", r.id},
        {"workflowId", r.workflow_id},
        {"status", to_string(s)},
        {"outputs", std::move(outs)},
        {"errorMessage", std::move(error_message)},
        {"startedAt", began ? json::value(wall(r.started)) : json::value(nullptr)},
        {"completedAt", is_terminal(s) ? json::value(wall(r.ended_at())) : json::value(nullptr)},
        {"createdAt", iso(r.created_wall)},
        {"progress",
         {{"totalOutputs", total},
          {"completedOutputs", completed},
          {"failedOutputs", failed},
          {"percentComplete", total ? static_cast<std::int64_t>(100 * completed / total) : 0}}},
    };
}

std::optional<file_spec> run_engine::find_file(std::string_view run_id, std::size_t index, std::string_view ext,
                                                 clock::time_point now) {
    run* r = find(run_id);
    if (!r || index >= r->outputs.size() || r->output_at(index, now) != output_status::completed) return std::nullopt;
    const auto& type = r->outputs[index].type;
    if ((type == "image" && ext != "png") || (type == "video" && ext != "mp4") || type == "text") return std::nullopt;
    return file_spec{type == "video" ? "video/mp4" : "image/png", std::hash<std::string>{}(r->id) * 31 + index};
}

}  // namespace briefd::sim::lamina
