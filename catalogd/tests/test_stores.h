#pragma once
// Real object stores for tests: a fresh local directory, or a fresh bucket on the radosgw that the
// ctest fixture `rgw` started (its endpoint and keys are in the file named by LAKEHOUSE_S3_ENV_FILE).
#include <memory>
#include <string>

#include "lakehouse/storaged/object_store.h"

namespace lakehouse::testing {

struct TestStore {
  std::unique_ptr<storaged::ObjectStore> store;
  std::string root;             //!< local directory (local backend) - removed by the destructor
  storaged::S3StoreOptions s3;  //!< S3 options (s3 backend), to open a second client on the same bucket
  ~TestStore();
  //! Another client over the same objects (a second "process").
  std::unique_ptr<storaged::ObjectStore> Reopen() const;
};

//! "local" or "s3". For "s3" without LAKEHOUSE_S3_ENV_FILE the caller should GTEST_SKIP (S3Available()).
std::unique_ptr<TestStore> MakeTestStore(const std::string& kind);
bool S3Available();
//! A fresh empty directory under the system temp dir.
std::string MakeTempDir(const std::string& tag);

}  // namespace lakehouse::testing
