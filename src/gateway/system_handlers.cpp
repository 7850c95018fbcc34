// GET /healthz, GET /metrics; the demo page, its script and the OpenAPI document.
#include "gateway/api.hpp"
#include "gateway/web_assets.hpp"

namespace flashgate::gateway {

namespace {

Response asset_response(std::string_view path) {
  for (const auto& asset : web_assets()) {
    if (asset.path != path) continue;
    Response r;
    r.content_type = asset.content_type;
    r.body = std::string(asset.body);
    r.headers.emplace_back("Cache-Control", "no-cache");
    return r;
  }
  return error_response(domain::ErrorCode::not_found, "no such resource");
}

}  // namespace

void add_api_routes(Router& router, ApiContext& api) {
  add_sale_routes(router, api);
  add_order_routes(router, api);
  add_stream_routes(router, api);
  add_payment_routes(router, api);
  add_archive_routes(router, api);
  add_system_routes(router, api);
  add_web_routes(router);
}

void add_system_routes(Router& router, ApiContext& api) {
  router.add("GET", "/healthz",
             [](const ExchangePtr& ex) { ex->respond(json_response(200, R"({"status":"ok"})")); });
  router.add("GET", "/metrics", [&api](const ExchangePtr& ex) {
    Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = api.metrics.render();
    ex->respond(std::move(r));
  });
}

void add_web_routes(Router& router) {
  router.add("GET", "/", [](const ExchangePtr& ex) { ex->respond(asset_response("/index.html")); });
  router.add("GET", "/openapi.yaml", [](const ExchangePtr& ex) { ex->respond(asset_response("/openapi.yaml")); });
  router.add("GET", "/flashgate-client.js",
             [](const ExchangePtr& ex) { ex->respond(asset_response("/flashgate-client.js")); });
}

}  // namespace flashgate::gateway
