// Presigned URL parsing: method, path and query of a request to /api/v1/objects/..., verified
// against a local store's key. Input lines: method, path, query.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "lakehouse/shared/error.h"
#include "lakehouse/storaged/object_store.h"

using namespace lakehouse;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string root = [] {
    auto dir = std::filesystem::temp_directory_path() / ("lh-fuzz-presign-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir.string();
  }();
  static const auto store = storaged::MakeLocalStore({root, "fuzz-secret", "http://127.0.0.1:8080"});
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view parts[3];
  for (auto& part : parts) {
    const size_t nl = input.find('\n');
    part = input.substr(0, nl);
    input = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
  }
  try {
    (void)storaged::VerifyLocalPresigned(*store, parts[0], parts[1], parts[2]);
  } catch (const Error&) {
  }
  // A URL the store itself made must verify (so the fuzzer also explores the accepting paths).
  if (!parts[1].empty() && parts[1].size() < 200) {
    try {
      const std::string url = store->Presign(storaged::PresignMethod::kGet, std::string(parts[1]), 60);
      const size_t path_at = url.find("/api/v1/objects/");
      const size_t q = url.find('?');
      if (path_at != std::string::npos && q != std::string::npos) {
        (void)storaged::VerifyLocalPresigned(*store, "GET", url.substr(path_at, q - path_at), url.substr(q + 1));
      }
    } catch (const Error&) {
    }
  }
  return 0;
}
