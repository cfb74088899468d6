#include "controller/edge/edge_placement.h"

#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mandant::controller {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

store::EdgeCandidateHost Host(int64_t id, const char* name, int tenant_machines, int edges,
                              bool cordoned = false) {
  return store::EdgeCandidateHost{id, name, cordoned, tenant_machines, edges};
}

store::EdgePlacementState State(int placed_machines, int machine_hosts,
                                std::vector<store::EdgeCandidateHost> candidates) {
  store::EdgePlacementState s;
  s.tenant = "acme";
  s.placed_machines = placed_machines;
  s.machine_hosts = machine_hosts;
  s.candidates = std::move(candidates);
  return s;
}

TEST(DecideEdgePlacement, NoMachinesNoEdge) {
  const EdgePlacementDecision d = DecideEdgePlacement(State(0, 0, {Host(1, "hv1", 0, 0)}), true);
  EXPECT_FALSE(d.remove);
  EXPECT_THAT(d.add, IsEmpty());
}

TEST(DecideEdgePlacement, TheLastMachineGoneRemovesTheEdge) {
  store::EdgePlacementState s = State(0, 0, {Host(1, "hv1", 0, 1)});
  s.has_edge = true;
  s.instances.push_back({7, 1, "hv1", 0, "10.64.3.2"});
  EXPECT_TRUE(DecideEdgePlacement(s, true).remove);
  // Also when no external network is configured any more.
  EXPECT_TRUE(DecideEdgePlacement(s, false).remove);
}

TEST(DecideEdgePlacement, PrefersAHostWithTheTenantsMachines) {
  const EdgePlacementDecision d =
      DecideEdgePlacement(State(3, 1, {Host(1, "hv1", 0, 0), Host(2, "hv2", 3, 5)}), true);
  EXPECT_THAT(d.add, ElementsAre(Pair(2, 0)));
  EXPECT_TRUE(d.shortfall.empty());
}

TEST(DecideEdgePlacement, ThenTheFewestEdgesThenTheName) {
  EXPECT_THAT(
      DecideEdgePlacement(
          State(1, 1, {Host(1, "hv1", 0, 4), Host(2, "hv2", 0, 2), Host(3, "hv3", 0, 2)}), true)
          .add,
      ElementsAre(Pair(2, 0)));
}

TEST(DecideEdgePlacement, TwoCopiesWhenTheTenantSpansTwoHosts) {
  const EdgePlacementDecision d = DecideEdgePlacement(
      State(2, 2, {Host(1, "hv1", 1, 0), Host(2, "hv2", 1, 0), Host(3, "hv3", 0, 0)}), true);
  EXPECT_THAT(d.add, ElementsAre(Pair(1, 0), Pair(2, 1)));
}

TEST(DecideEdgePlacement, CordonedHostsAreSkipped) {
  const EdgePlacementDecision d = DecideEdgePlacement(
      State(2, 2, {Host(1, "hv1", 2, 0, /*cordoned=*/true), Host(2, "hv2", 0, 0)}), true);
  EXPECT_THAT(d.add, ElementsAre(Pair(2, 0)));
  EXPECT_THAT(d.shortfall, HasSubstr("only one host"));
}

TEST(DecideEdgePlacement, ExistingCopiesStayAndTheMissingOneTakesTheFreeOrdinal) {
  store::EdgePlacementState s =
      State(2, 2, {Host(1, "hv1", 2, 1), Host(2, "hv2", 0, 0), Host(3, "hv3", 0, 0)});
  s.has_edge = true;
  // The copy on hv3 is ordinal 1; hv1 is now better, but the copy stays.
  s.instances.push_back({9, 3, "hv3", 1, "10.64.3.3"});
  const EdgePlacementDecision d = DecideEdgePlacement(s, true);
  EXPECT_FALSE(d.remove);
  EXPECT_THAT(d.add, ElementsAre(Pair(1, 0)));
}

TEST(DecideEdgePlacement, NothingToDoWhenPlaced) {
  store::EdgePlacementState s = State(1, 1, {Host(1, "hv1", 1, 1), Host(2, "hv2", 0, 0)});
  s.has_edge = true;
  s.instances.push_back({9, 1, "hv1", 0, "10.64.3.2"});
  const EdgePlacementDecision d = DecideEdgePlacement(s, true);
  EXPECT_FALSE(d.remove);
  EXPECT_THAT(d.add, IsEmpty());
}

TEST(DecideEdgePlacement, SaysWhyAnEdgeCannotBePlaced) {
  EXPECT_THAT(DecideEdgePlacement(State(1, 1, {}), true).shortfall, HasSubstr("no host"));
  EXPECT_THAT(DecideEdgePlacement(State(1, 1, {Host(1, "hv1", 1, 0)}), false).shortfall,
              HasSubstr("external network"));
}

}  // namespace
}  // namespace mandant::controller
