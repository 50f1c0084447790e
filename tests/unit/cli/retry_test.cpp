// briefd retry's plan, from the files a failed job leaves (brief, error file, manifest), written
// here by the same jobs:: functions the daemon uses.
#include "cli/retry.hpp"
#include "brief/brief.hpp"
#include "jobs/job.hpp"
#include "providers/provider.hpp"
#include "unit/store/temp_dir.hpp"

#include <boost/json/parse.hpp>

#include <fstream>

namespace briefd::cli {

namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, std::string_view text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
}

constexpr std::string_view four_items = R"({"platform":"instagram","campaignId":"7f0c2a9e-5b1d-4c3e-9a8f-2d6b4e1c0a57","items":[
  {"brief":"item zero"},{"brief":"item one"},{"brief":"item two","modality":"video"},{"brief":"item three"}]})";

/// A job of four items: 0 completed with its file saved, 1 rejected at submission, 2 completed
/// but its output could not be saved, 3 failed at the provider.
jobs::job_record four_item_job(const std::string& job, const std::string& brief_name) {
    jobs::job_record r;
    r.job_id = job;
    r.brief_name = brief_name;
    r.provider = "lamina";
    r.claimed_at = 1795449600;
    r.items.resize(4);
    for (std::size_t i = 0; i < 4; ++i) r.items[i].index = i;
    auto saved = [](std::size_t i) {
        jobs::output_record o;
        o.index = 0;
        o.label = "AI Designer";
        o.type = "image";
        o.status = "completed";
        o.file = std::to_string(i) + "-0-ai-designer.png";
        o.saved = true;
        return o;
    };
    r.items[0].state = jobs::item_state::finished;
    r.items[0].run_status = "completed";
    r.items[0].run_id = "run-0";
    r.items[0].outputs = {saved(0)};
    r.items[1].state = jobs::item_state::failed;
    r.items[1].error = "rejected: No video-capable app found";
    r.items[2].state = jobs::item_state::finished;
    r.items[2].run_status = "completed";
    r.items[2].run_id = "run-2";
    jobs::output_record lost;
    lost.label = "Video";
    lost.type = "video";
    lost.error = "download failed: connection closed";
    r.items[2].outputs = {lost};
    r.items[3].state = jobs::item_state::failed;
    r.items[3].run_id = "run-3";
    r.items[3].run_status = "failed";
    r.items[3].error = "run failed: content policy";
    return r;
}

struct failed_spool {
    test::temp_dir t;
    spool::layout l{t.path() / "spool", t.path() / "outputs"};
    failed_spool() { REQUIRE(!spool::ensure_dirs(l)); }
    void file_failed_job(const std::string& job, const std::string& brief_name,
                         std::string_view brief) {
        auto rec = four_item_job(job, brief_name);
        write(l.failed() / brief_name, brief);
        write(l.failed() / spool::error_file_name(brief_name), jobs::error_json(rec, 1795449700));
        write(l.outputs / job / "manifest.json", jobs::manifest_json(rec, 1795449700));
    }
};

retry_plan plan_ok(const spool::layout& l, std::string_view job, retry_options o = {}) {
    auto p = plan_retry(l, job, o);
    if (auto* e = std::get_if<std::string>(&p)) FAIL(*e);
    return std::get<retry_plan>(p);
}

std::string plan_error(const spool::layout& l, std::string_view job, retry_options o = {}) {
    auto p = plan_retry(l, job, o);
    if (std::holds_alternative<retry_plan>(p)) FAIL("expected an error for " << job);
    return std::get<std::string>(p);
}

}  // namespace

TEST_CASE("retry: only the items that failed before completing go back, with the shared fields") {
    failed_spool s;
    s.file_failed_job("sneakers", "sneakers.json", four_items);
    auto p = plan_ok(s.l, "sneakers");
    CHECK(p.brief_name == "sneakers.json");
    CHECK(p.items == std::vector<std::size_t>{1, 3});
    REQUIRE(p.kept.size() == 1);
    CHECK(p.kept[0].first == 2);  // its run completed: not generated again
    CHECK(p.kept[0].second.find("only its outputs could not be saved") != std::string::npos);
    CHECK(p.new_job == "sneakers-retry1");

    // The new brief is valid and holds exactly items 1 and 3, shared fields applied.
    auto res = brief::parse("sneakers-retry1.json", p.content, "hrizn", providers::item_schemas());
    INFO(p.content);
    INFO((res.problems.empty() ? std::string() : res.problems.front().to_string()));
    REQUIRE(res.ok());
    CHECK(res.brief->provider == "lamina");  // pinned from the manifest, whatever the default
    REQUIRE(res.brief->items.size() == 2);
    const auto& a = std::get<brief::content_item>(res.brief->items[0].body);
    const auto& b = std::get<brief::content_item>(res.brief->items[1].body);
    CHECK(a.brief == "item one");
    CHECK(b.brief == "item three");
    CHECK(a.platform == "instagram");
    CHECK(b.campaign_id == "7f0c2a9e-5b1d-4c3e-9a8f-2d6b4e1c0a57");
}

TEST_CASE("retry: a job renamed by the daemon (sneakers-2) is found through its error file") {
    failed_spool s;
    s.file_failed_job("sneakers", "sneakers.json", four_items);
    s.file_failed_job("sneakers-2", "sneakers-2.json", four_items);
    write(s.l.failed() / "other.json", "{}");
    s.file_failed_job("renamed-7", "a brief with spaces.json", four_items);
    auto p = plan_ok(s.l, "renamed-7");
    CHECK(p.brief_name == "a brief with spaces.json");
    CHECK(p.new_job == "renamed-7-retry1");
}

TEST_CASE("retry: names count on, a queued retry is refused, a finished one needs --force") {
    failed_spool s;
    s.file_failed_job("sneakers", "sneakers.json", four_items);
    auto p = plan_ok(s.l, "sneakers");
    auto [ec, name] = spool::deliver(s.l, p.new_job + ".json", p.content);
    REQUIRE(!ec);
    auto err = plan_error(s.l, "sneakers");
    CHECK(err.find("already being retried as sneakers-retry1 (in incoming/)") != std::string::npos);

    // The retry ran and failed in turn: retrying the original again needs --force; retrying the
    // retry counts on to -retry2.
    fs::remove(s.l.incoming() / name);
    s.file_failed_job("sneakers-retry1", "sneakers-retry1.json", four_items);
    err = plan_error(s.l, "sneakers");
    CHECK(err.find("already retried as sneakers-retry1 (in failed/)") != std::string::npos);
    CHECK(plan_ok(s.l, "sneakers", {.force = true}).new_job == "sneakers-retry2");
    CHECK(plan_ok(s.l, "sneakers-retry1").new_job == "sneakers-retry2");
}

TEST_CASE(
    "retry: clear refusals — unknown, active, completed, invalid, not a name, nothing failed") {
    failed_spool s;
    CHECK(plan_error(s.l, "nope").starts_with("no failed job named nope in "));
    CHECK(plan_error(s.l, "../etc").find("is not a job name") != std::string::npos);
    CHECK(plan_error(s.l, "").find("is not a job name") != std::string::npos);

    write(s.l.active() / "busy.json", four_items);
    write(s.l.active() / "busy.state.json", "{}");
    CHECK(plan_error(s.l, "busy").find("busy is still active") != std::string::npos);

    write(s.l.outputs / "fine" / "manifest.json",
          R"({"job":"fine","status":"completed","items":[]})");
    CHECK(plan_error(s.l, "fine") == "fine completed; there is nothing to retry");

    write(s.l.failed() / "bad.json", "{");
    write(
        s.l.failed() / "bad.json.error.json",
        R"({"file":"bad.json","status":"invalid","failed_at":1,"problems":[{"file":"bad.json","item":null,"field":"file","message":"not JSON"}]})");
    auto err = plan_error(s.l, "bad");
    CHECK(err.find("bad was refused as invalid (bad.json: file: not JSON)") != std::string::npos);

    // Every listed item completed at the provider: nothing to generate again.
    auto rec = four_item_job("lost", "lost.json");
    rec.items[1].state = jobs::item_state::finished;
    rec.items[1].run_status = "completed";
    rec.items[3] = rec.items[2];
    rec.items[3].index = 3;
    write(s.l.failed() / "lost.json", four_items);
    write(s.l.failed() / "lost.json.error.json", jobs::error_json(rec, 2));
    write(s.l.outputs / "lost" / "manifest.json", jobs::manifest_json(rec, 2));
    CHECK(plan_error(s.l, "lost").starts_with("nothing to retry in lost"));
}

TEST_CASE("retry: the items of a YAML brief, and a one-item brief as a whole") {
    std::string why;
    auto yaml = select_items("x.yaml",
                             "platform: tiktok\nitems:\n  - brief: a\n  - brief: b\n  - brief: c\n",
                             {0, 2}, "", why);
    REQUIRE(yaml);
    auto res = brief::parse("x.json", *yaml, "lamina", providers::item_schemas());
    REQUIRE(res.ok());
    REQUIRE(res.brief->items.size() == 2);
    CHECK(std::get<brief::content_item>(res.brief->items[1].body).brief == "c");
    CHECK(std::get<brief::content_item>(res.brief->items[1].body).platform == "tiktok");

    auto one = select_items("y.json", R"({"brief":"solo","provider":"lamina"})", {0}, "hrizn", why);
    REQUIRE(one);
    CHECK(boost::json::parse(*one) ==
          boost::json::parse(R"({"brief":"solo","provider":"lamina"})"));
    CHECK(!select_items("y.json", R"({"brief":"solo"})", {1}, "", why));
    CHECK(!select_items("z.json", R"({"items":[{"brief":"a"}]})", {3}, "", why));
    CHECK(why == "the brief has no item 3");
}

}  // namespace briefd::cli
