#pragma once
// Result encoders: JSON, NDJSON, CSV and the Arrow IPC stream, all fed the same Arrow C data
// batches (DuckDB exports each result chunk once; every format reads from there).
#include <memory>
#include <string>
#include <vector>

#include "lakehouse/arrow/arrow_type.h"
#include "lakehouse/queryd/query.h"
#include "output.h"

namespace lakehouse::queryd {

struct ColumnInfo {
  std::string name;
  std::string type;  //!< DuckDB's type name, e.g. "DECIMAL(18,3)"
};

class Encoder {
 public:
  virtual ~Encoder() = default;
  //! `schema` is a struct whose children are the columns.
  virtual void Start(const std::vector<ColumnInfo>& columns, const ArrowSchema& schema) = 0;
  //! `batch` is a struct array whose children are the columns.
  virtual void Batch(const ArrowArray& batch) = 0;
  //! Text formats: appends the rows of `batch` to `out`, apart from the stream (const: batches
  //! may be encoded on several threads at once, then sent in order; pipeline.h). `after_rows`:
  //! rows of the result come before these. False when the format cannot (Arrow).
  virtual bool EncodeRows(const ArrowArray& /*batch*/, bool /*after_rows*/, std::string& /*out*/) const {
    return false;
  }
  virtual void Finish(const QueryStats& stats) = 0;
};

std::unique_ptr<Encoder> MakeEncoder(ResultFormat format, Output& out);

//! Appends one value as JSON (exact decimals and integers beyond 2^53 as strings, dates and
//! timestamps as ISO 8601 text, binary as base64, lists as arrays, structs as objects).
void AppendJsonValue(std::string& out, const arrow::ArrowType& type, const ArrowArray& array, int64_t row);
//! A finite double or float as std::to_chars(first, last, value) writes it (shortest round-trip
//! digits, fixed or scientific); at most 24 chars (float: 15).
char* WriteShortest(char* first, double value);
char* WriteShortest(char* first, float value);
//! Appends one value as plain text (CSV cells before quoting); nulls append nothing.
void AppendTextValue(std::string& out, const arrow::ArrowType& type, const ArrowArray& array, int64_t row);

}  // namespace lakehouse::queryd
