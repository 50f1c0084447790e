// A job as the engine holds it while it runs: its durable record, its brief, and what only
// memory knows (filing under way, validated, a state write to repair, cancelled, progress).
// Shared by the engine and its components inside lib/pipeline.
#pragma once

#include "brief/brief.hpp"
#include "jobs/job.hpp"

#include <system_error>
#include <vector>

namespace briefd::pipeline::detail {

struct job_ctx {
    jobs::job_record rec;
    brief::brief_file brief;
    bool filing = false;          ///< finalisation under way
    bool validated = false;       ///< inputs checked against their provider schemas
    bool state_dirty = false;     ///< the last state write failed; a retry is scheduled
    std::error_code state_error;  ///< why, while state_dirty
    bool cancelled = false;     ///< an operator cancelled it: nothing more is submitted or tracked
    std::vector<int> progress;  ///< per item, the provider's last progress percent (-1 unknown)
};

}  // namespace briefd::pipeline::detail
