// The durable record of one job (one brief file): what each item has reached, its run id, its
// outputs. It is rewritten atomically at every transition, *before* the next external effect, so
// that after a crash the daemon knows exactly what was already paid for (DESIGN §8):
//
//   pending ──► submitting ──► submitted ──► finished          (run terminal, outputs saved)
//      │            │  (intent recorded        │
//      │            │   before the request)    └──► failed      (run failed / cancelled / output lost)
//      └────────────┴──────────────────────────────► failed      (rejected at submission)
//
// An item found in `submitting` on start-up had its request sent with an unknown outcome: the
// `on_uncertain` policy decides.
#pragma once

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace briefd::jobs {

enum class item_state { pending, submitting, submitted, finished, failed };
std::string_view to_string(item_state s) noexcept;

struct output_record {
    std::size_t index = 0;
    std::string label, type;
    std::string status;     ///< the provider's output status (completed, error, …)
    std::string url;        ///< where it was downloaded from (empty for text outputs)
    std::string file;       ///< name under outputs/<job>/, empty until saved
    std::uint64_t bytes = 0;
    std::string sha256;
    std::string error;      ///< why it has no file
    bool saved = false;     ///< the file is complete and durable under its final name
    /// `url` is an API request (on the provider's origin, with its key) whose response the
    /// provider turns into the file, not a file to stream as is.
    bool fetch = false;
    std::string ext;                ///< extension the provider gave (else picked from the response)
    std::uint64_t expected_bytes = 0;   ///< the provider's size of the file (0 = not given)
    std::string expected_sha256;    ///< the provider's checksum of the file (lowercase hex; empty = not given)
    std::string meta_json;          ///< extra manifest fields from the provider, a JSON object (may be empty)
};

struct item_record {
    std::size_t index = 0;
    item_state state = item_state::pending;
    std::string run_id;
    std::string run_status;   ///< the provider's terminal status once known
    std::string error;        ///< why the item failed: our words + the provider's (cleaned)
    std::string provider_code;
    unsigned submit_attempts = 0;
    /// With a provider that takes idempotency keys: the key of the request that carried the item
    /// and every item of that request (job id, item index), in request order, so an uncertain
    /// submission is sent again as exactly the same request and the provider replays its answer.
    std::string submit_key;
    std::vector<std::pair<std::string, std::size_t>> submit_group;
    /// Ids the submit response named beside the run id, needed to fetch the outputs later (Layers:
    /// one container per variant).
    std::vector<std::string> children;
    bool outputs_known = false;   ///< the run ended and `outputs` lists every output it has
    std::vector<output_record> outputs;
};

struct job_record {
    std::string job_id;
    std::string brief_name;    ///< file name under active/
    std::string provider;
    std::int64_t claimed_at = 0;   ///< Unix seconds
    std::vector<item_record> items;

    /// Every item finished or failed, and every finished item's outputs are saved or errored.
    bool complete() const;
    /// "completed" (all finished, every output saved), "failed" (nothing usable), or "partial".
    std::string overall_status() const;
};

/// The record as JSON. Strings are copied as they are: serialise with to_text().
boost::json::value to_json(const job_record& j);
/// Serialises `v` with every string and key made valid UTF-8 (invalid bytes → U+FFFD): file names
/// and server text are raw bytes, and a file that is not UTF-8 is refused by Boost.JSON (and
/// Python's json) on reading. Use for every JSON file briefd writes.
std::string to_text(boost::json::value v);
/// Reads a record; tolerates invalid UTF-8 (repaired) so that no server text can make it unreadable.
std::optional<job_record> from_json(std::string_view text);

/// active/<job>.state.json
std::filesystem::path state_path(const std::filesystem::path& active_dir, std::string_view job_id);
/// Writes the record atomically (temp, fsync, rename, fsync dir).
std::error_code save(const std::filesystem::path& active_dir, const job_record& j);

/// manifest.json content (DESIGN §5; the README documents it as a stable contract).
std::string manifest_json(const job_record& j, std::int64_t finished_at);
/// failed/<name>.error.json content for a job whose items failed.
std::string error_json(const job_record& j, std::int64_t failed_at);

}  // namespace briefd::jobs
