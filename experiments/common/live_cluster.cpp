#include "experiments/common/live_cluster.hpp"

#include <map>
#include <string>
#include <vector>

namespace ody::experiments {

topology::Cluster live_cluster(comm::Communicator& world) {
  namespace tp = ody::topology;
  const std::vector<std::uint8_t> mine = tp::serialize(tp::local_rank_record(world.rank(), -1));
  std::int64_t my_size = static_cast<std::int64_t>(mine.size());
  std::vector<std::int64_t> sizes(world.size());
  world.all_gather(comm::cbuf(&my_size, 1), comm::buf(sizes));
  std::int64_t total = 0;
  for (auto s : sizes) total += s;
  std::vector<std::uint8_t> all(static_cast<size_t>(total));
  world.all_gather_v(comm::cbuf(mine), comm::buf(all), sizes);
  std::vector<tp::RankRecord> records;
  std::int64_t off = 0;
  for (int r = 0; r < world.size(); ++r) {
    records.push_back(
        tp::deserialize_rank_record(std::span<const std::uint8_t>(all.data() + off, sizes[r])));
    off += sizes[r];
  }
  std::map<std::string, int> local;
  for (auto& r : records) {
    const int l = local[r.host]++;
    r.gpu = r.node.gpu_count() > 0 ? l % r.node.gpu_count() : -1;
  }
  return tp::from_rank_records(std::move(records));
}

}  // namespace ody::experiments
