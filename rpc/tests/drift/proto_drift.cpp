// proto_drift: fails when a proto service and the C++ interface it mirrors drift apart.
//   proto_drift <descriptors> <full service name> <header> <class> [Virtual=Rpc ...]
// Every virtual member function of <class> in <header> (destructor aside) must be an RPC of the
// service with the same name, or the one the Virtual=Rpc mapping names (deliberate differences,
// e.g. AddListener=WatchCommits); every RPC must be such a method. <descriptors> is "generated"
// (the descriptor pool compiled into lakehouse_proto: what the build generated from proto/) or a
// FileDescriptorSet written by `protoc --include_imports --descriptor_set_out`. The header is read
// with a small scanner of `virtual ... Name(`.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace {

//! The body of `class <name>` (from its opening brace to the matching closing one).
std::string ClassBody(const std::string& text, const std::string& name) {
  const std::regex head("class\\s+" + name + "\\s*(final\\s*)?(:[^{]*)?\\{");
  std::smatch m;
  if (!std::regex_search(text, m, head)) return {};
  size_t pos = static_cast<size_t>(m.position(0) + m.length(0));
  int depth = 1;
  const size_t start = pos;
  for (; pos < text.size() && depth > 0; ++pos) {
    if (text[pos] == '{') ++depth;
    if (text[pos] == '}') --depth;
  }
  return text.substr(start, pos - start);
}

std::string StripComments(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "//") == 0) {
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (text.compare(i, 2, "/*") == 0) {
      i = text.find("*/", i);
      if (i == std::string::npos) break;
      ++i;
      continue;
    }
    if (i < text.size()) out += text[i];
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: proto_drift <generated|descriptor set> <service> <header> <class> [Virtual=Rpc ...]\n";
    return 2;
  }
  const std::string descriptors = argv[1], service_name = argv[2], header = argv[3], cls = argv[4];
  std::map<std::string, std::string> mapping;
  for (int i = 5; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    if (eq == std::string::npos) {
      std::cerr << "bad mapping " << arg << " (want Virtual=Rpc)\n";
      return 2;
    }
    mapping[arg.substr(0, eq)] = arg.substr(eq + 1);
  }

  google::protobuf::DescriptorPool file_pool;
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
  if (descriptors != "generated") {
    std::ifstream set_in(descriptors, std::ios::binary);
    google::protobuf::FileDescriptorSet set;
    if (!set_in || !set.ParseFromIstream(&set_in)) {
      std::cerr << "cannot read the descriptor set " << descriptors << "\n";
      return 2;
    }
    for (const auto& file : set.file()) {
      if (file_pool.BuildFile(file) == nullptr) {
        std::cerr << "bad descriptor " << file.name() << "\n";
        return 2;
      }
    }
    pool = &file_pool;
  }
  const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(service_name);
  if (service == nullptr) {
    std::cerr << "no service " << service_name << " in " << descriptors << "\n";
    return 1;
  }
  const std::string proto = service->file()->name();
  std::set<std::string> rpcs;
  for (int i = 0; i < service->method_count(); ++i) rpcs.insert(service->method(i)->name());

  std::ifstream in(header);
  if (!in) {
    std::cerr << "cannot read " << header << "\n";
    return 2;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string body = StripComments(ClassBody(StripComments(buf.str()), cls));
  if (body.empty()) {
    std::cerr << header << " defines no class " << cls << "\n";
    return 2;
  }
  std::set<std::string> virtuals;
  const std::regex decl("virtual\\s+[^;{(]*?\\b(~?\\w+)\\s*\\(");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), decl); it != std::sregex_iterator(); ++it) {
    const std::string name = (*it)[1];
    if (!name.starts_with("~") && name != cls) virtuals.insert(name);  // the destructor
  }

  int drift = 0;
  std::set<std::string> covered;
  for (const std::string& v : virtuals) {
    auto mapped = mapping.find(v);
    const std::string rpc = mapped == mapping.end() ? v : mapped->second;
    if (!rpcs.contains(rpc)) {
      std::cerr << "drift: " << cls << "::" << v << " (" << header << ") has no rpc " << rpc << " in " << service_name
                << " (" << proto << ")\n";
      ++drift;
    }
    covered.insert(rpc);
  }
  for (const std::string& rpc : rpcs) {
    if (!covered.contains(rpc)) {
      std::cerr << "drift: rpc " << service_name << "." << rpc << " (" << proto << ") has no virtual in " << cls << " ("
                << header << ")\n";
      ++drift;
    }
  }
  if (drift == 0) std::cout << service_name << " matches " << cls << ": " << rpcs.size() << " rpcs\n";
  return drift == 0 ? 0 : 1;
}
