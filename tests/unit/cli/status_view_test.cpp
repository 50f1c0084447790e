// briefd status's table: the /status JSON of the ops contract, rendered; anything else tolerated.
#include "cli/status_view.hpp"

#include <boost/json/parse.hpp>

namespace briefd::cli {

namespace {
bool has(const std::string& text, std::string_view needle) {
    return text.find(needle) != std::string::npos;
}
std::string line_with(const std::string& text, std::string_view needle) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        auto line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        if (line.find(needle) != std::string::npos) return line;
        if (nl == std::string::npos) break;
        pos = nl + 1;
    }
    return {};
}
}  // namespace

TEST_CASE("status view: providers with budget and pause, jobs with per-item state") {
    auto v = boost::json::parse(R"json({
      "daemon":{"version":"0.1.0","uptime_s":252,"state":"running","spool":"/var/spool/briefd"},
      "providers":[
        {"name":"lamina","budget":{"limit":100,"remaining":37,"reset_in_s":12},"paused":null,
         "in_flight":3,"streams":14,"queued_items":5},
        {"name":"hrizn","budget":null,"paused":{"reason":"API key rejected (401)","until_in_s":null},
         "in_flight":0,"streams":0,"queued_items":2}],
      "jobs":[{"job":"sneakers","provider":"lamina","state":"active","items":[
        {"item":0,"state":"tracking","run_id":"run_ab12","progress":40,"outputs_saved":1,"error":null},
        {"item":1,"state":"failed","run_id":null,"progress":null,"outputs_saved":0,
         "error":"rejected: no video app"}]}]})json");
    auto out = render_status(v);
    INFO(out);
    CHECK(has(out, "briefd 0.1.0, running for 4m 12s, spool /var/spool/briefd"));
    auto lamina = line_with(out, "lamina  ");
    CHECK(has(lamina, "37/100 (reset 12s)"));
    CHECK(has(lamina, "14"));
    auto hrizn = line_with(out, "hrizn");
    CHECK(has(hrizn, "API key rejected (401)"));
    CHECK(!has(hrizn, "left"));  // until_in_s null: no countdown
    CHECK(has(out, "JOB sneakers  provider lamina  active  2 items"));
    auto item0 = line_with(out, "run_ab12");
    CHECK(has(item0, "tracking"));
    CHECK(has(item0, "40%"));
    auto item1 = line_with(out, "rejected: no video app");
    CHECK(has(item1, "failed"));
    // Columns line up: the header's RUN starts where the run id of each row does.
    auto header = line_with(out, "ITEM");
    CHECK(header.find("RUN") == item0.find("run_ab12"));
}

TEST_CASE("status view: a pause with a countdown, no jobs, no providers") {
    auto v =
        boost::json::parse(R"json({"daemon":{"version":"0.1.0","uptime_s":5,"state":"stopping"},
        "providers":[{"name":"lamina","budget":{"limit":100,"remaining":0,"reset_in_s":30},
                      "paused":{"reason":"rate limited (429)","until_in_s":30}}],"jobs":[]})json");
    auto out = render_status(v);
    INFO(out);
    CHECK(has(out, "stopping for 5s"));
    CHECK(has(line_with(out, "lamina"), "rate limited (429) (30s left)"));
    CHECK(has(out, "No active jobs."));
    auto none = render_status(boost::json::parse(R"json({"providers":[],"jobs":[]})json"));
    CHECK(has(none, "No providers."));
}

TEST_CASE("status view: any JSON renders; server text cannot move the cursor") {
    for (auto text :
         {"null", "[]", "42", R"json({"daemon":7,"providers":{},"jobs":"x"})json",
          R"json({"providers":[1,"x",null,{}],"jobs":[1,{"items":[null,{"item":"x"}]}]})json"}) {
        CAPTURE(text);
        CHECK_NOTHROW(render_status(boost::json::parse(text)));
    }
    auto out = render_status(boost::json::parse(
        R"json({"providers":[{"name":"la\u001b[2Jmina","paused":{"reason":"a\nb\rc"}}],"jobs":[]})json"));
    CHECK(!has(out, "\x1b"));
    CHECK(!has(out, "\r"));
    CHECK(has(out, "la [2Jmina"));
    CHECK(has(out, "a b c"));
}

TEST_CASE("status view: durations") {
    CHECK(format_duration(0) == "0s");
    CHECK(format_duration(59) == "59s");
    CHECK(format_duration(61) == "1m 01s");
    CHECK(format_duration(7380) == "2h 03m");
    CHECK(format_duration(90000) == "1d 01h");
    CHECK(format_duration(-4) == "0s");
}

}  // namespace briefd::cli
