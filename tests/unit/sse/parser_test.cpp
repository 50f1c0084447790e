// The SSE parser against the WHATWG parsing rules and the WPT `eventsource/` format cases
// (PROTOCOLS §1.1, §1.3), then the same streams split at every byte position.
#include "sse/parser.hpp"

#include <array>

using briefd::sse::event;
using briefd::sse::parser;
using namespace std::string_literals;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> data_of(const std::vector<event>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) {
        out.push_back(e.data);
    }
    return out;
}

std::vector<event> parse_whole(std::string_view stream) {
    parser p;
    return p.feed(stream);
}

}  // namespace

TEST_CASE("a simple event is dispatched on the blank line with type message") {
    parser p;
    CHECK(p.feed("data: hello\n").empty());
    const auto events = p.feed("\n");
    REQUIRE(events.size() == 1);
    CHECK(events[0].type == "message");
    CHECK(events[0].data == "hello");
    CHECK(events[0].last_event_id.empty());
}

TEST_CASE("the callback form sees each event in order") {
    parser p;
    std::vector<std::string> seen;
    p.feed("data:a\n\ndata:b\n\ndata:c\n", [&](const event& e) { seen.push_back(e.data); });
    CHECK(seen == std::vector<std::string>{"a", "b"});
    const auto cb = [&](const event& e) { seen.push_back(e.data); };  // a const callable works too
    p.feed("\n", cb);
    CHECK(seen == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("WPT format-bom: only the first BOM of the stream is stripped") {
    const auto events = parse_whole(
        "\xEF\xBB\xBF"
        "data:1\n\n\xEF\xBB\xBF"
        "data:2\n\ndata:3\n\n");
    CHECK(data_of(events) == std::vector<std::string>{"1", "3"});
}

TEST_CASE("WPT format-bom-2: a second leading BOM makes the first line an unknown field") {
    const auto events = parse_whole(
        "\xEF\xBB\xBF\xEF\xBB\xBF"
        "data:1\n\ndata:2\n\ndata:3\n\n");
    CHECK(data_of(events) == std::vector<std::string>{"2", "3"});
}

TEST_CASE("a partial BOM at the stream start is ordinary text") {
    // EF BB followed by 'd': not a BOM, so the line is "\xEF\xBBdata:1", an unknown field.
    CHECK(parse_whole("\xEF\xBB"
                      "data:1\n\ndata:2\n\n")
              .size() == 1);
    parser p;
    CHECK(p.feed("\xEF").empty());
    CHECK(p.feed("\xBB").empty());
    CHECK(data_of(p.feed("\xBF"
                         "data:x\n\n")) == std::vector<std::string>{"x"});
}

TEST_CASE("WPT format-comments: comments with every line ending, NUL and long bodies are ignored") {
    const std::string longstring(2 * 1024, 'x');
    const std::string stream = "data:1\r:\0\n:\r\ndata:2\n:"s + longstring +
                               "\rdata:3\n:data:fail\r:" + longstring + "\ndata:4\n\n";
    const auto events = parse_whole(stream);
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "1\n2\n3\n4");
}

TEST_CASE("WPT format-data-before-final-empty-line: an unterminated event is dropped at EOF") {
    parser p;
    const auto events = p.feed("retry:1000\nid:1\ndata:test1\n\nid:2\ndata:test2");
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "test1");
    CHECK(events[0].last_event_id == "1");
    p.end_of_stream();
    CHECK(p.last_event_id() == "1");
    CHECK(p.buffered_bytes() == 0);
    // Even a blank line on the next connection must not resurrect the dropped event or its id.
    p.reset_connection();
    CHECK(p.feed("\n").empty());
    CHECK(p.last_event_id() == "1");
}

TEST_CASE("an unterminated final line with a blank-line terminator missing is not dispatched") {
    parser p;
    CHECK(p.feed("data:x\n").empty());
    p.end_of_stream();
    CHECK(p.feed("\n").empty());
}

TEST_CASE("WPT format-field-data: empty and bare data fields") {
    const auto events = parse_whole("data:\n\ndata\ndata\n\ndata:test\n\n");
    CHECK(data_of(events) == std::vector<std::string>{"", "\n", "test"});
}

TEST_CASE("WPT field parsing: names are case-sensitive and exact; one space stripped") {
    const auto stream =
        "data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\ndata:3\rdata:\r\n data:32\ndata:4\n\n"s;
    const auto events = parse_whole(stream);
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "\0\n 2\n1\n3\n\n4"s);
}

TEST_CASE("WPT unknown fields and parsing fun") {
    const auto events = parse_whole(
        "data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\ndata:test\n\n");
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "test\n\ntest");
}

TEST_CASE("WPT newline fest: CRLF, LF and CR all end lines") {
    const auto events = parse_whole("data:test\r\ndata\ndata:test\r\n\r");
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "test\n\ntest");
}

TEST_CASE("CR CR LF LF is three line endings, not two") {
    // data:a CR | CR (blank: dispatch a) | LF joins that CR | data:b LF | LF (dispatch b)
    CHECK(data_of(parse_whole("data:a\r\r\ndata:b\n\n")) == std::vector<std::string>{"a", "b"});
    // If CR LF were two endings here, "data:a\r\n" would dispatch on its own.
    CHECK(data_of(parse_whole("data:a\r\ndata:b\r\n\r\n")) == std::vector<std::string>{"a\nb"});
}

TEST_CASE("a CR at the end of one chunk and an LF at the start of the next are one line end") {
    parser p;
    CHECK(p.feed("data:a\r").empty());
    CHECK(p.feed("\ndata:b\r").empty());  // had the LF counted, "a" would dispatch here
    const auto events = p.feed("\n\r\n");
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "a\nb");
}

TEST_CASE("WPT leading space: only one U+0020 is stripped, a tab is kept") {
    const auto events = parse_whole("data:\ttest\rdata: \ndata:test\n\n");
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "\ttest\n\ntest");
    CHECK(parse_whole("data:  two\n\n").at(0).data == " two");
}

TEST_CASE("WPT format-field-event: a custom type, then back to message") {
    const auto events = parse_whole("event: test\ndata: x\n\ndata: y\n\n");
    REQUIRE(events.size() == 2);
    CHECK(events[0].type == "test");
    CHECK(events[0].data == "x");
    CHECK(events[1].type == "message");
}

TEST_CASE("WPT format-field-event-empty: an empty event type means message") {
    const auto events = parse_whole("event: \ndata:data\n\n");
    REQUIRE(events.size() == 1);
    CHECK(events[0].type == "message");
}

TEST_CASE("an event-only block fires nothing and does not leak its type into the next event") {
    const auto events = parse_whole("event: run.completed\n\ndata: x\n\n");
    REQUIRE(events.size() == 1);
    CHECK(events[0].type == "message");
}

TEST_CASE("WPT format-field-id: a non-ASCII id round-trips byte for byte") {
    parser p;
    const auto events = p.feed("id: \xE2\x80\xA6\ndata: x\n\n");
    REQUIRE(events.size() == 1);
    CHECK(events[0].last_event_id == "\xE2\x80\xA6");
    CHECK(p.last_event_id() == "\xE2\x80\xA6");
}

TEST_CASE("WPT format-field-id-3: the id persists, changes, and an empty id resets it") {
    parser p;
    const auto events = p.feed(
        "id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\nid\ndata: d\n\nid: 3\ndata: "
        "e\n\nid:\ndata: f\n\n");
    REQUIRE(events.size() == 6);
    CHECK(events[0].last_event_id == "1");
    CHECK(events[1].last_event_id == "1");
    CHECK(events[2].last_event_id == "2");
    CHECK(events[3].last_event_id == "");
    CHECK(events[4].last_event_id == "3");
    CHECK(events[5].last_event_id == "");
    CHECK(p.last_event_id() == "");
}

TEST_CASE("an id-only block updates the last event id without firing an event") {
    parser p;
    CHECK(p.feed("id: 7\n\n").empty());
    CHECK(p.last_event_id() == "7");
    const auto events = p.feed("data: x\n\n");
    REQUIRE(events.size() == 1);
    CHECK(events[0].last_event_id == "7");
}

TEST_CASE("the id of an event becomes last_event_id only when it is dispatched") {
    parser p;
    p.feed("id: 1\ndata: a\n\nid: 2\ndata: b\n");
    CHECK(p.last_event_id() == "1");
    p.feed("\n");
    CHECK(p.last_event_id() == "2");
}

TEST_CASE("WPT format-field-id-null: an id containing NUL is ignored") {
    parser p;
    const auto events = p.feed("id:a\0b\ndata:x\n\nid:1\ndata:y\n\nid:\0\ndata:z\n\n"s);
    REQUIRE(events.size() == 3);
    CHECK(events[0].last_event_id == "");
    CHECK(events[1].last_event_id == "1");
    CHECK(events[2].last_event_id == "1");
}

TEST_CASE("WPT format-field-retry: digits in base ten, leading zeros are not octal") {
    parser p;
    CHECK_FALSE(p.retry().has_value());
    p.feed("retry:02000\ndata:x\n\n");
    REQUIRE(p.retry().has_value());
    CHECK(*p.retry() == 2000ms);
    p.feed("retry: 3000\n");  // one space is stripped before the digits are checked
    CHECK(*p.retry() == 3000ms);
    p.feed("retry:0\n");
    CHECK(*p.retry() == 0ms);
}

TEST_CASE("WPT format-field-retry-bogus and empty retry: anything but digits is ignored") {
    parser p;
    p.feed("retry:1500\n");
    for (const char* bogus : {"retry:1000x\n", "retry\n", "retry:\n", "retry:-1\n", "retry:  100\n",
                              "retry:1e3\n", "retry:+5\n", "retry:5 \n", "Retry:9\n"}) {
        CAPTURE(bogus);
        p.feed(bogus);
        CHECK(*p.retry() == 1500ms);
    }
    // The bare retry line does not disturb the data that follows it.
    const auto events = p.feed("data:test\n\n");
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "test");
}

TEST_CASE("a huge retry value saturates instead of overflowing") {
    parser p;
    p.feed("retry:99999999999999999999999999999999\n");
    REQUIRE(p.retry().has_value());
    CHECK(p.retry()->count() > 0);
    CHECK(*p.retry() <= std::chrono::milliseconds(1'000'000'000'000LL));
}

TEST_CASE("WPT format-null-character: NUL in data is preserved") {
    const auto events = parse_whole("data:\0\n\n"s);
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "\0"s);
    CHECK(events[0].data.size() == 1);
}

TEST_CASE("WPT format-utf-8: UTF-8 bytes pass through unchanged") {
    const auto events = parse_whole("data:ok\xE2\x80\xA6\n\n");
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "ok\xE2\x80\xA6");
}

TEST_CASE("a value may contain further colons; a line without colon is a name with empty value") {
    const auto events = parse_whole("data: {\"a\":1}\ndata\n\n");
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "{\"a\":1}\n");
}

TEST_CASE("comments and blank lines alone produce no events") {
    parser p;
    CHECK(p.feed(": ping\n\n: ping\n\n\n\n").empty());
    CHECK(p.buffered_bytes() == 0);
}

TEST_CASE("reset_connection allows a BOM again and keeps id and retry") {
    parser p;
    p.feed(
        "\xEF\xBB\xBF"
        "id: 5\nretry: 250\ndata: a\n\ndata: partial");
    p.reset_connection();
    CHECK(p.last_event_id() == "5");
    CHECK(*p.retry() == 250ms);
    CHECK(p.buffered_bytes() == 0);
    const auto events = p.feed(
        "\xEF\xBB\xBF"
        "data: b\n\n");
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "b");  // not "partial\nb", and the BOM was stripped
    CHECK(events[0].last_event_id == "5");
}

TEST_CASE("reset_connection forgets a pending CR so a leading LF is a blank line") {
    parser p;
    p.feed("data: a\r");
    p.reset_connection();
    p.feed("data: b\n");
    CHECK(data_of(p.feed("\n")) == std::vector<std::string>{"b"});
}

TEST_CASE("buffered_bytes reports an unfinished line and undispatched data") {
    parser p;
    p.feed("data: abc");
    CHECK(p.buffered_bytes() == 9);
    p.feed("\n");
    CHECK(p.buffered_bytes() == 4);  // "abc\n"
    p.feed("\n");
    CHECK(p.buffered_bytes() == 0);
}

TEST_CASE("an over-long line sets overflowed and stops buffering") {
    parser p(64);
    p.feed("data: " + std::string(40, 'a'));
    CHECK_FALSE(p.overflowed());
    p.feed(std::string(40, 'a'));
    CHECK(p.overflowed());
    CHECK(p.buffered_bytes() == 0);
    std::string more(1000, 'b');
    more.append("\n\ndata: x\n\n");
    CHECK(p.feed(more).empty());  // ignored until reset
    CHECK(p.buffered_bytes() == 0);
    p.reset_connection();
    CHECK_FALSE(p.overflowed());
    CHECK(data_of(p.feed("data: y\n\n")) == std::vector<std::string>{"y"});
}

TEST_CASE("an over-long line inside one chunk also overflows") {
    parser p(16);
    p.feed("data: " + std::string(32, 'a') + "\n\n");
    CHECK(p.overflowed());
}

TEST_CASE("an event made of many short lines cannot exceed the size limit") {
    parser p(100);
    std::vector<event> events;
    for (int i = 0; i < 100 && !p.overflowed(); ++i) {
        p.feed("data: 0123456789\n", [&](const event& e) { events.push_back(e); });
    }
    CHECK(p.overflowed());
    CHECK(events.empty());
    CHECK(p.buffered_bytes() == 0);
}

TEST_CASE("events exactly at the size limit are accepted") {
    parser p(16);
    // the data buffer holds the value plus one LF: 15 + 1 == 16
    const auto events = p.feed("data:" + std::string(11, 'z') + "\n\n");
    CHECK_FALSE(p.overflowed());
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == std::string(11, 'z'));
}

namespace {

// Streams that exercise every state the parser carries between feeds: a half-read BOM, a CR
// waiting for its LF, an unfinished line, a pending event, ids and retries.
const std::vector<std::string>& split_streams() {
    static const std::vector<std::string> streams = {
        "\xEF\xBB\xBF"
        "data:1\n\n\xEF\xBB\xBF"
        "data:2\n\ndata:3\n\n",
        "\xEF\xBB"
        "data:1\n\ndata:2\n\n",
        "data:1\r:\0\n:\r\ndata:2\n:xxxxxxxx\rdata:3\n:data:fail\r:yyyy\ndata:4\n\n"s,
        "retry:1000\nid:1\ndata:test1\n\nid:2\ndata:test2",
        "data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\ndata:3\rdata:\r\n data:32\ndata:4\n\n"s,
        "data:test\r\ndata\ndata:test\r\n\r",
        "data:a\r\r\ndata:b\n\n\r\r\r\n\n\ndata:c\r\n\r\n",
        "event: run.progress\nid: 42\ndata: {\"pct\":10}\n\n: ping\n\nevent: "
        "run.completed\nid:\ndata: {}\r\n\r\n",
        "id: 7\n\nretry:02000\nretry:1x\ndata:\n\ndata\ndata\n\nid:a\0b\ndata:z\r\n\r"s,
    };
    return streams;
}

struct outcome {
    std::vector<event> events;
    std::string last_event_id;
    std::optional<std::chrono::milliseconds> retry;
    std::size_t buffered = 0;

    friend bool operator==(const outcome&, const outcome&) = default;
};

outcome run_split(const std::string& stream, const std::vector<std::size_t>& cuts) {
    parser p;
    outcome o;
    std::size_t from = 0;
    for (const auto cut : cuts) {
        p.feed(std::string_view(stream).substr(from, cut - from),
               [&](const event& e) { o.events.push_back(e); });
        from = cut;
    }
    p.feed(std::string_view(stream).substr(from), [&](const event& e) { o.events.push_back(e); });
    o.last_event_id = p.last_event_id();
    o.retry = p.retry();
    o.buffered = p.buffered_bytes();
    return o;
}

}  // namespace

TEST_CASE("every stream parses the same split at every byte position") {
    for (const auto& stream : split_streams()) {
        CAPTURE(stream);
        const auto whole = run_split(stream, {});
        REQUIRE_FALSE(whole.events.empty());
        for (std::size_t i = 0; i <= stream.size(); ++i) {
            CAPTURE(i);
            CHECK(run_split(stream, {i}) == whole);
        }
    }
}

TEST_CASE("every stream parses the same split at every pair of byte positions") {
    for (const auto& stream : split_streams()) {
        CAPTURE(stream);
        const auto whole = run_split(stream, {});
        std::size_t mismatches = 0;
        for (std::size_t i = 0; i <= stream.size(); ++i) {
            for (std::size_t j = i; j <= stream.size(); ++j) {
                if (!(run_split(stream, {i, j}) == whole)) {
                    ++mismatches;
                }
            }
        }
        CHECK(mismatches == 0);
    }
}

TEST_CASE("every stream parses the same fed one byte at a time") {
    for (const auto& stream : split_streams()) {
        CAPTURE(stream);
        std::vector<std::size_t> cuts;
        for (std::size_t i = 1; i < stream.size(); ++i) {
            cuts.push_back(i);
        }
        CHECK(run_split(stream, cuts) == run_split(stream, {}));
    }
}

TEST_CASE("the split streams yield the events the spec says") {
    const auto& s = split_streams();
    CHECK(data_of(run_split(s[0], {}).events) == std::vector<std::string>{"1", "3"});
    CHECK(data_of(run_split(s[1], {}).events) == std::vector<std::string>{"2"});
    CHECK(data_of(run_split(s[6], {}).events) == std::vector<std::string>{"a", "b", "c"});
    const auto o = run_split(s[7], {});
    REQUIRE(o.events.size() == 2);
    CHECK(o.events[0] == event{"run.progress", "{\"pct\":10}", "42"});
    CHECK(o.events[1] == event{"run.completed", "{}", ""});
    const auto last = run_split(s[8], {});
    CHECK(last.retry == std::optional(2000ms));
    CHECK(data_of(last.events) == std::vector<std::string>{"", "\n", "z"});
    CHECK(last.events.back().last_event_id == "7");
}

TEST_CASE("random streams parse the same in random chunks as whole") {
    // Streams built from the tokens that matter to the parser, cut at random points.
    const std::array<std::string_view, 14> tokens = {"data", "id",           "event", "retry", ":",
                                                     " ",    "\r",           "\n",    "\r\n",  "x",
                                                     "7",    "\xEF\xBB\xBF", "\xEF",  "Data"};
    std::mt19937 rng(2024);
    std::uniform_int_distribution<std::size_t> pick(0, tokens.size() - 1);
    std::uniform_int_distribution<int> length(1, 80);
    std::size_t with_events = 0;
    for (int round = 0; round < 3000; ++round) {
        std::string stream;
        const int n = length(rng);
        for (int i = 0; i < n; ++i) {
            stream += tokens[pick(rng)];
        }
        std::vector<std::size_t> cuts;
        std::uniform_int_distribution<std::size_t> cut(0, stream.size());
        for (int i = 0; i < 4; ++i) {
            cuts.push_back(cut(rng));
        }
        std::sort(cuts.begin(), cuts.end());
        const auto whole = run_split(stream, {});
        CAPTURE(stream);
        CHECK(run_split(stream, cuts) == whole);
        with_events += whole.events.empty() ? 0 : 1;
    }
    CHECK(with_events > 100);  // the generator does produce events
}
