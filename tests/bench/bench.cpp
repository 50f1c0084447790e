// briefd_bench: runs briefd against briefsim on loopback for one scenario and prints figures —
// API requests per completed item (by endpoint), throughput against the rate-limit bound, 429s and
// over-limit requests, drop-to-submit latency, peak RSS and CPU time of both processes, RSS per
// concurrently tracked run, and memory, CPU per byte, wall rate and event-loop lag during a large
// download (large-output, over HTTP or with --tls HTTPS).
//
// A program, not a timed test (DESIGN §11): the figures depend on the machine, so nothing here
// asserts; it exits non-zero only when the run itself could not be carried out.
#include "support/certs.hpp"
#include "support/process.hpp"
#include "support/sim_process.hpp"

#include <boost/json.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using briefd::testing::child_process;
using briefd::testing::process_options;
using briefd::testing::sim_process;
using briefd::testing::sim_process_options;
using sys_clock = std::chrono::system_clock;
using steady = std::chrono::steady_clock;

namespace {

enum class scenario { standard, concurrency, large_output, flood, aged_spool };

struct options {
    scenario scen = scenario::standard;
    std::size_t briefs = 100;
    std::size_t items = 10;
    unsigned rate = 100;
    double window_s = 60;  // API seconds, as briefsim counts them
    std::string rate_mode = "fixed";
    double time_scale = 10;
    double run_seconds = 20;
    std::string faults;
    std::string mode = "auto";
    std::string modality = "image";
    std::uint64_t output_bytes = 0;
    unsigned drop_interval_ms = 0;
    unsigned timeout_s = 0;  // 0: derived from the expected duration
    unsigned seed = 2026;
    std::size_t multi_briefs = 1000;  // flood / aged-spool: ten-item briefs dropped with the rest
    std::size_t aged_files = 0;       // flood / aged-spool: files already in done/ at start
    // flood / aged-spool: briefd's claim window and in-flight window (its defaults,
    // config::default_max_items_waiting and default_max_items_in_flight), written to its config
    std::size_t max_items_waiting = 10000;
    std::size_t max_items_in_flight = 5000;
    bool keep = false;
    bool settle = false;  // flood / aged-spool: wait out an earlier run's mass removal first
    bool json_out = false;
    bool tls = false;
    std::string briefd_path;
};

constexpr const char* help = R"(Usage: briefd_bench [OPTION]...
Runs briefd against briefsim on loopback and prints figures: API requests per completed item (by
endpoint), throughput against the rate-limit bound, 429s and over-limit requests, drop-to-submit
latency, peak RSS and CPU time of briefd and briefsim; RSS per tracked run (concurrency); memory
during one large download (large-output).

  --scenario NAME        default | concurrency | large-output | flood | aged-spool (sets the
                         defaults below)
                           default:      100 briefs x 10 image items, 100 req / 60 API-s, scale 10
                           concurrency:  100 x 10 items, runs that never finish (run-seconds 1e6),
                                         5000 req / 60 API-s; samples RSS once ~all runs are tracked
                           large-output: 1 brief x 1 video item, --output-bytes 1000000000;
                                         also CPU per byte, wall rate and event-loop lag (below)
                           flood:        10000 single-item + 1000 ten-item briefs dropped at once,
                                         unlimited rate, 2 API-s runs; prints claim, validation and
                                         end-to-end times, CPU per item, peak RSS
                           aged-spool:   flood with 100000 files already in done/
  --briefs N             briefs to drop
  --items-per-brief K    items in each brief
  --rate N               requests per window (briefsim --rate-limit and briefd rate_limit.requests)
  --window-s W           window in API seconds; W / time-scale must be a whole number of seconds
                         (briefd's per_seconds)
  --rate-mode M          fixed | sliding (briefsim's window kind; default fixed)
  --time-scale S         briefsim time scale (default 10: a 60 s window lasts 6 s)
  --run-seconds T        mean run length in API seconds (default 20)
  --faults "ARGS"        extra briefsim arguments, e.g. "--sse-drop-after 3 --fail-5xx 0.05"
  --mode M               briefd tracking mode: auto | sse | wait | poll (default auto)
  --modality M           image | video (default image; video in large-output)
  --output-bytes N       briefsim --output-bytes (size of each video / padded image)
  --drop-interval-ms MS  pause between drops (default 0: all briefs dropped at once)
  --timeout-s T          give up after T s (default: from the expected duration)
  --seed N               briefsim seed (default 2026)
  --tls                  briefsim speaks HTTPS (a throwaway CA that briefd trusts via ca_file)
  --multi-briefs N       flood / aged-spool: ten-item briefs besides the --briefs single ones
  --aged-files N         flood / aged-spool: files put in done/ before briefd starts
  --max-items-waiting N  flood / aged-spool: briefd's max_items_waiting (default 10000)
  --max-items-in-flight N  flood / aged-spool: briefd's max_items_in_flight (default 5000)
  --briefd PATH          briefd binary (default: $BRIEFD, else the one built with this program)
  --settle               flood / aged-spool: first wait until 6 min have passed since a bench run
                         removed its work directory (ext4 without a journal creates files slower
                         while freed inodes are recent)
  --keep                 keep the work directory (logs, spool, outputs)
  --json                 also print the figures as one JSON object on the last line
  -h, --help             this text

Event-loop lag (large-output): briefd runs with NOTIFY_SOCKET and WATCHDOG_USEC=20000, so its
heartbeat timer (which re-arms itself every 10 ms on the event loop) sends WATCHDOG=1 to a socket
of this program; each interval minus 10 ms is how late the timer fired. Printed for the pings
during the download (last run finished -> brief filed, so the file's final fsync counts) and, for
comparison, while idle.
)";

bool parse_args(int argc, char** argv, options& o, std::string& err) {
    std::vector<std::string> args(argv + 1, argv + argc);
    // The scenario sets defaults that explicit options then override, wherever it appears.
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
        if (args[i] != "--scenario") continue;
        const auto& s = args[i + 1];
        if (s == "default") {
            o.scen = scenario::standard;
        } else if (s == "concurrency") {
            o.scen = scenario::concurrency;
            o.rate = 5000;
            o.run_seconds = 1e6;
        } else if (s == "large-output") {
            o.scen = scenario::large_output;
            o.briefs = 1;
            o.items = 1;
            o.modality = "video";
            o.output_bytes = 1000000000;
        } else if (s == "flood" || s == "aged-spool") {
            o.scen = s == "flood" ? scenario::flood : scenario::aged_spool;
            o.briefs = 10000;  // single-item briefs, plus --multi-briefs ten-item ones
            o.items = 1;
            o.rate = 1000000;  // unlimited: only briefd's own work counts
            o.run_seconds = 2;
            o.aged_files = s == "flood" ? 0 : 100000;
        } else {
            err = "unknown scenario: " + s;
            return false;
        }
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&]() -> std::optional<std::string> {
            if (i + 1 >= args.size()) {
                err = a + " needs a value";
                return std::nullopt;
            }
            return args[++i];
        };
        auto number = [&](auto& out) -> bool {
            auto v = value();
            if (!v) return false;
            try {
                std::size_t used = 0;
                double d = std::stod(*v, &used);
                if (used != v->size() || d < 0) throw std::invalid_argument(*v);
                out = static_cast<std::remove_reference_t<decltype(out)>>(d);
                return true;
            } catch (const std::exception&) {
                err = "bad value for " + a + ": " + *v;
                return false;
            }
        };
        auto choice = [&](std::string& out, std::initializer_list<std::string_view> allowed) -> bool {
            auto v = value();
            if (!v) return false;
            if (std::find(allowed.begin(), allowed.end(), *v) == allowed.end()) {
                err = "bad value for " + a + ": " + *v;
                return false;
            }
            out = *v;
            return true;
        };
        bool ok = true;
        if (a == "-h" || a == "--help") {
            std::cout << help;
            std::exit(0);
        } else if (a == "--scenario") {
            ++i;  // handled above
        } else if (a == "--briefs") {
            ok = number(o.briefs);
        } else if (a == "--items-per-brief") {
            ok = number(o.items);
        } else if (a == "--rate") {
            ok = number(o.rate);
        } else if (a == "--window-s") {
            ok = number(o.window_s);
        } else if (a == "--rate-mode") {
            ok = choice(o.rate_mode, {"fixed", "sliding"});
        } else if (a == "--time-scale") {
            ok = number(o.time_scale);
        } else if (a == "--run-seconds") {
            ok = number(o.run_seconds);
        } else if (a == "--faults") {
            auto v = value();
            ok = v.has_value();
            if (ok) o.faults = *v;
        } else if (a == "--mode") {
            ok = choice(o.mode, {"auto", "sse", "wait", "poll"});
        } else if (a == "--modality") {
            ok = choice(o.modality, {"image", "video"});
        } else if (a == "--output-bytes") {
            ok = number(o.output_bytes);
        } else if (a == "--drop-interval-ms") {
            ok = number(o.drop_interval_ms);
        } else if (a == "--timeout-s") {
            ok = number(o.timeout_s);
        } else if (a == "--seed") {
            ok = number(o.seed);
        } else if (a == "--multi-briefs") {
            ok = number(o.multi_briefs);
        } else if (a == "--aged-files") {
            ok = number(o.aged_files);
        } else if (a == "--max-items-waiting") {
            ok = number(o.max_items_waiting) && o.max_items_waiting > 0;
        } else if (a == "--max-items-in-flight") {
            ok = number(o.max_items_in_flight) && o.max_items_in_flight > 0;
        } else if (a == "--briefd") {
            auto v = value();
            ok = v.has_value();
            if (ok) o.briefd_path = *v;
        } else if (a == "--settle") {
            o.settle = true;
        } else if (a == "--keep") {
            o.keep = true;
        } else if (a == "--json") {
            o.json_out = true;
        } else if (a == "--tls") {
            o.tls = true;
        } else {
            err = "unknown option: " + a + " (see --help)";
            return false;
        }
        if (!ok) return false;
    }
    if (o.briefs == 0 || o.items == 0 || o.rate == 0 || o.time_scale <= 0 || o.window_s <= 0) {
        err = "--briefs, --items-per-brief, --rate, --window-s and --time-scale must be positive";
        return false;
    }
    return true;
}

// ---- /proc readings (Linux)

struct mem_reading {
    std::uint64_t rss_kib = 0;  // VmRSS
    std::uint64_t hwm_kib = 0;  // VmHWM: peak RSS since the process started
};

mem_reading read_mem(pid_t pid) {
    mem_reading m;
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        auto num = [&] { return std::strtoull(line.c_str() + line.find(':') + 1, nullptr, 10); };
        if (line.starts_with("VmRSS:")) m.rss_kib = num();
        if (line.starts_with("VmHWM:")) m.hwm_kib = num();
    }
    return m;
}

struct cpu_split {
    double user = 0, sys = 0;
    double total() const { return user + sys; }
};

// utime and stime in seconds (fields 14 and 15 of /proc/<pid>/stat, after the parenthesised name),
// summed over all of the process's threads.
cpu_split cpu_times(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto close = all.rfind(')');
    if (close == std::string::npos) return {};
    std::istringstream rest(all.substr(close + 2));
    std::vector<std::string> f;
    std::string tok;
    while (rest >> tok) f.push_back(tok);
    // rest starts at field 3 (state): utime is field 14 → index 11, stime 15 → index 12.
    if (f.size() < 13) return {};
    const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
    return {std::stod(f[11]) / tick, std::stod(f[12]) / tick};
}

double cpu_seconds(pid_t pid) { return cpu_times(pid).total(); }

// Seconds the process spent runnable but waiting for a CPU (field 2 of /proc/<pid>/schedstat, ns):
// on a shared machine this, not briefd's code, is much of the loop lag.
double run_queue_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/schedstat");
    double on_cpu = 0, waiting = 0;
    if (!(in >> on_cpu >> waiting)) return std::nan("");
    return waiting / 1e9;
}

std::size_t open_fds(pid_t pid) {
    std::error_code ec;
    std::size_t n = 0;
    for (fs::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end; it.increment(ec))
        ++n;
    return n;
}

// ---- briefd's log: "2026-11-23T16:57:47.843Z info event key=value key="quoted value" ..."

struct log_line {
    sys_clock::time_point t;
    std::string_view event;
    std::string_view rest;  // the fields
};

std::optional<log_line> parse_log_line(std::string_view line) {
    if (line.size() < 25 || line[4] != '-' || line[10] != 'T' || line[23] != 'Z') return std::nullopt;
    std::tm tm{};
    auto num = [&](std::size_t pos, std::size_t len) { return std::atoi(std::string(line.substr(pos, len)).c_str()); };
    tm.tm_year = num(0, 4) - 1900;
    tm.tm_mon = num(5, 2) - 1;
    tm.tm_mday = num(8, 2);
    tm.tm_hour = num(11, 2);
    tm.tm_min = num(14, 2);
    tm.tm_sec = num(17, 2);
    log_line l;
    l.t = sys_clock::from_time_t(::timegm(&tm)) + std::chrono::milliseconds(num(20, 3));
    auto after_level = line.find(' ', 25);
    if (after_level == std::string_view::npos) return std::nullopt;
    auto ev_end = line.find(' ', after_level + 1);
    l.event = line.substr(after_level + 1, ev_end == std::string_view::npos ? std::string_view::npos : ev_end - after_level - 1);
    l.rest = ev_end == std::string_view::npos ? std::string_view{} : line.substr(ev_end);
    return l;
}

std::string field(std::string_view rest, std::string_view key) {
    std::string pat = " " + std::string(key) + "=";
    auto p = rest.find(pat);
    if (p == std::string_view::npos) return {};
    p += pat.size();
    if (p < rest.size() && rest[p] == '"') {
        std::string out;
        for (++p; p < rest.size() && rest[p] != '"'; ++p) {
            if (rest[p] == '\\' && p + 1 < rest.size()) ++p;
            out += rest[p];
        }
        return out;
    }
    auto e = rest.find(' ', p);
    return std::string(rest.substr(p, e == std::string_view::npos ? std::string_view::npos : e - p));
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct log_summary {
    std::map<std::string, std::string> job_of_file;          // brief.claimed
    std::map<std::pair<std::string, std::size_t>, sys_clock::time_point> tracked;  // run.tracking
    std::size_t batches = 0, batch_items = 0, runs_completed = 0, runs_other = 0;
    std::size_t outputs_saved = 0, output_failed = 0, output_retry = 0, item_failed = 0;
    std::size_t rate_limited = 0, request_retry = 0, request_uncertain = 0, batch_deferred = 0;
    std::size_t stream_refused = 0, briefs_done = 0, briefs_failed = 0, blocked = 0;
    std::uint64_t bytes_saved = 0, largest_output = 0;
    std::map<std::string, std::size_t> stream_connects;  // run.finished streams= → count
    std::optional<sys_clock::time_point> first_submit, last_submit, last_finished, last_filed, last_saved;
};

log_summary summarise_log(const std::string& text) {
    log_summary s;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
        pos = nl == std::string::npos ? text.size() : nl + 1;
        auto l = parse_log_line(line);
        if (!l) continue;
        const auto& ev = l->event;
        if (ev == "brief.claimed") {
            s.job_of_file[field(l->rest, "file")] = field(l->rest, "job");
        } else if (ev == "run.tracking") {
            auto key = std::make_pair(field(l->rest, "job"), std::strtoull(field(l->rest, "item").c_str(), nullptr, 10));
            s.tracked.emplace(key, l->t);  // first time only (a recovery would re-track)
            if (!s.first_submit) s.first_submit = l->t;
            s.last_submit = l->t;
        } else if (ev == "batch.submitted") {
            ++s.batches;
            s.batch_items += std::strtoull(field(l->rest, "items").c_str(), nullptr, 10);
        } else if (ev == "run.finished") {
            (field(l->rest, "status") == "completed" ? s.runs_completed : s.runs_other)++;
            s.last_finished = l->t;
            ++s.stream_connects[field(l->rest, "streams")];
        } else if (ev == "output.saved") {
            ++s.outputs_saved;
            s.last_saved = l->t;
            auto b = std::strtoull(field(l->rest, "bytes").c_str(), nullptr, 10);
            s.bytes_saved += b;
            s.largest_output = std::max<std::uint64_t>(s.largest_output, b);
        } else if (ev == "output.failed") {
            ++s.output_failed;
        } else if (ev == "output.retry") {
            ++s.output_retry;
        } else if (ev == "item.failed") {
            ++s.item_failed;
        } else if (ev == "host.rate_limited") {
            ++s.rate_limited;
        } else if (ev == "host.blocked") {
            ++s.blocked;
        } else if (ev == "request.retry") {
            ++s.request_retry;
        } else if (ev == "request.uncertain") {
            ++s.request_uncertain;
        } else if (ev == "batch.deferred") {
            ++s.batch_deferred;
        } else if (ev == "run.stream_refused") {
            ++s.stream_refused;
        } else if (ev == "brief.done" || ev == "brief.failed") {
            (ev == "brief.done" ? s.briefs_done : s.briefs_failed)++;
            s.last_filed = l->t;
        }
    }
    return s;
}

// ---- small helpers

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return std::nan("");
    std::sort(v.begin(), v.end());
    auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
    return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

std::string fmt(double v, int prec = 2) {
    if (std::isnan(v)) return "n/a";
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", prec, v);
    return b;
}

std::string mib(std::uint64_t kib) { return fmt(static_cast<double>(kib) / 1024.0, 1) + " MiB"; }

std::size_t count_filed(const fs::path& dir) {
    std::error_code ec;
    std::size_t n = 0;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        auto name = it->path().filename().string();
        if (it->is_regular_file() && !name.ends_with(".error.json") && !name.starts_with(".")) ++n;
    }
    return n;
}

std::vector<std::string> split_args(const std::string& s) {
    std::istringstream in(s);
    std::vector<std::string> out;
    std::string tok;
    while (in >> tok) out.push_back(tok);
    return out;
}

std::string random_hex(std::size_t bytes) {
    std::random_device rd;
    std::string out;
    for (std::size_t i = 0; i < bytes; ++i) {
        char b[3];
        std::snprintf(b, sizeof b, "%02x", static_cast<unsigned>(rd() & 0xff));
        out += b;
    }
    return out;
}

void write_text(const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) throw std::runtime_error("cannot write " + p.string());
}

std::string brief_json(const options& o, std::size_t b) {
    json::array items;
    for (std::size_t i = 0; i < o.items; ++i) {
        // Distinct texts: briefsim counts repeated briefs as duplicate submissions.
        items.push_back(json::object{
            {"brief", "Bench " + std::to_string(o.seed) + " brief " + std::to_string(b) + " item " + std::to_string(i) +
                          ": trail runner on a rooftop at sunset"},
            {"platform", "instagram"},
            {"modality", o.modality}});
    }
    return json::serialize(json::object{{"items", std::move(items)}}) + "\n";
}

std::uint64_t jnum(const json::value* v) {
    if (!v) return 0;
    if (v->is_uint64()) return v->as_uint64();
    if (v->is_int64()) return static_cast<std::uint64_t>(std::max<std::int64_t>(0, v->as_int64()));
    if (v->is_double()) return static_cast<std::uint64_t>(v->as_double());
    return 0;
}

std::uint64_t stat_at(const json::value& stats, std::string_view a, std::string_view b = {}) {
    const auto* o = stats.if_object();
    if (!o) return 0;
    const auto* v = o->if_contains(a);
    if (v && !b.empty()) v = v->is_object() ? v->as_object().if_contains(b) : nullptr;
    return jnum(v);
}

// All /v1 requests in briefsim's counters (its /_sim control routes are not counted).
std::uint64_t v1_requests(const json::value& stats) {
    std::uint64_t n = 0;
    if (const auto* req = stats.as_object().if_contains("requests"); req && req->is_object())
        for (const auto& [route, by_status] : req->as_object())
            if (std::string_view(route).find(" /v1/") != std::string_view::npos) n += stat_at(by_status, "total");
    return n;
}

// The least-squares slope of (t, n) samples: the steady request rate. Requests come in bursts
// (a fixed window refills all at once), so the count is a staircase; a fit over the whole span
// measures steps per time without depending on where the first and last step fall.
double slope(const std::vector<std::pair<double, double>>& pts) {
    if (pts.size() < 2) return std::nan("");
    double mt = 0, mn = 0;
    for (auto& [t, n] : pts) {
        mt += t;
        mn += n;
    }
    mt /= static_cast<double>(pts.size());
    mn /= static_cast<double>(pts.size());
    double num = 0, den = 0;
    for (auto& [t, n] : pts) {
        num += (t - mt) * (n - mn);
        den += (t - mt) * (t - mt);
    }
    return den > 0 ? num / den : std::nan("");
}

struct proc_figures {
    mem_reading mem;
    double cpu_s = 0;
};

std::string tail_of(const fs::path& p, std::size_t lines) {
    auto text = read_file(p);
    std::size_t pos = text.size();
    for (std::size_t n = 0; n <= lines && pos > 0; ++n) pos = text.rfind('\n', pos - 1);
    return pos == std::string::npos ? text : text.substr(pos + 1);
}

/// Receives briefd's sd_notify datagrams and timestamps every WATCHDOG=1.
class notify_listener {
  public:
    explicit notify_listener(const fs::path& path) : path_(path) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (fd_ < 0 || path.native().size() >= sizeof addr.sun_path)
            throw std::runtime_error("notify socket: " + std::string(std::strerror(errno)));
        std::strcpy(addr.sun_path, path.c_str());
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            throw std::runtime_error("bind " + path.string() + ": " + std::strerror(errno));
        timeval tv{0, 100000};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        thread_ = std::thread([this] {
            char buf[4096];
            while (!stop_) {
                const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
                if (n <= 0) continue;
                const auto now = sys_clock::now();
                if (std::string_view(buf, static_cast<std::size_t>(n)).find("WATCHDOG=1") == std::string_view::npos)
                    continue;
                std::lock_guard lock(mu_);
                pings_.push_back(now);
            }
        });
    }
    notify_listener(const notify_listener&) = delete;
    notify_listener& operator=(const notify_listener&) = delete;
    ~notify_listener() {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }
    std::vector<sys_clock::time_point> pings() const {
        std::lock_guard lock(mu_);
        return pings_;
    }

  private:
    fs::path path_;
    int fd_ = -1;
    std::atomic<bool> stop_{false};
    mutable std::mutex mu_;
    std::vector<sys_clock::time_point> pings_;
    std::thread thread_;
};

/// How late each heartbeat came in [from, to]: interval between consecutive pings minus `period`,
/// in ms.
std::vector<double> lateness_ms(const std::vector<sys_clock::time_point>& pings, sys_clock::time_point from,
                                sys_clock::time_point to, std::chrono::milliseconds period) {
    std::vector<double> out;
    for (std::size_t i = 1; i < pings.size(); ++i) {
        if (pings[i] < from || pings[i] > to) continue;
        const double gap = std::chrono::duration<double, std::milli>(pings[i] - pings[i - 1]).count();
        out.push_back(std::max(0.0, gap - static_cast<double>(period.count())));
    }
    return out;
}

/// briefd's configuration: the same budget as briefsim's, in real seconds. Tracking intervals are
/// Lamina's suggestions compressed by the time scale, like the runs they watch.
std::string briefd_yaml(const options& o, const fs::path& work, const std::string& api_url, long per_seconds,
                        const std::string& ca_file = {}) {
    auto scaled_ms = [&](double api_ms, long floor_ms) {
        return std::max<long>(floor_ms, std::lround(api_ms / o.time_scale));
    };
    std::ostringstream yaml;
    yaml << "spool: " << (work / "spool").string() << "\n"
         << "outputs: " << (work / "outputs").string() << "\n"
         << "default_provider: lamina\n"
         << "settle_ms: 300\n"
         << "rescan_interval_ms: 2000\n"
         << "drain_timeout_ms: 5000\n"
         << "providers:\n"
         << "  lamina:\n"
         << "    base_url: " << api_url << "\n"
         << "    api_key_file: " << (work / "lamina.key").string() << "\n"
         << (ca_file.empty() ? std::string() : "    ca_file: " + ca_file + "\n")
         << "    rate_limit: { requests: " << o.rate << ", per_seconds: " << per_seconds << " }\n"
         << "    batch: { max_items: 10, linger_ms: " << scaled_ms(1500, 50) << " }\n"
         << "    tracking: { mode: " << o.mode << ", poll_interval_ms: " << scaled_ms(4000, 100)
         << ", sse_idle_timeout_ms: " << scaled_ms(45000, 3000) << " }\n";
    return yaml.str();
}

/// --briefd, else $BRIEFD, else the briefd built with this program.
std::string briefd_binary(const options& o) {
    if (!o.briefd_path.empty()) return o.briefd_path;
    const char* env = std::getenv("BRIEFD");
    return env && *env ? env : BRIEFD_PATH;
}

// ext4 without a journal (this machine's) skips, on every file creation, each inode of the block
// group freed in the last 1-6 minutes (recently_deleted() in fs/ext4/ialloc.c). A bench run
// removes tens of thousands of files at its end, so a flood started within minutes of another
// creates its files several times slower, whatever briefd does. The stamp below records each
// large removal, so the next flood can say so (and --settle waits it out).
const fs::path mass_delete_stamp = "/tmp/briefd-bench.last-removal";
constexpr std::int64_t mass_delete_shadow_s = 360;  // RECENTCY_DIRTY (300 s) + RECENTCY_MIN (60 s)

std::int64_t unix_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(sys_clock::now().time_since_epoch()).count();
}

void note_mass_delete(std::uintmax_t files) {
    if (files >= 1000) std::ofstream(mass_delete_stamp) << unix_seconds() << " " << files << "\n";
}

/// Seconds since a bench last removed many files, and how many; nullopt when none did recently.
std::optional<std::pair<std::int64_t, std::uintmax_t>> recent_mass_delete() {
    std::ifstream in(mass_delete_stamp);
    std::int64_t at = 0;
    std::uintmax_t files = 0;
    if (!(in >> at >> files)) return std::nullopt;
    const auto now = unix_seconds();
    if (now < at || now - at >= mass_delete_shadow_s) return std::nullopt;
    return std::pair{now - at, files};
}

/// A throwaway work directory (spool/, outputs/ and the API key file briefsim and briefd share),
/// removed at the end unless --keep was given or the run did not complete (`ok` false).
struct work_dir {
    fs::path path;
    std::string key;
    bool keep = false;
    bool ok = false;

    explicit work_dir(bool keep_it) : keep(keep_it) {
        char tmpl[] = "/tmp/briefd-bench-XXXXXX";
        if (!::mkdtemp(tmpl)) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
        path = tmpl;
        fs::create_directories(path / "spool");
        fs::create_directories(path / "outputs");
        key = "lma_bench_" + random_hex(12);
        const auto old = ::umask(077);
        write_text(path / "lamina.key", key + "\n");
        ::umask(old);
    }
    work_dir(const work_dir&) = delete;
    work_dir& operator=(const work_dir&) = delete;
    ~work_dir() {
        if (keep || !ok) {
            std::cerr << "briefd_bench: work directory kept: " << path.string() << "\n";
        } else {
            std::error_code ec;
            const auto removed = fs::remove_all(path, ec);
            if (!ec && removed != static_cast<std::uintmax_t>(-1)) note_mass_delete(removed);
        }
    }
};

int run(const options& o) {
    const double real_window = o.window_s / o.time_scale;
    if (std::abs(real_window - std::round(real_window)) > 1e-9 || real_window < 1) {
        std::cerr << "briefd_bench: --window-s / --time-scale = " << real_window
                  << " s, but briefd's rate_limit.per_seconds is a whole number >= 1; pick values that divide\n";
        return 2;
    }
    const auto per_seconds = static_cast<long>(std::llround(real_window));
    const std::size_t total_items = o.briefs * o.items;

    work_dir wd(o.keep);
    const fs::path& work = wd.path;
    bool& ok = wd.ok;
    const std::string& key = wd.key;

    // 1. briefsim with the scenario's limits.
    auto fmt_num = [](double v) {
        std::ostringstream s;
        s << v;
        return s.str();
    };
    std::vector<std::string> sim_args{"--key", key, "--time-scale", fmt_num(o.time_scale), "--run-seconds",
                                      fmt_num(o.run_seconds), "--rate-limit", std::to_string(o.rate),
                                      "--rate-window-s", fmt_num(o.window_s), "--rate-mode", o.rate_mode,
                                      "--seed", std::to_string(o.seed)};
    if (o.output_bytes) {
        sim_args.push_back("--output-bytes");
        sim_args.push_back(std::to_string(o.output_bytes));
    }
    for (auto& f : split_args(o.faults)) sim_args.push_back(f);
    sim_process_options sopt;
    sopt.stderr_file = work / "briefsim.log";
    std::optional<briefd::testing::test_pki> pki;
    if (o.tls) {
        pki = briefd::testing::make_test_pki(work);
        for (const auto& a : {std::string("--tls-cert"), pki->cert_file.string(), std::string("--tls-key"),
                              pki->key_file.string()})
            sim_args.push_back(a);
        sopt.ca_file = pki->ca_file;
    }
    sim_process sim(sim_args, sopt);
    const pid_t sim_pid = sim.process().pid();

    // 2. briefd's configuration: the same budget as briefsim's, in real seconds. Tracking intervals
    //    are Lamina's suggestions compressed by the time scale, like the runs they watch.
    write_text(work / "briefd.yaml", briefd_yaml(o, work, sim.api_url(), per_seconds,
                                                 pki ? pki->ca_file.string() : std::string()));

    const fs::path briefd_log = work / "briefd.log";
    process_options bopt;
    bopt.stderr_file = briefd_log;
    // The heartbeat doubles as a loop-lag probe: every 10 ms (WATCHDOG_USEC / 2), from the loop.
    constexpr auto heartbeat_period = 10ms;
    std::optional<notify_listener> notify;
    if (o.scen == scenario::large_output) {
        notify.emplace(work / "notify.sock");
        bopt.env.emplace_back("NOTIFY_SOCKET", (work / "notify.sock").string());
        bopt.env.emplace_back("WATCHDOG_USEC", std::to_string(2 * std::chrono::microseconds(heartbeat_period).count()));
    }
    const std::string briefd_bin = briefd_binary(o);
    child_process briefd({briefd_bin, "--config", (work / "briefd.yaml").string(), "--log-level", "debug"}, bopt);

    const auto ready_deadline = steady::now() + 20s;
    while (read_file(briefd_log).find("daemon.ready") == std::string::npos) {
        if (!briefd.running() || steady::now() > ready_deadline) {
            std::cerr << "briefd_bench: briefd did not become ready; its log ends:\n" << tail_of(briefd_log, 20);
            return 1;
        }
        std::this_thread::sleep_for(20ms);
    }
    std::this_thread::sleep_for(200ms);  // let start-up allocations settle before the baseline
    const mem_reading baseline = read_mem(briefd.pid());
    const double baseline_cpu = cpu_seconds(briefd.pid());
    const double baseline_wait = run_queue_seconds(briefd.pid());

    // 3. Drop the briefs the way producers should: write beside incoming/, then rename into it.
    const fs::path incoming = work / "spool" / "incoming";
    std::map<std::string, sys_clock::time_point> dropped;  // file name → when it appeared
    const auto t0 = sys_clock::now();
    const auto t0_steady = steady::now();
    for (std::size_t b = 0; b < o.briefs; ++b) {
        char name[64];
        std::snprintf(name, sizeof name, "bench-%05zu.json", b);
        const auto tmp = work / "spool" / (std::string(".") + name + ".tmp");
        write_text(tmp, brief_json(o, b));
        fs::rename(tmp, incoming / name);
        dropped[name] = sys_clock::now();
        if (o.drop_interval_ms && b + 1 < o.briefs) std::this_thread::sleep_for(std::chrono::milliseconds(o.drop_interval_ms));
    }

    // 4. Wait: until every brief is filed, or (concurrency) until ~all runs are tracked at once.
    const double req_per_window_needed = static_cast<double>(total_items) * 1.1 / o.rate;
    const double expected_s = (req_per_window_needed + 2) * real_window + o.run_seconds / o.time_scale * 2 +
                              o.drop_interval_ms / 1000.0 * static_cast<double>(o.briefs);
    const auto timeout = std::chrono::seconds(o.timeout_s ? o.timeout_s
                                                          : static_cast<unsigned>(std::min(1800.0, 60 + expected_s * 4)));
    const auto deadline = t0_steady + timeout;
    std::uint64_t max_rss_sampled = 0;
    std::optional<mem_reading> at_concurrency;
    std::size_t streams_at_sample = 0, tracked_at_sample = 0, fds_at_sample = 0;
    auto last_progress = steady::now();
    std::vector<std::pair<double, std::uint64_t>> req_samples;  // (s since drop, /v1 requests so far)
    auto last_stats = steady::now() - 1h;
    bool timed_out = false;
    const auto sample_every = o.scen == scenario::large_output ? 10ms : 100ms;
    for (;;) {
        if (!briefd.running()) {
            std::cerr << "briefd_bench: briefd exited early; its log ends:\n" << tail_of(briefd_log, 20);
            return 1;
        }
        max_rss_sampled = std::max(max_rss_sampled, read_mem(briefd.pid()).rss_kib);
        if (steady::now() - last_stats >= 250ms) {
            last_stats = steady::now();
            req_samples.emplace_back(std::chrono::duration<double>(last_stats - t0_steady).count(), v1_requests(sim.stats()));
        }
        const std::size_t filed = count_filed(work / "spool" / "done") + count_filed(work / "spool" / "failed");
        if (o.scen == scenario::concurrency) {
            auto st = sim.stats();
            const auto streams = stat_at(st, "streams", "current");
            const auto tracked = summarise_log(read_file(briefd_log)).tracked.size();
            if (streams >= total_items || (tracked >= total_items && streams >= total_items * 98 / 100)) {
                std::this_thread::sleep_for(500ms);  // one more beat for buffers to reach steady state
                at_concurrency = read_mem(briefd.pid());
                streams_at_sample = stat_at(sim.stats(), "streams", "current");
                tracked_at_sample = summarise_log(read_file(briefd_log)).tracked.size();
                fds_at_sample = open_fds(briefd.pid());
                break;
            }
            if (steady::now() - last_progress > 5s) {
                std::cerr << "  ... " << tracked << " runs tracked, " << streams << " streams open at briefsim\n";
                last_progress = steady::now();
            }
        } else {
            if (filed >= o.briefs) break;
            if (steady::now() - last_progress > 5s) {
                std::cerr << "  ... " << filed << "/" << o.briefs << " briefs filed after "
                          << fmt(std::chrono::duration<double>(steady::now() - t0_steady).count(), 0) << " s\n";
                last_progress = steady::now();
            }
        }
        if (steady::now() > deadline) {
            timed_out = true;
            std::cerr << "briefd_bench: timed out after " << timeout.count() << " s; figures below are partial\n";
            break;
        }
        std::this_thread::sleep_for(sample_every);
    }
    const auto t_end = sys_clock::now();

    // 5. Readings before anything stops: peak RSS and CPU of both processes, briefsim's counters.
    proc_figures bd{read_mem(briefd.pid()), cpu_seconds(briefd.pid())};
    const double run_queue_s = run_queue_seconds(briefd.pid()) - baseline_wait;
    proc_figures sm{read_mem(sim_pid), cpu_seconds(sim_pid)};
    const json::value stats = sim.stats();

    briefd.signal(SIGTERM);
    if (!briefd.wait(20s)) {
        briefd.signal(SIGKILL);
        briefd.wait(5s);
    }
    sim.stop();
    const auto log = summarise_log(read_file(briefd_log));

    // 6. Figures.
    json::object out;
    const char* scen_name = o.scen == scenario::standard      ? "default"
                            : o.scen == scenario::concurrency ? "concurrency"
                                                              : "large-output";
    out["scenario"] = scen_name;
    out["briefs"] = o.briefs;
    out["items_per_brief"] = o.items;
    out["tracking_mode"] = o.mode;
    out["rate"] = o.rate;
    out["window_api_s"] = o.window_s;
    out["window_real_s"] = per_seconds;
    out["rate_mode"] = o.rate_mode;
    out["time_scale"] = o.time_scale;

    std::cout << "\n== briefd_bench: scenario " << scen_name << ", " << o.briefs << " briefs x " << o.items << " "
              << o.modality << " items = " << total_items << " items, tracking " << o.mode << "\n"
              << "   limit " << o.rate << " requests per " << fmt_num(o.window_s) << " API-s (" << o.rate_mode
              << " window at briefsim), time scale " << fmt_num(o.time_scale) << " -> " << per_seconds
              << " s real window (briefd rate_limit " << o.rate << "/" << per_seconds << " s); runs "
              << fmt_num(o.run_seconds) << " API-s; faults: " << (o.faults.empty() ? "none" : o.faults)
              << (o.drop_interval_ms ? "; drops every " + std::to_string(o.drop_interval_ms) + " ms" : "; all briefs dropped at once")
              << "\n";

    const double elapsed = std::chrono::duration<double>((log.last_filed && o.scen != scenario::concurrency ? *log.last_filed : t_end) - t0).count();
    const std::size_t completed = log.runs_completed;
    std::cout << "\noutcome" << (timed_out ? " (TIMED OUT: partial)" : "") << "\n"
              << "  briefs filed: " << log.briefs_done << " done, " << log.briefs_failed << " failed; items: "
              << log.tracked.size() << " submitted, " << completed << " runs completed, " << log.runs_other
              << " runs ended otherwise, " << log.item_failed << " item.failed\n"
              << "  outputs saved: " << log.outputs_saved << " (" << mib(log.bytes_saved / 1024) << "), "
              << log.output_failed << " failed, " << log.output_retry << " download retries\n";
    if (o.scen != scenario::concurrency)
        std::cout << "  elapsed, first drop -> last brief filed: " << fmt(elapsed, 1) << " s\n";
    out["timed_out"] = timed_out;
    out["briefs_done"] = log.briefs_done;
    out["briefs_failed"] = log.briefs_failed;
    out["items_completed"] = completed;
    out["elapsed_s"] = elapsed;

    // Requests: every /v1 route in briefsim's counters, per completed item.
    std::uint64_t v1_total = 0;
    std::vector<std::pair<std::string, std::uint64_t>> routes;
    std::uint64_t non2xx = 0;
    if (const auto* req = stats.as_object().if_contains("requests"); req && req->is_object()) {
        for (const auto& [route, by_status] : req->as_object()) {
            if (std::string_view(route).find(" /v1/") == std::string_view::npos) continue;
            const auto n = stat_at(by_status, "total");
            v1_total += n;
            routes.emplace_back(std::string(route), n);
            for (const auto& [code, c] : by_status.as_object())
                if (code != "total" && !code.starts_with("2")) non2xx += jnum(&c);
        }
    }
    std::sort(routes.begin(), routes.end(), [](auto& a, auto& b) { return a.second > b.second; });
    const double per_item = completed ? static_cast<double>(v1_total) / static_cast<double>(completed) : std::nan("");
    std::cout << "\nAPI requests (/v1, briefsim's counters)\n"
              << "  total " << v1_total << " (" << non2xx << " non-2xx) -> " << fmt(per_item, 3)
              << " requests per completed item" << (o.scen == scenario::concurrency ? " (runs still open: n/a)" : "")
              << "\n";
    json::object by_route;
    for (auto& [route, n] : routes) {
        char line[160];
        std::snprintf(line, sizeof line, "    %-32s %7llu  %s/item\n", route.c_str(), static_cast<unsigned long long>(n),
                      completed ? fmt(static_cast<double>(n) / static_cast<double>(completed), 3).c_str() : "n/a");
        std::cout << line;
        by_route[route] = n;
    }
    std::cout << "  batches: " << log.batches << " (" << fmt(log.batches ? static_cast<double>(log.batch_items) / static_cast<double>(log.batches) : std::nan(""), 2)
              << " items each); stream connects per finished run:";
    for (auto& [k, n] : log.stream_connects) std::cout << " " << (k.empty() ? "?" : k) << "x" << n;
    std::cout << "\n  files origin: " << stat_at(stats, "output_requests") << " downloads, "
              << stat_at(stats, "output_requests_with_api_key") << " carrying the API key\n";
    out["v1_requests"] = v1_total;
    out["v1_by_route"] = std::move(by_route);
    out["requests_per_item"] = std::isnan(per_item) ? json::value(nullptr) : json::value(per_item);

    // Rate limit and throughput.
    const auto r429 = stat_at(stats, "responses_429"), over = stat_at(stats, "over_limit");
    const double limit_rate = o.rate / static_cast<double>(per_seconds);  // requests per real second
    std::cout << "\nrate limit\n"
              << "  429s sent by briefsim: " << r429 << " (storm: " << stat_at(stats, "storm_429")
              << "); requests that arrived over the limit: " << over << "; briefd host.rate_limited: "
              << log.rate_limited << ", request retries " << log.request_retry << ", uncertain "
              << log.request_uncertain << ", batches deferred " << log.batch_deferred << "\n";
    out["responses_429"] = r429;
    out["over_limit"] = over;
    if (o.scen == scenario::standard && completed) {
        const double achieved = static_cast<double>(completed) / elapsed;
        const double bound = limit_rate / per_item;
        const double bound_sse = limit_rate / 1.1;
        std::cout << "  throughput: " << fmt(achieved, 2) << " items/s achieved (completed items / elapsed)\n"
                  << "  bound for this request mix: " << fmt(limit_rate, 2) << " req/s / " << fmt(per_item, 3)
                  << " req/item = " << fmt(bound, 2) << " items/s -> " << fmt(100 * achieved / bound, 1) << "% of bound\n"
                  << "  (end to end can pass 100% on a short run: the first window's budget is there at once, so R "
                     "requests take ceil(R/limit)-1 windows, not R/limit; the steady-state rate below is the fair share)\n"
                  << "  (SSE-path bound, 1.1 req/item: " << fmt(bound_sse, 2) << " items/s -> "
                  << fmt(100 * achieved / bound_sse, 1) << "%)\n"
                  << "  v1 request rate end to end: " << fmt(static_cast<double>(v1_total) / elapsed, 2) << " req/s of "
                  << fmt(limit_rate, 2) << " allowed\n";
        // Steady state: from the first sample with a request to the first with the final count.
        std::vector<std::pair<double, double>> pts;
        for (auto& [t, n] : req_samples) {
            if (n == 0) continue;
            pts.emplace_back(t, static_cast<double>(n));
            if (n >= v1_total) break;
        }
        const double steady_rate = slope(pts);
        std::cout << "  v1 request rate in steady state (least-squares slope of briefsim's /v1 count, sampled every "
                     "250 ms, first request -> last): "
                  << fmt(steady_rate, 2) << " req/s = " << fmt(100 * steady_rate / limit_rate, 1)
                  << "% of the limit -> " << fmt(steady_rate / per_item, 2) << " items/s at this mix = "
                  << fmt(100 * steady_rate / limit_rate, 1) << "% of the bound\n";
        out["steady_request_rate"] = steady_rate;
        out["steady_share_of_limit"] = steady_rate / limit_rate;
        if (log.first_submit)
            std::cout << "  of the elapsed time: first drop -> first item submitted (intake, claim, batching) "
                      << fmt(std::chrono::duration<double>(*log.first_submit - t0).count(), 2) << " s";
        if (log.last_finished && log.last_filed)
            std::cout << "; last run finished -> last brief filed (download, filing) "
                      << fmt(std::chrono::duration<double>(*log.last_filed - *log.last_finished).count(), 2) << " s";
        std::cout << "\n";
        out["throughput_items_s"] = achieved;
        out["bound_items_s"] = bound;
        out["throughput_share"] = achieved / bound;
        out["throughput_share_sse_bound"] = achieved / bound_sse;
    }

    // Latency: drop → the item's run accepted by the API.
    std::vector<double> lat;
    for (const auto& [name, when] : dropped) {
        auto j = log.job_of_file.find(name);
        if (j == log.job_of_file.end()) continue;
        for (std::size_t i = 0; i < o.items; ++i)
            if (auto t = log.tracked.find({j->second, i}); t != log.tracked.end())
                lat.push_back(std::chrono::duration<double>(t->second - when).count());
    }
    std::cout << "\nlatency, drop -> submitted (brief renamed into incoming/ -> briefd's run.tracking line for the "
                 "item, logged right after the batch response gave it a run id; log timestamps have ms resolution)\n"
              << "  per item: p50 " << fmt(percentile(lat, 0.5), 3) << " s, p95 " << fmt(percentile(lat, 0.95), 3)
              << " s, min " << fmt(percentile(lat, 0.0), 3) << " s, max " << fmt(percentile(lat, 1.0), 3)
              << " s (n=" << lat.size() << ")\n";
    if (!o.drop_interval_ms && o.briefs > 1)
        std::cout << "  all briefs were dropped at once, so beyond the min this is mostly waiting for rate budget\n";
    out["latency_p50_s"] = lat.empty() ? json::value(nullptr) : json::value(percentile(lat, 0.5));
    out["latency_p95_s"] = lat.empty() ? json::value(nullptr) : json::value(percentile(lat, 0.95));

    // Resources.
    const double bd_cpu = bd.cpu_s - baseline_cpu;
    std::cout << "\nresources (read before stopping)\n"
              << "  briefd:   peak RSS (VmHWM) " << mib(bd.mem.hwm_kib) << ", RSS now " << mib(bd.mem.rss_kib)
              << ", baseline after ready " << mib(baseline.rss_kib) << "; CPU (utime+stime) " << fmt(bd.cpu_s, 2)
              << " s total, " << fmt(bd_cpu, 2) << " s during the run";
    if (completed) std::cout << " = " << fmt(1000 * bd_cpu / static_cast<double>(completed), 3) << " ms per completed item";
    std::cout << "\n  briefsim: peak RSS (VmHWM) " << mib(sm.mem.hwm_kib) << "; CPU " << fmt(sm.cpu_s, 2) << " s";
    if (o.scen != scenario::concurrency && elapsed > 0)
        std::cout << " (" << fmt(100 * sm.cpu_s / elapsed, 1) << "% of one core over the run; briefd "
                  << fmt(100 * bd_cpu / elapsed, 1) << "%)";
    std::cout << "\n  peak concurrent connections at briefsim: " << stat_at(stats, "connections", "peak")
              << ", peak open streams: " << stat_at(stats, "streams", "peak") << "\n";
    out["briefd_peak_rss_kib"] = bd.mem.hwm_kib;
    out["briefd_baseline_rss_kib"] = baseline.rss_kib;
    out["briefd_cpu_s"] = bd_cpu;
    out["briefsim_peak_rss_kib"] = sm.mem.hwm_kib;
    out["briefsim_cpu_s"] = sm.cpu_s;

    if (o.scen == scenario::concurrency) {
        std::cout << "\nconcurrency\n";
        if (at_concurrency) {
            const auto runs = std::max<std::size_t>(1, tracked_at_sample);
            const double per_run = (static_cast<double>(at_concurrency->rss_kib) - static_cast<double>(baseline.rss_kib)) /
                                   static_cast<double>(runs);
            std::cout << "  sampled with " << tracked_at_sample << " runs tracked by briefd (run.tracking lines), "
                      << streams_at_sample << " SSE streams open at briefsim, " << fds_at_sample
                      << " open fds in briefd\n"
                      << "  briefd VmRSS " << mib(at_concurrency->rss_kib) << " - baseline " << mib(baseline.rss_kib)
                      << " = " << fmt(per_run, 1) << " KiB per tracked run (VmHWM then " << mib(at_concurrency->hwm_kib)
                      << ")\n";
            out["runs_tracked"] = tracked_at_sample;
            out["streams_open"] = streams_at_sample;
            out["rss_per_run_kib"] = per_run;
        } else {
            std::cout << "  never reached " << total_items << " tracked runs\n";
        }
    }
    if (o.scen == scenario::large_output || o.output_bytes) {
        std::cout << "\nlarge output\n"
                  << "  largest file saved: " << log.largest_output << " bytes (" << mib(log.largest_output / 1024)
                  << ")\n"
                  << "  briefd RSS: baseline " << mib(baseline.rss_kib) << ", highest sampled (every "
                  << sample_every.count() << " ms) " << mib(max_rss_sampled) << ", VmHWM " << mib(bd.mem.hwm_kib)
                  << " -> growth " << mib(bd.mem.hwm_kib > baseline.rss_kib ? bd.mem.hwm_kib - baseline.rss_kib : 0)
                  << " while downloading\n";
        out["largest_output_bytes"] = log.largest_output;
        out["rss_growth_kib"] = bd.mem.hwm_kib > baseline.rss_kib ? bd.mem.hwm_kib - baseline.rss_kib : 0;
        // Download + verify (sha256 on the way) per core: every byte saved over all of briefd's
        // CPU since it was ready (submission and tracking included, so slightly pessimistic).
        const double mb = static_cast<double>(log.bytes_saved) / 1e6;
        const double per_core = bd_cpu > 0 ? mb / bd_cpu : std::nan("");
        double wall_s = std::nan("");
        if (log.last_finished && log.last_saved)
            wall_s = std::chrono::duration<double>(*log.last_saved - *log.last_finished).count();
        std::cout << "  transport: " << (o.tls ? "HTTPS" : "HTTP") << "; download + sha256 per core of briefd CPU: "
                  << fmt(per_core, 0) << " MB/s (" << fmt(mb, 0) << " MB / " << fmt(bd_cpu, 2)
                  << " s user+sys = " << fmt(mb > 0 ? bd_cpu / (mb / 1000) : std::nan(""), 2) << " s per GB)\n"
                  << "  wall: " << fmt(mb / wall_s, 0) << " MB/s (run.finished -> output.saved, incl. fsync: "
                  << fmt(wall_s, 2) << " s; briefsim used " << fmt(sm.cpu_s, 2) << " s CPU on the same 2 cores)\n";
        out["tls"] = o.tls;
        out["download_mb_per_cpu_s"] = std::isnan(per_core) ? json::value(nullptr) : json::value(per_core);
        out["download_wall_mb_s"] = std::isnan(wall_s) ? json::value(nullptr) : json::value(mb / wall_s);
        if (notify && log.last_finished && log.last_saved) {
            const auto pings = notify->pings();
            // Until the brief is filed: committing the file (its fsync) and the manifest belong to it.
            const auto until = (log.last_filed ? *log.last_filed : *log.last_saved) + 100ms;
            auto lag = lateness_ms(pings, *log.last_finished, until, heartbeat_period);
            auto idle = lateness_ms(pings, sys_clock::time_point{}, t0, heartbeat_period);
            auto line = [&](const char* what, const std::vector<double>& v) {
                std::cout << "  event-loop lag " << what << " (heartbeat every " << heartbeat_period.count()
                          << " ms, lateness): p50 " << fmt(percentile(v, 0.5), 2) << " ms, p99 "
                          << fmt(percentile(v, 0.99), 2) << " ms, max " << fmt(percentile(v, 1.0), 2)
                          << " ms (n=" << v.size() << ")\n";
            };
            line("during the download", lag);
            line("while idle, before the drop", idle);
            // Where the worst one fell: right after output.saved it was the final fsync of the file.
            double worst = -1, worst_before_saved = 0;
            for (std::size_t i = 1; i < pings.size(); ++i) {
                if (pings[i] < *log.last_finished || pings[i] > until) continue;
                const double gap = std::chrono::duration<double, std::milli>(pings[i] - pings[i - 1]).count();
                if (gap > worst) {
                    worst = gap;
                    worst_before_saved = std::chrono::duration<double>(pings[i] - *log.last_saved).count();
                }
            }
            if (worst >= 0)
                std::cout << "  the largest gap ended " << fmt(worst_before_saved, 3)
                          << " s after output.saved (negative: before; log time, ms resolution)\n";
            std::cout << "  briefd waited " << fmt(run_queue_s, 2)
                      << " s in the run queue (runnable, no CPU free) during the run: CPU contention, not "
                         "briefd's code, is that much of the lag\n";
            out["run_queue_wait_s"] = std::isnan(run_queue_s) ? json::value(nullptr) : json::value(run_queue_s);
            out["loop_lag_p50_ms"] = lag.empty() ? json::value(nullptr) : json::value(percentile(lag, 0.5));
            out["loop_lag_p99_ms"] = lag.empty() ? json::value(nullptr) : json::value(percentile(lag, 0.99));
            out["loop_lag_max_ms"] = lag.empty() ? json::value(nullptr) : json::value(percentile(lag, 1.0));
        }
    }
    std::cout << "\nbriefd log: " << briefd_log.string() << (o.keep ? "" : " (removed at exit; --keep keeps it)")
              << "\n";
    if (o.json_out) std::cout << json::serialize(out) << "\n";
    ok = !timed_out;
    return timed_out ? 1 : 0;
}

// ---- flood / aged-spool: thousands of briefs at once, constant cost per brief (issue 13)

std::string loadavg() {
    auto s = read_file("/proc/loadavg");
    auto sp = s.find(' ', s.find(' ', s.find(' ') + 1) + 1);
    return s.substr(0, sp);
}

/// Reads briefd's log from where the last call stopped (whole lines only) and counts the events the
/// flood figures need, with the time of each count's last step.
struct flood_progress {
    std::size_t claimed = 0, accepted = 0, filed = 0, filed_single = 0, outputs = 0, runs_finished = 0;
    std::optional<sys_clock::time_point> first_claim, last_accept, last_filed, last_single_filed, accepted_5k,
        accepted_10k;
    std::uintmax_t offset = 0;

    void update(const fs::path& log) {
        std::ifstream in(log, std::ios::binary);
        in.seekg(static_cast<std::streamoff>(offset));
        std::string line;
        while (std::getline(in, line)) {
            if (in.eof()) break;  // a partial last line: read it next time
            offset += line.size() + 1;
            auto l = parse_log_line(line);
            if (!l) continue;
            if (l->event == "brief.claimed") {
                ++claimed;
                if (!first_claim) first_claim = l->t;
            } else if (l->event == "job.accepted") {
                ++accepted;
                last_accept = l->t;
                if (accepted == 5000) accepted_5k = l->t;
                if (accepted == 10000) accepted_10k = l->t;
            } else if (l->event == "brief.done" || l->event == "brief.failed") {
                ++filed;
                last_filed = l->t;
                if (field(l->rest, "items") == "1") {
                    ++filed_single;
                    last_single_filed = l->t;
                }
            } else if (l->event == "output.saved") {
                ++outputs;
            } else if (l->event == "run.finished") {
                ++runs_finished;
            }
        }
    }
};

int run_flood(const options& o) {
    if (auto recent = recent_mass_delete()) {
        std::cerr << "briefd_bench: a previous bench run removed " << recent->second << " files " << recent->first
                  << " s ago; on ext4 without a journal every file creation is slower for up to "
                  << mass_delete_shadow_s << " s after that"
                  << (o.settle ? ": waiting it out (--settle)\n" : ", so these figures will be worse (--settle waits)\n");
        if (o.settle) std::this_thread::sleep_for(std::chrono::seconds(mass_delete_shadow_s - recent->first));
    }
    const auto shadow = recent_mass_delete();
    const std::size_t total_briefs = o.briefs + o.multi_briefs;
    const std::size_t total_items = o.briefs + o.multi_briefs * 10;
    work_dir wd(o.keep);
    const fs::path& work = wd.path;
    bool& ok = wd.ok;
    const std::string& key = wd.key;
    for (auto d : {"spool/incoming", "spool/active", "spool/done", "spool/failed", "stage"})
        fs::create_directories(work / d);
    // An aged spool: done/ as months of retention_hours: 0 leave it (empty files: only names count).
    for (std::size_t i = 0; i < o.aged_files; ++i) {
        char name[64];
        std::snprintf(name, sizeof name, "old-%06zu.json", i);
        std::ofstream((work / "spool" / "done" / name).string());
    }
    // A spool that has run for months has its metadata on disk. Without this, the write-back of
    // the names just created (inode tables, done/'s blocks) would run during the measurement and
    // be charged to the aged spool.
    double aged_sync_s = 0;
    if (o.aged_files > 0) {
        const auto t = steady::now();
        const int dfd = ::open(work.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            ::syncfs(dfd);
            ::close(dfd);
        }
        aged_sync_s = std::chrono::duration<double>(steady::now() - t).count();
    }
    sim_process_options sopt;
    sopt.stderr_file = work / "briefsim.log";
    std::ostringstream rs, ts, ws;
    rs << o.run_seconds;
    ts << o.time_scale;
    ws << o.time_scale * 6;  // a window of 6 real seconds: rate_limit.per_seconds 6
    sim_process sim({"--key", key, "--time-scale", ts.str(), "--run-seconds", rs.str(), "--rate-limit",
                     std::to_string(o.rate), "--rate-window-s", ws.str(), "--seed", std::to_string(o.seed)},
                    sopt);
    write_text(work / "briefd.yaml", briefd_yaml(o, work, sim.api_url(), 6) +
                                         "max_items_waiting: " + std::to_string(o.max_items_waiting) +
                                         "\nmax_items_in_flight: " + std::to_string(o.max_items_in_flight) + "\n");
    // Every brief is written before briefd starts, beside the spool; the drop is then only renames.
    for (std::size_t b = 0; b < total_briefs; ++b) {
        options one = o;
        one.items = b < o.briefs ? 1 : 10;
        char name[64];
        std::snprintf(name, sizeof name, "flood-%05zu.json", b);
        write_text(work / "stage" / name, brief_json(one, b));
    }
    const fs::path briefd_log = work / "briefd.log";
    process_options bopt;
    bopt.stderr_file = briefd_log;
    const std::string briefd_bin = briefd_binary(o);
    const auto t_start = steady::now();
    child_process briefd({briefd_bin, "--config", (work / "briefd.yaml").string(), "--log-level", "info"}, bopt);
    while (read_file(briefd_log).find("daemon.ready") == std::string::npos) {
        if (!briefd.running() || steady::now() > t_start + 60s) {
            std::cerr << "briefd_bench: briefd did not become ready; its log ends:\n" << tail_of(briefd_log, 20);
            return 1;
        }
        std::this_thread::sleep_for(20ms);
    }
    const double startup_s = std::chrono::duration<double>(steady::now() - t_start).count();
    std::this_thread::sleep_for(200ms);
    const mem_reading baseline = read_mem(briefd.pid());
    const cpu_split baseline_split = cpu_times(briefd.pid());
    const double baseline_cpu = baseline_split.total();
    const std::string load_before = loadavg();

    const auto t0 = sys_clock::now();
    for (std::size_t b = 0; b < total_briefs; ++b) {
        char name[64];
        std::snprintf(name, sizeof name, "flood-%05zu.json", b);
        fs::rename(work / "stage" / name, work / "spool" / "incoming" / name);
    }
    const double drop_s = std::chrono::duration<double>(sys_clock::now() - t0).count();

    flood_progress pr;
    std::uint64_t max_rss = 0;
    const auto deadline = steady::now() + std::chrono::seconds(o.timeout_s ? o.timeout_s : 600);
    auto last_note = steady::now();
    bool timed_out = false;
    double cpu_at_5k = std::nan(""), cpu_at_10k = std::nan("");
    for (;;) {
        if (!briefd.running()) {
            std::cerr << "briefd_bench: briefd exited early; its log ends:\n" << tail_of(briefd_log, 20);
            return 1;
        }
        max_rss = std::max(max_rss, read_mem(briefd.pid()).rss_kib);
        pr.update(briefd_log);
        if (std::isnan(cpu_at_5k) && pr.accepted >= 5000) cpu_at_5k = cpu_seconds(briefd.pid()) - baseline_cpu;
        if (std::isnan(cpu_at_10k) && pr.accepted >= 10000) cpu_at_10k = cpu_seconds(briefd.pid()) - baseline_cpu;
        if (pr.filed >= total_briefs) break;
        if (steady::now() - last_note > 5s) {
            std::cerr << "  ... " << pr.accepted << " accepted, " << pr.filed << "/" << total_briefs
                      << " filed, " << pr.outputs << " outputs saved\n";
            last_note = steady::now();
        }
        if (steady::now() > deadline) {
            timed_out = true;
            std::cerr << "briefd_bench: timed out; figures below are partial\n";
            break;
        }
        std::this_thread::sleep_for(250ms);
    }
    const mem_reading end_mem = read_mem(briefd.pid());
    const cpu_split end_split = cpu_times(briefd.pid());
    const double cpu = end_split.total() - baseline_cpu;
    const double user_cpu = end_split.user - baseline_split.user, sys_cpu = end_split.sys - baseline_split.sys;
    const double sim_cpu = cpu_seconds(sim.process().pid());
    const std::string load_after = loadavg();
    briefd.signal(SIGTERM);
    if (!briefd.wait(20s)) {
        briefd.signal(SIGKILL);
        briefd.wait(5s);
    }
    sim.stop();
    pr.update(briefd_log);

    auto since_drop = [&](const std::optional<sys_clock::time_point>& t) {
        return t ? std::chrono::duration<double>(*t - t0).count() : std::nan("");
    };
    const char* name = o.scen == scenario::flood ? "flood" : "aged-spool";
    std::cout << "\n== briefd_bench: scenario " << name << ", " << o.briefs << " single-item + " << o.multi_briefs
              << " ten-item briefs (" << total_items << " items), " << o.aged_files << " files already in done/\n"
              << "machine load (1/5/15 min) before: " << load_before << ", after: " << load_after << "\n"
              << "files removed by an earlier bench run in the last " << mass_delete_shadow_s << " s: "
              << (shadow ? std::to_string(shadow->second) + ", " + std::to_string(shadow->first) +
                               " s before this run (its file creations are slower; --settle waits)"
                         : std::string("none"))
              << "\n"
              << (o.aged_files > 0 ? "aged files written back before briefd starts (syncfs): " + fmt(aged_sync_s) + " s\n"
                                   : std::string())
              << "briefd start-up (recovery + name index): " << fmt(startup_s) << " s\n"
              << "drop (renames into incoming/): " << fmt(drop_s) << " s\n"
              << "first claim after drop: " << fmt(since_drop(pr.first_claim), 3) << " s\n"
              << "5,000 briefs claimed and validated (claims durable): "
              << fmt(since_drop(pr.accepted_5k)) << " s after the drop = "
              << fmt(since_drop(pr.accepted_5k) / 5.0, 3) << " ms per brief; briefd CPU by then "
              << fmt(cpu_at_5k) << " s = " << fmt(cpu_at_5k / 5.0, 3) << " ms per brief\n"
              << "10,000 briefs claimed and validated (claims durable): "
              << fmt(since_drop(pr.accepted_10k)) << " s after the drop = "
              << fmt(since_drop(pr.accepted_10k) / 10.0, 3) << " ms per brief; briefd CPU by then "
              << fmt(cpu_at_10k) << " s\n"
              << "all " << pr.accepted << " accepted: " << fmt(since_drop(pr.last_accept)) << " s\n"
              << (pr.filed_single >= o.briefs ? "all " : "only ") << pr.filed_single << " of " << o.briefs
              << " single-item briefs filed (done end to end): " << fmt(since_drop(pr.last_single_filed)) << " s\n"
              << "all " << pr.filed << " filed (done end to end): " << fmt(since_drop(pr.last_filed)) << " s\n"
              << "runs finished / outputs saved: " << pr.runs_finished << " / " << pr.outputs << "\n"
              << "briefd CPU: " << fmt(cpu) << " s = " << fmt(cpu * 1000.0 / static_cast<double>(total_items), 3)
              << " ms per item, " << fmt(cpu * 1000.0 / static_cast<double>(total_briefs), 3) << " ms per brief"
              << " (user " << fmt(user_cpu) << " s, system " << fmt(sys_cpu) << " s)\n"
              << "briefsim CPU: " << fmt(sim_cpu) << " s\n"
              << "briefd RSS: baseline " << mib(baseline.rss_kib) << ", peak " << mib(std::max(end_mem.hwm_kib, max_rss))
              << " (" << total_briefs << " briefs dropped at once; claiming pauses at max_items_waiting "
              << o.max_items_waiting << " items waiting to start, and they start while fewer than max_items_in_flight "
              << o.max_items_in_flight << " are in flight)\n";
    if (o.json_out) {
        json::object out{{"scenario", name},
                         {"aged_files", o.aged_files},
                         {"briefs", total_briefs},
                         {"items", total_items},
                         {"accepted_5k_s", since_drop(pr.accepted_5k)},
                         {"accepted_10k_s", since_drop(pr.accepted_10k)},
                         {"single_filed_s", since_drop(pr.last_single_filed)},
                         {"all_filed_s", since_drop(pr.last_filed)},
                         {"max_items_waiting", o.max_items_waiting},
                         {"max_items_in_flight", o.max_items_in_flight},
                         {"cpu_s", cpu},
                         {"cpu_ms_per_item", cpu * 1000.0 / static_cast<double>(total_items)},
                         {"cpu_user_s", user_cpu},
                         {"cpu_sys_s", sys_cpu},
                         {"peak_rss_kib", std::max(end_mem.hwm_kib, max_rss)}};
        std::cout << json::serialize(out) << "\n";
    }
    ok = !timed_out;
    return timed_out ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    std::string err;
    if (!parse_args(argc, argv, o, err)) {
        std::cerr << "briefd_bench: " << err << "\n";
        return 2;
    }
    try {
        if (o.scen == scenario::flood || o.scen == scenario::aged_spool) return run_flood(o);
        return run(o);
    } catch (const std::exception& e) {
        std::cerr << "briefd_bench: " << e.what() << "\n";
        return 1;
    }
}
