// Packed sequences (docs/algorithms.md 7, BlockConfig::doc_starts): every strategy equals
// the single-rank Block (strategy_check.hpp) when the sequence holds several documents:
// attention inside documents, RoPE restarting at each. Cases: several documents with one
// of a single token and one spanning rank boundaries, causal and not, G = H and G < H,
// ZeRO-3 where a strategy has it; one document equals the unpacked block exactly.
#include <gtest/gtest.h>

#include <algorithm>

#include "backends/registry.hpp"
#include "base/error.hpp"
#include "layers/documents.hpp"
#include "strategies/factory.hpp"
#include "strategies/work.hpp"
#include "strategy_check.hpp"
#include "support/test_args.hpp"

namespace ody::strategies {
namespace {

// H, d and i divisible by 8 so that every strategy's mesh of 1-8 ranks is valid; L = 48
// leaves 3 tokens per zigzag half-chunk at N = 8.
BlockConfig packed(bool causal, std::int64_t G, std::vector<std::int64_t> lens) {
  BlockConfig c{1, 48, 64, 8, G, 64, causal};
  c.doc_starts = layers::doc_starts_of(lens);
  return c;
}

TEST(Packed, EveryStrategyMatchesBlock) {
  auto world = backends::create_world(ody::test::backend_name());
  const int n = world->size();
  // Lengths 5, 1, 29, 13: a one-token document, one spanning several ranks' tokens.
  const std::vector<std::int64_t> lens{5, 1, 29, 13};
  int ran = 0;
  for (const auto& name : strategy_names())
    for (bool causal : {true, false})
      for (std::int64_t G : {8, 2}) {
        const BlockConfig c = packed(causal, G, lens);
        for (const auto mode : allowed_weight_modes(name)) {
          StrategyOptions o;
          o.weights = mode;
          try {
            check_strategy(name, c, n, o);
          } catch (const Error&) {
            continue;
          }
          SCOPED_TRACE(name + " " + std::string(to_string(mode)) + (causal ? " causal" : " full") +
                       " G" + std::to_string(G));
          auto s = make_strategy(name, c, *world, o);
          test::check_against_block(*s);
          ++ran;
        }
      }
  EXPECT_GT(ran, 0);
}

// The per-document layout (each document zigzagged over the ranks) wherever a strategy
// takes it: two documents of 48 (a multiple of 2N for N = 1, 2, 3, 4, 8) and, at N <= 2,
// uneven ones.
TEST(Packed, PerDocumentLayoutMatchesBlock) {
  auto world = backends::create_world(ody::test::backend_name());
  const int n = world->size();
  int ran = 0;
  for (const auto& lens : {std::vector<std::int64_t>{48, 48}, std::vector<std::int64_t>{4, 84, 8}})
    for (const auto& name : strategy_names()) {
      const auto lays = allowed_layouts(name);
      if (std::find(lays.begin(), lays.end(), TokenLayout::per_doc) == lays.end()) continue;
      BlockConfig c{1, 96, 64, 8, 2, 64, true};
      c.doc_starts = layers::doc_starts_of(lens);
      StrategyOptions o;
      o.layout = TokenLayout::per_doc;
      try {
        check_strategy(name, c, n, o);
      } catch (const Error&) {
        continue;
      }
      SCOPED_TRACE(name + " per-doc, " + std::to_string(lens.size()) + " documents");
      auto s = make_strategy(name, c, *world, o);
      test::check_against_block(*s);
      ++ran;
    }
  EXPECT_GT(ran, 0);
}

// The per-document rule names the document and its nearest valid lengths.
TEST(Packed, PerDocumentRule) {
  BlockConfig c{1, 96, 64, 8, 2, 64, true};
  c.doc_starts = layers::doc_starts_of(std::vector<std::int64_t>{48, 36, 12});
  StrategyOptions o;
  o.layout = TokenLayout::per_doc;
  try {
    check_strategy("ring", c, 4, o);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("document 1 (at 48) of length 36"), std::string::npos) << m;
    EXPECT_NE(m.find("nearest valid length of document 1: 32 or 40"), std::string::npos) << m;
  }
  EXPECT_EQ(local_positions(TokenLayout::per_doc, 16, 2, 1, std::vector<std::int64_t>{0, 8}),
            (std::vector<std::int64_t>{2, 3, 4, 5, 10, 11, 12, 13}));
}

// One document is the unpacked sequence: the same outputs bit for bit.
TEST(Packed, OneDocumentIsUnpacked) {
  auto world = backends::create_world(ody::test::backend_name());
  const int n = world->size();
  for (const auto& name : strategy_names()) {
    const BlockConfig one = packed(true, 2, {48});
    BlockConfig plain = one;
    plain.doc_starts.clear();
    try {
      check_strategy(name, plain, n);
    } catch (const Error&) {
      continue;
    }
    SCOPED_TRACE(name);
    std::vector<float> out[2];
    for (int k = 0; k < 2; ++k) {
      auto s = make_strategy(name, k ? one : plain, *world);
      layers::BlockWeights w(s->config());
      layers::init_block_weights(w, s->config(), 5);
      s->set_weights(w);
      const layers::Array3 x = layers::make_block_input(s->config(), 5);
      layers::Array3 xl("xl", 1, 48 / n, 64), yl("yl", 1, 48 / n, 64);
      shard(s->layout(), x.data(), xl.data(), 1, 48, 64, n, s->layout_rank(),
            s->config().doc_starts);
      s->forward(yl, xl);
      out[k].assign(yl.data(), yl.data() + yl.size());
    }
    EXPECT_EQ(out[0], out[1]);
  }
}

TEST(Packed, BadDocumentsAreRejected) {
  BlockConfig c{1, 48, 64, 8, 8, 64, true};
  c.doc_starts = {0, 10, 10};
  EXPECT_THROW(c.validate(), Error);
  c.doc_starts = {1, 10};
  EXPECT_THROW(c.validate(), Error);
  c.doc_starts = {0, 48};
  EXPECT_THROW(c.validate(), Error);
  EXPECT_THROW(layers::parse_doc_lens("10,20", 48), Error);    // sum != L
  EXPECT_THROW(layers::parse_doc_lens("10,0,38", 48), Error);  // empty document
  EXPECT_THROW(layers::parse_doc_lens("random:x", 48), Error);
  EXPECT_EQ(layers::parse_doc_lens("10,30,8", 48), (std::vector<std::int64_t>{10, 30, 8}));
  const auto r = layers::parse_doc_lens("random:7:6", 48);
  std::int64_t sum = 0;
  for (auto l : r) sum += l;
  EXPECT_EQ(sum, 48);
  EXPECT_EQ(r, layers::parse_doc_lens("random:7:6", 48));  // seeded
  for (auto l : layers::parse_doc_lens("random:3:16:4", 64)) EXPECT_EQ(l % 4, 0);
  EXPECT_THROW(layers::parse_doc_lens("random:3:16:5", 64), Error);  // 64 % 5 != 0
  EXPECT_THROW(layers::parse_doc_lens("random:3:2:4", 64), Error);   // MEAN < MULTIPLE
}

// The work balance (strategies/work.hpp): zigzag balances one causal document exactly,
// not a long-tail pack; the per-document layout balances any pack it accepts.
TEST(Packed, PerDocumentLayoutBalancesWork) {
  const int n = 4;
  BlockConfig c{1, 256, 64, 8, 2, 64, true};
  auto imbal = [&](TokenLayout lay) {
    std::vector<std::uint64_t> w;
    for (int r = 0; r < n; ++r)
      w.push_back(visible_pairs(c, local_positions(lay, c.L, n, r, c.doc_starts)));
    return imbalance(w);
  };
  EXPECT_DOUBLE_EQ(imbal(TokenLayout::zigzag), 1.0);
  EXPECT_GT(imbal(TokenLayout::contiguous), 1.5);  // (2N-1)/N = 1.75 in the limit
  c.doc_starts = layers::doc_starts_of(std::vector<std::int64_t>{200, 24, 8, 24});
  EXPECT_GT(imbal(TokenLayout::zigzag), 1.1);
  EXPECT_DOUBLE_EQ(imbal(TokenLayout::per_doc), 1.0);
}

}  // namespace
}  // namespace ody::strategies
