// briefd_webhooks_bench: what webhooks save and what the receiver costs, printed as figures.
//
// 1. Lamina app runs with webhooks: briefd against briefsim (which signs and delivers with
//    Ed25519), N app-run items; API requests per item by route (target ≤ 1.02: the POST, plus the
//    app schema and the signing key once each).
// 2. The receiver: signed Hrizn deliveries (HMAC) POSTed over keep-alive connections as fast as
//    briefd answers them; verified deliveries per second of wall time and per CPU-second of
//    briefd (its utime + stime from /proc: the cost on one core).
// 3. The verifiers alone, in process: Ed25519 and HMAC verifications per second.
//
// Usage: briefd_webhooks_bench [--items N] [--per-brief N] [--deliveries N] [--connections N]
// (the app's schema is fetched once per brief, the signing key once per start: both count).
#include "support/daemon_process.hpp"
#include "support/sim_process.hpp"
#include "support/webhook_sign.hpp"
#include "webhooks/verify.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
namespace json = boost::json;
namespace asio = boost::asio;
namespace http = boost::beast::http;
using namespace std::chrono_literals;
using briefd::testing::daemon_options;
using briefd::testing::daemon_process;
using briefd::testing::sim_process;

namespace {

double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto close = all.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream rest(all.substr(close + 2));
    std::vector<std::string> f;
    std::string tok;
    while (rest >> tok) f.push_back(tok);
    if (f.size() < 13) return 0;
    return (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

unsigned short free_port() {
    asio::io_context io;
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

struct temp_root {
    fs::path path;
    temp_root() {
        std::string t = (fs::temp_directory_path() / "briefd-whbench-XXXXXX").string();
        if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp");
        path = t;
    }
    ~temp_root() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

std::size_t filed(const daemon_process& d) {
    return d.done().size() + d.failed().size();
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t items = 100, per_brief = 100, deliveries = 20000, connections = 4;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        auto v = static_cast<std::size_t>(std::stoul(argv[i + 1]));
        if (a == "--items")
            items = v;
        else if (a == "--deliveries")
            deliveries = v;
        else if (a == "--connections")
            connections = std::max<std::size_t>(1, v);
        else {
            std::cerr
                << "usage: briefd_webhooks_bench [--items N] [--per-brief N] [--deliveries N] "
                   "[--connections N]\n";
            return 2;
        }
    }
    temp_root tmp;
    const std::string secret = "hzwh_bench_secret";
    const auto port = free_port();
    const std::string base = "http://127.0.0.1:" + std::to_string(port) + "/hooks";
    sim_process sim({"--time-scale", "60", "--seed", "11", "--rate-limit", "100000"},
                    {tmp.path / "briefsim.log"});
    std::ofstream(tmp.path / "hrizn-webhook") << secret << "\n";
    daemon_options o;
    o.api_url = sim.api_url();
    o.api_key = sim.api_key();
    o.rate_requests = 100000;
    o.rate_window_s = 1;
    o.hrizn_url = sim.hrizn_url();
    o.hrizn_key = sim.hrizn_key();
    o.hrizn_rate_requests = 100000;
    o.hrizn_rate_window_s = 1;
    o.hrizn_yaml = "    webhook_secret_file: " + (tmp.path / "hrizn-webhook").string() + "\n";
    o.top_yaml = "log_level: notice\nwebhooks:\n  listen: 127.0.0.1:" + std::to_string(port) +
                 "\n  public_url: " + base + "\n  grace_s: 3600\n";
    sim.reset_stats();  // the signing-key fetch at start counts
    daemon_process d(tmp.path / "d", o);

    // ---- 1. Lamina app runs by webhook -------------------------------------------------------
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t briefs = 0;
    for (std::size_t done = 0; done < items; done += per_brief, ++briefs) {
        json::array arr;
        for (std::size_t i = done; i < std::min(items, done + per_brief); ++i)
            arr.push_back(
                json::object{{"inputs",
                              {{"Upload", "https://example.com/p" + std::to_string(i) + ".jpg"},
                               {"Style", "Studio"}}}});
        d.drop("apps-" + std::to_string(briefs) + ".json",
               json::serialize(json::object{{"app", "ec7ec3ce-69b4-43c9-8eea-fe9752d679a4"},
                                            {"items", std::move(arr)}}));
    }
    if (!d.wait_filed(briefs, std::chrono::milliseconds(300000))) {
        std::cerr << "briefs not filed in time\n" << d.log_tail(30);
        return 1;
    }
    const double lamina_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto stats = sim.stats();
    std::uint64_t api_requests = 0;
    std::ostringstream routes;
    for (const auto& [route, v] : stats.at("requests").as_object()) {
        if (std::string_view(route).find("/_sim") != std::string_view::npos) continue;
        const std::string_view rt(route);
        if (rt.find(" /v1/") == std::string_view::npos) continue;       // Lamina API origin only
        if (rt.find("/v1/public") != std::string_view::npos) continue;  // Hrizn
        auto n = v.at("total").to_number<std::uint64_t>();
        api_requests += n;
        routes << "    " << route << ": " << n << "\n";
    }
    std::cout << "== briefd_webhooks_bench\n"
              << "Lamina app runs tracked by webhook: " << items << " items in " << briefs
              << " briefs, " << d.done().size() << " done, " << d.failed().size() << " failed, "
              << lamina_s << " s\n"
              << "  API requests: " << api_requests << " = "
              << static_cast<double>(api_requests) / items
              << " per item (target <= 1.02; SSE tracking needs >= 2.0)\n"
              << routes.str();
    (void)filed;

    // ---- 2. The receiver --------------------------------------------------------------------
    std::vector<std::string> bodies, sigs;
    for (std::size_t i = 0; i < 64; ++i) {
        auto b = json::serialize(json::object{{"id", "evt_bench_" + std::to_string(i)},
                                              {"type", "content.progress"},
                                              {"site_id", "s"},
                                              {"data",
                                               {{"article_id", "bench-" + std::to_string(i)},
                                                {"article_type", "basic"},
                                                {"progress_percent", 50}}},
                                              {"timestamp", "2026-02-10T12:00:00.000Z"}});
        sigs.push_back(briefd::testing::hrizn_signature(secret, b));
        bodies.push_back(std::move(b));
    }
    std::atomic<std::size_t> next{0}, ok{0}, bad{0};
    const auto cpu0 = cpu_seconds(d.process().pid());
    const auto w0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (std::size_t c = 0; c < connections; ++c)
        threads.emplace_back([&] {
            asio::io_context io;
            asio::ip::tcp::socket s(io);
            s.connect({asio::ip::make_address("127.0.0.1"), port});
            boost::beast::flat_buffer buf;
            for (std::size_t n; (n = next.fetch_add(1)) < deliveries;) {
                http::request<http::string_body> req{http::verb::post, "/hooks/hrizn", 11};
                req.set(http::field::host, "127.0.0.1");
                req.set(http::field::content_type, "application/json");
                req.set("X-Webhook-Signature", sigs[n % sigs.size()]);
                req.body() = bodies[n % bodies.size()];
                req.prepare_payload();
                boost::system::error_code ec;
                http::write(s, req, ec);
                http::response<http::string_body> res;
                if (!ec) http::read(s, buf, res, ec);
                if (ec) {
                    ++bad;
                    s.close();
                    s = asio::ip::tcp::socket(io);
                    s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
                    continue;
                }
                (res.result_int() == 200 ? ok : bad)++;
            }
        });
    for (auto& t : threads) t.join();
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
    const double cpu = cpu_seconds(d.process().pid()) - cpu0;
    std::cout << "Receiver: " << ok << " signed Hrizn deliveries answered 200 (" << bad
              << " not) over " << connections << " keep-alive connections in " << wall << " s\n"
              << "  " << static_cast<double>(ok) / wall << " deliveries/s wall; briefd CPU " << cpu
              << " s = " << (cpu > 0 ? static_cast<double>(ok) / cpu : 0)
              << " verified deliveries per CPU-second (one core)\n";

    // ---- 3. The verifiers alone -------------------------------------------------------------
    briefd::testing::ed25519_signer signer(std::string(32, '\x2a'));
    std::string why;
    auto keys = briefd::webhooks::parse_jwks(signer.jwks("k"), why);
    const std::string body = bodies[0];
    const auto ts = std::to_string(std::time(nullptr));
    const auto lsig = briefd::testing::lamina_signature(signer, ts, body);
    const std::size_t n = 20000;
    auto t1 = std::chrono::steady_clock::now();
    std::size_t good = 0;
    for (std::size_t i = 0; i < n; ++i)
        good += briefd::webhooks::verify_lamina(lsig, ts, body, keys, std::time(nullptr)) ==
                briefd::webhooks::verdict::ok;
    const double ed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    t1 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < n; ++i)
        good +=
            briefd::webhooks::verify_hrizn(sigs[0], body, secret) == briefd::webhooks::verdict::ok;
    const double hm = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    std::cout << "Verifiers in process (" << body.size() << "-byte body): Ed25519 " << n / ed
              << " verifications/s, HMAC-SHA256 " << n / hm << " verifications/s (" << good << "/"
              << 2 * n << " ok)\n";
    return d.failed().empty() && bad == 0 ? 0 : 1;
}
