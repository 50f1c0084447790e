// recover_spool() on a real spool in a temp directory: what the last process left in active/
// becomes jobs to resume, briefs to adopt and the index of taken names, and the leftovers of a
// crash (corrupt states, stale states, partial downloads, temps) are cleaned.
#include "pipeline/recovery.hpp"

#include "unit/pipeline/temp_spool.hpp"

#include <doctest/doctest.h>

#include <algorithm>

namespace fs = std::filesystem;
using namespace briefd;
using briefd::test::temp_spool;
using briefd::test::write_plain;

namespace {

constexpr auto two_items = briefd::test::two_item_brief;

struct spool_fixture : temp_spool {
    pipeline::recovery_options opt{1 << 20, "lamina", {}};

    jobs::job_record job(const std::string& id, const std::string& name,
                         std::vector<jobs::item_state> states) {
        jobs::job_record rec;
        rec.job_id = id;
        rec.brief_name = name;
        rec.provider = "lamina";
        for (std::size_t i = 0; i < states.size(); ++i) {
            jobs::item_record it;
            it.index = i;
            it.state = states[i];
            if (it.state == jobs::item_state::submitted) it.run_id = "run-" + std::to_string(i);
            rec.items.push_back(it);
        }
        REQUIRE_FALSE(jobs::save(layout.active(), rec));
        return rec;
    }
};

}  // namespace

TEST_CASE("recover_spool: an empty spool recovers nothing") {
    spool_fixture f;
    auto r = pipeline::recover_spool(f.layout, f.opt, f.log);
    CHECK(r.jobs.empty());
    CHECK(r.unclaimed.empty());
    CHECK(r.names.size() == 0);
    CHECK(f.logged("recovery.done"));
}

TEST_CASE("recover_spool: jobs come back with their briefs, counted by what they need next") {
    spool_fixture f;
    write_plain(f.layout.active() / "b.json", two_items);
    f.job("b", "b.json", {jobs::item_state::pending, jobs::item_state::submitted});
    write_plain(f.layout.active() / "a.json", two_items);
    f.job("a", "a.json", {jobs::item_state::submitting, jobs::item_state::finished});
    std::vector<std::pair<std::string, std::size_t>> steps;
    f.opt.progress = [&](std::string_view s, std::size_t n) { steps.emplace_back(s, n); };

    auto r = pipeline::recover_spool(f.layout, f.opt, f.log);
    REQUIRE(r.jobs.size() == 2);
    CHECK(r.jobs[0].rec.job_id == "a");  // in the order of their state files
    CHECK(r.jobs[1].rec.job_id == "b");
    for (const auto& j : r.jobs) {
        CHECK_FALSE(j.brief_lost());
        CHECK(j.brief.items.size() == 2);
    }
    CHECK(r.jobs[1].rec.items[1].run_id == "run-1");
    CHECK(r.pending == 1);
    CHECK(r.uncertain == 1);
    CHECK(r.retrack == 1);
    CHECK(r.redownload == 1);
    CHECK(r.unclaimed.empty());
    CHECK(r.names.taken("a"));
    CHECK(r.names.taken("b"));
    CHECK_FALSE(r.names.taken("c"));
    REQUIRE(steps.size() == 3);
    CHECK(steps[0].first == "spool");
    CHECK(steps[1].first == "jobs");
    CHECK(steps[2] == std::pair<std::string, std::size_t>{"unclaimed", 2});
}

TEST_CASE(
    "recover_spool: a brief that changed while its job was active fails the pending items only") {
    spool_fixture f;
    write_plain(f.layout.active() / "c.json",
                R"({"brief":"only one now","platform":"instagram","modality":"image"})");
    f.job("c", "c.json", {jobs::item_state::pending, jobs::item_state::submitted});
    write_plain(f.layout.active() / "d.json", "{ not json");
    f.job("d", "d.json", {jobs::item_state::pending});

    auto r = pipeline::recover_spool(f.layout, f.opt, f.log);
    REQUIRE(r.jobs.size() == 2);
    const auto& c = r.jobs[0];
    CHECK(c.brief_lost());
    CHECK(c.rec.items[0].state == jobs::item_state::failed);
    CHECK(c.rec.items[0].error.find("changed") != std::string::npos);
    CHECK(c.rec.items[1].state == jobs::item_state::submitted);  // its run is still followed
    const auto& d = r.jobs[1];
    CHECK(d.brief_lost());
    CHECK(d.brief.items.empty());
    CHECK(d.rec.items[0].state == jobs::item_state::failed);
    CHECK(r.pending == 0);
    CHECK(f.logged("recovery.brief_changed"));
}

TEST_CASE("recover_spool: briefs in active/ without a state are handed back as unclaimed") {
    spool_fixture f;
    write_plain(f.layout.active() / "e.json", two_items);
    write_plain(f.layout.active() / "f.yaml", "brief: x\n");
    write_plain(f.layout.active() / ".hidden.json", "{}");
    write_plain(f.layout.active() / "notes.txt", "not a brief");
    auto r = pipeline::recover_spool(f.layout, f.opt, f.log);
    CHECK(r.jobs.empty());
    auto u = r.unclaimed;
    std::sort(u.begin(), u.end());
    CHECK(u == std::vector<std::string>{"e.json", "f.yaml"});
}

TEST_CASE(
    "recover_spool: a corrupt state is moved aside and its brief is orphaned, not claimed again") {
    spool_fixture f;
    write_plain(f.layout.active() / "g.json", two_items);
    write_plain(jobs::state_path(f.layout.active(), "g"), "{ truncated");
    // A brief of another job that also lost its state (suffixed id), and one claimed just before
    // a crash, which is not orphaned: nothing of it was sent.
    write_plain(f.layout.active() / "h.yaml", two_items);
    write_plain(jobs::state_path(f.layout.active(), "h-2"), "not json");
    write_plain(f.layout.active() / "gg.json", two_items);
    auto r = pipeline::recover_spool(f.layout, f.opt, f.log);
    CHECK(r.jobs.empty());
    CHECK(fs::exists(f.layout.active() / "g.state.json.corrupt"));
    CHECK_FALSE(fs::exists(jobs::state_path(f.layout.active(), "g")));
    auto o = r.orphaned;
    std::sort(o.begin(), o.end());
    CHECK(o ==
          std::vector<std::pair<std::string, std::string>>{{"g.json", "g"}, {"h.yaml", "h-2"}});
    CHECK(r.unclaimed == std::vector<std::string>{"gg.json"});
    CHECK(f.logged("state.corrupt"));
}

TEST_CASE("recover_spool: a state whose brief was already filed is removed") {
    spool_fixture f;
    write_plain(f.layout.done() / "h.json", two_items);
    f.job("h", "h.json", {jobs::item_state::finished, jobs::item_state::finished});
    auto r = pipeline::recover_spool(f.layout, f.opt, f.log);
    CHECK(r.jobs.empty());
    CHECK_FALSE(fs::exists(jobs::state_path(f.layout.active(), "h")));
    CHECK(fs::exists(f.layout.done() / "h.json"));
    CHECK(r.names.taken("h"));  // from done/
}

TEST_CASE("recover_spool: partial downloads of a recovered job and stale temps are removed") {
    spool_fixture f;
    write_plain(f.layout.active() / "k.json", two_items);
    f.job("k", "k.json", {jobs::item_state::submitted, jobs::item_state::submitted});
    auto out = f.layout.outputs / "k";
    fs::create_directories(out);
    write_plain(out / "0-0-image.png", "kept");
    write_plain(out / ".1-0.dl", "partial");
    write_plain(out / ".1-0.dl.part", "partial");
    write_plain(f.layout.failed() / ".x.error.json.Ab12Cd.tmp", "temp");

    auto r = pipeline::recover_spool(f.layout, f.opt, f.log);
    REQUIRE(r.jobs.size() == 1);
    CHECK(fs::exists(out / "0-0-image.png"));
    CHECK_FALSE(fs::exists(out / ".1-0.dl"));
    CHECK_FALSE(fs::exists(out / ".1-0.dl.part"));
    CHECK_FALSE(fs::exists(f.layout.failed() / ".x.error.json.Ab12Cd.tmp"));
}

TEST_CASE("read_brief: parses a brief, refuses what can never be one, reports a missing file") {
    spool_fixture f;
    write_plain(f.layout.active() / "ok.json", two_items);
    std::string why;
    auto ok = pipeline::read_brief(f.layout.active(), "ok.json", 1 << 20, "lamina", why);
    REQUIRE(ok);
    REQUIRE(ok->ok());
    CHECK(ok->brief->items.size() == 2);

    auto big = pipeline::read_brief(f.layout.active(), "ok.json", 10, "lamina", why);
    REQUIRE(big);  // too large for good: a problem, not a retry
    CHECK_FALSE(big->ok());
    REQUIRE(big->problems.size() == 1);
    CHECK(big->problems[0].field == "file");

    CHECK_FALSE(pipeline::read_brief(f.layout.active(), "missing.json", 1 << 20, "lamina", why));
    CHECK_FALSE(why.empty());
}

TEST_CASE("recover_spool: a spare inode is never read as a state file, nor adopted as a brief") {
    // A spare that still holds the state of a job filed just before a crash (its removal renamed
    // it; the crash came before the state writer emptied it), and one holding a brief's bytes:
    // recovery reads neither, and leaves them to the state writer, which adopts and empties them.
    spool_fixture f;
    write_plain(f.layout.done() / "s.json", two_items);
    f.job("s", "s.json", {jobs::item_state::submitted, jobs::item_state::pending});
    fs::rename(jobs::state_path(f.layout.active(), "s"), f.layout.active() / ".spare.4");
    write_plain(f.layout.active() / ".spare.5", two_items);
    auto r = pipeline::recover_spool(f.layout, f.opt, f.log);
    CHECK(r.jobs.empty());
    CHECK(r.unclaimed.empty());
    CHECK(r.pending == 0);
    CHECK(fs::exists(f.layout.active() / ".spare.4"));
    CHECK(fs::exists(f.layout.active() / ".spare.5"));
    CHECK_FALSE(f.logged("state.corrupt"));
}
