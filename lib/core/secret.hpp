// A value that must never be printed: API keys. Streaming or formatting it yields a redaction marker;
// the only way to the bytes is reveal(), which the HTTP client calls when it builds a request to the
// provider's own host.
#pragma once

#include <ostream>
#include <string>

namespace briefd {

class secret {
public:
    secret() = default;
    explicit secret(std::string v) : value_(std::move(v)) {}

    const std::string& reveal() const noexcept { return value_; }
    bool empty() const noexcept { return value_.empty(); }

    /// What logs, status lines and --check output show instead of the value.
    static constexpr std::string_view redacted = "<redacted>";

    friend std::ostream& operator<<(std::ostream& os, const secret&) { return os << redacted; }
    friend bool operator==(const secret&, const secret&) = default;

private:
    std::string value_;
};

}  // namespace briefd
