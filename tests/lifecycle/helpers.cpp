#include "lifecycle/helpers.hpp"

#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace briefd::lifecycle {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

// ---- temp_root ------------------------------------------------------------------------------

temp_root::temp_root(std::string_view tag, const fs::path& base) {
    std::string tmpl = (base / ("briefd-" + std::string(tag) + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr)
        throw std::system_error(errno, std::system_category(), "mkdtemp " + tmpl);
    path_ = tmpl;
}

temp_root::~temp_root() {
    if (std::getenv("BRIEFD_KEEP_TEST_DIRS")) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
}

// ---- notify ---------------------------------------------------------------------------------

bool notify_message::has(std::string_view assignment) const {
    std::size_t pos = 0;
    while (pos <= text.size()) {
        auto nl = text.find('\n', pos);
        auto line = std::string_view(text).substr(
            pos, nl == std::string::npos ? std::string::npos : nl - pos);
        if (line == assignment) return true;
        if (nl == std::string::npos) break;
        pos = nl + 1;
    }
    return false;
}

std::string notify_message::value(std::string_view key) const {
    std::string prefix = std::string(key) + "=";
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        auto line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        if (line.starts_with(prefix)) return line.substr(prefix.size());
        if (nl == std::string::npos) break;
        pos = nl + 1;
    }
    return {};
}

notify_socket::notify_socket(const fs::path& path) : path_(path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.string().size() >= sizeof addr.sun_path)
        throw std::runtime_error("notify socket path too long");
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) throw std::system_error(errno, std::system_category(), "socket");
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        int e = errno;
        ::close(fd_);
        throw std::system_error(e, std::system_category(), "bind " + path.string());
    }
}

notify_socket::~notify_socket() {
    if (fd_ >= 0) ::close(fd_);
    std::error_code ec;
    fs::remove(path_, ec);
}

bool notify_socket::receive_one(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r <= 0) return false;
    char buf[4096];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return false;
    messages_.push_back(
        {std::string(buf, static_cast<std::size_t>(n)), std::chrono::steady_clock::now()});
    return true;
}

void notify_socket::drain() {
    while (receive_one(0)) {
    }
}

long notify_socket::wait_for(const std::function<bool(const notify_message&)>& pred,
                             std::chrono::milliseconds timeout, std::size_t from) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t next = from;
    for (;;) {
        for (; next < messages_.size(); ++next)
            if (pred(messages_[next])) return static_cast<long>(next);
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return -1;
        receive_one(static_cast<int>(std::min<long>(left.count(), 100)));
    }
}

// ---- briefs ---------------------------------------------------------------------------------

std::string content_brief(std::string_view tag, std::size_t items) {
    json::array list;
    for (std::size_t i = 0; i < items; ++i)
        list.push_back(
            json::object{{"brief", "Lifecycle test " + std::string(tag) + " shot " +
                                       std::to_string(i) + ": sneaker on a rooftop at golden hour"},
                         {"platform", "instagram"},
                         {"modality", "image"}});
    return json::serialize(json::object{{"items", std::move(list)}});
}

std::string app_brief(std::string_view tag) {
    return json::serialize(json::object{
        {"app", "ec7ec3ce-69b4-43c9-8eea-fe9752d679a4"},
        {"inputs",
         json::object{{"Upload", "https://example.com/lifecycle/" + std::string(tag) + ".jpg"},
                      {"Style", "Studio"}}}});
}

// ---- text -----------------------------------------------------------------------------------

std::size_t count(std::string_view text, std::string_view needle) {
    std::size_t n = 0;
    for (auto pos = text.find(needle); pos != std::string_view::npos;
         pos = text.find(needle, pos + needle.size()))
        ++n;
    return n;
}

std::vector<std::string> lines_with(std::string_view text,
                                    std::initializer_list<std::string_view> needles) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        auto line =
            text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        bool all = true;
        for (auto n : needles) all = all && line.find(n) != std::string_view::npos;
        if (all) out.emplace_back(line);
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
    }
    return out;
}

std::int64_t sim_stat(const testing::sim_process& sim, std::string_view key) {
    auto v = sim.stats();
    const auto* p = v.as_object().if_contains(key);
    if (!p) throw std::runtime_error("briefsim stats have no " + std::string(key));
    return p->to_number<std::int64_t>();
}

std::string sha256_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return {};
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return {};
    char buf[65536];
    while (in) {
        in.read(buf, sizeof buf);
        if (in.gcount() > 0)
            EVP_DigestUpdate(ctx.get(), buf, static_cast<std::size_t>(in.gcount()));
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) return {};
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
}

// ---- audit ----------------------------------------------------------------------------------

namespace {

std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        out.push_back(it->path().filename().string());
    return out;
}

std::string stem_of(const std::string& name) {
    return fs::path(name).stem().string();
}

bool is_debris(const std::string& n) {
    return n.ends_with(".part") || n.ends_with(".tmp") || n.ends_with(".dl") ||
           n.ends_with(".corrupt") || n.starts_with(".");
}

}  // namespace

audit_result audit_spool(const testing::daemon_process& d, const std::set<std::string>& dropped) {
    audit_result r;
    auto problem = [&](std::string s) { r.problems.push_back(std::move(s)); };

    // Each dropped brief in exactly one place, under its own name.
    std::map<std::string, int> seen;
    auto done = d.done();
    auto failed = d.failed();
    for (const auto& n : done) ++seen[n];
    for (const auto& n : failed) ++seen[n];
    r.done = done.size();
    r.failed = failed.size();
    for (const auto& n : dropped)
        if (seen[n] != 1) problem(n + " is filed " + std::to_string(seen[n]) + " times");
    for (const auto& [n, c] : seen)
        if (!dropped.count(n)) problem("unexpected brief filed: " + n);
    for (const auto& n : names_in(d.spool() / "incoming")) problem("left in incoming/: " + n);
    for (const auto& n : names_in(d.spool() / "active")) problem("left in active/: " + n);

    // Failed briefs carry their reason.
    for (const auto& n : failed) {
        try {
            auto e = d.error_file(n);
            if (json::serialize(e).find("submission outcome unknown") != std::string::npos)
                ++r.failed_uncertain;
        } catch (const std::exception& ex) {
            problem("failed/" + n + " has no readable error file: " + ex.what());
        }
    }

    // One outputs/ directory per job, each with a manifest whose files are intact.
    std::set<std::string> jobs;
    for (const auto& n : dropped) jobs.insert(stem_of(n));
    for (const auto& n : names_in(d.outputs()))
        if (!jobs.count(n)) problem("unexpected outputs/ entry: " + n);
    std::set<std::string> done_set(done.begin(), done.end());
    for (const auto& n : dropped) {
        auto job = stem_of(n);
        json::value m;
        try {
            m = d.manifest(job);
        } catch (const std::exception& ex) {
            problem("no manifest for " + job + ": " + ex.what());
            continue;
        }
        const auto& mo = m.as_object();
        if (mo.at("job").as_string() != job)
            problem(job + ": manifest names job " + json::serialize(mo.at("job")));
        if (done_set.count(n) && mo.at("status").as_string() != "completed")
            problem(job + " is in done/ but its manifest says " + json::serialize(mo.at("status")));
        std::set<std::string> listed{"manifest.json"};
        for (const auto& item : mo.at("items").as_array()) {
            for (const auto& out : item.at("outputs").as_array()) {
                const auto& o = out.as_object();
                if (o.at("status").as_string() != "saved") continue;
                std::string file(o.at("file").as_string());
                listed.insert(file);
                auto p = d.outputs() / job / file;
                std::error_code ec;
                auto size = fs::file_size(p, ec);
                if (ec) {
                    problem(job + "/" + file + " is missing");
                    continue;
                }
                if (size != o.at("bytes").to_number<std::uint64_t>())
                    problem(job + "/" + file + " has " + std::to_string(size) +
                            " bytes, the manifest says " + json::serialize(o.at("bytes")));
                if (sha256_file(p) != o.at("sha256").as_string())
                    problem(job + "/" + file + ": sha256 mismatch");
                ++r.outputs_checked;
            }
        }
        for (const auto& f : names_in(d.outputs() / job))
            if (!listed.count(f)) problem(job + "/" + f + " is not in the manifest");
    }

    // No debris anywhere.
    for (const auto& top : {d.spool(), d.outputs()}) {
        std::error_code ec;
        for (fs::recursive_directory_iterator it(top, ec), end; !ec && it != end;
             it.increment(ec)) {
            auto n = it->path().filename().string();
            if (is_debris(n) || n.ends_with(".state.json"))
                problem("debris: " + it->path().string());
        }
    }
    return r;
}

}  // namespace briefd::lifecycle
