// The Lamina run engine. A run's whole life is fixed when it is created (seeded jitter): it is
// queued, then running, its outputs finish one by one, and it ends completed or failed. Its state
// at any instant is a pure function of the clock, so a thousand runs need no timers; only
// cancellation changes a run afterwards, and it wakes whoever waits on that run.
#pragma once

#include "../files.hpp"
#include "../state.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace briefd::sim::lamina {

enum class run_status { queued, running, completed, failed, cancelled };
enum class output_status { pending, completed, error, cancelled };

std::string_view to_string(run_status s) noexcept;
std::string_view to_string(output_status s) noexcept;
inline bool is_terminal(run_status s) noexcept { return s >= run_status::completed; }

struct run_output {
    std::string id;     ///< node id, e.g. aiDesignerNode-1773051929782-5yzqjkwpm
    std::string label;
    std::string type;   ///< image | video | text
};

struct run {
    using clock = std::chrono::steady_clock;

    std::string id;
    std::string workflow_id;
    std::string workflow_name;
    std::string webhook_url;   ///< delivered to by sim/webhooks when the run ends
    std::string text;          ///< the brief or prompt; text outputs echo it
    std::vector<run_output> outputs;
    std::chrono::system_clock::time_point created_wall;
    clock::time_point created, started;
    std::vector<clock::time_point> done_at;  ///< when each output finishes (ascending)
    bool fails = false;
    std::size_t fail_index = 0;              ///< outputs from here on error at done_at[fail_index]
    std::optional<clock::time_point> cancelled_at;
    std::vector<std::weak_ptr<boost::asio::steady_timer>> waiters;

    run_status status_at(clock::time_point t) const;
    output_status output_at(std::size_t i, clock::time_point t) const;
    /// When the run's status or one of its outputs changes next after `t`; none when terminal.
    std::optional<clock::time_point> next_change(clock::time_point t) const;
    /// When the run became terminal (only meaningful if it is terminal at `t`).
    clock::time_point ended_at() const;
};

class run_engine {
public:
    using clock = std::chrono::steady_clock;

    explicit run_engine(sim_state& st) : st_(st) {}

    /// Creates a run whose outputs are described by (label, type) pairs; draws its timing and its
    /// fate (fail-rate) from the seeded generator.
    run& create(std::string workflow_id, std::string workflow_name,
                const std::vector<std::pair<std::string, std::string>>& outputs, std::string text,
                std::string webhook_url = {});
    run* find(std::string_view id);

    /// Cancels a run that is not terminal; false (and no change) when it already is.
    bool cancel(run& r, clock::time_point now);
    /// `t` is cancelled (woken) when the run is cancelled.
    void add_waiter(run& r, const std::shared_ptr<boost::asio::steady_timer>& t);

    /// The ExecutionStatus object of `r` at `now` (bare, not enveloped).
    boost::json::object status_json(const run& r, clock::time_point now) const;
    /// The files-origin URL of output `i`.
    std::string output_url(const run& r, std::size_t i) const;
    /// What to serve for GET /files/<runId>/<index>.<ext>; none if no such finished output.
    std::optional<file_spec> find_file(std::string_view run_id, std::size_t index, std::string_view ext,
                                         clock::time_point now);

    std::uint64_t credits_used() const noexcept { return credits_used_; }

    /// Called for every run created with a webhook URL (sim/webhooks watches it).
    std::function<void(run&)> on_webhook_run;
    std::size_t run_count() const noexcept { return runs_.size(); }

private:
    sim_state& st_;
    std::unordered_map<std::string, std::unique_ptr<run>> runs_;
    std::uint64_t credits_used_ = 0;
    std::uint64_t node_counter_ = 0;
};

}  // namespace briefd::sim::lamina
