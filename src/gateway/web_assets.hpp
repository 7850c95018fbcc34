#pragma once
// The files of web/, embedded at build time (cmake/embed_web.cmake).
#include <span>
#include <string_view>

namespace flashgate::gateway {

struct WebAsset {
  std::string_view path;  // "/index.html"
  std::string_view content_type;
  std::string_view body;
};

std::span<const WebAsset> web_assets();

}  // namespace flashgate::gateway
