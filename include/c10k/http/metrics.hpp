// metrics: serving a server's metrics to Prometheus.
#pragma once

#include "c10k/http/response.hpp"
#include "c10k/http/server.hpp"

namespace c10k::http {

// The content type of the Prometheus text format that server::metrics_text() writes.
inline constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

// A 200 response with s.metrics_text() in the Prometheus text format, for a /metrics route.
// (The route is made before the server, which takes the router: capture a pointer that is set
// once the server exists, as examples/http_server.cpp does.)
response metrics_response(const server& s);

}  // namespace c10k::http
