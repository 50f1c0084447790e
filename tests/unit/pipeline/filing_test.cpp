// The filer on a real spool in a temp directory: where briefs end, their error files and
// manifests, the state file's removal, the name index and the counts.
#include "pipeline/filing.hpp"

#include "store/dir_sync.hpp"
#include "unit/pipeline/temp_spool.hpp"

#include <boost/json.hpp>

#include <doctest/doctest.h>

#include <thread>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace briefd;
using briefd::test::read_file;
using briefd::test::temp_spool;
using briefd::test::write_plain;

namespace {

struct spool_fixture : temp_spool {
    spool::name_index names;
    pipeline::filer filer{layout, names, log};

    /// active/<name> with its state file, as intake leaves an accepted brief.
    jobs::job_record active_job(const std::string& job_id, const std::string& name,
                                std::size_t items) {
        write_plain(layout.active() / name,
                    R"({"brief":"x","platform":"instagram","modality":"image"})");
        jobs::job_record rec;
        rec.job_id = job_id;
        rec.brief_name = name;
        rec.provider = "lamina";
        rec.claimed_at = 1000;
        for (std::size_t i = 0; i < items; ++i) {
            jobs::item_record it;
            it.index = i;
            rec.items.push_back(it);
        }
        REQUIRE_FALSE(jobs::save(layout.active(), rec));
        return rec;
    }
};

jobs::output_record saved_output(std::string file) {
    jobs::output_record o;
    o.label = "image";
    o.type = "image";
    o.status = "completed";
    o.file = std::move(file);
    o.saved = true;
    return o;
}

}  // namespace

TEST_CASE("file_job: a completed job gets its manifest, its brief moves to done/, its state goes") {
    spool_fixture f;
    auto rec = f.active_job("sneakers", "sneakers.json", 2);
    for (auto& it : rec.items) {
        it.state = jobs::item_state::finished;
        it.outputs_known = true;
        it.outputs.push_back(saved_output(std::to_string(it.index) + "-0-image.png"));
    }
    REQUIRE(rec.complete());
    auto dir = f.layout.outputs / rec.job_id;
    auto r = f.filer.file_job(rec, dir, 2000);
    REQUIRE_FALSE(r.ec);
    CHECK(r.final_name == "sneakers.json");
    CHECK(fs::exists(f.layout.done() / "sneakers.json"));
    CHECK_FALSE(fs::exists(f.layout.active() / "sneakers.json"));
    CHECK_FALSE(fs::exists(jobs::state_path(f.layout.active(), "sneakers")));
    CHECK_FALSE(fs::exists(f.layout.failed() / spool::error_file_name("sneakers.json")));
    CHECK((fs::status(dir).permissions() & fs::perms::all) == fs::perms(0750));
    auto manifest = json::parse(read_file(dir / "manifest.json")).as_object();
    CHECK(manifest.at("status").as_string() == "completed");
    CHECK(manifest.at("finished_at").as_int64() == 2000);
    CHECK(f.filer.done() == 1);
    CHECK(f.filer.failed() == 0);
    CHECK(f.names.taken("sneakers"));  // a later brief of that name gets "sneakers-2"
}

TEST_CASE("file_job: a job with a failed item goes to failed/ beside its error file") {
    spool_fixture f;
    auto rec = f.active_job("lineup", "lineup.json", 2);
    rec.items[0].state = jobs::item_state::finished;
    rec.items[0].outputs_known = true;
    rec.items[0].outputs.push_back(saved_output("0-0-image.png"));
    rec.items[1].state = jobs::item_state::failed;
    rec.items[1].error = "rejected by the provider";
    auto r = f.filer.file_job(rec, f.layout.outputs / rec.job_id, 2000);
    REQUIRE_FALSE(r.ec);
    CHECK(r.final_name == "lineup.json");
    CHECK(fs::exists(f.layout.failed() / "lineup.json"));
    CHECK_FALSE(fs::exists(jobs::state_path(f.layout.active(), "lineup")));
    auto err = json::parse(read_file(f.layout.failed() / "lineup.json.error.json")).as_object();
    CHECK(err.at("status").as_string() == "partial");
    CHECK(err.at("failed_at").as_int64() == 2000);
    auto manifest =
        json::parse(read_file(f.layout.outputs / "lineup" / "manifest.json")).as_object();
    CHECK(manifest.at("status").as_string() == "partial");
    CHECK(f.filer.done() == 0);
    CHECK(f.filer.failed() == 1);
}

TEST_CASE("file_job: a name already taken in done/ is suffixed") {
    spool_fixture f;
    write_plain(f.layout.done() / "a.json", "earlier");
    auto rec = f.active_job("a-2", "a.json", 1);
    rec.items[0].state = jobs::item_state::finished;
    rec.items[0].outputs_known = true;
    auto r = f.filer.file_job(rec, f.layout.outputs / rec.job_id, 2000);
    REQUIRE_FALSE(r.ec);
    CHECK(r.final_name == "a-2.json");
    CHECK(read_file(f.layout.done() / "a.json") == "earlier");
    CHECK(fs::exists(f.layout.done() / "a-2.json"));
}

TEST_CASE(
    "file_job: when the brief cannot be moved nothing after the manifest happens, and a retry "
    "files it") {
    spool_fixture f;
    auto rec = f.active_job("gone", "gone.json", 1);
    rec.items[0].state = jobs::item_state::failed;
    rec.items[0].error = "x";
    fs::rename(f.layout.active() / "gone.json", f.t / "aside.json");
    auto r = f.filer.file_job(rec, f.layout.outputs / rec.job_id, 2000);
    CHECK(r.ec == std::errc::no_such_file_or_directory);
    // The state stays (recovery or the retry finishes the job); no orphan error file.
    CHECK(fs::exists(jobs::state_path(f.layout.active(), "gone")));
    CHECK_FALSE(fs::exists(f.layout.failed() / "gone.json.error.json"));
    CHECK(f.filer.failed() == 0);

    fs::rename(f.t / "aside.json", f.layout.active() / "gone.json");
    r = f.filer.file_job(rec, f.layout.outputs / rec.job_id, 2001);
    REQUIRE_FALSE(r.ec);
    CHECK(fs::exists(f.layout.failed() / "gone.json"));
    CHECK(fs::exists(f.layout.failed() / "gone.json.error.json"));
    CHECK_FALSE(fs::exists(jobs::state_path(f.layout.active(), "gone")));
    CHECK(f.filer.failed() == 1);
}

TEST_CASE("file_job: an outputs directory that cannot be made fails before the brief moves") {
    spool_fixture f;
    auto rec = f.active_job("blocked", "blocked.json", 1);
    rec.items[0].state = jobs::item_state::failed;
    write_plain(f.layout.outputs / "blocked", "a file where the directory should be");
    auto r = f.filer.file_job(rec, f.layout.outputs / "blocked", 2000);
    CHECK(r.ec);
    CHECK(fs::exists(f.layout.active() / "blocked.json"));
    CHECK(fs::exists(jobs::state_path(f.layout.active(), "blocked")));
    CHECK(fs::is_empty(f.layout.failed()));
}

TEST_CASE("file_job: a symlink at the outputs directory is refused, nothing written through it") {
    spool_fixture f;
    auto rec = f.active_job("linked", "linked.json", 1);
    rec.items[0].state = jobs::item_state::failed;
    fs::create_directories(f.layout.outputs);
    auto elsewhere = f.layout.outputs.parent_path() / "elsewhere";
    fs::create_directory(elsewhere);
    fs::create_directory_symlink(elsewhere, f.layout.outputs / "linked");
    auto r = f.filer.file_job(rec, f.layout.outputs / "linked", 2000);
    CHECK(r.ec == std::errc::not_a_directory);
    CHECK(fs::is_empty(elsewhere));
    CHECK(fs::exists(f.layout.active() / "linked.json"));
}

TEST_CASE("refuse: an invalid brief from incoming/ goes to failed/ with its problems") {
    spool_fixture f;
    write_plain(f.layout.incoming() / "bad.json", "{");
    std::vector<brief::problem> problems{{"bad.json", std::nullopt, "file", "is not valid JSON"}};
    auto r = f.filer.refuse(f.layout.incoming() / "bad.json", "bad.json", problems, 1234);
    REQUIRE_FALSE(r.ec);
    CHECK(r.final_name == "bad.json");
    CHECK(read_file(f.layout.failed() / "bad.json") == "{");
    auto err = json::parse(read_file(f.layout.failed() / "bad.json.error.json")).as_object();
    CHECK(err.at("file").as_string() == "bad.json");
    CHECK(err.at("status").as_string() == "invalid");
    CHECK(err.at("failed_at").as_int64() == 1234);
    REQUIRE(err.at("problems").as_array().size() == 1);
    CHECK(f.filer.failed() == 1);
    CHECK(f.logged("brief.refused"));
    CHECK(f.names.taken("bad"));
}

TEST_CASE(
    "refuse: a second brief of a name already in failed/ is suffixed with its own error file") {
    spool_fixture f;
    write_plain(f.layout.incoming() / "bad.json", "first");
    std::vector<brief::problem> problems{{"bad.json", std::nullopt, "file", "is not valid JSON"}};
    REQUIRE_FALSE(f.filer.refuse(f.layout.incoming() / "bad.json", "bad.json", problems, 1).ec);
    write_plain(f.layout.incoming() / "bad.json", "second");
    auto r = f.filer.refuse(f.layout.incoming() / "bad.json", "bad.json", problems, 2);
    REQUIRE_FALSE(r.ec);
    CHECK(r.final_name == "bad-2.json");
    CHECK(read_file(f.layout.failed() / "bad-2.json") == "second");
    auto err = json::parse(read_file(f.layout.failed() / "bad-2.json.error.json")).as_object();
    CHECK(err.at("failed_at").as_int64() == 2);
    // The first keeps its own reason (it was replaced, then renamed away, before).
    CHECK(read_file(f.layout.failed() / "bad.json") == "first");
    auto first = json::parse(read_file(f.layout.failed() / "bad.json.error.json")).as_object();
    CHECK(first.at("failed_at").as_int64() == 1);
    CHECK(f.names.taken("bad-2"));
    CHECK(f.filer.failed() == 2);
}

TEST_CASE("file_job: a failed job whose name failed before leaves the earlier error file alone") {
    spool_fixture f;
    write_plain(f.layout.failed() / "a.json", "earlier");
    write_plain(f.layout.failed() / "a.json.error.json", "the earlier reason");
    auto rec = f.active_job("a-2", "a.json", 1);
    rec.items[0].state = jobs::item_state::failed;
    rec.items[0].error = "rejected";
    auto r = f.filer.file_job(rec, f.layout.outputs / rec.job_id, 2000);
    REQUIRE_FALSE(r.ec);
    CHECK(r.final_name == "a-2.json");
    CHECK(read_file(f.layout.failed() / "a.json.error.json") == "the earlier reason");
    auto err = json::parse(read_file(f.layout.failed() / "a-2.json.error.json")).as_object();
    CHECK(err.at("job").as_string() == "a-2");
    CHECK_FALSE(fs::exists(jobs::state_path(f.layout.active(), "a-2")));
}

TEST_CASE("refuse: a brief that cannot be moved never touches the error file of an earlier one") {
    spool_fixture f;
    write_plain(f.layout.failed() / "x.json", "earlier");
    write_plain(f.layout.failed() / "x.json.error.json", "the earlier reason");
    std::vector<brief::problem> problems{{"x.json", std::nullopt, "file", "is not valid JSON"}};
    auto r = f.filer.refuse(f.layout.incoming() / "x.json", "x.json", problems, 1);  // not there
    CHECK(r.ec == std::errc::no_such_file_or_directory);
    CHECK(read_file(f.layout.failed() / "x.json.error.json") == "the earlier reason");
}

TEST_CASE("refuse: a brief that cannot be filed stays where it is, logged, not counted") {
    spool_fixture f;
    std::vector<brief::problem> problems{{"x.json", std::nullopt, "file", "is not a regular file"}};
    auto r = f.filer.refuse(f.layout.incoming() / "x.json", "x.json", problems, 1);
    CHECK(r.ec == std::errc::no_such_file_or_directory);
    CHECK_FALSE(fs::exists(f.layout.failed() / "x.json.error.json"));
    CHECK(f.filer.failed() == 0);
    CHECK(f.logged("brief.file_failed"));
    CHECK_FALSE(f.logged("brief.refused"));
}

TEST_CASE(
    "file_job_io: jobs filed at once from many threads share the fsyncs of done/, active/ and "
    "outputs/; every brief ends in done/ once, beside its manifest") {
    spool_fixture f;
    constexpr std::size_t jobs_n = 48, threads = 8;
    std::vector<jobs::job_record> recs;
    for (std::size_t j = 0; j < jobs_n; ++j) {
        auto rec = f.active_job("j" + std::to_string(j), "j" + std::to_string(j) + ".json", 1);
        rec.items[0].state = jobs::item_state::finished;
        rec.items[0].outputs_known = true;
        recs.push_back(std::move(rec));
    }
    auto& done_sync = store::dir_syncer::of(f.layout.done());
    auto& active_sync = store::dir_syncer::of(f.layout.active());
    auto& outputs_sync = store::dir_syncer::of(f.layout.outputs);
    std::vector<pipeline::filed> results(jobs_n);
    {
        std::atomic<std::size_t> next{0};
        std::vector<std::jthread> pool;
        for (std::size_t t = 0; t < threads; ++t)
            pool.emplace_back([&] {
                for (std::size_t j; (j = next.fetch_add(1)) < jobs_n;)
                    results[j] =
                        f.filer.file_job_io(recs[j], f.layout.outputs / recs[j].job_id, 2000);
            });
    }
    for (std::size_t j = 0; j < jobs_n; ++j) {
        CHECK_FALSE(results[j].ec);
        CHECK(results[j].final_name == recs[j].brief_name);
        CHECK(fs::exists(f.layout.done() / recs[j].brief_name));
        CHECK_FALSE(fs::exists(f.layout.active() / recs[j].brief_name));
        CHECK(fs::exists(f.layout.outputs / recs[j].job_id / "manifest.json"));
    }
    // Each filing went through the shared syncers (one call per directory per brief), and they
    // never ran more fsyncs than calls; how many were shared depends on the timing.
    CHECK(done_sync.calls() == jobs_n);
    CHECK(active_sync.calls() == jobs_n);
    CHECK(outputs_sync.calls() == jobs_n);  // each job's directory was new
    CHECK(done_sync.fsyncs() <= jobs_n);
    MESSAGE("fsyncs for " << jobs_n << " filings: done/ " << done_sync.fsyncs() << ", active/ "
                          << active_sync.fsyncs() << ", outputs/ " << outputs_sync.fsyncs());
}
