#include "sse/parser.hpp"

namespace briefd::sse {

namespace {

constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";

// `retry:` values above this saturate, so a caller adding retry() to a steady_clock time point
// cannot overflow (10^12 ms is about 31 years; callers clamp to something sane anyway).
constexpr long long max_retry_ms = 1'000'000'000'000LL;

}  // namespace

std::vector<event> parser::feed(std::string_view chunk) {
    std::vector<event> out;
    feed(chunk, [&out](const event& e) { out.push_back(e); });
    return out;
}

void parser::feed_impl(std::string_view chunk, detail::event_sink sink) {
    if (overflowed_) {
        return;
    }
    // Only the very first bytes of a stream may be a BOM, and they can arrive split across feeds.
    while (at_stream_start_ && !chunk.empty()) {
        if (chunk.front() == utf8_bom[bom_matched_]) {
            chunk.remove_prefix(1);
            if (++bom_matched_ == utf8_bom.size()) {
                at_stream_start_ = false;
            }
        } else {
            // Not a BOM after all: the bytes matched so far are ordinary text.
            at_stream_start_ = false;
            feed_lines(utf8_bom.substr(0, bom_matched_), sink);
        }
    }
    feed_lines(chunk, sink);
}

void parser::feed_lines(std::string_view chunk, detail::event_sink sink) {
    while (!chunk.empty() && !overflowed_) {
        if (last_was_cr_) {
            last_was_cr_ = false;
            if (chunk.front() == '\n') {  // the LF of a CRLF split across feeds
                chunk.remove_prefix(1);
                continue;
            }
        }
        const auto end = chunk.find_first_of("\r\n");
        const auto piece = chunk.substr(0, end);
        if (line_.size() + piece.size() > max_size_) {
            overflow();
            return;
        }
        if (end == std::string_view::npos) {
            line_.append(piece);
            return;
        }
        last_was_cr_ = chunk[end] == '\r';
        chunk.remove_prefix(end + 1);
        if (line_.empty()) {
            process_line(piece, sink);  // the common case: no copy
        } else {
            line_.append(piece);
            process_line(line_, sink);
            line_.clear();
        }
    }
}

void parser::process_line(std::string_view line, detail::event_sink sink) {
    if (line.empty()) {
        dispatch(sink);
        return;
    }
    if (line.front() == ':') {
        return;  // comment (servers send these as keep-alives)
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
        process_field(line, {});
        return;
    }
    auto value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') {
        value.remove_prefix(1);  // exactly one space, never a tab
    }
    process_field(line.substr(0, colon), value);
}

void parser::process_field(std::string_view name, std::string_view value) {
    if (name == "data") {
        if (data_.size() + value.size() + 1 > max_size_) {
            overflow();
            return;
        }
        data_.append(value);
        data_.push_back('\n');
    } else if (name == "event") {
        type_.assign(value);
    } else if (name == "id") {
        if (value.find('\0') == std::string_view::npos) {
            id_buffer_.assign(value);
        }
    } else if (name == "retry") {
        if (value.empty() || value.find_first_not_of("0123456789") != std::string_view::npos) {
            return;
        }
        long long ms = 0;
        for (const char c : value) {
            ms = ms * 10 + (c - '0');
            if (ms > max_retry_ms) {
                ms = max_retry_ms;
                break;
            }
        }
        retry_ = std::chrono::milliseconds(ms);
    }
    // Any other name (they are case-sensitive: `Data` is unknown) is ignored.
}

void parser::dispatch(detail::event_sink sink) {
    last_event_id_ = id_buffer_;
    if (data_.empty()) {
        type_.clear();
        return;
    }
    data_.pop_back();  // always the LF appended after the last data line
    event e{type_.empty() ? std::string("message") : std::move(type_), std::move(data_),
            last_event_id_};
    data_.clear();
    type_.clear();
    sink.call(sink.object, e);
}

void parser::overflow() noexcept {
    overflowed_ = true;
    // Give the memory back: the connection is going to be dropped.
    std::string().swap(line_);
    std::string().swap(data_);
    std::string().swap(type_);
}

void parser::end_of_stream() noexcept {
    line_.clear();
    data_.clear();
    type_.clear();
    id_buffer_ = last_event_id_;
    last_was_cr_ = false;
}

void parser::reset_connection() noexcept {
    end_of_stream();
    at_stream_start_ = true;
    bom_matched_ = 0;
    overflowed_ = false;
}

}  // namespace briefd::sse
