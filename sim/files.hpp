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

namespace briefd::sim {

/// What to serve for one output.
struct file_spec {
    std::string content_type;  ///< image/png (a real PNG) or video/mp4 (an MP4-shaped blob)
    std::uint64_t seed = 0;    ///< makes each output's bytes distinct
};

/// Looks up `/files/<run_id>/<index>.<ext>`; none = 404.
using file_resolver = std::function<std::optional<file_spec>(std::string_view run_id, std::size_t index,
                                                             std::string_view ext)>;

class files_origin final : public surface {
public:
    files_origin(sim_state& st, file_resolver resolve) : st_(st), resolve_(std::move(resolve)) {}
    asio::awaitable<handler_result> handle(request_context& ctx) override;

    /// Size in bytes of the body served for `spec` under the current options.
    std::uint64_t body_size(const file_spec& spec) const;

private:
    sim_state& st_;
    file_resolver resolve_;
};

}  // namespace briefd::sim
