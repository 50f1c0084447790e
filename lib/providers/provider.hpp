// The seam between the engine and one content API (DESIGN §12). A provider says, without doing any
// I/O, how its key is sent, what one request may carry and which items may share it, how a submit
// response maps to per-item run ids or errors, which tracking channels it offers, how a status
// response maps to a neutral run view, how its errors classify and which idempotency header it
// takes. lib/pipeline drives any provider through this interface and knows none by name.
//
// Every request is an `api_call` relative to the provider's base_url. Its path is a list of
// segments that the engine appends one by one with Boost.URL (each percent-encoded), so a
// server-supplied id containing '/', '?', '%' or ".." can never change which resource is asked
// for; ids that do not have the provider's shape are refused before that (`valid_run_id`).
#pragma once

#include "brief/brief.hpp"
#include "providers/app_schema.hpp"
#include "core/error.hpp"

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/url/url.hpp>
#include <boost/url/url_view.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace briefd::providers {

/// A run's (or Hrizn article's, or Layers job's) state as the engine sees it.
enum class run_phase {
    queued,
    running,
    awaiting_input,  ///< the provider waits for the client to supply something (Hrizn interactive)
    completed,
    failed,
    cancelled,
    unknown  ///< a status word we don't know: tolerated, not terminal
};

inline bool is_terminal(run_phase p) {
    return p == run_phase::completed || p == run_phase::failed || p == run_phase::cancelled;
}
std::string_view to_string(run_phase p) noexcept;

/// One request relative to the provider's base_url.
struct api_call {
    boost::beast::http::verb method = boost::beast::http::verb::get;
    std::vector<std::string> segments;  ///< appended to base_url's path, one encoded segment each
    std::vector<std::pair<std::string, std::string>> query;
    std::string body;  ///< JSON when non-empty
    std::vector<std::pair<std::string, std::string>> headers;
};

/// How a run's outcome can be learned. A provider offers a set of these.
enum channel : unsigned {
    channel_sse = 1u << 0,   ///< an event stream per run
    channel_wait = 1u << 1,  ///< a long-poll request per run
    channel_poll = 1u << 2,  ///< a status request per run
    channel_list = 1u << 3,  ///< one list request shows the status of many runs
    channel_webhook = 1u << 4,  ///< the provider POSTs the run's outcome to briefd's receiver
};

/// One output of a finished run, as the provider describes it.
struct output_view {
    std::string label;
    std::string type;    ///< image, video, text, html, json, … (the provider's word)
    std::string status;  ///< "completed" when it can be saved; anything else is an output error
    std::string error;   ///< the provider's reason when not completed (cleaned)
    /// Exactly one of the next three says where the content is.
    std::string url;  ///< an absolute http(s) URL to stream to disk
    std::optional<api_call>
        fetch;  ///< an API request whose response fetched_output() turns into the file
    std::optional<std::string> text;  ///< the content itself (text outputs in the run payload)
    std::string ext;  ///< file extension when the provider knows it (html, json, txt)
    std::string mime_type;
    std::optional<std::uint64_t> size_bytes;  ///< to verify the download against
    std::string sha256;                       ///< lowercase hex, to verify the download against
    boost::json::object meta;                 ///< extra manifest fields (caption, hook, approval)
};

/// A run's state in neutral terms.
struct run_view {
    std::string run_id;
    run_phase phase = run_phase::unknown;
    std::string status;         ///< the provider's own word for it
    int progress_percent = -1;  ///< 0..100 when known
    std::vector<output_view> outputs;
    std::string error;  ///< why it failed (cleaned provider text)
    std::string etag;
    std::string created_at;  ///< as the provider wrote it (list tracking orders by it)
    /// Ids of the resources that hold the outputs when the run's own view does not list them
    /// (Layers: the job's containers), as this response shows them; see provider::expand().
    std::vector<std::string> children;
};

/// One item of a submit request, as the response tells it.
struct submit_result {
    bool accepted = false;
    std::string run_id;
    std::string error;  ///< why the provider refused this item (cleaned)
    /// Ids the submit response names beside the run id that expand() will need later (Layers:
    /// one container per variant); the engine keeps them with the item, durably.
    std::vector<std::string> children;
};

/// A verified webhook delivery in neutral terms (parse_webhook).
struct webhook_event {
    /// What makes a delivery a duplicate: the provider's event id where it has one, else the run
    /// id and status. Retries of one delivery carry the same value.
    std::string event_id;
    /// The run it is about (run_id always set). phase unknown: an event that says nothing about
    /// the run's state (approvals, compliance…), acknowledged and otherwise ignored.
    run_view run;
};

/// One page of a list of runs (newest first).
struct list_page {
    std::vector<run_view> runs;
    std::string next_cursor;
    bool has_more = false;
};

class provider {
  public:
    virtual ~provider() = default;

    /// lamina, hrizn, layers: the key under providers: and in briefs' `provider:`.
    virtual std::string_view name() const = 0;
    /// What this provider's brief items may say and how they are typed (brief::parse() uses it);
    /// written in lib/providers/<name>/schema.cpp with brief/checker.hpp.
    virtual const brief::item_schema& items() const = 0;

    // ---- credentials -------------------------------------------------------------------------
    /// The header that carries the API key, and its value for a given key.
    virtual std::string credential_header() const = 0;
    virtual std::string credential_value(std::string_view key) const { return std::string(key); }
    /// A cheap authenticated GET that tells whether the key works (probed while blocked).
    virtual api_call probe() const = 0;

    // ---- submission --------------------------------------------------------------------------
    /// The most items one request may carry.
    virtual std::size_t max_items_per_request() const = 0;
    /// Items with equal keys may share one request; nullopt: the item is sent on its own.
    virtual std::optional<std::string> group_key(const brief::item& it) const = 0;
    /// The idempotency header's name, empty when the provider has none.
    virtual std::string idempotency_header() const { return {}; }
    /// The request that creates runs for `items` (all with the same group key, at most max).
    virtual api_call submit(const std::vector<const brief::item*>& items) const = 0;
    /// submit(items) when the engine has already derived the request's idempotency key (the
    /// same members always give the same key), so a provider can also derive ids it puts in
    /// the body from it (Layers: the container `id`, a UUID made from the key). By default the
    /// key is not needed and this is submit(items).
    virtual api_call submit_with_key(const std::vector<const brief::item*>& items,
                                     std::string_view idempotency_key) const {
        (void)idempotency_key;
        return submit(items);
    }
    /// A 2xx response to submit(items) → one result per item sent, in order; nullopt when the
    /// body is not the documented shape (then what was created is unknown).
    virtual std::optional<std::vector<submit_result>> parse_submit(
        const std::vector<const brief::item*>& items, std::string_view body) const = 0;

    // ---- input schemas (optional) ------------------------------------------------------------
    /// The key of the schema an item's inputs must be checked against before submission (Lamina:
    /// the app id), or nullopt when there is none.
    virtual std::optional<std::string> schema_key(const brief::item&) const { return std::nullopt; }
    virtual api_call schema_request(std::string_view key) const;
    virtual std::optional<app_schema> parse_schema(std::string_view body) const;
    virtual std::vector<brief::problem> check_inputs(std::string_view /*file*/, const brief::item&,
                                                     const app_schema&) const {
        return {};
    }

    // ---- tracking ----------------------------------------------------------------------------
    /// The channels that can track this item's run (a set of `channel` bits).
    virtual unsigned channels(const brief::item& it) const = 0;
    /// True when `id` has the shape of this provider's run ids (checked before it is used).
    virtual bool valid_run_id(std::string_view id) const = 0;
    /// GET of one run's status.
    virtual api_call status(std::string_view run_id) const = 0;
    virtual std::optional<run_view> parse_status(std::string_view body) const = 0;
    /// status(run_id) made conditional on the last view's `etag` (If-None-Match) when the
    /// provider supports it; the engine must then take a 304 as "unchanged" (keep the last view,
    /// schedule the next poll), not as an error. By default the plain status(run_id).
    virtual api_call status_since(std::string_view run_id, std::string_view etag) const {
        (void)etag;
        return status(run_id);
    }
    /// A 2xx status response with its headers (the ETag lives in a header at Layers): by default
    /// parse_status(body).
    virtual std::optional<run_view> parse_status_response(unsigned http_status,
                                                          const boost::beast::http::fields& headers,
                                                          std::string_view body) const {
        (void)http_status;
        (void)headers;
        return parse_status(body);
    }
    /// The wait before poll number `polls_done` (0 for the first poll after submission) when
    /// the provider documents a polling schedule; nullopt: the configured poll_interval.
    virtual std::optional<std::chrono::milliseconds> poll_delay(unsigned polls_done,
                                                                std::mt19937_64& rng) const {
        (void)polls_done;
        (void)rng;
        return std::nullopt;
    }
    /// The event stream of one run (channel_sse) and how one event's data reads.
    virtual api_call stream(std::string_view run_id) const;
    /// For events that carry the run (progress, complete, error): its view; nullopt otherwise.
    virtual std::optional<run_view> parse_event(std::string_view type, std::string_view data) const;
    /// Long-poll of one run (channel_wait); parse_wait says also whether the wait timed out.
    virtual api_call wait(std::string_view run_id, std::chrono::seconds timeout) const;
    virtual std::optional<std::pair<run_view, bool>> parse_wait(std::string_view body) const;
    /// One page of the list of runs, newest first (channel_list).
    virtual api_call list(std::string_view cursor, std::size_t limit) const;
    virtual std::optional<list_page> parse_list(std::string_view body) const;
    /// The largest page list() may ask for.
    virtual std::size_t list_page_limit() const { return 100; }
    /// Which list shows this item's run, when a provider has one list per something (Layers: one
    /// per project, the item's projectId); runs of different scopes are swept separately. ""
    /// (the default): the provider has one list.
    virtual std::string list_scope(const brief::item&) const { return {}; }
    /// One page of the list `scope` (a list_scope() value): by default list(cursor, limit).
    virtual api_call list_in(std::string_view scope, std::string_view cursor,
                             std::size_t limit) const {
        (void)scope;
        return list(cursor, limit);
    }
    /// True when the list shows the resources that hold a run's outputs (the `children` of its
    /// submit result: Layers containers) rather than the run itself. A run is then followed
    /// through its children's phases, and once every child shows a terminal phase (or one shows
    /// failed or cancelled) its own status request says how it ended.
    virtual bool list_shows_children() const { return false; }
    /// The key an id is matched by between the list and what the engine holds (the submit
    /// result's run id or children); parse_list() gives run ids already in this form. By default
    /// the id itself.
    virtual std::string list_key(std::string_view id) const { return std::string(id); }

    /// The request that cancels a run at the provider (POST, safe to repeat), or nullopt when the
    /// provider offers none: the engine then just stops tracking the run.
    virtual std::optional<api_call> cancel(std::string_view run_id) const {
        (void)run_id;
        return std::nullopt;
    }

    // ---- webhooks (channel_webhook) --------------------------------------------------------
    /// Adds what tells the provider to deliver this submission's outcome to `url` (Lamina app
    /// runs: `?webhook=<url>`). By default nothing: deliveries go to subscriptions the operator
    /// made at the provider.
    virtual void add_webhook(api_call& submit_call, const std::vector<const brief::item*>& items,
                             std::string_view url) const {
        (void)submit_call;
        (void)items;
        (void)url;
    }
    /// True when deliveries are signed with a shared secret the operator configures
    /// (webhook_secret_file/_env); false when the provider publishes a key (Lamina).
    virtual bool webhook_secret_required() const { return true; }
    /// The request that fetches the provider's webhook signing keys (a JWK set), if it has one.
    virtual std::optional<api_call> webhook_key_request() const { return std::nullopt; }
    /// How long a run of this item may go without a delivery before one status request checks on
    /// it (when the config does not say): about the time such a run takes.
    virtual std::chrono::seconds webhook_grace(const brief::item&) const {
        return std::chrono::seconds(180);
    }
    /// A delivery's body (already verified: the signature covers it) with its headers → the run
    /// it is about; nullopt when it is not the documented shape.
    virtual std::optional<webhook_event> parse_webhook(const boost::beast::http::fields& headers,
                                                       std::string_view body) const {
        (void)headers;
        (void)body;
        return std::nullopt;
    }

    /// A run in awaiting_input: the request that supplies the input, or nullopt with `why` when
    /// the brief does not have it (the item then fails with that reason).
    virtual std::optional<api_call> provide_input(const brief::item&, std::string_view run_id,
                                                  std::string& why) const;

    // ---- outputs -----------------------------------------------------------------------------
    /// The requests (GETs, safe to repeat) whose responses give a completed run's outputs when
    /// the run's view alone does not (Layers: one GET /v1/content/{containerId} per container,
    /// from the ids the submit response gave — `children`, kept by the engine — and those the
    /// final view shows). Empty (the default): the outputs come from outputs(item, run) alone.
    virtual std::vector<api_call> expand(const brief::item&, const run_view& run,
                                         const std::vector<std::string>& children) const {
        (void)run;
        (void)children;
        return {};
    }
    /// The 2xx response to expand()'s call number `part` → that part's outputs, in order; nullopt
    /// with `why` when the part is not ready yet or not the documented shape (ask again later,
    /// a bounded number of times, then fail the item with `why`).
    virtual std::optional<std::vector<output_view>> parse_expansion(std::size_t part,
                                                                    std::string_view body,
                                                                    std::string& why) const {
        (void)part;
        (void)body;
        why = "the provider has no expansion of a run's outputs";
        return std::nullopt;
    }
    /// The outputs of a completed run (by default the ones in its view).
    virtual std::vector<output_view> outputs(const brief::item&, const run_view& run) const {
        return run.outputs;
    }
    /// Turns the 2xx response to an output's `fetch` into the file's bytes; nullopt with `why`
    /// when the body is not what the provider documents.
    virtual std::optional<std::string> fetched_output(const output_view& out,
                                                      std::string_view content_type,
                                                      std::string_view body,
                                                      std::string& why) const;

    // ---- errors ------------------------------------------------------------------------------
    /// Maps a non-2xx response to the project error (unauthorized/payment_required pause the
    /// account, rate_limited pauses the host, server_error retries, rejected/not_found are final)
    /// and keeps the server's words in `diag`.
    virtual std::error_code classify_error(unsigned status, std::string_view body,
                                           diagnostics& diag) const = 0;

    // ---- rate-limit buckets (optional) -------------------------------------------------------
    /// The rate-limit bucket a request draws from when the provider keeps several per key
    /// (Layers: read-light, write-light, long-running); empty (the default): the one bucket.
    virtual std::string_view bucket_class(const api_call&) const { return {}; }
    /// The response header that names the bucket a response's X-RateLimit-* headers describe;
    /// empty when the provider has one bucket.
    virtual std::string_view bucket_class_header() const { return {}; }

    // ---- concurrent jobs (optional) ----------------------------------------------------------
    /// True when a refused submission means "too many jobs running" rather than "too many
    /// requests" (Layers: a 429 on generate whose details name the concurrent-jobs scope): the
    /// submission waits for one of its jobs to end instead of pausing a rate bucket.
    virtual bool concurrency_refusal(unsigned status, std::string_view body) const {
        (void)status;
        (void)body;
        return false;
    }
};

/// base_url + the call's segments (each appended as one percent-encoded segment, so nothing in a
/// segment can add a segment, climb with "..", or start a query) + its query; no fragment.
boost::urls::url url_for(const boost::urls::url_view& base, const api_call& c);

/// A response body as JSON (nesting bounded), or nullopt when it is not JSON. For providers'
/// parsers: a server's body is never trusted to be what its docs say.
std::optional<boost::json::value> parse_json(std::string_view body);
/// The string at `key`, cleaned and bounded (diagnostics::clean); empty when absent or not a
/// string.
std::string string_field(const boost::json::object& o, std::string_view key,
                         std::size_t max = 4096);

/// The provider called `name`, or nullptr when briefd has none by that name.
const provider* find(std::string_view name);
/// The item schemas of every provider briefd has, for brief::parse().
std::span<const brief::item_schema> item_schemas();

/// A deterministic idempotency key for one submission: the same members (job id + item index, in
/// order) always give the same key, at most 64 characters, safe in a header.
std::string idempotency_key(std::string_view salt,
                            const std::vector<std::pair<std::string, std::size_t>>& members);

}  // namespace briefd::providers
