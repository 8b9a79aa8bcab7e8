#include "consistency.h"

#include <algorithm>
#include <mutex>
#include <vector>

namespace lakehouse::rpc::detail {
namespace {

constexpr size_t kMaxHorizon = 4096;

struct State {
  std::mutex mu;
  std::map<std::string, std::pair<uint64_t, uint64_t>> horizon;  // dataset -> (version, tick)
  uint64_t tick = 0;
  std::vector<CatchUp*> clients;
};

State& Global() {
  static State* state = new State();  // never destroyed: clients may outlive static destruction
  return *state;
}

}  // namespace

void NoteCommitted(const std::string& dataset, uint64_t version) {
  State& s = Global();
  std::lock_guard lock(s.mu);
  auto& entry = s.horizon[dataset];
  entry.first = std::max(entry.first, version);
  entry.second = ++s.tick;
  if (s.horizon.size() > kMaxHorizon) {
    auto oldest = std::min_element(s.horizon.begin(), s.horizon.end(),
                                   [](const auto& a, const auto& b) { return a.second.second < b.second.second; });
    s.horizon.erase(oldest);
  }
}

std::map<std::string, uint64_t> CommittedHorizon() {
  State& s = Global();
  std::lock_guard lock(s.mu);
  std::map<std::string, uint64_t> out;
  for (const auto& [dataset, entry] : s.horizon) out.emplace(dataset, entry.first);
  return out;
}

void RegisterCatchUp(CatchUp* client) {
  State& s = Global();
  std::lock_guard lock(s.mu);
  s.clients.push_back(client);
}

void UnregisterCatchUp(CatchUp* client) {
  State& s = Global();
  std::lock_guard lock(s.mu);
  std::erase(s.clients, client);
}

void EnsureSeen(const std::map<std::string, uint64_t>& versions) {
  if (versions.empty()) return;
  State& s = Global();
  // Clients unregister in their destructors, which wait for this lock: hold it while calling them.
  std::lock_guard lock(s.mu);
  for (CatchUp* client : s.clients) {
    for (const auto& [dataset, version] : versions) client->EnsureSeen(dataset, version);
  }
}

}  // namespace lakehouse::rpc::detail
