#include "pipeline/state_writer.hpp"

#include "store/spare_inodes.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace briefd::pipeline {

namespace asio = boost::asio;
namespace fs = std::filesystem;

state_writer::state_writer(asio::any_io_executor loop, fs::path dir, unsigned fsync_threads,
                           mode_t mode, spare_policy spares)
    : loop_(std::move(loop)),
      dir_(std::move(dir)),
      fsync_threads_(fsync_threads),
      mode_(mode),
      policy_(spares),
      deadline_(loop_) {
    worker_ = std::thread([this] { work(); });
}

state_writer::~state_writer() {
    deadline_.cancel();
    flush_all();  // a clean stop loses nothing deferred either
    {
        std::lock_guard lk(mu_);
        quit_ = true;
    }
    cv_.notify_one();
    worker_.join();
    *alive_ = false;  // results the worker posted after this are dropped
}

std::uint64_t state_writer::queue(const std::string& name, snapshot s) {
    s.seq = ++next_seq_;
    deferred_.erase(name);  // superseded (or being queued now)
    latest_[name] = s.seq;
    const auto seq = s.seq;
    bool replaced = false;
    {
        std::lock_guard lk(mu_);
        auto [it, fresh] = queued_.try_emplace(name);
        replaced = !fresh;
        it->second = std::move(s);
    }
    if (replaced) ++coalesced_;
    cv_.notify_one();
    return seq;
}

std::uint64_t state_writer::write(const std::string& name, std::string data) {
    return queue(name, snapshot{0, false, std::move(data)});
}

std::uint64_t state_writer::remove(const std::string& name) {
    if (deferred_.erase(name) > 0) ++dropped_;  // never written: the file goes anyway
    return queue(name, snapshot{0, true, {}});
}

std::uint64_t state_writer::defer(const std::string& name, std::string data,
                                  std::chrono::steady_clock::duration within) {
    using clock = std::chrono::steady_clock;
    // A snapshot of the name still waits in the queue, so the disk holds an older one still: this
    // one takes its place in the queue. Deferring it would leave the disk further behind than
    // the caller was promised at the earlier write() — e.g. an item's run id, queued after its
    // intent, must not be lost in favour of a finished state that is never written (a crash
    // would then find the item `submitting` and send it again). It costs no extra write.
    {
        bool queued = false;
        {
            std::lock_guard lk(mu_);
            queued = queued_.count(name) > 0;
        }
        if (queued) return queue(name, snapshot{0, false, std::move(data)});
    }
    const auto seq = ++next_seq_;
    const bool until_asked = within == clock::duration::max();
    latest_[name] = seq;
    const auto now = clock::now();
    const auto due = until_asked || within >= clock::time_point::max() - now
                         ? clock::time_point::max()
                         : now + within;
    auto [it, fresh] = deferred_.try_emplace(name);
    if (!fresh) ++coalesced_;
    it->second = deferred_snapshot{snapshot{seq, false, std::move(data)}, due};
    if (due != clock::time_point::max()) {
        due_.push(due_entry{due, seq, name});
        arm_deadline();
    }
    return seq;
}

void state_writer::flush(const std::string& name) {
    auto it = deferred_.find(name);
    if (it == deferred_.end()) return;
    // `name` may be the very key erased below (flush_all passes it): keep a copy.
    std::string key = it->first;
    auto s = std::move(it->second.s);
    deferred_.erase(it);
    queue(key, std::move(s));  // numbered anew: durable_all() counts on queue order
}

void state_writer::flush_all() {
    while (!deferred_.empty()) flush(deferred_.begin()->first);
}

bool state_writer::due_is_current(const due_entry& e) const {
    const auto it = deferred_.find(e.name);
    return it != deferred_.end() && it->second.s.seq == e.seq;
}

void state_writer::arm_deadline() {
    while (!due_.empty() && !due_is_current(due_.top())) due_.pop();
    if (due_.empty()) return;
    const auto first = due_.top().due;
    // Already armed at or before `first`: nothing to do.
    if (deadline_.expiry() > std::chrono::steady_clock::now() && deadline_.expiry() <= first)
        return;
    deadline_.expires_at(first);
    deadline_.async_wait([this, alive = alive_](boost::system::error_code ec) {
        if (!ec && *alive) flush_due();
    });
}

void state_writer::flush_due() {
    const auto now = std::chrono::steady_clock::now();
    while (!due_.empty() && due_.top().due <= now) {
        const bool current = due_is_current(due_.top());
        const std::string name = due_.top().name;
        due_.pop();
        if (current) flush(name);
    }
    arm_deadline();
}

void state_writer::hold(bool on) {
    {
        std::lock_guard lk(mu_);
        held_ = on;
    }
    cv_.notify_one();
}

std::size_t state_writer::backlog() const {
    std::lock_guard lk(mu_);
    return queued_.size();
}

void state_writer::work() {
    // The worker's own: only this thread touches the spares.
    store::spare_pool pool(dir_, policy_.cap);
    (void)pool.open();  // adopts what a killed process left, if `dir` exists yet
    spares_ = pool.size();
    for (;;) {
        std::map<std::string, snapshot, std::less<>> group;
        bool idle = false;
        {
            std::unique_lock lk(mu_);
            auto ready = [&] { return quit_ || (!held_ && !queued_.empty()); };
            if (pool.size() > policy_.idle_keep)
                idle = !cv_.wait_for(lk, policy_.idle, ready);
            else
                cv_.wait(lk, ready);
            if (!idle) {
                if (queued_.empty()) break;  // quit_, and nothing left to write
                group.swap(queued_);
            }
        }
        if (idle) {  // a quiet daemon gives its inodes back
            std::error_code ec;
            pool.trim(policy_.idle_keep, ec);
            spares_ = pool.size();
            continue;
        }
        std::vector<store::file_change> changes;
        std::vector<outcome> results;
        for (auto& [name, s] : group) {
            results.push_back({name, s.seq, {}});
            changes.push_back({name, std::move(s.data), s.remove, mode_});
        }
        // One fsync of the directory for the whole group, removals included.
        auto rs = pool.commit(changes, fsync_threads_);
        for (std::size_t k = 0; k < rs.size(); ++k) results[k].ec = rs[k];
        spares_ = pool.size();
        // Once the owner is being destroyed (quit_) nobody waits for results, and the loop may
        // be going away with it: nothing more is posted.
        std::lock_guard lk(mu_);
        if (quit_) continue;
        asio::post(loop_, [this, alive = alive_, results = std::move(results)]() mutable {
            if (*alive) finish_group(std::move(results));
        });
    }
    // A clean stop: every spare given back, so a stopped writer leaves only its files.
    std::error_code ec;
    pool.trim(0, ec);
    spares_ = 0;
}

void state_writer::finish_group(std::vector<outcome> results) {
    ++groups_;
    written_ += results.size();
    std::uint64_t top = 0;
    std::error_code first_error;
    for (auto& r : results) {
        if (r.ec && !first_error) first_error = r.ec;
        top = std::max(top, r.seq);
        settled_[r.name] = r.seq;
        if (r.ec)
            failed_[r.name] = r.ec;
        else
            failed_.erase(r.name);
        if (on_result_) on_result_(r.name, r.seq, r.ec);
        // Complete the waiters this snapshot covers (those of older snapshots too).
        auto [b, e] = waiters_.equal_range(r.name);
        for (auto it = b; it != e;) {
            if (it->second.seq > r.seq) {
                ++it;
                continue;
            }
            auto h = std::move(it->second.done);
            it = waiters_.erase(it);
            asio::post(loop_, [h = std::move(h), ec = r.ec]() mutable { std::move(h)(ec); });
        }
        // Nothing newer queued and nobody waiting: forget the name, so memory stays flat.
        if (auto l = latest_.find(r.name);
            l != latest_.end() && l->second == r.seq && !r.ec && waiters_.count(r.name) == 0) {
            latest_.erase(r.name);
            settled_.erase(r.name);
        }
    }
    // Everything queued up to the newest seq of this group was taken with it (the worker takes
    // the whole queue), or coalesced into something that was.
    attempted_seq_ = std::max(attempted_seq_, top);
    for (auto it = all_waiters_.begin(); it != all_waiters_.end();) {
        if (!it->ec) it->ec = first_error;
        if (it->seq > attempted_seq_) {
            ++it;
            continue;
        }
        auto h = std::move(it->done);
        auto ec = it->ec;
        it = all_waiters_.erase(it);
        asio::post(loop_, [h = std::move(h), ec]() mutable { std::move(h)(ec); });
    }
}

asio::awaitable<std::error_code> state_writer::durable(std::string name) {
    flush(name);
    auto l = latest_.find(name);
    if (l == latest_.end()) {
        auto f = failed_.find(name);
        co_return f == failed_.end() ? std::error_code{} : f->second;
    }
    const auto want = l->second;
    if (auto s = settled_.find(name); s != settled_.end() && s->second >= want) {
        auto f = failed_.find(name);
        co_return f == failed_.end() ? std::error_code{} : f->second;
    }
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::error_code)>(
        [this, &name, want](auto handler) {
            waiters_.emplace(name, waiter{want, std::move(handler)});
        },
        asio::use_awaitable);
}

asio::awaitable<std::error_code> state_writer::durable_all() {
    flush_all();
    const auto want = next_seq_;
    if (attempted_seq_ >= want) co_return std::error_code{};
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::error_code)>(
        [this, want](auto handler) {
            all_waiters_.push_back({want, {}, std::move(handler)});
        },
        asio::use_awaitable);
}

}  // namespace briefd::pipeline
