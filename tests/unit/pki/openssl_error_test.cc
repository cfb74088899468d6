#include "pki/openssl_error.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <openssl/err.h>
#include <openssl/pem.h>

#include "tests/support/status_matchers.h"

namespace mandant::pki {
namespace {

using ::mandant::testing::StatusIs;

TEST(OpenSslErrorTest, DrainsTheQueueIntoTheMessage) {
  ClearOpenSslErrors();
  BIO* bio = BIO_new_mem_buf("not pem", -1);
  EXPECT_EQ(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr), nullptr);
  BIO_free(bio);
  absl::Status s = OpenSslError(absl::StatusCode::kInvalidArgument, "reading the certificate");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          "reading the certificate: no start line (PEM routines)"));
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(OpenSslErrorTest, EmptyQueueGivesTheOperationAlone) {
  ClearOpenSslErrors();
  EXPECT_EQ(OpenSslError("signing failed"), absl::InternalError("signing failed"));
}

TEST(OpenSslErrorTest, JoinsSeveralErrors) {
  ClearOpenSslErrors();
  ERR_raise(ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH);
  ERR_raise_data(ERR_LIB_PEM, PEM_R_NO_START_LINE, "detail %d", 7);
  EXPECT_THAT(OpenSslError("op"),
              StatusIs(absl::StatusCode::kInternal,
                       "op: key values mismatch (x509 certificate routines); no start line "
                       "(PEM routines) [detail 7]"));
}

}  // namespace
}  // namespace mandant::pki
