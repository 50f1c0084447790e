// Logging to the systemd journal with structured fields (sd_journal_send(3)), so that
// `journalctl -u briefd JOB=sneakers` or `PROVIDER=hrizn` finds a job's or a provider's events.
//
// Used only when stderr really is the journal: systemd sets JOURNAL_STREAM to the device and inode
// of the stream it connected stdout/stderr to, and a process whose stderr was redirected
// elsewhere (a child, a shell pipeline) sees it inherited but not matching. Otherwise the logger
// keeps writing its lines to stderr.
#pragma once

#include "core/log.hpp"

#include <sys/types.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace briefd::ops::journal {

/// True when `journal_stream` ("<dev>:<inode>", decimal, as in $JOURNAL_STREAM) names the file
/// with device `dev` and inode `ino`.
bool stream_matches(std::string_view journal_stream, dev_t dev, ino_t ino) noexcept;

/// True when $JOURNAL_STREAM matches stderr (fd 2) as fstat(2) sees it.
bool stderr_is_journal() noexcept;

/// The journal entry of one event, one "NAME=value" each: MESSAGE= (the log line as on stderr),
/// PRIORITY= (the syslog level), SYSLOG_IDENTIFIER=briefd, EVENT= (the stable event name), and,
/// when the event has them, JOB= (field job), PROVIDER= (provider, or host: the scheduler's host is
/// the provider), RUN= (run or run_id) and ITEM= (item). Values are the fields' own text.
std::vector<std::string> entry_fields(log_level level, std::string_view event,
                                      std::span<const log_field> fields, std::string_view line);

/// A logger sink sending each event with sd_journal_sendv(3). If a send fails (journald gone),
/// the event goes to stderr as a "<N>"-prefixed line instead, so nothing is lost.
logger::structured_sink sink();

}  // namespace briefd::ops::journal
