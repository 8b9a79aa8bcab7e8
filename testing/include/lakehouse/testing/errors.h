#pragma once
// Tests only (GoogleTest): the ErrorCode a call fails with.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "lakehouse/shared/error.h"

namespace lakehouse::testing {

//! Runs `fn` and returns the code of the lakehouse::Error it throws (its message into `message`
//! when given); a test failure when it throws none.
inline ErrorCode CodeOf(const std::function<void()>& fn, std::string* message = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    if (message != nullptr) *message = e.what();
    return e.code();
  }
  ADD_FAILURE() << "expected a lakehouse::Error";
  return ErrorCode::kInternal;
}

}  // namespace lakehouse::testing
