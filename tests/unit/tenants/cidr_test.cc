#include "tenants/cidr.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mandant::tenants {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

Cidr C(const std::string& text) {
  absl::StatusOr<Cidr> cidr = Cidr::Parse(text);
  EXPECT_TRUE(cidr.ok()) << text << ": " << cidr.status();
  return *cidr;
}

std::string ParseError(const std::string& text) {
  absl::StatusOr<Cidr> cidr = Cidr::Parse(text);
  if (cidr.ok()) return "parsed as " + cidr->ToString();
  EXPECT_EQ(cidr.status().code(), absl::StatusCode::kInvalidArgument) << text;
  return std::string(cidr.status().message());
}

TEST(CidrParseTest, Ipv4) {
  Cidr c = C("10.64.0.0/24");
  EXPECT_TRUE(c.is_v4());
  EXPECT_EQ(c.prefix_length(), 24);
  EXPECT_EQ(c.max_prefix_length(), 32);
  EXPECT_EQ(c.ToString(), "10.64.0.0/24");
  EXPECT_EQ(C("0.0.0.0/0").ToString(), "0.0.0.0/0");
  EXPECT_EQ(C("255.255.255.255/32").ToString(), "255.255.255.255/32");
  EXPECT_EQ(C("192.168.0.0/16").NetworkAddress(), "192.168.0.0");
}

TEST(CidrParseTest, Ipv6CanonicalOutput) {
  Cidr c = C("fd00::/64");
  EXPECT_FALSE(c.is_v4());
  EXPECT_EQ(c.max_prefix_length(), 128);
  EXPECT_EQ(c.ToString(), "fd00::/64");
  EXPECT_EQ(C("FD00:0000:0000:0007:0000:0000:0000:0000/64").ToString(), "fd00:0:0:7::/64");
  EXPECT_EQ(C("::/0").ToString(), "::/0");
  EXPECT_EQ(C("::1/128").ToString(), "::1/128");
  EXPECT_EQ(C("2001:db8::/32").ToString(), "2001:db8::/32");
  // RFC 5952: the longest zero run is compressed, the first on a tie, and a
  // single zero group is not.
  EXPECT_EQ(C("2001:db8:0:0:1:0:0:1/128").ToString(), "2001:db8::1:0:0:1/128");
  EXPECT_EQ(C("2001:0:0:1:0:0:0:1/128").ToString(), "2001:0:0:1::1/128");
  EXPECT_EQ(C("2001:db8:0:1:1:1:1:1/128").ToString(), "2001:db8:0:1:1:1:1:1/128");
  EXPECT_EQ(C("1:2:3:4:5:6:7::/128").ToString(), "1:2:3:4:5:6:7:0/128");
  EXPECT_EQ(C("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128").ToString(),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
  // An embedded IPv4 address as the last 32 bits.
  EXPECT_EQ(C("::ffff:10.0.0.0/120").ToString(), "::ffff:a00:0/120");
  EXPECT_EQ(C("64:ff9b::192.0.2.0/120").ToString(), "64:ff9b::c000:200/120");
}

TEST(CidrParseTest, RoundTripsThroughToString) {
  for (const char* text : {"10.0.0.0/8", "172.16.5.0/24", "fd00:1:2:3::/64", "::/0", "fe80::/10",
                           "2001:db8::8:800:200c:417a/128"}) {
    Cidr c = C(text);
    EXPECT_EQ(C(c.ToString()), c) << text;
  }
}

TEST(CidrParseTest, HostBitsSetSuggestsTheNetwork) {
  EXPECT_EQ(ParseError("10.64.0.1/24"),
            "10.64.0.1/24 has host bits set; did you mean 10.64.0.0/24?");
  EXPECT_EQ(ParseError("fd00::1/64"), "fd00::1/64 has host bits set; did you mean fd00::/64?");
  EXPECT_EQ(ParseError("10.0.0.1/0"), "10.0.0.1/0 has host bits set; did you mean 0.0.0.0/0?");
}

TEST(CidrParseTest, RejectsMissingOrBadPrefixLength) {
  EXPECT_THAT(ParseError("10.0.0.0"), HasSubstr("missing prefix length"));
  EXPECT_THAT(ParseError("10.0.0.0"), HasSubstr("\"10.0.0.0\""));
  EXPECT_THAT(ParseError("fd00::"), HasSubstr("missing prefix length"));
  EXPECT_THAT(ParseError("10.0.0.0/"), HasSubstr("prefix length \"\""));
  EXPECT_THAT(ParseError("10.0.0.0/33"), HasSubstr("0-32"));
  EXPECT_THAT(ParseError("fd00::/129"), HasSubstr("0-128"));
  EXPECT_THAT(ParseError("10.0.0.0/08"), HasSubstr("without leading zeros"));
  EXPECT_THAT(ParseError("10.0.0.0/+8"), HasSubstr("decimal"));
  EXPECT_THAT(ParseError("10.0.0.0/-1"), HasSubstr("decimal"));
  EXPECT_THAT(ParseError("10.0.0.0/8/8"), HasSubstr("decimal"));
  EXPECT_THAT(ParseError("10.0.0.0/99999999999999999999"), HasSubstr("0-32"));
  EXPECT_THAT(ParseError("/8"), HasSubstr("missing address"));
  EXPECT_THAT(ParseError(""), HasSubstr("empty"));
}

TEST(CidrParseTest, RejectsWhitespace) {
  for (const char* text : {" 10.0.0.0/8", "10.0.0.0/8 ", "10.0.0.0 /8", "10.0.0.0/ 8",
                           "10.0.0.0/8\n", "fd00:: /64", "\t::/0"}) {
    EXPECT_FALSE(Cidr::Parse(text).ok()) << text;
  }
}

TEST(CidrParseTest, RejectsIpv4Quirks) {
  EXPECT_THAT(ParseError("010.0.0.0/8"), HasSubstr("leading zero"));
  EXPECT_THAT(ParseError("10.00.0.0/8"), HasSubstr("leading zero"));
  EXPECT_THAT(ParseError("256.0.0.0/8"), HasSubstr("greater than 255"));
  EXPECT_THAT(ParseError("1000.0.0.0/8"), HasSubstr("greater than 255"));
  EXPECT_THAT(ParseError("10.0.0/24"), HasSubstr("exactly 4"));
  EXPECT_THAT(ParseError("10/8"), HasSubstr("exactly 4"));
  EXPECT_THAT(ParseError("10.0.0.0.0/8"), HasSubstr("exactly 4"));
  EXPECT_THAT(ParseError("10..0.0/8"), HasSubstr("empty octet"));
  EXPECT_THAT(ParseError("10.0.0./8"), HasSubstr("empty octet"));
  EXPECT_THAT(ParseError("0x0a.0.0.0/8"), HasSubstr("unexpected character \"x\""));
  EXPECT_THAT(ParseError("1a.0.0.0/8"), HasSubstr("not a decimal number"));
  EXPECT_THAT(ParseError("167772160/8"), HasSubstr("exactly 4"));
}

TEST(CidrParseTest, RejectsIpv6Quirks) {
  EXPECT_THAT(ParseError("fd00::1::/64"), HasSubstr("only once"));
  EXPECT_THAT(ParseError(":::/64"), HasSubstr("only once"));
  EXPECT_THAT(ParseError("fd00:0:0:0:0:0:0/64"), HasSubstr("8 groups"));
  EXPECT_THAT(ParseError("fd00:0:0:0:0:0:0:0:0/64"), HasSubstr("8 groups"));
  EXPECT_THAT(ParseError("1:2:3:4:5:6:7:8::/128"), HasSubstr("at most 7"));
  EXPECT_THAT(ParseError("fd000::/64"), HasSubstr("more than 4 hex digits"));
  EXPECT_THAT(ParseError("fe80::%eth0/64"), HasSubstr("zone index"));
  EXPECT_THAT(ParseError(":fd00::/64"), HasSubstr("empty group"));
  EXPECT_THAT(ParseError("fd00:/64"), HasSubstr("empty group"));
  EXPECT_THAT(ParseError("fd00::g/64"), HasSubstr("unexpected character \"g\""));
  EXPECT_THAT(ParseError("10.0.0.0::/64"), HasSubstr("last 32 bits"));
  EXPECT_THAT(ParseError("::10.0.0.0:1/128"), HasSubstr("last 32 bits"));
  EXPECT_THAT(ParseError("::ffff:010.0.0.0/128"), HasSubstr("leading zero"));
}

TEST(CidrParseTest, HostileInputIsCutInTheMessage) {
  EXPECT_LT(ParseError(std::string(100000, '1')).size(), 300u);
  EXPECT_LT(ParseError("10.0.0.0/" + std::string(100000, '\xff')).size(), 512u);
  EXPECT_LT(ParseError(std::string(100000, '1') + ".0.0.0/8").size(), 512u);
}

TEST(CidrTest, ContainsAndOverlapsBothWays) {
  Cidr big = C("10.64.0.0/16");
  Cidr small = C("10.64.3.0/24");
  Cidr other = C("10.65.0.0/24");
  EXPECT_TRUE(big.Contains(small));
  EXPECT_FALSE(small.Contains(big));
  EXPECT_TRUE(big.Contains(big));
  EXPECT_TRUE(big.Overlaps(small));
  EXPECT_TRUE(small.Overlaps(big));
  EXPECT_FALSE(big.Contains(other));
  EXPECT_FALSE(big.Overlaps(other));
  EXPECT_FALSE(other.Overlaps(big));
  // Adjacent blocks do not overlap.
  EXPECT_FALSE(C("10.0.0.0/25").Overlaps(C("10.0.0.128/25")));
  EXPECT_TRUE(C("0.0.0.0/0").Contains(C("255.255.255.255/32")));

  Cidr v6 = C("fd00::/48");
  EXPECT_TRUE(v6.Contains(C("fd00:0:0:ff::/64")));
  EXPECT_FALSE(C("fd00:0:0:ff::/64").Contains(v6));
  EXPECT_TRUE(C("fd00:0:0:ff::/64").Overlaps(v6));
  EXPECT_FALSE(v6.Overlaps(C("fd00:0:1::/48")));
  EXPECT_TRUE(C("::/0").Contains(C("ffff::/16")));
}

TEST(CidrTest, FamiliesNeverOverlap) {
  EXPECT_FALSE(C("0.0.0.0/0").Overlaps(C("::/0")));
  EXPECT_FALSE(C("::/0").Contains(C("10.0.0.0/8")));
  // The IPv4-mapped range is an IPv6 prefix, not the IPv4 one.
  EXPECT_FALSE(C("::ffff:0.0.0.0/96").Overlaps(C("10.0.0.0/8")));
}

TEST(CidrTest, FirstHostAddressIsTheGateway) {
  EXPECT_EQ(C("10.64.3.0/24").FirstHostAddress(), "10.64.3.1");
  EXPECT_EQ(C("10.64.3.16/28").FirstHostAddress(), "10.64.3.17");
  EXPECT_EQ(C("10.64.3.255/32").FirstHostAddress(), "10.64.3.255");
  EXPECT_EQ(C("fd00:0:0:7::/64").FirstHostAddress(), "fd00:0:0:7::1");
  EXPECT_EQ(C("fd00::ffff/128").FirstHostAddress(), "fd00::ffff");
}

TEST(CidrTest, SubnetCount) {
  Cidr c = C("10.0.0.0/8");
  EXPECT_EQ(c.SubnetCount(8), 1u);
  EXPECT_EQ(c.SubnetCount(24), 65536u);
  EXPECT_EQ(c.SubnetCount(32), uint64_t{1} << 24);
  EXPECT_EQ(c.SubnetCount(7), 0u);
  EXPECT_EQ(c.SubnetCount(33), 0u);
  Cidr v6 = C("fd00::/8");
  EXPECT_EQ(v6.SubnetCount(64), uint64_t{1} << 56);
  EXPECT_EQ(v6.SubnetCount(70), uint64_t{1} << 62);
  EXPECT_EQ(v6.SubnetCount(128), uint64_t{1} << 62);
  EXPECT_EQ(C("::/0").SubnetCount(128), uint64_t{1} << 62);
}

TEST(CidrTest, Subnet) {
  Cidr c = C("10.64.0.0/16");
  EXPECT_EQ(c.Subnet(24, 0)->ToString(), "10.64.0.0/24");
  EXPECT_EQ(c.Subnet(24, 3)->ToString(), "10.64.3.0/24");
  EXPECT_EQ(c.Subnet(24, 255)->ToString(), "10.64.255.0/24");
  EXPECT_EQ(c.Subnet(16, 0)->ToString(), "10.64.0.0/16");
  EXPECT_EQ(c.Subnet(32, 65535)->ToString(), "10.64.255.255/32");
  EXPECT_EQ(c.Subnet(24, 256).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(c.Subnet(15, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.Subnet(33, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.Subnet(24, 256).status().message()),
              HasSubstr("block 256 of 10.64.0.0/16 does not exist: it has 256 /24 blocks"));

  Cidr v6 = C("fd00::/48");
  EXPECT_EQ(v6.Subnet(64, 7)->ToString(), "fd00:0:0:7::/64");
  EXPECT_EQ(v6.Subnet(64, 65535)->ToString(), "fd00:0:0:ffff::/64");
  EXPECT_FALSE(v6.Subnet(64, 65536).ok());
  // More than 2^64 blocks: every uint64 index exists.
  EXPECT_EQ(C("::/0").Subnet(128, UINT64_MAX)->ToString(), "::ffff:ffff:ffff:ffff/128");
  EXPECT_EQ(C("::/0").Subnet(0, 0)->ToString(), "::/0");
}

TEST(CidrTest, OrderingIsFamilyThenAddressThenLength) {
  std::vector<Cidr> cidrs = {C("fd00::/64"),   C("10.0.1.0/24"), C("10.0.0.0/24"),
                             C("10.0.0.0/16"), C("::/0"),        C("9.0.0.0/8")};
  std::sort(cidrs.begin(), cidrs.end());
  std::vector<std::string> texts;
  for (const Cidr& c : cidrs) texts.push_back(c.ToString());
  EXPECT_THAT(texts, ::testing::ElementsAre("9.0.0.0/8", "10.0.0.0/16", "10.0.0.0/24",
                                            "10.0.1.0/24", "::/0", "fd00::/64"));
  EXPECT_EQ(C("10.0.0.0/8"), C("10.0.0.0/8"));
  EXPECT_NE(C("10.0.0.0/8"), C("10.0.0.0/9"));
  EXPECT_NE(C("0.0.0.0/0"), C("::/0"));
}

TEST(FindFreeBlockTest, EmptyPoolGivesTheStartBlock) {
  Cidr pool = C("10.64.0.0/16");
  EXPECT_THAT(FindFreeBlock(pool, 24, {}, 0), Optional(C("10.64.0.0/24")));
  EXPECT_THAT(FindFreeBlock(pool, 24, {}, 5), Optional(C("10.64.5.0/24")));
  // start is taken modulo the number of blocks.
  EXPECT_THAT(FindFreeBlock(pool, 24, {}, 256 + 7), Optional(C("10.64.7.0/24")));
  EXPECT_THAT(FindFreeBlock(pool, 16, {}, 12345), Optional(pool));
}

TEST(FindFreeBlockTest, SkipsTakenBlocks) {
  Cidr pool = C("10.64.0.0/16");
  std::vector<Cidr> taken = {C("10.64.1.0/24"), C("10.64.0.0/24"), C("10.64.3.0/24")};
  EXPECT_THAT(FindFreeBlock(pool, 24, taken, 0), Optional(C("10.64.2.0/24")));
  EXPECT_THAT(FindFreeBlock(pool, 24, taken, 3), Optional(C("10.64.4.0/24")));
}

TEST(FindFreeBlockTest, WrapsAroundOnce) {
  Cidr pool = C("10.64.0.0/22");  // four /24 blocks
  std::vector<Cidr> taken = {C("10.64.2.0/24"), C("10.64.3.0/24")};
  EXPECT_THAT(FindFreeBlock(pool, 24, taken, 2), Optional(C("10.64.0.0/24")));
  taken.push_back(C("10.64.0.0/24"));
  EXPECT_THAT(FindFreeBlock(pool, 24, taken, 3), Optional(C("10.64.1.0/24")));
}

TEST(FindFreeBlockTest, FullPool) {
  Cidr pool = C("10.64.0.0/22");
  std::vector<Cidr> taken = {C("10.64.0.0/24"), C("10.64.1.0/24"), C("10.64.2.0/24"),
                             C("10.64.3.0/24")};
  for (uint64_t start = 0; start < 5; ++start) {
    EXPECT_EQ(FindFreeBlock(pool, 24, taken, start), std::nullopt) << start;
  }
  EXPECT_EQ(FindFreeBlock(pool, 24, {C("10.0.0.0/8")}, 0), std::nullopt);
  EXPECT_EQ(FindFreeBlock(pool, 24, {pool}, 1), std::nullopt);
}

TEST(FindFreeBlockTest, TakenBlocksLargerThanLenCoverSeveralBlocks) {
  Cidr pool = C("10.64.0.0/16");
  std::vector<Cidr> taken = {C("10.64.0.0/20")};  // blocks 0-15
  EXPECT_THAT(FindFreeBlock(pool, 24, taken, 0), Optional(C("10.64.16.0/24")));
  EXPECT_THAT(FindFreeBlock(pool, 24, taken, 9), Optional(C("10.64.16.0/24")));
}

TEST(FindFreeBlockTest, TakenBlocksSmallerThanLenBlockTheirWholeBlock) {
  Cidr pool = C("10.64.0.0/16");
  std::vector<Cidr> taken = {C("10.64.0.200/29"), C("10.64.1.255/32")};
  EXPECT_THAT(FindFreeBlock(pool, 24, taken, 0), Optional(C("10.64.2.0/24")));
  // But the rest of the /24 is still free for smaller blocks.
  EXPECT_THAT(FindFreeBlock(pool, 28, taken, 0), Optional(C("10.64.0.0/28")));
  EXPECT_THAT(FindFreeBlock(pool, 29, taken, 25), Optional(C("10.64.0.208/29")));
}

TEST(FindFreeBlockTest, IgnoresUnrelatedAndOtherFamilyPrefixes) {
  Cidr pool = C("10.64.0.0/16");
  std::vector<Cidr> taken = {C("::/0"), C("10.65.0.0/24"), C("192.168.0.0/16"),
                             C("10.63.255.0/24")};
  EXPECT_THAT(FindFreeBlock(pool, 24, taken, 0), Optional(C("10.64.0.0/24")));
  EXPECT_THAT(FindFreeBlock(C("fd00::/48"), 64, {C("0.0.0.0/0")}, 3),
              Optional(C("fd00:0:0:3::/64")));
}

TEST(FindFreeBlockTest, DuplicateAndNestedTakenPrefixes) {
  Cidr pool = C("10.64.0.0/22");
  std::vector<Cidr> taken = {C("10.64.0.0/23"), C("10.64.0.0/24"), C("10.64.1.0/24"),
                             C("10.64.0.0/23"), C("10.64.1.128/25")};
  EXPECT_THAT(FindFreeBlock(pool, 24, taken, 0), Optional(C("10.64.2.0/24")));
}

TEST(FindFreeBlockTest, InvalidLenGivesNothing) {
  EXPECT_EQ(FindFreeBlock(C("10.64.0.0/16"), 8, {}, 0), std::nullopt);
  EXPECT_EQ(FindFreeBlock(C("10.64.0.0/16"), 33, {}, 0), std::nullopt);
}

TEST(FindFreeBlockTest, Ipv6) {
  Cidr pool = C("fd00::/48");
  std::vector<Cidr> taken = {C("fd00::/64"), C("fd00:0:0:1::/64"), C("fd00:0:0:ffff::/64")};
  EXPECT_THAT(FindFreeBlock(pool, 64, taken, 0), Optional(C("fd00:0:0:2::/64")));
  EXPECT_THAT(FindFreeBlock(pool, 64, taken, 65535), Optional(C("fd00:0:0:2::/64")));
  // A pool with more blocks than fit in 64 bits.
  EXPECT_THAT(FindFreeBlock(C("fd00::/8"), 128, {C("fd00::/126")}, 0), Optional(C("fd00::4/128")));
}

// Checks the sort-and-sweep search against the obvious scan over every block.
TEST(FindFreeBlockTest, MatchesBruteForceOnRandomPools) {
  std::mt19937_64 rng(42);
  Cidr pool = C("10.64.0.0/20");
  for (int round = 0; round < 200; ++round) {
    const int len = 20 + static_cast<int>(rng() % 9);  // 20-28
    std::vector<Cidr> taken;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      const int t_len = 18 + static_cast<int>(rng() % 15);  // 18-32
      uint32_t address = 0x0a400000u + static_cast<uint32_t>(rng() % (1u << 13));
      if (t_len < 32) address &= ~((1u << (32 - t_len)) - 1);
      taken.push_back(C(absl::StrCat(address >> 24, ".", (address >> 16) & 0xff, ".",
                                     (address >> 8) & 0xff, ".", address & 0xff, "/", t_len)));
    }
    const uint64_t count = pool.SubnetCount(len);
    const uint64_t start = rng() % (2 * count);
    std::optional<Cidr> expected;
    for (uint64_t k = 0; k < count && !expected; ++k) {
      Cidr block = *pool.Subnet(len, (start + k) % count);
      if (std::none_of(taken.begin(), taken.end(),
                       [&block](const Cidr& t) { return t.Overlaps(block); })) {
        expected = block;
      }
    }
    EXPECT_EQ(FindFreeBlock(pool, len, taken, start), expected) << "round " << round;
  }
}

TEST(FindFreeBlockTest, FastWithManyTakenBlocksInAHugePool) {
  // 10.0.0.0/8 in /28 blocks is 2^20 blocks; 4096 taken ones at the front.
  Cidr pool = C("10.0.0.0/8");
  std::vector<Cidr> taken;
  for (uint64_t i = 0; i < 4096; ++i) taken.push_back(*pool.Subnet(28, i));
  std::reverse(taken.begin(), taken.end());
  for (int i = 0; i < 100; ++i) {
    EXPECT_THAT(FindFreeBlock(pool, 28, taken, 0), Optional(*pool.Subnet(28, 4096)));
  }
  // Everything taken but the last /21.
  taken = {C("10.0.0.0/9")};
  Cidr upper = C("10.128.0.0/9");
  for (uint64_t i = 0; i + 1 < upper.SubnetCount(21); ++i) taken.push_back(*upper.Subnet(21, i));
  EXPECT_THAT(FindFreeBlock(pool, 28, taken, 0), Optional(C("10.255.248.0/28")));
  EXPECT_THAT(FindFreeBlock(pool, 28, taken, 1 << 19), Optional(C("10.255.248.0/28")));
}

}  // namespace
}  // namespace mandant::tenants
