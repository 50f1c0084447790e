// Blocking file work (fsync, rename) run on a thread pool while the calling coroutine waits, so
// the event loop keeps turning. Private to lib/pipeline.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <type_traits>
#include <utility>

namespace briefd::pipeline::detail {

/// Runs `f()` on `pool` and completes, back on the awaiting coroutine's executor, with its result.
/// `f` must not touch anything the loop may change meanwhile (it may read what the awaiting
/// coroutine owns: that frame stays put until this completes). The loop counts the job as
/// outstanding work until it completes. If the pool is destroyed before `f` starts, the
/// coroutine is destroyed without resuming. Pass `f` as a named local moved in, never a lambda
/// written inside the co_await expression: GCC 12 destroys such temporaries twice.
template <class F>
auto off_loop(boost::asio::thread_pool& pool, F f)
    -> boost::asio::awaitable<std::invoke_result_t<F&>> {
    // Not a coroutine itself: the awaitable async_initiate returns owns `f` (GCC 12 mishandles
    // by-value class parameters of coroutine templates).
    namespace asio = boost::asio;
    using result = std::invoke_result_t<F&>;
    return asio::async_initiate<decltype(asio::use_awaitable), void(result)>(
        [p = &pool](auto handler, F fn) {
            auto back = asio::prefer(asio::get_associated_executor(handler),
                                     asio::execution::outstanding_work.tracked);
            asio::post(*p, [h = std::move(handler), fn = std::move(fn), back]() mutable {
                result r = fn();
                asio::post(back, [h = std::move(h), r = std::move(r)]() mutable {
                    std::move(h)(std::move(r));
                });
            });
        },
        asio::use_awaitable, std::move(f));
}

}  // namespace briefd::pipeline::detail
