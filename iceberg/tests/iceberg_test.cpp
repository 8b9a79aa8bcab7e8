#include <gtest/gtest.h>

#include "lakehouse/iceberg/iceberg.h"

namespace lakehouse::iceberg {
namespace {

TEST(IcebergTypes, MapsDuckDbTypes) {
  EXPECT_EQ(IcebergType("BIGINT"), "long");
  EXPECT_EQ(IcebergType("INTEGER"), "int");
  EXPECT_EQ(IcebergType("VARCHAR"), "string");
  EXPECT_EQ(IcebergType("DECIMAL(18,3)"), "decimal(18, 3)");
  EXPECT_EQ(IcebergType("TIMESTAMP WITH TIME ZONE"), "timestamptz");
  EXPECT_EQ(IcebergType("HUGEINT"), "");
  EXPECT_EQ(IcebergType("INTEGER[]"), "");
  EXPECT_EQ(IcebergType("INTERVAL"), "");
}

TEST(IcebergTypes, SingleValueSerialisation) {
  EXPECT_EQ(SingleValue("int", "1"), std::string("\x01\x00\x00\x00", 4));
  EXPECT_EQ(SingleValue("long", "-1"), std::string(8, '\xff'));
  EXPECT_EQ(SingleValue("date", "1970-01-02"), std::string("\x01\x00\x00\x00", 4));
  EXPECT_EQ(SingleValue("timestamp", "1970-01-01 00:00:01"), std::string("\x40\x42\x0f\x00\x00\x00\x00\x00", 8));
  EXPECT_EQ(SingleValue("string", "abc"), "abc");
  EXPECT_EQ(SingleValue("boolean", "true"), std::string(1, '\x01'));
  // Decimal: unscaled, big-endian two's complement, fewest bytes.
  EXPECT_EQ(SingleValue("decimal(9, 2)", "1.00"), std::string("\x64", 1));
  EXPECT_EQ(SingleValue("decimal(9, 2)", "-1.28"), std::string("\x80", 1));
  EXPECT_EQ(SingleValue("decimal(9, 2)", "-0.01"), std::string("\xff", 1));
  EXPECT_EQ(SingleValue("long", "x"), std::nullopt);
  EXPECT_EQ(SingleValue("double", "nan"), std::nullopt);
  EXPECT_EQ(SingleValue("uuid", "00000000-0000-0000-0000-000000000000"), std::nullopt);
}

}  // namespace
}  // namespace lakehouse::iceberg
