// `briefd status`: the daemon's GET /status JSON (DESIGN §13, shape in the ops contract) rendered
// as tables for a person. Sans-I/O: JSON in, text out.
#pragma once

#include <boost/json/value.hpp>

#include <string>

namespace briefd::cli {

/// A daemon line, a provider table (budget, pause and its reason, in-flight requests, streams,
/// queued items) and one block per job with each item's state, run id, progress and outputs
/// saved. Tolerant of what the daemon sends: a missing or mistyped field shows as "-", fields it
/// does not know are ignored, and control characters in server text become spaces, so any JSON
/// renders and nothing in it can move the cursor of the operator's terminal.
std::string render_status(const boost::json::value& status);

/// "2h 03m", "4m 12s", "12s": a duration in seconds for a table cell.
std::string format_duration(long long seconds);

}  // namespace briefd::cli
