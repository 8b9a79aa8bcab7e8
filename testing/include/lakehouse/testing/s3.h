#pragma once
// The S3 settings of the throw-away Ceph radosgw that scripts/rgw.sh starts (the ctest fixture
// `rgw`, bench scripts): read from the env file it writes (S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY,
// S3_SECRET_KEY). One reader for every C++ suite and benchmark that talks to it.
#include <optional>
#include <string>

#include "lakehouse/storaged/object_store.h"

namespace lakehouse::testing {

//! The settings in env file `path`; the bucket is the caller's to choose. Throws
//! std::runtime_error naming the file when it cannot be read.
storaged::S3StoreOptions S3OptionsFromEnvFile(const std::string& path);

//! The same from the file LAKEHOUSE_S3_ENV_FILE names; nullopt when the variable is unset or empty.
std::optional<storaged::S3StoreOptions> S3OptionsFromEnv();

//! S3 options for a server that is not there (127.0.0.1:9, bucket not created at start): every
//! request fails to connect. For tests of offline error handling.
storaged::S3StoreOptions OfflineS3Options();

}  // namespace lakehouse::testing
