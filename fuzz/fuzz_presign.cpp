// Presigned URL parsing: method, path and query of a request to /api/v1/objects/..., parsed by
// the gateway (gateway/src/presign.cpp) and verified against a local store's grant. Input lines:
// method, path, query.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "lakehouse/shared/error.h"
#include "lakehouse/storaged/object_store.h"
#include "presign.h"

using namespace lakehouse;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string root = [] {
    auto dir = std::filesystem::temp_directory_path() / ("lh-fuzz-presign-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir.string();
  }();
  static const auto store = storaged::MakeLocalStore({root, "fuzz-secret"});
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view parts[3];
  for (auto& part : parts) {
    const size_t nl = input.find('\n');
    part = input.substr(0, nl);
    input = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
  }
  try {
    (void)gateway::VerifyPresignedRequest(*store, parts[0], parts[1], parts[2]);
  } catch (const Error&) {
  }
  // A URL the gateway itself made must verify (so the fuzzer also explores the accepting paths).
  if (!parts[1].empty() && parts[1].size() < 200) {
    try {
      const std::string url = gateway::PresignUrl(*store, "http://127.0.0.1:8080", storaged::PresignMethod::kGet,
                                                  std::string(parts[1]), 60);
      const size_t path_at = url.find("/api/v1/objects/");
      const size_t q = url.find('?');
      if (path_at != std::string::npos && q != std::string::npos) {
        // The key as the server sees it: the path percent-decoded.
        std::string path;
        const std::string raw = url.substr(path_at, q - path_at);
        for (size_t i = 0; i < raw.size(); ++i) {
          if (raw[i] == '%' && i + 2 < raw.size()) {
            path.push_back(static_cast<char>(std::stoi(raw.substr(i + 1, 2), nullptr, 16)));
            i += 2;
          } else {
            path.push_back(raw[i]);
          }
        }
        if (gateway::VerifyPresignedRequest(*store, "GET", path, url.substr(q + 1)) != path.substr(16))
          __builtin_trap();
      }
    } catch (const Error&) {
    }
  }
  return 0;
}
