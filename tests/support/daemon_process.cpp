#include "support/daemon_process.hpp"

#include <boost/json/parse.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace briefd::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_all(const fs::path& p, std::string_view content, bool append = false) {
    std::ofstream out(p, std::ios::binary | (append ? std::ios::app : std::ios::trunc));
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) throw std::runtime_error("daemon_process: cannot write " + p.string());
}

boost::json::value parse_file(const fs::path& p) {
    std::error_code ec;
    if (!fs::exists(p, ec)) throw std::runtime_error("daemon_process: no " + p.string());
    boost::system::error_code jec;
    auto v = boost::json::parse(read_all(p), jec);
    if (jec)
        throw std::runtime_error("daemon_process: " + p.string() +
                                 " is not JSON: " + jec.message());
    return v;
}

std::vector<std::string> list(const fs::path& dir, bool skip_error_files) {
    std::vector<std::string> out;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (skip_error_files && name.ends_with(".error.json")) continue;
        // briefd's own temp files (".<name>.<pid>-<n>-<t>.tmp", e.g. an error file being written
        // before the brief moves) are not filed briefs: counting them made wait_filed() return
        // early under load.
        if (name.starts_with(".")) continue;
        if (!it->is_regular_file(ec) && !it->is_symlink(ec)) continue;
        out.push_back(std::move(name));
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

std::string briefd_binary() {
    if (const char* env = std::getenv("BRIEFD"); env && *env) return env;
#ifdef BRIEFD_PATH
    return BRIEFD_PATH;
#else
    throw std::runtime_error("daemon_process: set BRIEFD or compile with BRIEFD_PATH");
#endif
}

namespace {
void write_key_file(const fs::path& p, std::string_view key) {
    // Create with 0600 from the start: the daemon may refuse a key file others can read.
    fs::remove(p);
    write_all(p, std::string(key) + "\n");
    fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
}
}  // namespace

daemon_process::daemon_process(fs::path root, daemon_options opt)
    : root_(std::move(root)), opt_(std::move(opt)) {
    fs::create_directories(spool());
    fs::create_directories(outputs());
    write_key(opt_.api_key);
    if (!opt_.hrizn_url.empty()) write_hrizn_key(opt_.hrizn_key);
    if (!opt_.layers_url.empty()) write_layers_key(opt_.layers_key);
    write_config();
    start();
}

daemon_process::~daemon_process() {
    if (proc_ && proc_->running()) {
        proc_->signal(SIGKILL);
        proc_->wait(5s);
    }
}

std::uint16_t daemon_process::status_port() const {
    const std::string text = log();
    constexpr std::string_view tag = "status.listening address=";
    const auto at = text.rfind(tag);
    if (at == std::string::npos) return 0;
    const auto end = text.find_first_of(" \n", at + tag.size());
    const auto addr =
        text.substr(at + tag.size(), end == std::string::npos ? end : end - at - tag.size());
    const auto colon = addr.rfind(':');
    if (colon == std::string::npos) return 0;
    return static_cast<std::uint16_t>(std::stoul(addr.substr(colon + 1)));
}

void daemon_process::write_key(std::string_view key) { write_key_file(key_path(), key); }
void daemon_process::write_hrizn_key(std::string_view key) { write_key_file(hrizn_key_path(), key); }
void daemon_process::write_layers_key(std::string_view key) { write_key_file(layers_key_path(), key); }

void daemon_process::write_config() const {
    std::ostringstream y;
    y << "spool: " << spool().string() << "\n"
      << "outputs: " << outputs().string() << "\n"
      << "default_provider: lamina\n"
      << "settle_ms: 200\n"
      << "rescan_interval_ms: 1000\n"
      << "drain_timeout_ms: 5000\n"
      << opt_.top_yaml;
    if (!opt_.top_yaml.empty() && !opt_.top_yaml.ends_with('\n')) y << "\n";
    if (!opt_.status_listen.empty()) y << "status: { listen: \"" << opt_.status_listen << "\" }\n";
    y << "providers:\n"
      << "  lamina:\n"
      << "    base_url: " << opt_.api_url << "\n"
      << "    api_key_file: " << key_path().string() << "\n";
    if (!opt_.ca_file.empty()) y << "    ca_file: " << opt_.ca_file.string() << "\n";
    y << "    rate_limit: { requests: " << opt_.rate_requests
      << ", per_seconds: " << opt_.rate_window_s << " }\n"
      << "    batch: { max_items: 10, linger_ms: 300 }\n"
      << "    tracking: { mode: " << opt_.tracking_mode
      << ", poll_interval_ms: " << opt_.poll_interval_ms
      << ", sse_idle_timeout_ms: " << opt_.sse_idle_timeout_ms
      << (opt_.tracking_yaml.empty() ? "" : ", " + opt_.tracking_yaml) << " }\n"
      << "    retry: { base_ms: 100, cap_ms: 2000 }\n"
      << opt_.provider_yaml;
    if (!opt_.provider_yaml.empty() && !opt_.provider_yaml.ends_with('\n')) y << "\n";
    if (!opt_.hrizn_url.empty()) {
        y << "  hrizn:\n"
          << "    base_url: " << opt_.hrizn_url << "\n"
          << "    api_key_file: " << hrizn_key_path().string() << "\n";
        if (!opt_.ca_file.empty()) y << "    ca_file: " << opt_.ca_file.string() << "\n";
        y << "    rate_limit: { requests: " << opt_.hrizn_rate_requests << ", per_seconds: " << opt_.hrizn_rate_window_s;
        if (opt_.hrizn_per_day) y << ", per_day: " << opt_.hrizn_per_day;
        y << " }\n"
          << "    batch: { max_items: 10, linger_ms: 300 }\n"
          << "    tracking: { mode: auto, poll_interval_ms: " << opt_.hrizn_poll_interval_ms << " }\n"
          << "    retry: { base_ms: 100, cap_ms: 2000 }\n"
          << opt_.hrizn_yaml;
        if (!opt_.hrizn_yaml.empty() && !opt_.hrizn_yaml.ends_with('\n')) y << "\n";
    }
    if (!opt_.layers_url.empty()) {
        y << "  layers:\n"
          << "    base_url: " << opt_.layers_url << "\n"
          << "    api_key_file: " << layers_key_path().string() << "\n";
        if (!opt_.ca_file.empty()) y << "    ca_file: " << opt_.ca_file.string() << "\n";
        y << "    rate_limit: { requests: " << opt_.layers_rate_requests << ", per_seconds: " << opt_.layers_rate_window_s
          << " }\n"
          << "    rate_limit_classes:\n"
          << "      write-light: { requests: " << opt_.layers_write_requests << ", per_seconds: " << opt_.layers_rate_window_s
          << " }\n"
          << "      long-running: { requests: " << opt_.layers_long_requests << ", per_seconds: " << opt_.layers_rate_window_s
          << " }\n"
          << "    max_concurrent_jobs: " << opt_.layers_max_concurrent_jobs << "\n"
          << "    tracking: { mode: auto, schedule_scale: " << opt_.layers_schedule_scale
          << (opt_.layers_tracking_yaml.empty() ? "" : ", " + opt_.layers_tracking_yaml) << " }\n"
          << "    retry: { base_ms: 100, cap_ms: 2000 }\n"
          << opt_.layers_yaml;
        if (!opt_.layers_yaml.empty() && !opt_.layers_yaml.ends_with('\n')) y << "\n";
    }
    write_all(config_path(), y.str());
}

void daemon_process::start() {
    if (proc_ && proc_->running()) throw std::logic_error("daemon_process: already running");
    // child_process truncates its stderr file: keep earlier runs' lines in briefd.log.prev.
    std::error_code ec;
    if (fs::exists(log_path(), ec)) {
        write_all(root_ / "briefd.log.prev", read_all(log_path()), true);
        fs::remove(log_path(), ec);
    }
    process_options p;
    p.env = opt_.env;
    p.stderr_file = log_path();
    p.cwd = root_;
    proc_.reset();
    proc_.emplace(std::vector<std::string>{briefd_binary(), "--config", config_path().string()}, p);
    if (!opt_.wait_ready) return;
    auto deadline = std::chrono::steady_clock::now() + opt_.ready_timeout;
    while (read_all(log_path()).find("daemon.ready") == std::string::npos) {
        if (!proc_->running())
            throw std::runtime_error("daemon_process: briefd ended before it was ready:\n" +
                                     log_tail());
        if (std::chrono::steady_clock::now() >= deadline)
            throw std::runtime_error("daemon_process: briefd not ready in time:\n" + log_tail());
        std::this_thread::sleep_for(20ms);
    }
}

std::optional<exit_status> daemon_process::stop(std::chrono::milliseconds timeout) {
    if (!proc_) return std::nullopt;
    proc_->signal(SIGTERM);
    return proc_->wait(timeout);
}

void daemon_process::kill() {
    if (!proc_) return;
    proc_->signal(SIGKILL);
    proc_->wait(10s);
}

bool daemon_process::signal(int sig) {
    return proc_ && proc_->signal(sig);
}

child_process& daemon_process::process() {
    if (!proc_) throw std::logic_error("daemon_process: not started");
    return *proc_;
}

void daemon_process::drop(const std::string& name, std::string_view content) {
    fs::path tmp = spool() / ("." + name + ".tmp");
    write_all(tmp, content);
    fs::create_directories(spool() / "incoming");
    fs::rename(tmp, spool() / "incoming" / name);
}

bool daemon_process::wait_filed(std::size_t n, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (done().size() + failed().size() >= n) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(50ms);
    }
}

bool daemon_process::wait_log(std::string_view needle, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (log().find(needle) != std::string::npos) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(50ms);
    }
}

std::vector<std::string> daemon_process::done() const {
    return list(spool() / "done", false);
}
std::vector<std::string> daemon_process::failed() const {
    return list(spool() / "failed", true);
}

boost::json::value daemon_process::manifest(const std::string& job) const {
    return parse_file(outputs() / job / "manifest.json");
}

boost::json::value daemon_process::error_file(const std::string& name) const {
    return parse_file(spool() / "failed" / (name + ".error.json"));
}

std::string daemon_process::log() const {
    return read_all(root_ / "briefd.log.prev") + read_all(log_path());
}

std::string daemon_process::log_tail(std::size_t lines) const {
    std::string all = log();
    std::size_t pos = all.size();
    if (pos > 0 && all[pos - 1] == '\n') --pos;
    for (std::size_t n = 0; n < lines && pos > 0; ++n) {
        pos = all.rfind('\n', pos - 1);
        if (pos == std::string::npos) return all;
    }
    return all.substr(pos == 0 ? 0 : pos + 1);
}

}  // namespace briefd::testing
