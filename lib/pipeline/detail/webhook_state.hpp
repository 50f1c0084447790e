// What the webhook channel holds per provider (webhook_channel.hpp). Private to lib/pipeline.
#pragma once

#include "core/secret.hpp"
#include "providers/provider.hpp"
#include "webhooks/receiver.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <map>
#include <string>

namespace briefd::pipeline::detail {

/// A run waiting for its delivery.
struct webhook_run {
    std::string job_id;
    std::size_t index = 0;
    std::chrono::steady_clock::time_point
        check_at;                     ///< the grace check, if no delivery comes first
    std::chrono::seconds grace{180};  ///< between checks of this run
    unsigned not_found = 0;           ///< 404s in a row from grace checks
    bool input_sent = false;          ///< awaiting_input answered (Hrizn interactive)
};

struct webhook_state {
    explicit webhook_state(boost::asio::any_io_executor ex) : wake(ex), key_ready(ex) {}

    /// Webhooks are configured, the tracking mode allows them, and the provider's deliveries can
    /// be verified (a secret is configured, or the provider publishes a key).
    bool offered = false;
    /// Deliveries stopped arriving (fallback_after runs in a row were found finished by a grace
    /// check): new runs use request-based tracking until a delivery verifies again.
    bool degraded = false;
    unsigned missed_in_a_row = 0;
    secret shared_secret;                                  ///< Hrizn, Layers
    webhooks::key_cache keys;                              ///< Lamina
    std::map<std::string, webhook_run, std::less<>> runs;  ///< run id → item
    /// Verified terminal deliveries for runs not (yet) known here: a delivery can overtake the
    /// submit response. Applied when the run is registered; bounded.
    std::map<std::string, providers::run_view, std::less<>> early;
    boost::asio::steady_timer wake;       ///< the grace loop's sleep; cancelled to re-plan
    boost::asio::steady_timer key_ready;  ///< deliveries waiting for a key fetch in flight
    bool loop_running = false;
    // Counters for the log and the benchmark.
    std::uint64_t delivered = 0, duplicates = 0, refused = 0, grace_checks = 0;
};

}  // namespace briefd::pipeline::detail
