// A full outputs file system: the daemon reports it, keeps the brief and its durable state intact
// (no half-written files, no brief burnt into failed/), and finishes once space returns.
// Needs CAP_SYS_ADMIN to mount a small tmpfs; says so visibly where it cannot.
#include "lifecycle/helpers.hpp"

#include <doctest/doctest.h>

#include <sys/mount.h>

#include <cerrno>
#include <fstream>
#include <thread>

namespace briefd::lifecycle {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

class tmpfs_mount {
  public:
    tmpfs_mount(const fs::path& dir, const char* options) : dir_(dir) {
        fs::create_directories(dir_);
        if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, options) == 0)
            mounted_ = true;
        else
            error_ = std::error_code(errno, std::system_category());
    }
    ~tmpfs_mount() {
        if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    }
    tmpfs_mount(const tmpfs_mount&) = delete;
    tmpfs_mount& operator=(const tmpfs_mount&) = delete;
    bool ok() const noexcept { return mounted_; }
    std::error_code error() const noexcept { return error_; }

  private:
    fs::path dir_;
    bool mounted_ = false;
    std::error_code error_;
};

// Fills the file system holding `p` until a write fails; returns the bytes written.
std::size_t fill(const fs::path& p) {
    std::ofstream out(p, std::ios::binary);
    std::string block(4096, 'x');
    std::size_t n = 0;
    while (out.write(block.data(), static_cast<std::streamsize>(block.size())) && out.flush())
        n += block.size();
    return n;
}

}  // namespace

TEST_CASE("disk full under outputs/: reported, state intact, completes when space returns") {
    temp_root root("disk");
    auto outputs = root.path() / "d" / "outputs";
    tmpfs_mount m(outputs, "size=1m,mode=0755");
    if (!m.ok()) {
        MESSAGE("SKIPPED: cannot mount a tmpfs for outputs/ here ("
                << m.error().message() << "); disk-full behaviour not exercised");
        return;
    }
    // Each image is padded to 128 KiB, so one output does not fit in what is left.
    testing::sim_process sim(
        {"--time-scale", "60", "--seed", "41", "--rate-window-s", "60", "--output-bytes", "131072"},
        {.stderr_file = root.path() / "briefsim.log"});
    testing::daemon_options opt;
    opt.api_url = sim.api_url();
    opt.api_key = sim.api_key();
    opt.rate_window_s = 1;
    testing::daemon_process d(root.path() / "d", opt);

    auto filler = outputs / "filler";
    auto filled = fill(filler);
    MESSAGE("filled outputs/ tmpfs with " << filled << " bytes");
    d.drop("full.json", content_brief("disk-full", 2));
    REQUIRE(d.wait_log("run.finished", 20s));
    // The problem is reported (the download or the filing fails with ENOSPC) ...
    REQUIRE(d.wait_log("No space left on device", 20s));
    // ... and for a while nothing is given up: the disk stays full for several seconds.
    std::this_thread::sleep_for(6s);
    CHECK(d.process().running());
    CHECK(d.failed().empty());
    CHECK(d.done().empty());
    auto state_file = d.spool() / "active" / "full.state.json";
    REQUIRE(fs::exists(state_file));
    {
        std::ifstream in(state_file);
        std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        boost::system::error_code ec;
        auto v = json::parse(text, ec);
        CHECK_MESSAGE(!ec, "state file is not JSON while the disk is full: " << text);
    }
    MESSAGE("while full, the log said:\n"
            << [&] {
                   std::string s;
                   for (const auto& l : lines_with(d.log(), {"No space left on device"}))
                       s += l + "\n";
                   return s;
               }());

    // Space returns: the brief completes, with every file intact.
    fs::remove(filler);
    REQUIRE(d.wait_filed(1, 60s));
    CHECK(d.done() == std::vector<std::string>{"full.json"});
    auto st = d.stop();  // before the audit: filing removes the state just after the move
    REQUIRE(st.has_value());
    CHECK(st->success());
    auto a = audit_spool(d, {"full.json"});
    for (const auto& p : a.problems) FAIL_CHECK(p);
    CHECK(a.outputs_checked == 2);
}

}  // namespace briefd::lifecycle

namespace briefd::lifecycle {

TEST_CASE(
    "spool full: the claim cannot be recorded, the brief goes back to incoming/, intake resumes "
    "with space") {
    temp_root root("spoolfull");
    auto spool = root.path() / "d" / "spool";
    tmpfs_mount m(spool, "size=256k,mode=0755");
    if (!m.ok()) {
        MESSAGE("SKIPPED: cannot mount a tmpfs for spool/ here ("
                << m.error().message() << "); spool-full behaviour not exercised");
        return;
    }
    testing::sim_process sim({"--time-scale", "60", "--seed", "42", "--rate-window-s", "60"},
                             {.stderr_file = root.path() / "briefsim.log"});
    testing::daemon_options opt;
    opt.api_url = sim.api_url();
    opt.api_key = sim.api_key();
    opt.rate_window_s = 1;
    testing::daemon_process d(root.path() / "d", opt);  // creates incoming/ active/ done/ failed/
    REQUIRE(d.stop().has_value());

    // Dropped while the daemon is down; then nothing more fits on the spool's file system.
    d.drop("cramped.json", content_brief("spool-full", 2));
    auto filler = spool / "filler";
    fill(filler);
    d.start();
    REQUIRE(d.wait_log("state.write_failed", 10s));
    std::this_thread::sleep_for(2s);
    CHECK(d.process().running());
    CHECK(fs::exists(spool / "incoming" / "cramped.json"));  // put back, not lost, not failed
    CHECK(d.failed().empty());
    CHECK(sim_stat(sim, "batches") == 0);  // nothing is sent without durable state

    fs::remove(filler);
    REQUIRE(d.wait_filed(1, 30s));
    CHECK(d.done() == std::vector<std::string>{"cramped.json"});
    auto st = d.stop();
    REQUIRE(st.has_value());
    CHECK(st->success());
    auto a = audit_spool(d, {"cramped.json"});
    for (const auto& p : a.problems) FAIL_CHECK(p);
}

}  // namespace briefd::lifecycle
