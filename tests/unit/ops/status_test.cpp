#include "ops/status.hpp"

using briefd::ops::format_status;
using briefd::ops::status_counts;

TEST_CASE("format_status lists the counts and the rate budget") {
    status_counts c{.queued = 3,
                    .active = 2,
                    .running = 14,
                    .done = 120,
                    .failed = 1,
                    .budget_available = 37,
                    .budget_limit = 100,
                    .paused_because = {}};
    CHECK(format_status(c) == "queued 3, active 2, running 14, done 120, failed 1, budget 37/100");
}

TEST_CASE("format_status leaves out an unknown budget") {
    status_counts c{};
    CHECK(format_status(c) == "queued 0, active 0, running 0, done 0, failed 0");
}

TEST_CASE("format_status says why submitting is paused, on one line") {
    status_counts c{.queued = 5,
                    .active = 0,
                    .running = 0,
                    .done = 0,
                    .failed = 0,
                    .budget_available = 100,
                    .budget_limit = 100,
                    .paused_because = "API key rejected (401)"};
    CHECK(format_status(c) ==
          "queued 5, active 0, running 0, done 0, failed 0, budget 100/100, paused: API key "
          "rejected (401)");

    c.paused_because = "out of credits\nREADY=1";
    CHECK(format_status(c).find('\n') == std::string::npos);
    CHECK(format_status(c).ends_with("paused: out of credits READY=1"));
}

TEST_CASE("format_status cuts a long reason without splitting a UTF-8 character") {
    status_counts c{};
    // é straddles byte 120. Built with append: GCC 12's -Warray-bounds misfires on string + literal
    // here.
    c.paused_because.assign(119, 'x');
    c.paused_because.append("\xC3\xA9");
    c.paused_because.append(50, 'y');
    auto s = format_status(c);
    auto reason = s.substr(s.find("paused: ") + 8);
    CHECK(reason == std::string(119, 'x'));
}
