// Valid PNG files without zlib: the image data goes into *stored* (uncompressed) deflate blocks,
// so all a writer needs is CRC-32 (chunks) and Adler-32 (the zlib stream), both computed here.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace briefd::sim {

/// CRC-32 (ISO-HDLC, as PNG uses it). Feed pieces by passing the previous result as `crc`.
std::uint32_t crc32(std::span<const unsigned char> bytes, std::uint32_t crc = 0) noexcept;
std::uint32_t crc32(std::string_view bytes, std::uint32_t crc = 0) noexcept;

/// Adler-32 as zlib uses it (initial value 1).
std::uint32_t adler32(std::span<const unsigned char> bytes, std::uint32_t adler = 1) noexcept;

/// An RGB PNG of `width` x `height` (at most 0xFFFF bytes per stored block is handled internally)
/// whose colours are derived from `seed`: distinct seeds give visibly distinct images.
std::string make_png(std::uint32_t width, std::uint32_t height, std::uint64_t seed);

/// Bytes of one PNG chunk: length, type, data, CRC.
std::string png_chunk(std::string_view type, std::string_view data);

/// The trailing IEND chunk.
std::string png_iend();

/// Name of the private, ancillary, safe-to-copy chunk used to pad images to a requested size;
/// decoders skip it.
inline constexpr std::string_view padding_chunk_type = "siMp";

}  // namespace briefd::sim
