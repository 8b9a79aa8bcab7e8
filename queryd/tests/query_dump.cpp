// queryd_dump FORMAT OUT_FILE SQL: runs SQL through the real engine (local store, real catalog)
// and writes the encoded result. The Node Arrow check uses it to get Arrow and JSON of one query.
#include <fstream>
#include <iostream>

#include "lakehouse/shared/error.h"
#include "query_test_util.h"

int main(int argc, char** argv) {
  using namespace lakehouse::queryd;
  if (argc != 4) {
    std::cerr << "usage: queryd_dump json|ndjson|csv|arrow OUT_FILE SQL\n";
    return 2;
  }
  try {
    auto stack = testing::Stack::Make("local");
    const std::string body = stack->Run(argv[3], ParseResultFormat(argv[1]));
    std::ofstream(argv[2], std::ios::binary) << body;
  } catch (const std::exception& e) {
    std::cerr << "queryd_dump: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
