#include "ratelimit/headers.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace briefd::ratelimit {

namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

std::string_view trim(std::string_view s) noexcept {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = s.find_last_not_of(" \t");
    return s.substr(first, last - first + 1);
}

// 1*DIGIT, nothing else; nullopt on overflow.
std::optional<std::int64_t> parse_uint(std::string_view s) noexcept {
    s = trim(s);
    if (s.empty() || s.size() > 18) {  // 18 digits always fit in int64
        return std::nullopt;
    }
    std::int64_t v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        v = v * 10 + (c - '0');
    }
    return v;
}

// 1*DIGIT [ "." 1*DIGIT ] as a double; some servers send fractional timestamps.
std::optional<double> parse_decimal(std::string_view s) noexcept {
    s = trim(s);
    const auto dot = s.find('.');
    const auto whole = parse_uint(s.substr(0, dot));
    if (!whole) {
        return std::nullopt;
    }
    double v = static_cast<double>(*whole);
    if (dot != std::string_view::npos) {
        const auto frac = s.substr(dot + 1);
        if (frac.empty() || frac.size() > 9 || !parse_uint(frac)) {
            return std::nullopt;
        }
        v += static_cast<double>(*parse_uint(frac)) /
             std::pow(10.0, static_cast<double>(frac.size()));
    }
    return v;
}

std::optional<seconds> checked_reset(double delta_seconds) noexcept {
    if (delta_seconds <= 0) {
        return seconds(0);
    }
    if (delta_seconds > static_cast<double>(max_reset.count())) {
        return std::nullopt;
    }
    return seconds(static_cast<std::int64_t>(std::ceil(delta_seconds)));
}

seconds saturate_retry_after(std::int64_t s) noexcept {
    return seconds(std::min<std::int64_t>(std::max<std::int64_t>(s, 0), max_retry_after.count()));
}

std::optional<std::string_view> field(const boost::beast::http::fields& h, std::string_view name) {
    const auto it = h.find(name);
    if (it == h.end()) {
        return std::nullopt;
    }
    return trim(it->value());
}

// The `key=value` parameters of a structured-field-ish header, in order, split on ',' and ';'.
// Enough for `limit=100, remaining=5, reset=30`, `"p";r=5;t=30` and `100;w=60`; quoted strings
// are skipped whole so a `;` or `,` inside one does not split.
struct param {
    std::string_view key;
    std::string_view value;
};

std::vector<std::vector<std::string_view>> split_members(std::string_view s) {
    // Every member gets at least one item (possibly empty), so callers may read front().
    std::vector<std::vector<std::string_view>> members(1);
    std::size_t start = 0;
    bool quoted = false;
    for (std::size_t i = 0;;) {
        if (i >= s.size()) {
            members.back().push_back(trim(s.substr(start)));
            break;
        }
        const char c = s[i];
        if (quoted) {
            if (c == '\\') {
                i += 2;  // an escaped character, possibly a quote
                continue;
            }
            quoted = c != '"';
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',' || c == ';') {
            members.back().push_back(trim(s.substr(start, i - start)));
            if (c == ',') {
                members.emplace_back();
            }
            start = i + 1;
        }
        ++i;
    }
    return members;
}

param split_param(std::string_view item) noexcept {
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) {
        return {item, {}};
    }
    return {trim(item.substr(0, eq)), trim(item.substr(eq + 1))};
}

std::optional<std::string_view> find_param(const std::vector<std::string_view>& items,
                                           std::string_view key, std::size_t from) {
    for (std::size_t i = from; i < items.size(); ++i) {
        const auto p = split_param(items[i]);
        if (p.key == key && !p.value.empty()) {
            return p.value;
        }
    }
    return std::nullopt;
}

std::optional<seconds> window_param(const std::vector<std::string_view>& items, std::size_t from) {
    if (const auto w = find_param(items, "w", from)) {
        if (const auto v = parse_uint(*w); v && *v > 0) {
            return seconds(*v);
        }
    }
    return std::nullopt;
}

// `RateLimit-Limit: 100` or `100, 100;w=60, 1000;w=3600`: the first item is the expiring limit;
// the window is that of the policy with the same quota, else of the first policy that has one.
void read_ratelimit_limit(std::string_view v, rate_info& out) {
    const auto members = split_members(v);
    const auto limit = parse_uint(members.front().front());
    if (!limit) {
        return;
    }
    out.limit = *limit;
    std::optional<seconds> any_window;
    for (std::size_t m = 1; m < members.size(); ++m) {
        const auto w = window_param(members[m], 1);
        if (!w) {
            continue;
        }
        if (parse_uint(members[m].front()) == limit) {
            out.window = w;
            return;
        }
        if (!any_window) {
            any_window = w;
        }
    }
    out.window = any_window;
}

// `RateLimit-Policy: 100;w=60` (draft-6) or `"default";q=100;w=60` (draft-8); the first policy.
void read_ratelimit_policy(std::string_view v, rate_info& out) {
    const auto members = split_members(v);
    const auto& first = members.front();
    auto quota = parse_uint(first.front());
    if (!quota) {
        if (const auto q = find_param(first, "q", 1)) {
            quota = parse_uint(*q);
        }
    }
    if (!out.limit && quota) {
        out.limit = *quota;
    }
    if (!out.window) {
        out.window = window_param(first, 1);
    }
}

// A Reset from any field, delta-seconds or a Unix time (PROVIDERS §1.8: Lamina's units are
// unknown, so every field tolerates both): below 1e9 a delta, else a timestamp (1e12 or more in
// milliseconds) taken against `reference_s`, the response's Date (or the local clock) in seconds.
void read_reset(double d, double reference_s, rate_info& out) {
    if (d < 1e9) {
        out.reset = checked_reset(d);
        return;
    }
    // In double seconds: a far-future timestamp must not overflow a time_point.
    const double epoch_s = d >= 1e12 ? d / 1000.0 : d;
    out.reset_rounding = seconds(2);
    out.reset = checked_reset(epoch_s - reference_s);
}

// `RateLimit: limit=100, remaining=5, reset=30` (draft-7) or `"default";r=5;t=30` (draft-8).
void read_ratelimit_combined(std::string_view v, double reference_s, rate_info& out) {
    std::vector<std::string_view> items;
    for (const auto& m : split_members(v)) {
        items.insert(items.end(), m.begin(), m.end());
    }
    const auto get = [&](std::string_view a, std::string_view b) -> std::optional<std::int64_t> {
        if (const auto x = find_param(items, a, 0)) {
            return parse_uint(*x);
        }
        if (const auto x = find_param(items, b, 0)) {
            return parse_uint(*x);
        }
        return std::nullopt;
    };
    if (!out.limit) {
        out.limit = get("limit", "q");
    }
    if (!out.remaining) {
        out.remaining = get("remaining", "r");
    }
    if (!out.reset) {
        if (const auto t = get("reset", "t")) {
            read_reset(static_cast<double>(*t), reference_s, out);
        }
    }
}

std::optional<seconds> body_retry_after(std::string_view body) {
    // Only small JSON objects are worth parsing; Lamina's older 429 body is plain text.
    const auto start = body.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos || body[start] != '{' || body.size() > 64 * 1024) {
        return std::nullopt;
    }
    boost::system::error_code ec;
    const auto doc = boost::json::parse(body, ec);
    if (ec || !doc.is_object()) {
        return std::nullopt;
    }
    const auto as_seconds = [](const boost::json::value* v) -> std::optional<seconds> {
        if (v == nullptr) {
            return std::nullopt;
        }
        if (const auto* i = v->if_int64(); i && *i >= 0) {
            return saturate_retry_after(*i);
        }
        if (const auto* u = v->if_uint64()) {
            return saturate_retry_after(static_cast<std::int64_t>(
                std::min<std::uint64_t>(*u, static_cast<std::uint64_t>(max_retry_after.count()))));
        }
        if (const auto* d = v->if_double(); d && *d >= 0 && std::isfinite(*d)) {
            return saturate_retry_after(static_cast<std::int64_t>(
                std::ceil(std::min(*d, static_cast<double>(max_retry_after.count())))));
        }
        return std::nullopt;
    };
    const auto& obj = doc.get_object();
    if (const auto r = as_seconds(obj.if_contains("retryAfter"))) {
        return r;  // Lamina
    }
    // Hrizn: {"error":{"details":{"retry_after":12}}}
    if (const auto* err = obj.if_contains("error"); err && err->is_object()) {
        if (const auto* details = err->get_object().if_contains("details");
            details && details->is_object()) {
            return as_seconds(details->get_object().if_contains("retry_after"));
        }
    }
    return std::nullopt;
}

// --- HTTP-date --------------------------------------------------------------------------------

class cursor {
  public:
    explicit cursor(std::string_view s) noexcept : s_(s) {}

    bool done() const noexcept { return s_.empty(); }

    bool literal(std::string_view lit) noexcept {
        if (s_.substr(0, lit.size()) != lit) {
            return false;
        }
        s_.remove_prefix(lit.size());
        return true;
    }

    // Exactly n digits.
    std::optional<int> digits(std::size_t n) noexcept {
        if (s_.size() < n) {
            return std::nullopt;
        }
        int v = 0;
        for (std::size_t i = 0; i < n; ++i) {
            if (s_[i] < '0' || s_[i] > '9') {
                return std::nullopt;
            }
            v = v * 10 + (s_[i] - '0');
        }
        s_.remove_prefix(n);
        return v;
    }

    // One of `names`; returns its index.
    template <std::size_t N>
    std::optional<unsigned> one_of(const std::array<std::string_view, N>& names) noexcept {
        for (unsigned i = 0; i < N; ++i) {
            if (literal(names[i])) {
                return i;
            }
        }
        return std::nullopt;
    }

  private:
    std::string_view s_;
};

constexpr std::array<std::string_view, 7> short_days = {"Mon", "Tue", "Wed", "Thu",
                                                        "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> long_days = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct hms {
    int h, m, s;
};

// time-of-day = hour ":" minute ":" second; second may be 60 (a leap second, RFC 9110).
std::optional<hms> read_time(cursor& c) noexcept {
    const auto h = c.digits(2);
    if (!h || !c.literal(":")) {
        return std::nullopt;
    }
    const auto m = c.digits(2);
    if (!m || !c.literal(":")) {
        return std::nullopt;
    }
    const auto s = c.digits(2);
    if (!s || *h > 23 || *m > 59 || *s > 60) {
        return std::nullopt;
    }
    return hms{*h, *m, *s};
}

std::optional<system_clock::time_point> make_time(int y, unsigned mon, int d, hms t) noexcept {
    // system_clock counts nanoseconds in 64 bits on Linux: 1677..2262. Reject what it cannot hold.
    if (y < 1678 || y > 2261) {
        return std::nullopt;
    }
    const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(mon + 1),
                                          std::chrono::day(static_cast<unsigned>(d))};
    if (!ymd.ok()) {
        return std::nullopt;
    }
    return std::chrono::sys_days(ymd) + std::chrono::hours(t.h) + std::chrono::minutes(t.m) +
           seconds(t.s);
}

std::optional<system_clock::time_point> imf_fixdate(std::string_view s) noexcept {
    cursor c(s);
    if (!c.one_of(short_days) || !c.literal(", ")) {
        return std::nullopt;
    }
    const auto d = c.digits(2);
    if (!d || !c.literal(" ")) {
        return std::nullopt;
    }
    const auto mon = c.one_of(months);
    if (!mon || !c.literal(" ")) {
        return std::nullopt;
    }
    const auto y = c.digits(4);
    if (!y || !c.literal(" ")) {
        return std::nullopt;
    }
    const auto t = read_time(c);
    if (!t || !c.literal(" GMT") || !c.done()) {
        return std::nullopt;
    }
    return make_time(*y, *mon, *d, *t);
}

std::optional<system_clock::time_point> rfc850_date(std::string_view s) noexcept {
    cursor c(s);
    if (!c.one_of(long_days) || !c.literal(", ")) {
        return std::nullopt;
    }
    const auto d = c.digits(2);
    if (!d || !c.literal("-")) {
        return std::nullopt;
    }
    const auto mon = c.one_of(months);
    if (!mon || !c.literal("-")) {
        return std::nullopt;
    }
    const auto yy = c.digits(2);
    if (!yy || !c.literal(" ")) {
        return std::nullopt;
    }
    const auto t = read_time(c);
    if (!t || !c.literal(" GMT") || !c.done()) {
        return std::nullopt;
    }
    return make_time(*yy < 70 ? 2000 + *yy : 1900 + *yy, *mon, *d, *t);
}

std::optional<system_clock::time_point> asctime_date(std::string_view s) noexcept {
    cursor c(s);
    if (!c.one_of(short_days) || !c.literal(" ")) {
        return std::nullopt;
    }
    const auto mon = c.one_of(months);
    if (!mon || !c.literal(" ")) {
        return std::nullopt;
    }
    std::optional<int> d;
    if (c.literal(" ")) {
        d = c.digits(1);  // ( 2DIGIT / ( SP DIGIT ) )
    } else {
        d = c.digits(2);
    }
    if (!d || !c.literal(" ")) {
        return std::nullopt;
    }
    const auto t = read_time(c);
    if (!t || !c.literal(" ")) {
        return std::nullopt;
    }
    const auto y = c.digits(4);
    if (!y || !c.done()) {
        return std::nullopt;
    }
    return make_time(*y, *mon, *d, *t);
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view s) {
    s = trim(s);
    if (auto t = imf_fixdate(s)) {
        return t;
    }
    if (auto t = rfc850_date(s)) {
        return t;
    }
    return asctime_date(s);
}

rate_info read_rate_headers(const boost::beast::http::fields& h,
                            std::chrono::system_clock::time_point now, std::string_view body) {
    rate_info out;
    // The server's Date is the reference for absolute times: it shares the server's clock.
    system_clock::time_point reference = now;
    if (const auto date = field(h, "Date")) {
        if (const auto t = parse_http_date(*date)) {
            reference = *t;
        }
    }
    // Seconds from the reference to `t`, in double: both come from the server, and two valid
    // time_points up to 584 years apart overflow a nanosecond subtraction (UB; a past date then
    // reads as a wait far in the future). Each side on its own fits; their difference in double
    // cannot overflow.
    const double reference_s = std::chrono::duration<double>(reference.time_since_epoch()).count();
    const auto delta_to = [&](system_clock::time_point t) {
        return std::chrono::duration<double>(t.time_since_epoch()).count() - reference_s;
    };

    // Separate-field drafts first, then the combined `RateLimit` field, then the legacy fields;
    // each source fills only what is still unknown.
    if (const auto v = field(h, "RateLimit-Limit")) {
        read_ratelimit_limit(*v, out);
    }
    if (const auto v = field(h, "RateLimit-Remaining")) {
        out.remaining = parse_uint(*v);
    }
    if (const auto v = field(h, "RateLimit-Reset")) {
        if (const auto d = parse_decimal(*v)) {
            read_reset(*d, reference_s, out);
        }
    }
    if (const auto v = field(h, "RateLimit")) {
        read_ratelimit_combined(*v, reference_s, out);
    }
    if (const auto v = field(h, "RateLimit-Policy")) {
        read_ratelimit_policy(*v, out);
    }
    if (!out.limit) {
        if (const auto v = field(h, "X-RateLimit-Limit")) {
            out.limit = parse_uint(*v);
        }
    }
    if (!out.remaining) {
        if (const auto v = field(h, "X-RateLimit-Remaining")) {
            out.remaining = parse_uint(*v);
        }
    }
    if (!out.reset) {
        if (const auto v = field(h, "X-RateLimit-Reset")) {
            if (const auto d = parse_decimal(*v)) {
                read_reset(*d, reference_s, out);
            }
        }
    }

    if (const auto v = field(h, "Retry-After")) {
        if (const auto n = parse_uint(*v)) {
            out.retry_after = saturate_retry_after(*n);
        } else if (const auto t = parse_http_date(*v)) {
            const auto d = delta_to(*t);
            out.retry_after = saturate_retry_after(
                d <= 0 ? 0
                       : static_cast<std::int64_t>(
                             std::ceil(std::min(d, static_cast<double>(max_retry_after.count())))));
        } else if (!v->empty() && v->find_first_not_of("0123456789") == std::string_view::npos) {
            out.retry_after = max_retry_after;  // more digits than int64 holds: a very long wait
        }
    }
    if (!out.retry_after && !body.empty()) {
        out.retry_after = body_retry_after(body);
    }
    return out;
}

}  // namespace briefd::ratelimit
