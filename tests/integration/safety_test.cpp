// Secrets, hostile input and transport security: the key stays with the API origin and out of
// every file briefd writes; a wrong key blocks instead of failing the queue; bad briefs are
// refused with a reason while the daemon keeps working; HTTPS against a private CA.
#include "integration/helpers.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <thread>

namespace briefd::it {

namespace json = boost::json;

TEST_CASE("the API key never reaches the output origin, the log, manifests or error files") {
    rig_options o;
    o.sim_args = {"--no-video"};
    rig r(o);
    RIG_CONTEXT(r);
    r.d->drop("keyed.json", content_brief("keyed", 4));
    r.d->drop("keyed-video.json", content_brief("keyed video", 1, "video"));
    r.d->drop("keyed-app.json", R"({"app": "ec7ec3ce-69b4-43c9-8eea-fe9752d679a4",
                                    "inputs": {"Upload": "https://example.com/k.jpg", "Style": "Nope"}})");
    REQUIRE(r.d->wait_filed(3, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"keyed.json"});
    CHECK(r.d->failed() == std::vector<std::string>{"keyed-app.json", "keyed-video.json"});
    CHECK(r.stat("output_requests") >= 4);
    CHECK(r.stat("output_requests_with_api_key") == 0);
    std::size_t looked_at = 0;
    for (const auto& f : files_under(r.d->root())) {
        if (f == r.d->key_path()) continue;
        ++looked_at;
        CHECK_MESSAGE(read_file(f).find(r.key) == std::string::npos,
                      "the key is in " << f.string());
    }
    // the log, the config, 3 briefs, 2 error files, manifests and outputs at least
    CHECK(looked_at >= 10);
}

TEST_CASE("a wrong key blocks the host without failing briefs; fixing it and SIGHUP resumes") {
    rig_options o;
    o.daemon.api_key = "lma_wrong_key_0123456789";
    rig r(o);
    RIG_CONTEXT(r);
    r.d->drop("patient.json", content_brief("patient", 2));
    REQUIRE(r.d->wait_log("host.blocked", 20s));
    // Give a queue-burning daemon ample time to do the wrong thing.
    std::this_thread::sleep_for(1500ms);
    CHECK(r.d->failed().empty());
    CHECK(r.d->done().empty());
    CHECK(r.stat("runs_created") == 0);
    CHECK(r.d->log().find("lma_wrong_key_0123456789") == std::string::npos);

    r.d->write_key(r.key);
    REQUIRE(r.d->signal(SIGHUP));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"patient.json"});
    CHECK(r.stat("runs_created") == 2);
}

TEST_CASE(
    "invalid briefs go to failed/ with a reason naming file, item and field; the daemon keeps "
    "working") {
    rig r;
    RIG_CONTEXT(r);
    // A valid brief elsewhere, linked into incoming/: following the link would "work", which is the
    // point.
    const auto outside = r.tmp.path() / "outside.json";
    { std::ofstream(outside) << content_brief("outside", 1); }
    fs::create_directories(r.d->spool() / "incoming");
    fs::create_symlink(outside, r.d->spool() / "incoming" / "link.json");
    r.d->drop("garbage.json", "{\"items\": [ this is not json");
    r.d->drop("big.json", "{\"brief\": \"big\"" + std::string(1100 * 1024, ' ') + "}");
    r.d->drop("missing.json", R"({"items": [{"brief": "fine"}, {"platform": "instagram"}]})");
    REQUIRE(r.d->wait_filed(4, filed_timeout));
    CHECK(r.d->failed() ==
          std::vector<std::string>{"big.json", "garbage.json", "link.json", "missing.json"});
    CHECK(r.stat("batches") == 0);
    CHECK(r.stat("runs_created") == 0);
    for (const char* name : {"big.json", "garbage.json", "link.json", "missing.json"}) {
        CAPTURE(name);
        const std::string err = json::serialize(r.d->error_file(name));
        CAPTURE(err);
        CHECK(err.find(name) != std::string::npos);
    }
    const std::string missing = json::serialize(r.d->error_file("missing.json"));
    CAPTURE(missing);
    CHECK(missing.find("\"item\":1") != std::string::npos);
    CHECK(missing.find("brief") != std::string::npos);
    // The file the link pointed to is untouched.
    CHECK(fs::is_regular_file(outside));

    r.d->drop("after.json", content_brief("after", 2));
    REQUIRE(r.d->wait_filed(5, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"after.json"});
    CHECK(r.d->process().running());
}

TEST_CASE("HTTPS: briefsim with a certificate from a private CA, briefd trusting that CA") {
    rig_options o;
    o.https = true;
    rig r(o);
    RIG_CONTEXT(r);
    REQUIRE(r.sim->api_url().starts_with("https://"));
    r.d->drop("tls.json", content_brief("tls", 3));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"tls.json"});
    CHECK(check_outputs(*r.d, "tls") >= 3);
}

}  // namespace briefd::it

namespace briefd::it {

TEST_CASE("hostile output labels cannot put a file outside outputs/<job>/") {
    rig_options o;
    o.sim_args = {"--hostile-labels"};
    rig r(o);
    RIG_CONTEXT(r);
    r.d->drop("hostile.json", content_brief("hostile", 5));  // one run per label briefsim has
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"hostile.json"});
    CHECK(check_outputs(*r.d, "hostile") == 5);
    // Everything under the temp dir is accounted for: briefd's own files, the spool and
    // outputs/hostile/.
    const fs::path job_dir = fs::canonical(r.d->outputs() / "hostile");
    for (const auto& f : files_under(r.tmp.path())) {
        const fs::path rel = fs::relative(f, r.tmp.path());
        const std::string top = rel.begin()->string();
        if (top != "d") {
            CHECK_MESSAGE(
                (rel.string().starts_with("briefsim.log") || rel.string() == "briefsim.log"),
                rel.string());
            continue;
        }
        const fs::path in_d = fs::relative(f, r.d->root());
        const std::string first = in_d.begin()->string();
        if (first == "outputs") {
            CHECK_MESSAGE(fs::canonical(f).parent_path() == job_dir, f.string());
            continue;
        }
        CHECK_MESSAGE((first == "spool" || first == "briefd.log" || first == "briefd.log.prev" ||
                       first == "briefd.yaml" || first == "lamina.key"),
                      f.string());
    }
    CHECK_FALSE(fs::exists(r.tmp.path() / "evil"));
    CHECK_FALSE(fs::exists(r.d->root() / "evil"));
    CHECK_FALSE(fs::exists(r.d->outputs() / "evil"));
    for (const auto& e : fs::directory_iterator("/tmp"))
        CHECK_MESSAGE(!e.path().filename().string().starts_with("briefsim-hostile"),
                      e.path().string());
    for (const auto& f : files_under(job_dir)) {
        const std::string name = f.filename().string();
        CHECK_MESSAGE(name.find('\0') == std::string::npos, name);
        CHECK_MESSAGE(name.find('\x1b') == std::string::npos, name);
        CHECK_MESSAGE(name.find('\n') == std::string::npos, name);
    }
}

}  // namespace briefd::it
