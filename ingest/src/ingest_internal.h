#pragma once
// Helpers of the ingest library shared between its source files and tests.
#include <string_view>

#include "lakehouse/ingest/ingest.h"

namespace lakehouse::ingest {

//! The format of a body from its first bytes: "PAR1" -> Parquet, '{' or '[' -> JSON, text -> CSV.
//! Throws Error(kInvalidArgument) for binary bytes that are none of them.
Format SniffFormat(std::string_view head);
//! The most frequent of ',', '\t', ';', '|' outside quotes in the first line (',' when none).
char SniffCsvDelimiter(std::string_view head);

}  // namespace lakehouse::ingest
