// GET /healthz, GET /metrics; the demo page, its script and the OpenAPI document.
#include "gateway/handlers.hpp"
#include "gateway/web_assets.hpp"

namespace flashgate::gateway {

void Health::operator()(const ExchangePtr& ex) const { ex->respond(json_response(200, R"({"status":"ok"})")); }

void MetricsPage::operator()(const ExchangePtr& ex) const {
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics.render();
  ex->respond(std::move(r));
}

void AssetPage::operator()(const ExchangePtr& ex) const {
  for (const auto& asset : web_assets()) {
    if (asset.path != path) continue;
    Response r;
    r.content_type = asset.content_type;
    r.body = std::string(asset.body);
    r.headers.emplace_back("Cache-Control", "no-cache");
    return ex->respond(std::move(r));
  }
  ex->respond(error_response(domain::ErrorCode::not_found, "no such resource"));
}

}  // namespace flashgate::gateway
