// Brief files: parsing (JSON or YAML) and validation into typed items, before any credit is spent.
//
// A brief file comes from an untrusted drop folder, so parse() is total: any byte string yields
// either a brief or a list of problems, never an exception or a crash. Work is bounded by `limits`:
// file size, item count, string size, nesting depth, and (for YAML aliases) the number of values
// built.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace briefd::brief {

/// One Lamina content item: an item of `POST /v1/content/batch` (same fields as
/// `/v1/content/create`).
struct content_item {
    std::string brief;                              ///< required, non-empty
    std::optional<std::string> platform, modality;  ///< absent or null → nullopt
    std::optional<std::string> brand_profile_id,
        campaign_id;            ///< batch-level at Lamina: only items sharing them share a request
    boost::json::object extra;  ///< other documented fields passed through as sent (appId, inputs,
                                ///< templateId, aspectRatio, autoQuality, metadata)
};

/// One Lamina app run: `POST /v1/apps/{app_id}/runs`, one request per item.
struct app_run_item {
    std::string app_id;  ///< brief field "app" (or "appId"); a UUID, so it is safe in a URL path
    boost::json::object inputs;        ///< keyed by parameter name, values as written in the brief
    std::vector<std::string> outputs;  ///< optional output labels to run (empty = all)
};

/// One Hrizn item of `POST /content/batch`, validated (ideacloud_id, article_type, …), sent as is.
struct hrizn_item {
    boost::json::object body;
};

/// One Layers `POST /v1/projects/{project_id}/content` request; `body` is the request body (no
/// projectId).
struct layers_item {
    std::string project_id;
    boost::json::object body;
};

using item_body = std::variant<content_item, app_run_item, hrizn_item, layers_item>;

/// One item of a brief file; `index` is its 0-based position in the file (the manifest's item
/// index).
struct item {
    std::size_t index;
    item_body body;
};

/// A valid brief file: the provider it is for and its items, in file order.
struct brief_file {
    std::string provider;
    std::vector<item> items;
};

/// One thing wrong with a brief file, precise enough for a person to fix it.
struct problem {
    std::string file;                 ///< the brief's file name
    std::optional<std::size_t> item;  ///< 0-based item index when the problem is about one item
    std::string field;    ///< dotted path ("inputs.Style", "brief.targetPlatforms"); "file" for the
                          ///< file as a whole; may be empty
    std::string message;  ///< what is wrong, in words

    /// "sneakers.json: item 3: platform: must be a string" (parts that are absent are left out).
    std::string to_string() const;
    /// {"file","item","field","message"}; "item" is null when the problem is not about one item.
    boost::json::object to_json() const;
};

/// Bounds on the work parse() does for one file.
struct limits {
    std::size_t max_brief_bytes = 1 << 20;     ///< larger files are refused unread
    std::size_t max_items = 1000;              ///< per file (files are split into requests later)
    std::size_t max_string_bytes = 16 * 1024;  ///< any one string or key
    std::size_t max_depth = 16;                ///< nesting of objects/arrays
    std::size_t max_values = 100000;  ///< values built in total (bounds YAML alias expansion)
    std::size_t max_problems = 50;    ///< parse() stops reporting after this many
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

class item_checker;

/// How one provider's items are checked and typed. Each provider writes its own
/// (lib/providers/<name>/schema.cpp) with the item_checker toolkit of brief/checker.hpp; parse()
/// knows no provider by name.
struct item_schema {
    std::string_view provider;  ///< the value of `provider:` that selects this schema
    std::vector<std::string_view>
        fields;  ///< every field some kind of this provider's item takes
                 ///< (a shared field outside it is reported once, for the file)
    /// Checks one item (shared fields merged in), reporting every problem through the checker;
    /// the typed item when it is usable (parse() drops it anyway if any problem was reported).
    std::optional<item_body> (*check)(item_checker&);
};

/// Parses JSON (".json") or YAML (".yaml"/".yml") by file name; never throws, never crashes on
/// garbage.
///
/// A file holds one brief object or several under `items:`; fields outside `items` apply to every
/// item (an item's own value wins; objects such as `inputs` or Layers' `brief` are merged key by
/// key). `provider:` picks one of `schemas` by name, else `default_provider`; that schema checks
/// and types each item. Reports all problems found, up to `lim.max_problems`.
parse_result parse(std::string_view file_name, std::string_view bytes,
                   std::string_view default_provider, std::span<const item_schema> schemas,
                   const limits& lim = {});

/// True for the canonical 8-4-4-4-12 hex form of a UUID.
bool is_uuid(std::string_view s);

}  // namespace briefd::brief
