#include "agents/edge/egress_packet.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mandant::agent {
namespace {

// An IPv4 header (no options) from 10.64.3.11 to 192.0.2.80 and, for TCP
// and UDP, ports 40000 -> `port`.
std::string Packet(uint8_t protocol, uint16_t port, uint16_t fragment = 0, size_t ihl_words = 5) {
  std::string p(ihl_words * 4, '\0');
  p[0] = static_cast<char>(0x40 | ihl_words);
  p[6] = static_cast<char>(fragment >> 8);
  p[7] = static_cast<char>(fragment & 0xff);
  p[8] = 64;
  p[9] = static_cast<char>(protocol);
  const unsigned char src[] = {10, 64, 3, 11};
  const unsigned char dst[] = {192, 0, 2, 80};
  for (int i = 0; i < 4; ++i) {
    p[12 + i] = static_cast<char>(src[i]);
    p[16 + i] = static_cast<char>(dst[i]);
  }
  const unsigned char ports[] = {0x9c, 0x40, static_cast<unsigned char>(port >> 8),
                                 static_cast<unsigned char>(port & 0xff)};
  p.append(reinterpret_cast<const char*>(ports), 4);
  p.append(4, '\0');
  const size_t total = p.size();
  p[2] = static_cast<char>(total >> 8);
  p[3] = static_cast<char>(total & 0xff);
  return p;
}

TEST(ParseEgressPacketTest, TcpAllow) {
  std::optional<EgressPacket> got = ParseEgressPacket("allow", Packet(6, 443));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->verdict, EgressVerdict::kAllow);
  EXPECT_EQ(got->source_address, "10.64.3.11");
  EXPECT_EQ(got->destination_address, "192.0.2.80");
  EXPECT_EQ(got->protocol, 6);
  EXPECT_EQ(got->destination_port, 443);
}

TEST(ParseEgressPacketTest, UdpDenyWithTrailingSpaceInPrefix) {
  std::optional<EgressPacket> got = ParseEgressPacket("deny ", Packet(17, 53));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->verdict, EgressVerdict::kDeny);
  EXPECT_EQ(got->protocol, 17);
  EXPECT_EQ(got->destination_port, 53);
}

TEST(ParseEgressPacketTest, HeaderOptionsMoveThePorts) {
  std::optional<EgressPacket> got = ParseEgressPacket("allow", Packet(6, 8443, 0, 7));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->destination_port, 8443);
}

TEST(ParseEgressPacketTest, NoPortForOtherProtocolsAndLaterFragments) {
  std::optional<EgressPacket> icmp = ParseEgressPacket("allow", Packet(1, 443));
  ASSERT_TRUE(icmp.has_value());
  EXPECT_EQ(icmp->protocol, 1);
  EXPECT_EQ(icmp->destination_port, 0);
  std::optional<EgressPacket> fragment = ParseEgressPacket("allow", Packet(17, 53, 0x00b9));
  ASSERT_TRUE(fragment.has_value());
  EXPECT_EQ(fragment->destination_port, 0);
}

TEST(ParseEgressPacketTest, RefusesUnknownPrefixes) {
  EXPECT_FALSE(ParseEgressPacket("", Packet(6, 443)).has_value());
  EXPECT_FALSE(ParseEgressPacket("allowed", Packet(6, 443)).has_value());
  EXPECT_FALSE(ParseEgressPacket("mandant-xtenant ", Packet(6, 443)).has_value());
}

TEST(ParseEgressPacketTest, RefusesMalformedHeaders) {
  const std::string good = Packet(6, 443);
  EXPECT_FALSE(ParseEgressPacket("allow", "").has_value());
  EXPECT_FALSE(ParseEgressPacket("allow", good.substr(0, 19)).has_value());
  std::string v6 = good;
  v6[0] = 0x65;
  EXPECT_FALSE(ParseEgressPacket("allow", v6).has_value());
  std::string short_ihl = good;
  short_ihl[0] = 0x44;
  EXPECT_FALSE(ParseEgressPacket("allow", short_ihl).has_value());
  std::string long_ihl = good;
  long_ihl[0] = 0x4f;  // 60 bytes of header, more than there is
  EXPECT_FALSE(ParseEgressPacket("allow", long_ihl).has_value());
  std::string small_total = good;
  small_total[2] = 0;
  small_total[3] = 10;
  EXPECT_FALSE(ParseEgressPacket("allow", small_total).has_value());
  // Cut inside the TCP ports.
  EXPECT_FALSE(ParseEgressPacket("allow", good.substr(0, 23)).has_value());
}

}  // namespace
}  // namespace mandant::agent
