// The one translation unit that compiles Asio, Asio's SSL support and Beast. Everything else includes
// their headers only, which keeps rebuilds on a 2-core machine tolerable.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
