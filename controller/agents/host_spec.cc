#include "controller/agents/host_spec.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

#include "common/sha256.h"
#include "common/status_macros.h"
#include "controller/edge/edge_spec.h"
#include "pki/encoding.h"
#include "pki/sealing.h"
#include "tenants/network_names.h"

namespace mandant::controller {

absl::StatusOr<v1::HostSpec> BuildHostSpec(const store::HostSpecSources& sources,
                                           const pki::KeyRing& keys,
                                           const EdgeSettings& edge_settings) {
  v1::HostSpec spec;
  std::vector<v1::TenantNetworkSpec> networks;
  networks.reserve(sources.networks.size());
  for (const store::TenantNetworkRow& row : sources.networks) {
    v1::TenantNetworkSpec n;
    n.set_tenant(absl::StrCat("tenants/", row.tenant));
    n.set_mode(row.mode);
    if (row.mode == v1::NETWORK_MODE_VLAN) {
      n.set_vlan_id(row.segment_id);
    } else {
      n.set_vni(row.segment_id);
      for (const std::string& peer : row.peer_underlay_addresses) {
        n.add_peer_underlay_addresses(peer);
      }
    }
    MANDANT_ASSIGN_OR_RETURN(*n.mutable_bridge_name(),
                             tenants::TenantBridgeName(row.mode, row.segment_id));
    MANDANT_ASSIGN_OR_RETURN(*n.mutable_link_name(),
                             tenants::TenantLinkName(row.mode, row.segment_id));
    const int underlay_mtu = row.min_underlay_mtu > 0 ? row.min_underlay_mtu : kDefaultUnderlayMtu;
    MANDANT_ASSIGN_OR_RETURN(const int mtu, tenants::TenantNetworkMtu(row.mode, underlay_mtu));
    n.set_mtu(mtu);
    networks.push_back(std::move(n));
  }
  std::sort(networks.begin(), networks.end(),
            [](const auto& a, const auto& b) { return a.bridge_name() < b.bridge_name(); });
  for (auto& n : networks) *spec.add_networks() = std::move(n);

  for (const store::PlacedMachineRow& m : sources.machines) {
    v1::VmSpec* vm = spec.add_vms();
    vm->set_machine_id(m.machine_id);
    vm->set_tenant(absl::StrCat("tenants/", m.tenant));
    vm->set_cluster(absl::StrCat(vm->tenant(), "/clusters/", m.cluster));
    vm->set_name(m.name);
    *vm->mutable_resources() = m.resources;
    vm->set_base_image(m.base_image);
    vm->set_base_image_sha256(m.base_image_sha256);
    v1::Nic* nic = vm->add_nics();
    nic->set_mac_address(m.node_mac);
    MANDANT_ASSIGN_OR_RETURN(*nic->mutable_bridge_name(),
                             tenants::TenantBridgeName(m.mode, m.segment_id));
    vm->set_power_state(m.power_state);
    MANDANT_ASSIGN_OR_RETURN(
        pki::SecretBytes seed,
        pki::Unseal(keys, m.sealed_seed, store::SeedAssociatedData(m.machine_id)));
    if (!vm->mutable_seed()->ParseFromArray(seed.data(), static_cast<int>(seed.size()))) {
      return absl::DataLossError(
          absl::StrCat("machine ", m.machine_id, ": the unsealed seed does not parse"));
    }
  }

  for (const store::EdgeSpecRow& row : sources.edges) {
    MANDANT_ASSIGN_OR_RETURN(v1::EdgeSpec edge, BuildEdgeSpec(row, edge_settings));
    // The tenant's network is in this spec (HostStore::SpecSources lists
    // every tenant with an edge copy here); the edge's inside has its MTU.
    for (const v1::TenantNetworkSpec& n : spec.networks()) {
      if (n.bridge_name() == edge.tenant_bridge()) edge.set_mtu(n.mtu());
    }
    if (edge.mtu() == 0) {
      return absl::InternalError(absl::StrCat("edge of tenant \"", row.tenant,
                                              "\": its tenant network is not in the host spec"));
    }
    *spec.add_edges() = std::move(edge);
  }
  return spec;
}

std::string HostSpecDigest(const v1::HostSpec& spec) {
  std::string content;
  google::protobuf::io::StringOutputStream out(&content);
  {
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    spec.SerializeToCodedStream(&coded);
  }
  return Sha256(content);
}

int64_t NextSpecVersion(int64_t current, absl::string_view current_digest,
                        absl::string_view digest) {
  return !current_digest.empty() && current_digest == digest ? current : current + 1;
}

absl::StatusOr<v1::HostSpec> DesiredHostSpec(store::Connection& conn, store::HostStore& store,
                                             int64_t host_id, const pki::KeyRing& keys,
                                             const EdgeSettings& edge_settings) {
  MANDANT_ASSIGN_OR_RETURN(store::HostSpecSources sources, store.SpecSources(conn, host_id));
  MANDANT_ASSIGN_OR_RETURN(v1::HostSpec spec, BuildHostSpec(sources, keys, edge_settings));
  const std::string digest = HostSpecDigest(spec);
  const int64_t version = NextSpecVersion(sources.spec_version, sources.spec_sha256, digest);
  if (version != sources.spec_version) {
    MANDANT_RETURN_IF_ERROR(store.SetSpecVersion(conn, host_id, version, digest));
  }
  spec.set_version(version);
  return spec;
}

}  // namespace mandant::controller
