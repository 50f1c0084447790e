// `briefd retry JOB`: a failed job's failed items go back to incoming/ as a new brief, from the
// files the daemon left (failed/<brief>, its .error.json, outputs/<job>/manifest.json) alone, so
// it works whether the daemon runs or not. Nothing that completed is generated again.
#pragma once

#include "spool/spool.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace briefd::cli {

struct retry_plan {
    std::string job;         ///< the failed job
    std::string brief_name;  ///< its brief under failed/
    /// Item indexes of the failed job that go back, in order: item k of the new job is items[k].
    std::vector<std::size_t> items;
    /// Items listed as failed that do not go back, and why (their run completed, a file was
    /// saved: generating them again would spend credit on something already made).
    std::vector<std::pair<std::size_t, std::string>> kept;
    std::string new_job;  ///< "<job>-retry1", "<base>-retry<n+1>" for a retry of a retry
    std::string content;  ///< the new brief: the original's shared fields, only those items (JSON)
};

struct retry_options {
    std::size_t max_brief_bytes = 1 << 20;
    /// Retry even when a later retry of the job already ran (done/ or failed/). A retry still
    /// queued or running is always refused: both would generate the same items.
    bool force = false;
};

/// Works out what `briefd retry job` would send back, without changing anything. The error is a
/// sentence for the operator ("no failed job named X in /spool/failed", "X is still active…").
std::variant<retry_plan, std::string> plan_retry(const spool::layout& l, std::string_view job,
                                                 const retry_options& opt = {});

/// Only the items at `keep` (ascending) of a brief file's JSON (or YAML, by `file_name`), with
/// its shared fields; `provider` is added at the top when the file has none and it is not empty
/// (so the retry goes to the same provider even if default_provider changed). nullopt with `why`
/// when the text is not a brief document.
std::optional<std::string> select_items(std::string_view file_name, std::string_view text,
                                        const std::vector<std::size_t>& keep,
                                        std::string_view provider, std::string& why);

}  // namespace briefd::cli
