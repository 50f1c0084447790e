// Lamina's app catalogue as the simulator knows it: the public example apps of the integration
// guide (seed 001) with plausible parameter schemas, and the schema validation of Run App.
#pragma once

#include <boost/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace briefd::sim::lamina {

struct app_param {
    std::string id;
    std::string name;  ///< the key clients use in `inputs`
    std::string type;  ///< text | options | url
    bool required = false;
    std::string description;
    std::vector<std::string> options;
    std::optional<std::string> default_value;
};

struct app_output {
    std::string label;
    std::string type;  ///< image | video | text
};

struct app {
    std::string id;
    std::string name;
    std::string description;
    std::string workflow_id;
    bool video = false;  ///< hidden when the workspace has no video app
    std::vector<app_param> params;
    std::vector<app_output> outputs;
};

const std::vector<app>& catalogue();
const app* find_app(std::string_view id);

/// The `data` of GET /v1/apps/{appId}.
boost::json::object to_json(const app& a);
/// One entry of GET /v1/apps.
boost::json::object summary_json(const app& a);

/// Problems with `inputs` (an object keyed by parameter name) against the app's schema, one
/// human-readable line per problem, each naming the parameter. Empty when valid.
std::vector<std::string> validate_inputs(const app& a, const boost::json::value* inputs);

/// The workflow used for content/create and content/batch items.
struct content_workflow {
    std::string id;
    std::string name;
    app_output output;
};
const content_workflow& image_workflow();
const content_workflow& video_workflow();

}  // namespace briefd::sim::lamina
