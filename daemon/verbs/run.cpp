// `briefd [run]`: the daemon itself — command line, config, signals, systemd notification and
// the journal. Wiring only; everything it runs lives in lib/.
#include "config/config.hpp"
#include "core/log.hpp"
#include "ops/journal.hpp"
#include "ops/notify.hpp"
#include "ops/status.hpp"
#include "pipeline/engine.hpp"
#include "status/service.hpp"
#include "verbs/options.hpp"
#include "verbs/verbs.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>
#include <cstring>
#include <iostream>
#include <optional>

namespace asio = boost::asio;

namespace briefd::verbs {

namespace {

constexpr const char* usage = R"(Usage: briefd [run] [OPTION]...
       briefd COMMAND [OPTION]... [ARG]...
Watch a spool directory for brief files, submit them to content-generation APIs within their
rate limits, track every run, and write the outputs to disk with a manifest.

  -c, --config FILE   configuration file (default /etc/briefd/briefd.yaml)
      --check         validate the configuration, print the effective settings
                      (secrets redacted) and exit: 0 when valid, 1 otherwise
      --log-level L   override log_level: error, warning, notice, info, debug
  -h, --help          display this help and exit
  -V, --version       output version information and exit

Runs in the foreground (systemd Type=notify). Signals: SIGTERM/SIGINT stop gracefully
(a second one forces), SIGHUP reloads the configuration and the API key.

Exit status: 0 after a clean stop or a valid --check; 1 on a configuration or start-up
error; 2 on a usage error.
)";

struct options {
    std::string config = "/etc/briefd/briefd.yaml";
    bool check = false;
    std::string log_level;
};

/// The commands besides run, for `briefd --help`.
std::string commands_help() {
    std::string s = "\nCommands (each has --help):\n";
    for (const auto& v : verbs()) {
        std::string name(v.name);
        s += "  " + name + std::string(name.size() < 10 ? 10 - name.size() : 1, ' ') +
             std::string(v.summary) + "\n";
    }
    s += "\nDocumentation: man briefd (briefd(8)), README.md.\n";
    return s;
}

/// Start-up recovery blocks the event loop (no watchdog pings meanwhile) and may take long with a
/// large active/ or done/: each step asks systemd for this much more start time, so only a
/// recovery that stops making progress runs into TimeoutStartSec.
constexpr auto recovery_extension = std::chrono::seconds(60);

}  // namespace

int run_main(std::span<char*> args) {
    const int argc = static_cast<int>(args.size());
    char** argv = args.data();
    options opt;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&](std::string& out) {
            if (auto eq = a.find('='); eq != std::string_view::npos) {
                out = a.substr(eq + 1);
                return true;
            }
            if (i + 1 >= argc) return false;
            out = argv[++i];
            return true;
        };
        if (a == "-h" || a == "--help") {
            std::cout << usage << commands_help();
            return 0;
        } else if (a == "-V" || a == "--version") {
            std::cout << "briefd " << BRIEFD_VERSION << "\n";
            return 0;
        } else if (a == "-c" || a == "--config" || a.starts_with("--config=")) {
            if (!value(opt.config)) {
                std::cerr << "briefd: --config needs a file\n";
                return 2;
            }
        } else if (a == "--check") {
            opt.check = true;
        } else if (a == "--log-level" || a.starts_with("--log-level=")) {
            if (!value(opt.log_level)) {
                std::cerr << "briefd: --log-level needs a level\n";
                return 2;
            }
        } else {
            std::cerr << "briefd: unrecognized option '" << a
                      << "'\nTry 'briefd --help' for more information.\n";
            return 2;
        }
    }

    auto loaded = config::load(opt.config);
    if (auto* err = std::get_if<config::load_error>(&loaded)) {
        std::cerr << err->to_string() << "\n";
        return 1;
    }
    auto cfg = std::get<config::config>(std::move(loaded));
    if (!opt.log_level.empty()) cfg.log_level = opt.log_level;

    std::map<std::string, secret> keys;
    std::string why;
    bool keys_ok = load_keys(cfg, keys, why);
    if (opt.check) {
        std::cout << config::to_yaml(cfg);
        if (!keys_ok) {
            std::cerr << opt.config << ": " << why << "\n";
            return 1;
        }
        std::cerr << opt.config << ": configuration is valid\n";
        return 0;
    }

    logger log;
    // Under systemd, events go to the journal with JOB=, PROVIDER=, RUN= fields.
    if (ops::journal::stderr_is_journal()) log.set_structured_sink(ops::journal::sink());
    log_level lvl{};
    if (!parse_log_level(cfg.log_level, lvl)) {
        std::cerr << "briefd: unknown log level '" << cfg.log_level << "'\n";
        return 2;
    }
    log.set_level(lvl);
    if (!keys_ok) {
        log.error("daemon.no_api_key", {{"problem", why}});
        return 1;
    }
    auto fds = ops::raise_fd_limit();
    log.notice("daemon.starting", {{"version", BRIEFD_VERSION},
                                   {"config", opt.config},
                                   {"spool", cfg.spool.string()},
                                   {"outputs", cfg.outputs.string()},
                                   {"fd_limit", fds}});

    asio::io_context io(1);
    ops::notifier notify;
    // The engine loads the trust store (ca_file) and the like: a failure there is a clear
    // message and exit 1, not std::terminate.
    std::optional<pipeline::engine> engine_slot;
    try {
        engine_slot.emplace(io.get_executor(), cfg, keys, log);
    } catch (const std::exception& ex) {
        log.error("daemon.start_failed", {{"error", ex.what()}});
        return 1;
    }
    auto& engine = *engine_slot;
    std::unique_ptr<status::service> status_server;  // /metrics, /status, /healthz, cancel
    try {
        status_server = status::start(io.get_executor(), cfg, engine, log);
    } catch (const std::exception& ex) {
        log.error("daemon.start_failed", {{"error", ex.what()}});
        return 1;
    }
    // A datagram per step at most once a second: enough to keep the deadline ahead of the work.
    std::optional<std::chrono::steady_clock::time_point> extended_at;
    engine.on_recovery_progress([&](std::string_view step, std::size_t done) {
        auto now = std::chrono::steady_clock::now();
        if (extended_at && now - *extended_at < std::chrono::seconds(1)) return;
        extended_at = now;
        notify.extend_timeout(recovery_extension);
        log.debug("recovery.progress", {{"step", step},
                                        {"jobs_read", done},
                                        {"extend_timeout_s", recovery_extension.count()}});
    });
    config::config running = cfg;
    int exit_code = 0;
    bool ready = false;
    unsigned stop_signals = 0;

    auto publish_status = [&] {
        auto c = engine.counts();
        ops::status_counts s;
        s.queued = c.queued;
        s.active = c.active;
        s.running = c.running;
        s.done = c.done;
        s.failed = c.failed;
        s.budget_available = c.budget_available;
        s.budget_limit = c.budget_limit;
        s.paused_because = c.paused_because;
        notify.status(ops::format_status(s));
        return s;
    };

    asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
    std::function<void()> wait_signal = [&] {
        signals.async_wait([&](boost::system::error_code ec, int sig) {
            if (ec) return;
            if (sig == SIGHUP) {
                notify.reloading();
                log.notice("config.reloading", {{"config", opt.config}});
                auto r = config::load(opt.config);
                if (auto* err = std::get_if<config::load_error>(&r)) {
                    log.error("config.reload_failed",
                              {{"problem", err->to_string()},
                               {"action", "keeping the running configuration"}});
                } else {
                    auto next = std::get<config::config>(std::move(r));
                    std::map<std::string, secret> nkeys;
                    std::string kwhy;
                    if (!load_keys(next, nkeys, kwhy)) {
                        log.error(
                            "config.reload_failed",
                            {{"problem", kwhy}, {"action", "keeping the running configuration"}});
                    } else {
                        auto restart = engine.reload(next, std::move(nkeys));
                        std::string list;
                        for (const auto& k : restart) list += (list.empty() ? "" : ",") + k;
                        log.notice("config.reloaded",
                                   {{"needs_restart", list.empty() ? "none" : list}});
                        running = next;
                    }
                }
                publish_status();
                notify.ready();
            } else {
                ++stop_signals;
                if (stop_signals == 1) {
                    notify.stopping();
                    log.notice("daemon.signal",
                               {{"signal", strsignal(sig)}, {"action", "graceful stop"}});
                    engine.stop();
                } else {
                    log.warning("daemon.signal",
                                {{"signal", strsignal(sig)}, {"action", "forced stop"}});
                    engine.force_stop();
                }
            }
            wait_signal();
        });
    };
    wait_signal();

    // Watchdog and STATUS= from the event loop itself, so a hung loop is noticed by systemd.
    asio::steady_timer heartbeat(io);
    auto period = std::chrono::milliseconds(1000);
    if (auto w = notify.watchdog_interval())
        period = std::min(period, std::chrono::duration_cast<std::chrono::milliseconds>(*w));
    std::size_t beats = 0;
    std::function<void()> beat = [&] {
        heartbeat.expires_after(period);
        heartbeat.async_wait([&](boost::system::error_code ec) {
            if (ec) return;
            notify.watchdog();
            auto s = publish_status();
            if (ready && ++beats % 30 == 0)
                log.info("daemon.status", {{"status", ops::format_status(s)}});
            beat();
        });
    };
    beat();

    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto ec = co_await engine.async_run([&] {
                ready = true;
                publish_status();
                notify.ready();
                log.notice("daemon.ready", {{"status", ops::format_status(publish_status())}});
            });
            if (ec) exit_code = 1;
            signals.cancel();
            heartbeat.cancel();
            if (status_server) status_server->stop();
        },
        [&](std::exception_ptr e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    log.error("daemon.crashed", {{"what", ex.what()}});
                }
                exit_code = 1;
                io.stop();
            }
        });
    io.run();
    log.notice("daemon.stopped", {{"exit", exit_code}});
    return exit_code;
}

}  // namespace briefd::verbs
