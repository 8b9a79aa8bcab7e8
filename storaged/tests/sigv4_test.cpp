// SigV4 presigned URLs against the AWS documentation's example ("Authenticating Requests: Using
// Query Parameters", Amazon S3 API Reference): GET examplebucket/test.txt, 24 May 2013, 86400 s.
#include <gtest/gtest.h>

#include "lakehouse/shared/error.h"
#include "lakehouse/storaged/sigv4.h"

namespace lakehouse::storaged {
namespace {

constexpr int64_t k20130524 = 1369353600;  // 2013-05-24T00:00:00Z

TEST(SigV4Test, AwsDocumentationPresignedGetExample) {
  PresignV4Request req;
  req.method = "GET";
  req.scheme = "https";
  req.host = "examplebucket.s3.amazonaws.com";
  req.canonical_uri = "/test.txt";
  req.timestamp = k20130524;
  req.expires_seconds = 86400;
  SigV4Credentials creds{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3"};
  PresignedV4 out = PresignV4(req, creds);

  EXPECT_EQ(out.canonical_request,
            "GET\n"
            "/test.txt\n"
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_"
            "request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "\n"
            "host\n"
            "UNSIGNED-PAYLOAD");
  EXPECT_EQ(out.string_to_sign,
            "AWS4-HMAC-SHA256\n"
            "20130524T000000Z\n"
            "20130524/us-east-1/s3/aws4_request\n"
            "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04");
  EXPECT_EQ(out.signature, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
  EXPECT_EQ(out.url,
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
            "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-"
            "Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature="
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");

  // Any change to what is signed changes the signature.
  req.method = "PUT";
  EXPECT_NE(PresignV4(req, creds).signature, out.signature);
  req.method = "GET";
  creds.secret_key.back() = 'X';
  EXPECT_NE(PresignV4(req, creds).signature, out.signature);
}

TEST(SigV4Test, ExpiryLimits) {
  PresignV4Request req;
  req.host = "h";
  req.canonical_uri = "/b/k";
  req.timestamp = k20130524;
  SigV4Credentials creds{"a", "s"};
  for (int64_t bad : {int64_t{0}, int64_t{-1}, int64_t{604801}}) {
    req.expires_seconds = bad;
    EXPECT_THROW(PresignV4(req, creds), Error) << bad;
  }
  req.expires_seconds = 604800;
  EXPECT_NO_THROW(PresignV4(req, creds));
}

TEST(SigV4Test, HelpersMatchKnownValues) {
  EXPECT_EQ(UriEncode("a b/c+d~e_f.g-h*", false), "a%20b/c%2Bd~e_f.g-h%2A");
  EXPECT_EQ(UriEncode("a/b", true), "a%2Fb");
  EXPECT_EQ(UriEncode("\xc3\xbc", false), "%C3%BC");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // RFC 4231 test case 2.
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(AmzDate(k20130524), "20130524T000000Z");
}

}  // namespace
}  // namespace lakehouse::storaged
