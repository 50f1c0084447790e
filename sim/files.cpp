#include "files.hpp"

#include "png.hpp"

#include <charconv>

namespace briefd::sim {

namespace {

constexpr std::size_t piece = 64 * 1024;
constexpr std::uint64_t default_video_bytes = 48 * 1024;

std::string be32(std::uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
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

// `n` zero bytes, in pieces, with an optional running CRC over them.
asio::awaitable<bool> put_zeros(http_io& io, std::uint64_t n, std::uint64_t& budget, std::uint32_t* crc) {
    static const std::string zeros(piece, '\0');
    while (n > 0) {
        const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, piece));
        std::string_view chunk(zeros.data(), k);
        if (crc) *crc = crc32(chunk, *crc);
        if (!co_await put(io, chunk, budget)) co_return false;
        n -= k;
    }
    co_return true;
}

std::string png_for(const file_spec& spec) { return make_png(64, 64, spec.seed); }

}  // namespace

std::uint64_t files_origin::body_size(const file_spec& spec) const {
    if (spec.content_type == "video/mp4")
        return st_.opt.output_bytes ? std::max<std::uint64_t>(st_.opt.output_bytes, 48) : default_video_bytes;
    const std::uint64_t natural = png_for(spec).size();
    return st_.opt.output_bytes > natural + 12 ? st_.opt.output_bytes : natural;
}

asio::awaitable<handler_result> files_origin::handle(request_context& ctx) {
    auto& c = st_.counters;
    const auto& req = ctx.req;
    ++c.output_requests;
    if (req.count(http::field::authorization) || req.count("x-api-key")) ++c.output_requests_with_api_key;
    const std::string route = std::string(req.method_string()) + " /files/{run}/{file}";

    auto plain = [&](http::status s, std::string text) {
        response r{s, 11};
        r.set(http::field::content_type, "text/plain; charset=utf-8");
        r.body() = std::move(text);
        c.count(route, static_cast<unsigned>(s));
        return handler_result{std::move(r)};
    };

    if (req.method() != http::verb::get && req.method() != http::verb::head)
        co_return plain(http::status::method_not_allowed, "method not allowed\n");
    // /files/<run>/<index>.<ext>
    std::string_view path = req.target();
    if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
    if (!path.starts_with("/files/")) co_return plain(http::status::not_found, "not found\n");
    path.remove_prefix(7);
    const auto slash = path.find('/');
    const auto dot = path.rfind('.');
    std::size_t index = 0;
    if (slash == std::string_view::npos || dot == std::string_view::npos || dot < slash)
        co_return plain(http::status::not_found, "not found\n");
    const auto idx = path.substr(slash + 1, dot - slash - 1);
    if (std::from_chars(idx.data(), idx.data() + idx.size(), index).ptr != idx.data() + idx.size())
        co_return plain(http::status::not_found, "not found\n");
    auto spec = resolve_(path.substr(0, slash), index, path.substr(dot + 1));
    if (!spec) co_return plain(http::status::not_found, "no such output\n");

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
    if (spec->content_type == "video/mp4") {
        // An ftyp box, then one 'free' box holding the rest: MP4-shaped, not playable.
        std::string start = be32(24) + "ftypisom" + be32(0x200) + "isommp41";
        start += be32(static_cast<std::uint32_t>(std::min<std::uint64_t>(total - 24, 0xFFFFFFFFu))) + "free";
        for (int k = 0; k < 8; ++k) start.push_back(static_cast<char>(spec->seed >> (8 * k)));
        ok = co_await put(ctx.io, start, budget);
        if (ok) ok = co_await put_zeros(ctx.io, total - start.size(), budget, nullptr);
    } else {
        const std::string png = png_for(*spec);
        if (total == png.size()) {
            ok = co_await put(ctx.io, png, budget);
        } else {
            // IHDR+IDAT, then a private ancillary chunk of zeros (decoders skip it), then IEND.
            const std::string_view body(png.data(), png.size() - 12);
            const std::uint64_t pad = total - png.size() - 12;
            std::uint32_t crc = crc32(padding_chunk_type);
            const std::string chunk_head = be32(static_cast<std::uint32_t>(pad)) + std::string(padding_chunk_type);
            ok = co_await put(ctx.io, body, budget);
            if (ok) ok = co_await put(ctx.io, chunk_head, budget);
            if (ok) ok = co_await put_zeros(ctx.io, pad, budget, &crc);
            const std::string tail = be32(crc) + png_iend();
            if (ok) ok = co_await put(ctx.io, tail, budget);
        }
    }
    if (truncate) {
        ++c.truncated_downloads;
        ctx.io.abort();
        co_return streamed{false};
    }
    co_return streamed{ok && req.keep_alive()};
}

}  // namespace briefd::sim
