// The files origin: serves run outputs from a second origin, as a CDN would. Bodies are generated
// on the fly and written in 64 KiB pieces, so a many-megabyte output never sits in memory.
// Requests here must never carry the API key; the counter output_requests_with_api_key says so.
#pragma once

#include "server.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace briefd::sim {

/// What to serve for one output.
struct file_spec {
    std::string content_type;  ///< image/png (a real PNG) or video/mp4 (an MP4-shaped blob)
    std::uint64_t seed = 0;    ///< makes each output's bytes distinct
};

/// Looks up `/files/<run_id>/<index>.<ext>`; none = 404.
using file_resolver = std::function<std::optional<file_spec>(
    std::string_view run_id, std::size_t index, std::string_view ext)>;

/// Looks up a Layers asset, `/public-media/content-container/<container>/media/<asset>.<ext>`;
/// `download` is true for a GET (a HEAD only looks). None = 404.
using media_resolver = std::function<std::optional<file_spec>(
    std::string_view container, std::string_view asset, std::string_view ext, bool download)>;

/// The Layers media path of an asset (the files origin serves it when a media resolver is set).
std::string media_path(std::string_view container, std::string_view asset, std::string_view ext);

/// One piece of a served body: literal bytes, or `zeros` zero bytes.
struct body_segment {
    std::string bytes;
    std::uint64_t zeros = 0;
};

class files_origin final : public surface {
  public:
    files_origin(sim_state& st, file_resolver resolve, media_resolver media = {})
        : st_(st), resolve_(std::move(resolve)), media_(std::move(media)) {}
    asio::awaitable<handler_result> handle(request_context& ctx) override;

    /// Size in bytes of the body served for `spec` under the current options.
    std::uint64_t body_size(const file_spec& spec) const;
    /// The body served for `spec`, as segments (zero runs stay unexpanded).
    std::vector<body_segment> body(const file_spec& spec) const;
    /// Lower-case hex SHA-256 of the body served for `spec`.
    std::string sha256_hex(const file_spec& spec) const;

  private:
    sim_state& st_;
    file_resolver resolve_;
    media_resolver media_;
};

}  // namespace briefd::sim
