// Brief files: parsing (JSON or YAML) and validation into typed items, before any credit is spent.
//
// A brief file comes from an untrusted drop folder, so parse() is total: any byte string yields either
// a brief or a list of problems, never an exception or a crash. Work is bounded by `limits`: file
// size, item count, string size, nesting depth, and (for YAML aliases) the number of values built.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace briefd::brief {

/// One Lamina content item: an item of `POST /v1/content/batch` (same fields as `/v1/content/create`).
struct content_item {
    std::string brief;                                           ///< required, non-empty
    std::optional<std::string> platform, modality;               ///< absent or null → nullopt
    std::optional<std::string> brand_profile_id, campaign_id;    ///< batch-level at Lamina: only items sharing them share a request
    boost::json::object extra;  ///< other documented fields passed through as sent (appId, inputs, templateId, aspectRatio, autoQuality, metadata)
};

/// One Lamina app run: `POST /v1/apps/{app_id}/runs`, one request per item.
struct app_run_item {
    std::string app_id;                 ///< brief field "app" (or "appId"); a UUID, so it is safe in a URL path
    boost::json::object inputs;         ///< keyed by parameter name, values as written in the brief
    std::vector<std::string> outputs;   ///< optional output labels to run (empty = all)
};

/// One Hrizn item of `POST /content/batch`, validated (ideacloud_id, article_type, …), sent as is.
struct hrizn_item { boost::json::object body; };

/// One Layers `POST /v1/projects/{project_id}/content` request; `body` is the request body (no projectId).
struct layers_item { std::string project_id; boost::json::object body; };

using item_body = std::variant<content_item, app_run_item, hrizn_item, layers_item>;

/// One item of a brief file; `index` is its 0-based position in the file (the manifest's item index).
struct item { std::size_t index; item_body body; };

/// A valid brief file: the provider it is for and its items, in file order.
struct brief_file { std::string provider; std::vector<item> items; };

/// One thing wrong with a brief file, precise enough for a person to fix it.
struct problem {
    std::string file;                  ///< the brief's file name
    std::optional<std::size_t> item;   ///< 0-based item index when the problem is about one item
    std::string field;                 ///< dotted path ("inputs.Style", "brief.targetPlatforms"); "file" for the file as a whole; may be empty
    std::string message;               ///< what is wrong, in words

    /// "sneakers.json: item 3: platform: must be a string" (parts that are absent are left out).
    std::string to_string() const;
    /// {"file","item","field","message"}; "item" is null when the problem is not about one item.
    boost::json::object to_json() const;
};

/// Bounds on the work parse() does for one file.
struct limits {
    std::size_t max_brief_bytes = 1 << 20;   ///< larger files are refused unread
    std::size_t max_items = 1000;            ///< per file (files are split into requests later)
    std::size_t max_string_bytes = 16 * 1024;///< any one string or key
    std::size_t max_depth = 16;              ///< nesting of objects/arrays
    std::size_t max_values = 100000;         ///< values built in total (bounds YAML alias expansion)
    std::size_t max_problems = 50;           ///< parse() stops reporting after this many
    /// Bytes of text (strings and keys) of all items once the shared fields are copied into each;
    /// 0 means 4 × max_brief_bytes. With max_values it bounds what a parsed brief holds in memory.
    std::size_t max_merged_bytes = 0;
};

/// The outcome of parse(): a brief when there are no problems.
struct parse_result {
    std::optional<brief_file> brief;
    std::vector<problem> problems;
    bool ok() const { return brief.has_value() && problems.empty(); }
};

/// Parses JSON (".json") or YAML (".yaml"/".yml") by file name; never throws, never crashes on garbage.
///
/// A file holds one brief object or several under `items:`; fields outside `items` apply to every item
/// (an item's own value wins; objects such as `inputs` or Layers' `brief` are merged key by key).
/// `provider:` picks lamina|hrizn|layers, else `default_provider`. For Lamina, an item with `app`, or
/// with `appId` and no `brief`, is an app run; otherwise a content item needing `brief` (an `appId` on
/// a content item is passed through, pinning the app for /v1/content). Reports all problems found,
/// up to `lim.max_problems`.
parse_result parse(std::string_view file_name, std::string_view bytes, std::string_view default_provider,
                   const limits& lim = {});

/// One parameter of a Lamina app (`GET /v1/apps/{appId}` → data.parameters[]).
struct app_parameter {
    std::string name;                         ///< what inputs are keyed by (case-sensitive)
    std::string type;                         ///< "text" | "options" | "url" (others are accepted unchecked)
    bool required = false;
    std::vector<std::string> options;         ///< option labels, for type "options"
    std::optional<boost::json::value> default_value;
    bool multiple = false;                    ///< the value may be an array of values
    std::string key;                          ///< optional snake_case alias the SDK also accepts as an input key
};

/// A Lamina app's input schema.
struct app_schema { std::string app_id; std::string name; std::vector<app_parameter> parameters; };

/// Accepts {data:{...}} or the bare object; nullopt when it is not an app description (no parameters array).
std::optional<app_schema> parse_app_schema(const boost::json::value& get_app_response);

/// Checks an app run's inputs against the app's schema: unknown names, missing required parameters
/// without a default, option values not among the labels, wrong types (text/url strings, url http(s)).
/// Problems name `file`, `item` and the field as "inputs.<name>".
std::vector<problem> validate_inputs(std::string_view file, std::size_t item, const app_run_item&,
                                     const app_schema&);

/// True for the canonical 8-4-4-4-12 hex form of a UUID.
bool is_uuid(std::string_view s);

}  // namespace briefd::brief
