// Layers end to end: briefd against briefsim's Layers origin — one generate per item with an
// Idempotency-Key and a derived id, job polling with If-None-Match on the documented schedule,
// every container of a job fetched and every asset verified against its size and checksum,
// billing exhausted then topped up, a layer conflict and moderation failing one item each.
#include "integration/helpers.hpp"

#include <doctest/doctest.h>

#include <csignal>

namespace briefd::it {

namespace json = boost::json;

namespace {
rig_options layers_rig(std::vector<std::string> sim_args = {}) {
    rig_options o;
    o.layers = true;
    o.sim_args = std::move(sim_args);
    return o;
}

std::string layers_item(const std::string& topic, int variants,
                        const std::string& project = "0b9f5d1e-7c1a-4d3e-8f2a-5b6c7d8e9f00") {
    return json::serialize(
        json::object{{"projectId", project},
                     {"format", "slideshow_remix"},
                     {"variantCount", variants},
                     {"brief", json::object{{"topic", topic}, {"hook", "Wait for it"}}}});
}

std::string layers_brief(const std::vector<std::string>& items) {
    std::string s = R"({"provider":"layers","items":[)";
    for (std::size_t i = 0; i < items.size(); ++i) s += (i ? "," : "") + items[i];
    return s + "]}";
}
}  // namespace

TEST_CASE("layers: jobs of 1, 2 and 3 variants complete with every container's assets verified") {
    rig r(layers_rig({"--layers-corrupt", "0.3"}));
    RIG_CONTEXT(r);
    r.d->drop("variants.json", layers_brief({layers_item("one", 1), layers_item("two", 2),
                                             layers_item("three", 3)}));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"variants.json"});
    auto m = r.d->manifest("variants");
    CHECK(m.at("provider").as_string() == "layers");
    CHECK(m.at("status").as_string() == "completed");
    // Every container of every job: at least one asset per variant, each checked against the
    // manifest's size and sha256 (which were verified against the provider's checksum).
    std::size_t outputs = 0;
    for (const auto& it : m.at("items").as_array()) outputs += it.at("outputs").as_array().size();
    CHECK(outputs >= 6);
    CHECK(check_outputs(*r.d, "variants") == outputs);
    CHECK(r.layers_stat("jobs_created") == 3);
    CHECK(r.layers_stat("duplicate_generations") == 0);
    CHECK(r.stat("output_requests_with_api_key") == 0);
}

TEST_CASE("layers: billing exhausted pauses Layers without failing anything; a top-up resumes it") {
    rig r(layers_rig({"--layers-credits", "0"}));
    RIG_CONTEXT(r);
    r.d->drop("billing.json", layers_brief({layers_item("pay me", 1)}));
    REQUIRE(r.d->wait_log("host.blocked", 15s));
    CHECK(r.d->failed().empty());
    r.sim->set_layers(json::object{{"credits", 1000}});
    REQUIRE(r.d->signal(SIGHUP));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->done() == std::vector<std::string>{"billing.json"});
    CHECK(r.layers_stat("duplicate_generations") == 0);
}

TEST_CASE(
    "layers: a layer conflict names the candidates and moderation fails its item; the rest "
    "completes") {
    rig r(layers_rig());
    RIG_CONTEXT(r);
    r.d->drop("mixed.json",
              layers_brief({layers_item("fine", 1),
                            layers_item("needs a layer", 1, "00000000-0000-4000-8000-000000000002"),
                            layers_item("please blockme now", 1)}));
    REQUIRE(r.d->wait_filed(1, filed_timeout));
    CHECK(r.d->failed() == std::vector<std::string>{"mixed.json"});
    auto m = r.d->manifest("mixed");
    CHECK(m.at("status").as_string() == "partial");
    auto& items = m.at("items").as_array();
    CHECK(items[0].at("status").as_string() == "completed");
    CHECK(items[1].at("status").as_string() == "failed");
    CHECK(json::serialize(items[1].at("error")).find("candidate") != std::string::npos);
    CHECK(items[2].at("status").as_string() == "failed");
}

}  // namespace briefd::it
