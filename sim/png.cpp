#include "png.hpp"

#include <algorithm>
#include <array>

namespace briefd::sim {

namespace {

constexpr std::array<std::uint32_t, 256> make_crc_table() {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t n = 0; n < 256; ++n) {
        std::uint32_t c = n;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        t[n] = c;
    }
    return t;
}
constexpr auto crc_table = make_crc_table();

void put_be32(std::string& out, std::uint32_t v) {
    out.push_back(static_cast<char>(v >> 24));
    out.push_back(static_cast<char>(v >> 16));
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v));
}

std::uint64_t mix(std::uint64_t x) {  // splitmix64 finaliser: cheap, well-spread colours
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

}  // namespace

std::uint32_t crc32(std::span<const unsigned char> bytes, std::uint32_t crc) noexcept {
    crc = ~crc;
    for (unsigned char b : bytes) crc = crc_table[(crc ^ b) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

std::uint32_t crc32(std::string_view bytes, std::uint32_t crc) noexcept {
    return crc32({reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()}, crc);
}

std::uint32_t adler32(std::span<const unsigned char> bytes, std::uint32_t adler) noexcept {
    // zlib's NMAX: the most bytes for which b cannot overflow 32 bits before the modulo, so the
    // two divisions happen once per 5,552 bytes instead of per byte (the flood benchmark serves
    // 20,000 images; the per-byte modulo was most of briefsim's CPU).
    constexpr std::size_t nmax = 5552;
    std::uint32_t a = adler & 0xFFFF, b = adler >> 16;
    for (std::size_t pos = 0; pos < bytes.size();) {
        const std::size_t end = std::min(bytes.size(), pos + nmax);
        for (; pos < end; ++pos) {
            a += bytes[pos];
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    return (b << 16) | a;
}

std::string png_chunk(std::string_view type, std::string_view data) {
    std::string out;
    put_be32(out, static_cast<std::uint32_t>(data.size()));
    out.append(type);
    out.append(data);
    put_be32(out, crc32(data, crc32(type)));
    return out;
}

std::string png_iend() {
    return png_chunk("IEND", {});
}

std::string make_png(std::uint32_t width, std::uint32_t height, std::uint64_t seed) {
    const std::uint64_t h = mix(seed);
    const unsigned char base[3] = {static_cast<unsigned char>(h),
                                   static_cast<unsigned char>(h >> 8),
                                   static_cast<unsigned char>(h >> 16)};
    const unsigned stripe = 4 + static_cast<unsigned>((h >> 24) % 12);

    // Raw scanlines: filter byte 0 (None), then RGB triples.
    // A scanline depends only on the parity of y / stripe: build both once, then copy.
    std::string rows[2];
    for (unsigned parity = 0; parity < 2; ++parity) {
        rows[parity].reserve(1 + 3 * static_cast<std::size_t>(width));
        rows[parity].push_back(0);
        for (std::uint32_t x = 0; x < width; ++x) {
            const bool on = ((x / stripe) + parity) % 2 == 0;
            for (int c = 0; c < 3; ++c)
                rows[parity].push_back(static_cast<char>(on ? base[c] : 255 - base[c]));
        }
    }
    std::string raw;
    raw.reserve(static_cast<std::size_t>(height) * rows[0].size());
    for (std::uint32_t y = 0; y < height; ++y) raw += rows[(y / stripe) % 2];

    // zlib stream: header (deflate, 32K window, no dictionary, check bits), stored blocks,
    // Adler-32.
    std::string z = {'\x78', '\x01'};
    std::size_t pos = 0;
    do {
        const std::size_t n = std::min<std::size_t>(raw.size() - pos, 0xFFFF);
        const bool last = pos + n == raw.size();
        z.push_back(last ? 1 : 0);  // BFINAL, BTYPE=00 (stored)
        z.push_back(static_cast<char>(n & 0xFF));
        z.push_back(static_cast<char>(n >> 8));
        z.push_back(static_cast<char>(~n & 0xFF));
        z.push_back(static_cast<char>((~n >> 8) & 0xFF));
        z.append(raw, pos, n);
        pos += n;
    } while (pos < raw.size());
    put_be32(z, adler32({reinterpret_cast<const unsigned char*>(raw.data()), raw.size()}));

    std::string ihdr;
    put_be32(ihdr, width);
    put_be32(ihdr, height);
    ihdr += std::string{'\x08', '\x02', '\x00', '\x00',
                        '\x00'};  // 8-bit RGB, deflate, no filter/interlace

    std::string png = "\x89PNG\r\n\x1a\n";
    png += png_chunk("IHDR", ihdr);
    png += png_chunk("IDAT", z);
    png += png_iend();
    return png;
}

}  // namespace briefd::sim
