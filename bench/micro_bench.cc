// mandant_microbench: in-process costs on mandantd's request path, each next
// to a baseline that does the irreducible part of the same job, run in the
// same process. After Google Benchmark's own table it prints, for every pair,
// subject time / baseline time (CPU time per iteration).

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include <openssl/rand.h>

#include "common/logging.h"
#include "common/uuid.h"
#include "mandant/v1/tenant.pb.h"
#include "tenants/cidr.h"
#include "tenants/tenant_validation.h"

namespace mandant::bench {
namespace {

v1::CreateTenantRequest SampleRequest() {
  v1::CreateTenantRequest req;
  req.set_tenant_id("acme-production-eu1");
  req.set_request_id("123e4567-e89b-42d3-a456-426614174000");
  v1::Tenant* t = req.mutable_tenant();
  t->set_display_name("ACME Corporation \xc3\x96sterreich, production (EU 1)");
  t->mutable_quota()->set_max_clusters(10);
  t->mutable_quota()->set_max_nodes(200);
  t->mutable_network_request()->set_node_prefix_length(24);
  return req;
}

// ValidateCreateTenantRequest, against copying the same message (the least a
// handler does with a request it keeps).
void BM_ValidateCreateTenantRequest(benchmark::State& state) {
  const v1::CreateTenantRequest req = SampleRequest();
  const tenants::NetworkDefaults net;
  for (auto _ : state) {
    tenants::FieldViolations v = tenants::ValidateCreateTenantRequest(req, net);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_ValidateCreateTenantRequest);

void BM_CopyCreateTenantRequest(benchmark::State& state) {
  const v1::CreateTenantRequest req = SampleRequest();
  for (auto _ : state) {
    v1::CreateTenantRequest copy(req);
    benchmark::DoNotOptimize(copy);
  }
}
BENCHMARK(BM_CopyCreateTenantRequest);

// Cidr::Parse, against inet_pton plus reading the prefix length.
constexpr const char* kCidrs[] = {"10.64.3.0/24", "10.96.255.240/28", "192.168.0.0/16",
                                  "172.16.32.0/20"};

void BM_CidrParse(benchmark::State& state) {
  size_t i = 0;
  for (auto _ : state) {
    auto c = tenants::Cidr::Parse(kCidrs[i++ & 3]);
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_CidrParse);

void BM_InetPton(benchmark::State& state) {
  size_t i = 0;
  for (auto _ : state) {
    const char* text = kCidrs[i++ & 3];
    const char* slash = std::strchr(text, '/');
    char addr[INET_ADDRSTRLEN];
    const size_t n = static_cast<size_t>(slash - text);
    std::memcpy(addr, text, n);
    addr[n] = '\0';
    in_addr out;
    int ok = inet_pton(AF_INET, addr, &out);
    long len = std::strtol(slash + 1, nullptr, 10);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(len);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_InetPton);

// FindFreeBlock over 4096 taken /28 blocks scattered in a /12 (65536
// blocks), against copying and sorting the same vector, the O(n log n) floor
// of any search over an unsorted list.
std::vector<tenants::Cidr> TakenBlocks(const tenants::Cidr& supernet, int count) {
  std::mt19937_64 rng(42);
  std::vector<uint64_t> index(supernet.SubnetCount(28));
  for (size_t i = 0; i < index.size(); ++i) index[i] = i;
  std::shuffle(index.begin(), index.end(), rng);
  std::vector<tenants::Cidr> taken;
  for (int i = 0; i < count; ++i) taken.push_back(*supernet.Subnet(28, index[i]));
  return taken;
}

void BM_FindFreeBlock4096(benchmark::State& state) {
  const tenants::Cidr supernet = *tenants::Cidr::Parse("10.64.0.0/12");
  const std::vector<tenants::Cidr> taken = TakenBlocks(supernet, 4096);
  for (auto _ : state) {
    auto found = tenants::FindFreeBlock(supernet, 28, taken, 0);
    benchmark::DoNotOptimize(found);
  }
}
BENCHMARK(BM_FindFreeBlock4096);

void BM_SortBlocks4096(benchmark::State& state) {
  const tenants::Cidr supernet = *tenants::Cidr::Parse("10.64.0.0/12");
  const std::vector<tenants::Cidr> taken = TakenBlocks(supernet, 4096);
  for (auto _ : state) {
    std::vector<tenants::Cidr> copy = taken;
    std::sort(copy.begin(), copy.end());
    benchmark::DoNotOptimize(copy.data());
  }
}
BENCHMARK(BM_SortBlocks4096);

// NewUuid (two per CreateTenant, one per RPC for the call id), against
// the 16 random bytes it is made of.
void BM_NewUuid(benchmark::State& state) {
  for (auto _ : state) {
    std::string id = NewUuid();
    benchmark::DoNotOptimize(id);
  }
}
BENCHMARK(BM_NewUuid);

void BM_RandBytes16(benchmark::State& state) {
  unsigned char b[16];
  for (auto _ : state) {
    RAND_bytes(b, sizeof(b));
    benchmark::DoNotOptimize(b);
  }
}
BENCHMARK(BM_RandBytes16);

// Rendering the per-RPC log line RpcCall::Finish writes, against
// concatenating the same fields.
void BM_RenderRpcLogLine(benchmark::State& state) {
  const std::string call_id = "0b6f1f8e-5c1a-4a4e-9d3e-2f7c0a1b2c3d";
  for (auto _ : state) {
    std::string line = logging::Render("rpc", {{"call_id", call_id},
                                               {"method", "GetTenant"},
                                               {"principal", "provider-admin:mandant-loadgen"},
                                               {"object", "tenants/acme"},
                                               {"code", "OK"},
                                               {"duration_us", 412LL}});
    benchmark::DoNotOptimize(line);
  }
}
BENCHMARK(BM_RenderRpcLogLine);

void BM_ConcatRpcLogLine(benchmark::State& state) {
  const std::string call_id = "0b6f1f8e-5c1a-4a4e-9d3e-2f7c0a1b2c3d";
  for (auto _ : state) {
    std::string line = absl::StrCat("rpc call_id=", call_id, " method=GetTenant",
                                    " principal=provider-admin:mandant-loadgen",
                                    " object=tenants/acme code=OK duration_us=", 412);
    benchmark::DoNotOptimize(line);
  }
}
BENCHMARK(BM_ConcatRpcLogLine);

struct Pair {
  const char* subject;
  const char* baseline;
};
constexpr Pair kPairs[] = {
    {"BM_ValidateCreateTenantRequest", "BM_CopyCreateTenantRequest"},
    {"BM_CidrParse", "BM_InetPton"},
    {"BM_FindFreeBlock4096", "BM_SortBlocks4096"},
    {"BM_NewUuid", "BM_RandBytes16"},
    {"BM_RenderRpcLogLine", "BM_ConcatRpcLogLine"},
};

// The console table plus the CPU time per iteration of every plain run.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  // Colors only on a terminal, so that redirected output stays plain text.
  RatioReporter() : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_ColorTabular : OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& reports) override {
    ConsoleReporter::ReportRuns(reports);
    for (const Run& r : reports) {
      if (r.error_occurred || r.run_type != Run::RT_Iteration) continue;
      // With --benchmark_repetitions, keep the fastest (least disturbed) run.
      const double ns = r.GetAdjustedCPUTime() * TimeUnitMultiplierToNs(r.time_unit);
      auto [it, inserted] = ns_.emplace(r.benchmark_name(), ns);
      if (!inserted) it->second = std::min(it->second, ns);
    }
  }

  void PrintRatios() const {
    std::cout << "\nsubject / baseline (CPU time per iteration, same run)\n";
    for (const Pair& p : kPairs) {
      auto s = ns_.find(p.subject);
      auto b = ns_.find(p.baseline);
      if (s == ns_.end() || b == ns_.end() || b->second <= 0) continue;
      std::cout << absl::StrFormat("  %-32s %10.1f ns  / %-28s %10.1f ns  = %6.2f\n", p.subject,
                                   s->second, p.baseline, b->second, s->second / b->second);
    }
  }

 private:
  static double TimeUnitMultiplierToNs(benchmark::TimeUnit unit) {
    switch (unit) {
      case benchmark::kSecond:
        return 1e9;
      case benchmark::kMillisecond:
        return 1e6;
      case benchmark::kMicrosecond:
        return 1e3;
      case benchmark::kNanosecond:
        return 1;
    }
    return 1;
  }

  std::map<std::string, double> ns_;
};

}  // namespace
}  // namespace mandant::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  (void)mandant::logging::Init("info", mandant::logging::Format::kText);
  mandant::bench::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
