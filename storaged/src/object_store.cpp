// The backend-independent parts of ObjectStore: key rules and the conveniences.
#include "lakehouse/storaged/object_store.h"

#include "lakehouse/shared/error.h"

namespace lakehouse::storaged {

std::string_view PresignMethodName(PresignMethod method) { return method == PresignMethod::kGet ? "GET" : "PUT"; }

void ValidateKey(std::string_view key) {
  LH_USER_CHECK(!key.empty(), "object key is empty");
  LH_USER_CHECK(key.size() <= 1024, "object key is {} bytes long; the limit is 1024", key.size());
  LH_USER_CHECK(key.find('\0') == std::string_view::npos, "object key contains a NUL byte");
  // Control characters cannot appear in S3's XML listings and make keys unreadable in logs.
  for (char c : key) {
    LH_USER_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f,
                  "object key contains the control character 0x{:02x}; use printable characters", static_cast<int>(c));
  }
  LH_USER_CHECK(key.front() != '/', "object key '{}' starts with '/'; keys are relative, e.g. 'a/b.parquet'", key);
  LH_USER_CHECK(key.back() != '/', "object key '{}' ends with '/'; a key names an object, not a folder", key);
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    std::string_view segment = key.substr(start, end - start);
    LH_USER_CHECK(!segment.empty(), "object key '{}' has an empty segment ('//')", key);
    LH_USER_CHECK(segment != "." && segment != "..", "object key '{}' has a '{}' segment; keys cannot navigate", key,
                  segment);
    start = end + 1;
  }
}

ObjectInfo ObjectStore::PutBytes(std::string_view key, std::string_view data) {
  StringSource source(data);
  return Put(key, source);
}

std::string ObjectStore::GetBytes(std::string_view key) {
  std::string out;
  Get(key, [&out](std::string_view chunk) {
    out.append(chunk);
    return true;
  });
  return out;
}

std::vector<ObjectInfo> ObjectStore::ListAll(std::string_view prefix) {
  std::vector<ObjectInfo> all;
  std::string token;
  do {
    ListPage page = List(prefix, token, 1000);
    for (auto& info : page.objects) all.push_back(std::move(info));
    token = std::move(page.next_token);
  } while (!token.empty());
  return all;
}

}  // namespace lakehouse::storaged
