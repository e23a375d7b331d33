#include "ui/ui_assets.h"

namespace drone::ui {
namespace generated {
extern const UiAsset kAssets[];  // cmake/BuildUi.cmake; ends with a null entry
extern const size_t kAssetCount;
}  // namespace generated

const UiAsset* FindUiAsset(std::string_view path) {
  for (size_t i = 0; i < generated::kAssetCount; ++i) {
    if (path == generated::kAssets[i].path) return &generated::kAssets[i];
  }
  return nullptr;
}

const char* ContentTypeFor(std::string_view path) {
  auto ends = [path](std::string_view suffix) {
    return path.size() >= suffix.size() && path.substr(path.size() - suffix.size()) == suffix;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".json") || ends(".map")) return "application/json";
  return "application/octet-stream";
}

}  // namespace drone::ui
