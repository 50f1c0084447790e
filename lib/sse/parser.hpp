// A sans-I/O parser for `text/event-stream` (WHATWG HTML §9.2.5 "Parsing an event stream" and
// §9.2.6 "Interpreting an event stream"). It is fed bytes split at any position and calls back
// once per dispatched event; it owns no socket and no timer, so tests drive it byte by byte.
//
// Bytes are passed through as they arrive: the spec decodes the stream as UTF-8 with replacement,
// but every consumer in briefd parses `data` as JSON, which validates UTF-8 itself, so re-encoding
// here would only cost a copy. Field names and line ends are ASCII and unaffected.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace briefd::sse {

struct event {
    std::string type;           ///< the `event:` field, or "message" when none was given
    std::string data;           ///< `data:` lines joined with LF, trailing LF removed
    std::string last_event_id;  ///< the stream's last event id when this event was dispatched

    friend bool operator==(const event&, const event&) = default;
};

namespace detail {
// A non-owning callback so the byte loop lives in parser.cpp rather than in every includer.
struct event_sink {
    void* object;
    void (*call)(void* object, const event& e);
};
}  // namespace detail

class parser {
  public:
    static constexpr std::size_t default_max_size = std::size_t{1} << 20;

    /// `max_size` bounds both one line and one event's buffered data (bytes). Going past it sets
    /// overflowed() and the parser ignores further input until reset_connection().
    explicit parser(std::size_t max_size = default_max_size) noexcept : max_size_(max_size) {}

    /// Feeds bytes split anywhere; calls on_event(const event&) for each dispatched event, in
    /// order. The event reference is valid only during the call; on_event must not feed this
    /// parser.
    template <class F>
    void feed(std::string_view chunk, F&& on_event) {
        using fn = std::remove_reference_t<F>;
        detail::event_sink sink{
            const_cast<void*>(static_cast<const void*>(std::addressof(on_event))),
            [](void* o, const event& e) { (*static_cast<fn*>(o))(e); }};
        feed_impl(chunk, sink);
    }

    /// Convenience: the events dispatched by this chunk.
    std::vector<event> feed(std::string_view chunk);

    /// The body ended: a pending unterminated line and a pending incomplete event are discarded
    /// (spec: "If the file ends in the middle of an event ... the incomplete event is not
    /// dispatched"), so an `id:` in that incomplete event never becomes last_event_id().
    void end_of_stream() noexcept;

    /// A new connection begins: a leading BOM is allowed again, buffers and the overflow flag are
    /// cleared; last_event_id() and retry() are kept (they are what the reconnect uses).
    /// The spec starts each stream's id buffer empty, which would wipe the id at the first event
    /// of a resumed stream whose server does not repeat `id:`; we start it from last_event_id()
    /// instead so a second reconnect still resumes from the right place.
    void reset_connection() noexcept;

    /// The last valid `retry:` value, if the server sent one.
    std::optional<std::chrono::milliseconds> retry() const noexcept { return retry_; }

    /// The last event ID string: updated at each dispatch (even one that fires no event); send it
    /// as `Last-Event-ID` when reconnecting if it is not empty.
    const std::string& last_event_id() const noexcept { return last_event_id_; }

    /// Bytes held for an unfinished line and an undispatched event.
    std::size_t buffered_bytes() const noexcept {
        return line_.size() + data_.size() + type_.size();
    }

    /// True once a line or event exceeded max_size; the caller should drop the connection.
    bool overflowed() const noexcept { return overflowed_; }

  private:
    void feed_impl(std::string_view chunk, detail::event_sink sink);
    void feed_lines(std::string_view chunk, detail::event_sink sink);
    void process_line(std::string_view line, detail::event_sink sink);
    void process_field(std::string_view name, std::string_view value);
    void dispatch(detail::event_sink sink);
    void overflow() noexcept;

    std::size_t max_size_;
    std::string line_;           // an unfinished line carried over from the previous chunk
    std::string data_;           // data buffer
    std::string type_;           // event type buffer
    std::string id_buffer_;      // last event ID buffer (committed at dispatch)
    std::string last_event_id_;  // last event ID string
    std::optional<std::chrono::milliseconds> retry_;
    unsigned bom_matched_ = 0;     // bytes of a leading UTF-8 BOM seen so far at stream start
    bool at_stream_start_ = true;  // still deciding whether the stream begins with a BOM
    bool last_was_cr_ = false;     // a CR ended the previous line: a following LF belongs to it
    bool overflowed_ = false;
};

}  // namespace briefd::sse
