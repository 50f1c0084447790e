// Structured journal entries: when stderr is the journal (JOURNAL_STREAM = its dev:ino), and
// which fields an event carries. A real send only where journald's socket exists.
#include "ops/journal.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace briefd::ops::journal {

TEST_CASE("journal: JOURNAL_STREAM names a device and inode") {
    CHECK(stream_matches("8:123456", 8, 123456));
    CHECK(!stream_matches("8:123457", 8, 123456));
    CHECK(!stream_matches("9:123456", 8, 123456));
    for (auto bad : {"", ":", "8", "8:", ":1", "8:1:2", "x:1", "8:1x", "-8:1", " 8:1"}) {
        CAPTURE(bad);
        CHECK(!stream_matches(bad, 8, 1));
    }
}

TEST_CASE("journal: stderr counts as the journal only when JOURNAL_STREAM is its dev:ino") {
    struct stat st {};
    REQUIRE(::fstat(2, &st) == 0);
    const char* old = std::getenv("JOURNAL_STREAM");
    std::string saved = old ? old : "";
    auto restore = [&] {
        if (old)
            ::setenv("JOURNAL_STREAM", saved.c_str(), 1);
        else
            ::unsetenv("JOURNAL_STREAM");
    };
    ::unsetenv("JOURNAL_STREAM");
    CHECK(!stderr_is_journal());
    auto mine = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
    ::setenv("JOURNAL_STREAM", mine.c_str(), 1);
    CHECK(stderr_is_journal());
    auto other = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1);
    ::setenv("JOURNAL_STREAM", other.c_str(), 1);
    CHECK(!stderr_is_journal());  // inherited by a process whose stderr went elsewhere
    restore();
}

TEST_CASE("journal: an event's fields — EVENT, PRIORITY, JOB, PROVIDER, RUN, ITEM") {
    log_field f[] = {
        {"job", "sneakers"}, {"item", 3}, {"run", "run_ab12"}, {"host", "lamina"}, {"reason", "x"}};
    auto e = entry_fields(log_level::warning, "item.failed", f, "item.failed job=sneakers item=3");
    CHECK(e == std::vector<std::string>{"MESSAGE=item.failed job=sneakers item=3", "PRIORITY=4",
                                        "SYSLOG_IDENTIFIER=briefd", "EVENT=item.failed",
                                        "JOB=sneakers", "PROVIDER=lamina", "RUN=run_ab12",
                                        "ITEM=3"});
    // provider wins over host, run_id counts as RUN; absent or empty fields are left out.
    log_field g[] = {{"host", "h"}, {"provider", "hrizn"}, {"run_id", "r-1"}, {"job", ""}};
    auto e2 = entry_fields(log_level::notice, "x", g, "x");
    CHECK(std::find(e2.begin(), e2.end(), "PROVIDER=hrizn") != e2.end());
    CHECK(std::find(e2.begin(), e2.end(), "RUN=r-1") != e2.end());
    CHECK(std::none_of(e2.begin(), e2.end(), [](auto& s) { return s.starts_with("JOB="); }));
    CHECK(entry_fields(log_level::error, "daemon.ready", {}, "daemon.ready").size() == 4);
}

TEST_CASE("journal: a real send, found again by journalctl JOB=, where journald runs") {
    if (::access("/run/systemd/journal/socket", F_OK) != 0) {
        MESSAGE("no /run/systemd/journal/socket on this machine: real send not tested");
        return;
    }
    const auto job =
        "unit-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}());
    logger log([](log_level, std::string_view) {});
    log.set_structured_sink(sink());
    log.notice("test.journal_send", {{"job", job}, {"provider", "lamina"}});
    std::string found;
    for (int i = 0; i < 50 && found.find("test.journal_send") == std::string::npos; ++i) {
        std::string cmd =
            "journalctl --no-pager -o cat JOB=" + job + " PROVIDER=lamina 2>/dev/null";
        if (FILE* p = ::popen(cmd.c_str(), "r")) {
            char buf[512];
            found.clear();
            while (std::fgets(buf, sizeof buf, p)) found += buf;
            ::pclose(p);
        }
        if (found.find("test.journal_send") == std::string::npos) ::usleep(100000);
    }
    CHECK(found.find("test.journal_send job=" + job) != std::string::npos);
}

}  // namespace briefd::ops::journal
