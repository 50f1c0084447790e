#include "files.hpp"

#include "png.hpp"

#include <openssl/evp.h>

#include <charconv>
#include <memory>

namespace briefd::sim {

namespace {

constexpr std::size_t piece = 64 * 1024;
constexpr std::uint64_t default_video_bytes = 48 * 1024;

std::string be32(std::uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
            static_cast<char>(v)};
}

// Writes up to `budget` more bytes of `bytes`; false once the budget is spent or a write failed.
asio::awaitable<bool> put(http_io& io, std::string_view bytes, std::uint64_t& budget) {
    const bool cut = bytes.size() > budget;
    if (cut) bytes = bytes.substr(0, budget);
    budget -= bytes.size();
    if (!bytes.empty()) {
        const beast::error_code ec = co_await io.write(bytes);
        if (ec) co_return false;
    }
    co_return !cut;
}

// `n` zero bytes, in pieces.
asio::awaitable<bool> put_zeros(http_io& io, std::uint64_t n, std::uint64_t& budget) {
    static const std::string zeros(piece, '\0');
    while (n > 0) {
        const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, piece));
        if (!co_await put(io, std::string_view(zeros.data(), k), budget)) co_return false;
        n -= k;
    }
    co_return true;
}

// CRC-32 of `n` zero bytes continued from `crc`.
std::uint32_t crc_zeros(std::uint64_t n, std::uint32_t crc) {
    static const std::string zeros(piece, '\0');
    while (n > 0) {
        const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, piece));
        crc = crc32(std::string_view(zeros.data(), k), crc);
        n -= k;
    }
    return crc;
}

std::string png_for(const file_spec& spec) {
    return make_png(64, 64, spec.seed);
}

}  // namespace

std::uint64_t files_origin::body_size(const file_spec& spec) const {
    if (spec.content_type == "video/mp4")
        return st_.opt.output_bytes ? std::max<std::uint64_t>(st_.opt.output_bytes, 48)
                                    : default_video_bytes;
    // Stored (uncompressed) deflate blocks: the size of a 64x64 image does not depend on its seed.
    static const std::uint64_t natural = png_for(spec).size();
    return st_.opt.output_bytes > natural + 12 ? st_.opt.output_bytes : natural;
}

std::string media_path(std::string_view container, std::string_view asset, std::string_view ext) {
    return "/public-media/content-container/" + std::string(container) + "/media/" +
           std::string(asset) + "." + std::string(ext);
}

std::vector<body_segment> files_origin::body(const file_spec& spec) const {
    const std::uint64_t total = body_size(spec);
    std::vector<body_segment> out;
    if (spec.content_type == "video/mp4") {
        // An ftyp box, then one 'free' box holding the rest: MP4-shaped, not playable.
        std::string start = be32(24) + "ftypisom" + be32(0x200) + "isommp41";
        start +=
            be32(static_cast<std::uint32_t>(std::min<std::uint64_t>(total - 24, 0xFFFFFFFFu))) +
            "free";
        for (int k = 0; k < 8; ++k) start.push_back(static_cast<char>(spec.seed >> (8 * k)));
        const std::uint64_t rest = total - start.size();
        out.push_back({std::move(start), 0});
        out.push_back({{}, rest});
        return out;
    }
    std::string png = png_for(spec);
    if (total == png.size()) {
        out.push_back({std::move(png), 0});
        return out;
    }
    // IHDR+IDAT, then a private ancillary chunk of zeros (decoders skip it), then IEND.
    const std::uint64_t pad = total - png.size() - 12;
    const std::uint32_t crc = crc_zeros(pad, crc32(padding_chunk_type));
    png.resize(png.size() - 12);
    out.push_back(
        {std::move(png) + be32(static_cast<std::uint32_t>(pad)) + std::string(padding_chunk_type),
         0});
    out.push_back({{}, pad});
    out.push_back({be32(crc) + png_iend(), 0});
    return out;
}

std::string files_origin::sha256_hex(const file_spec& spec) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr);
    static const std::string zeros(piece, '\0');
    for (const auto& seg : body(spec)) {
        EVP_DigestUpdate(md.get(), seg.bytes.data(), seg.bytes.size());
        for (std::uint64_t n = seg.zeros; n > 0;) {
            const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, piece));
            EVP_DigestUpdate(md.get(), zeros.data(), k);
            n -= k;
        }
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(md.get(), d, &len);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out.push_back(hex[d[i] >> 4]);
        out.push_back(hex[d[i] & 15]);
    }
    return out;
}

asio::awaitable<handler_result> files_origin::handle(request_context& ctx) {
    auto& c = st_.counters;
    const auto& req = ctx.req;
    ++c.output_requests;
    if (req.count(http::field::authorization) || req.count("x-api-key"))
        ++c.output_requests_with_api_key;
    std::string route = std::string(req.method_string()) + " /files/{run}/{file}";

    auto plain = [&](http::status s, std::string text) {
        response r{s, 11};
        r.set(http::field::content_type, "text/plain; charset=utf-8");
        r.body() = std::move(text);
        c.count(route, static_cast<unsigned>(s));
        return handler_result{std::move(r)};
    };

    if (req.method() != http::verb::get && req.method() != http::verb::head)
        co_return plain(http::status::method_not_allowed, "method not allowed\n");
    std::string_view path = req.target();
    if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
    std::optional<file_spec> spec;
    constexpr std::string_view media_prefix = "/public-media/content-container/";
    if (media_ && path.starts_with(media_prefix)) {
        // /public-media/content-container/<container>/media/<asset>.<ext>
        route = std::string(req.method_string()) + " " + std::string(media_prefix) +
                "{container}/media/{asset}";
        path.remove_prefix(media_prefix.size());
        const auto slash = path.find("/media/");
        const auto dot = path.rfind('.');
        if (slash == std::string_view::npos || slash == 0 || dot == std::string_view::npos ||
            dot < slash + 8)
            co_return plain(http::status::not_found, "not found\n");
        spec = media_(path.substr(0, slash), path.substr(slash + 7, dot - slash - 7),
                      path.substr(dot + 1), req.method() == http::verb::get);
        if (!spec) co_return plain(http::status::not_found, "no such asset\n");
    } else {
        // /files/<run>/<index>.<ext>
        if (!path.starts_with("/files/")) co_return plain(http::status::not_found, "not found\n");
        path.remove_prefix(7);
        const auto slash = path.find('/');
        const auto dot = path.rfind('.');
        std::size_t index = 0;
        if (slash == std::string_view::npos || dot == std::string_view::npos || dot < slash)
            co_return plain(http::status::not_found, "not found\n");
        const auto idx = path.substr(slash + 1, dot - slash - 1);
        if (std::from_chars(idx.data(), idx.data() + idx.size(), index).ptr !=
            idx.data() + idx.size())
            co_return plain(http::status::not_found, "not found\n");
        spec = resolve_(path.substr(0, slash), index, path.substr(dot + 1));
        if (!spec) co_return plain(http::status::not_found, "no such output\n");
    }

    const std::uint64_t total = body_size(*spec);
    http::response<http::empty_body> head{http::status::ok, 11};
    head.set(http::field::content_type, spec->content_type);
    head.content_length(total);
    head.set(http::field::cache_control, "private, max-age=3600");
    head.keep_alive(req.keep_alive());
    c.count(route, 200);
    const std::string head_bytes = serialize_head(head.base());
    if (const beast::error_code ec = co_await ctx.io.write(head_bytes)) co_return streamed{false};
    if (req.method() == http::verb::head) co_return streamed{req.keep_alive()};

    const bool truncate = st_.chance(st_.faults.truncate_downloads);
    std::uint64_t budget = truncate ? total / 2 : total;
    bool ok = true;
    for (const auto& seg : body(*spec)) {
        if (ok && !seg.bytes.empty()) ok = co_await put(ctx.io, seg.bytes, budget);
        if (ok && seg.zeros) ok = co_await put_zeros(ctx.io, seg.zeros, budget);
    }
    if (truncate) {
        ++c.truncated_downloads;
        ctx.io.abort();
        co_return streamed{false};
    }
    co_return streamed{ok && req.keep_alive()};
}

}  // namespace briefd::sim
