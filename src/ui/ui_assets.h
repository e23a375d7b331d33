// The built front end (ui/, `npm run build`) compiled into the binary: CMake turns every file of
// the build output into a byte array in a generated source file (cmake/EmbedFiles.cmake), so
// `drone ui` is one file. When the front end was not built, the table holds no files and the
// server answers `/` with a page that says how to build it.
//
// Thread-safety: immutable data.
#pragma once

#include <cstddef>
#include <string_view>

namespace drone::ui {

struct UiAsset {
  const char* path;  // "/index.html", "/assets/app.js"
  const unsigned char* data;
  size_t size;
};

// The asset at `path`, or nullptr.
const UiAsset* FindUiAsset(std::string_view path);

// "text/html; charset=utf-8" etc., by file extension.
const char* ContentTypeFor(std::string_view path);

}  // namespace drone::ui
