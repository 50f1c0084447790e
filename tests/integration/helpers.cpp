#include "integration/helpers.hpp"

#include "support/certs.hpp"

#include <doctest/doctest.h>
#include <openssl/evp.h>

#include <array>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <stdexcept>

namespace briefd::it {

namespace json = boost::json;

namespace {

std::string random_hex(std::size_t bytes) {
    std::random_device rd;
    std::string out;
    static constexpr char digits[] = "0123456789abcdef";
    for (std::size_t i = 0; i < bytes; ++i) {
        auto b = static_cast<unsigned>(rd()) & 0xffu;
        out += digits[b >> 4];
        out += digits[b & 0xf];
    }
    return out;
}

}  // namespace

temp_dir::temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "briefd-it-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

temp_dir::~temp_dir() {
    if (std::getenv("BRIEFD_IT_KEEP")) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
}

rig::rig(rig_options opt) {
    key = "lma_it_" + random_hex(16);
    std::vector<std::string> args{
        "--time-scale",    std::to_string(time_scale),           "--seed", "7", "--key", key,
        "--rate-window-s", std::to_string(opt.sim_rate_window_s)};
    testing::sim_process_options so;
    so.stderr_file = tmp.path() / "briefsim.log";
    if (opt.https) {
        auto pki = testing::make_test_pki(tmp.path());
        args.insert(args.end(),
                    {"--tls-cert", pki.cert_file.string(), "--tls-key", pki.key_file.string()});
        so.ca_file = pki.ca_file;
        if (opt.trust_ca) opt.daemon.ca_file = pki.ca_file;
    }
    args.insert(args.end(), opt.sim_args.begin(), opt.sim_args.end());
    sim = std::make_unique<sim_process>(args, so);
    if (opt.daemon.api_url.empty()) opt.daemon.api_url = sim->api_url();
    if (opt.daemon.api_key.empty()) opt.daemon.api_key = key;
    if (opt.hrizn) {
        if (opt.daemon.hrizn_url.empty()) opt.daemon.hrizn_url = sim->hrizn_url();
        if (opt.daemon.hrizn_key.empty()) opt.daemon.hrizn_key = sim->hrizn_key();
        opt.daemon.hrizn_rate_window_s = 1;
    }
    if (opt.layers) {
        if (opt.daemon.layers_url.empty()) opt.daemon.layers_url = sim->layers_url();
        if (opt.daemon.layers_key.empty()) opt.daemon.layers_key = sim->layers_key();
    }
    // briefsim's window is sim_rate_window_s API seconds = that / time_scale real seconds.
    opt.daemon.rate_window_s = std::max(1, opt.sim_rate_window_s / time_scale);
    d = std::make_unique<daemon_process>(tmp.path() / "d", opt.daemon);
}

std::string rig::context() const {
    std::ostringstream o;
    o << "temp dir: " << tmp.path().string() << "\n--- briefd.log (tail) ---\n";
    if (d) o << d->log_tail(40);
    o << "--- briefsim stats ---\n";
    try {
        if (sim) o << json::serialize(sim->stats());
    } catch (const std::exception& e) {
        o << "(unavailable: " << e.what() << ")";
    }
    return o.str();
}

std::uint64_t rig::hrizn_stat(const std::string& name) const {
    auto v = sim->stats();
    const auto* x = v.as_object().at("hrizn").as_object().if_contains(name);
    if (!x) throw std::runtime_error("no briefsim Hrizn counter " + name);
    return x->to_number<std::uint64_t>();
}

std::uint64_t rig::layers_stat(const std::string& name) const {
    auto v = sim->stats();
    const auto* x = v.as_object().at("layers").as_object().if_contains(name);
    if (!x) throw std::runtime_error("no briefsim Layers counter " + name);
    return x->to_number<std::uint64_t>();
}

std::uint64_t rig::hrizn_route_count(const std::string& route) const {
    auto v = sim->stats();
    const auto* routes = v.as_object().at("hrizn").as_object().if_contains("requests");
    if (!routes || !routes->is_object()) return 0;
    const auto* r = routes->as_object().if_contains(route);
    if (!r) return 0;
    if (r->is_number()) return r->to_number<std::uint64_t>();
    // {"<status>": n, ..., "total": n}
    const auto* t = r->is_object() ? r->as_object().if_contains("total") : nullptr;
    return t ? t->to_number<std::uint64_t>() : 0;
}

std::string hrizn_brief(const std::string& tag, std::size_t n, const std::string& extra_item_json) {
    static const char* types[] = {"basic", "qa", "expert", "comparison"};
    std::string items;
    for (std::size_t i = 0; i < n; ++i) {
        if (i) items += ",";
        items += R"({"ideacloud_id":"4b1f6c1e-0d3a-4e59-9a47-1f1f5e0b6d11","article_type":")" +
                 std::string(types[i % 4]) + R"(","title":")" + tag + " " + std::to_string(i) + R"(")" +
                 (extra_item_json.empty() ? "" : "," + extra_item_json) + "}";
    }
    return R"({"provider":"hrizn","items":[)" + items + "]}";
}

std::uint64_t rig::stat(const std::string& name) const {
    auto v = sim->stats();
    const auto* x = v.as_object().if_contains(name);
    if (!x) throw std::runtime_error("no briefsim counter " + name);
    return x->to_number<std::uint64_t>();
}

std::uint64_t rig::route_count(const std::string& route) const {
    auto v = sim->stats();
    const auto* r = v.as_object().at("requests").as_object().if_contains(route);
    if (!r) return 0;
    return r->as_object().at("total").to_number<std::uint64_t>();
}

std::string content_brief(const std::string& tag, std::size_t n, const std::string& modality) {
    json::array items;
    for (std::size_t i = 0; i < n; ++i)
        items.push_back(json::object{{"brief", tag + " #" + std::to_string(i)},
                                     {"platform", "instagram"},
                                     {"modality", modality}});
    return json::serialize(json::object{{"items", std::move(items)}});
}

std::string sha256_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return {};
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    std::array<char, 65536> buf;
    while (in) {
        in.read(buf.data(), buf.size());
        EVP_DigestUpdate(ctx, buf.data(), static_cast<std::size_t>(in.gcount()));
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex;
    for (unsigned i = 0; i < len; ++i) {
        hex += digits[md[i] >> 4];
        hex += digits[md[i] & 0xf];
    }
    return hex;
}

std::vector<fs::path> files_under(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec)) out.push_back(it->path());
    return out;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::size_t check_outputs(const daemon_process& d, const std::string& job) {
    auto m = d.manifest(job);
    const fs::path dir = fs::weakly_canonical(d.outputs() / job);
    std::size_t saved = 0;
    for (const auto& item : m.at("items").as_array()) {
        for (const auto& out : item.at("outputs").as_array()) {
            const auto& o = out.as_object();
            if (o.at("status").as_string() != "saved") continue;
            ++saved;
            const std::string file(o.at("file").as_string());
            INFO("job " << job << " output " << file);
            const fs::path p = fs::weakly_canonical(dir / file);
            CHECK(p.parent_path() == dir);
            REQUIRE(fs::is_regular_file(p));
            CHECK(fs::file_size(p) == o.at("bytes").to_number<std::uint64_t>());
            CHECK(sha256_file(p) == std::string(o.at("sha256").as_string()));
        }
    }
    return saved;
}

}  // namespace briefd::it
