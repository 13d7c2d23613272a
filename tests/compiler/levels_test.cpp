// The Fenwick level math against the spec's definitions and tables (spec/loglinear.md 2.1, 5,
// 10 A and C).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <vector>

#include "levels/fenwick_levels.h"

namespace lla::levels {
namespace {

// Spec 2.1, the reference's recursion for base 2, written as stated.
int recursive_level(int64_t t, int64_t s) {
  if (s == t) return 0;
  int l = 0;
  while ((int64_t{1} << (l + 1)) <= t) ++l;  // floor(log2 t)
  const int64_t v = int64_t{1} << l;
  if (s < v) return l + 1;
  return recursive_level(t - v, s - v);
}

std::set<int64_t> sources_at_level(int64_t t, int ell) {
  std::set<int64_t> sources;
  for (int64_t s = 0; s <= t; ++s) {
    if (level(t, s) == ell) sources.insert(s);
  }
  return sources;
}

TEST(BitLength, Examples) {
  EXPECT_EQ(bit_length(0), 0);
  EXPECT_EQ(bit_length(1), 1);
  EXPECT_EQ(bit_length(2), 2);
  EXPECT_EQ(bit_length(3), 2);
  EXPECT_EQ(bit_length(1023), 10);
  EXPECT_EQ(bit_length(1024), 11);
  EXPECT_EQ(bit_length(~uint64_t{0}), 64);
}

TEST(Level, MatchesRecursiveDefinitionForAllPairsBelow2048) {
  int64_t mismatches = 0;
  for (int64_t t = 0; t < 2048; ++t) {
    for (int64_t s = 0; s <= t; ++s) {
      if (level(t, s) != recursive_level(t, s)) ++mismatches;
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(Level, SpecTableA) {
  const std::vector<std::vector<int>> rows = {
      {0},
      {1, 0},
      {2, 2, 0},
      {2, 2, 1, 0},
      {3, 3, 3, 3, 0},
      {3, 3, 3, 3, 1, 0},
      {3, 3, 3, 3, 2, 2, 0},
      {3, 3, 3, 3, 2, 2, 1, 0},
      {4, 4, 4, 4, 4, 4, 4, 4, 0},
  };
  for (int64_t t = 0; t < static_cast<int64_t>(rows.size()); ++t) {
    for (int64_t s = 0; s <= t; ++s) EXPECT_EQ(level(t, s), rows[t][s]) << "t=" << t << " s=" << s;
  }
}

TEST(NumLevels, SpecExamples) {
  EXPECT_EQ(num_levels(1), 1);
  EXPECT_EQ(num_levels(2), 2);
  EXPECT_EQ(num_levels(3), 3);
  EXPECT_EQ(num_levels(64), 7);
  EXPECT_EQ(num_levels(1024), 11);
  EXPECT_EQ(num_levels(16384), 15);
  EXPECT_EQ(num_levels(16385), 16);
  EXPECT_EQ(num_levels(65536), 17);
  EXPECT_EQ(num_levels(131072), 18);
  EXPECT_THROW(num_levels(0), std::invalid_argument);
}

TEST(NumLevels, CoversEveryLevelOfTheSequence) {
  for (int64_t T = 1; T <= 300; ++T) {
    int largest = 0;
    for (int64_t s = 0; s < T; ++s) largest = std::max(largest, level(T - 1, s));
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t s = 0; s <= t; ++s) ASSERT_LT(level(t, s), num_levels(T));
    }
    EXPECT_EQ(num_levels(T), T == 1 ? 1 : largest + 1) << "T=" << T;
  }
}

TEST(LevelOccupied, SpecTableANonEmptyDecodeLevels) {
  const std::map<int64_t, std::set<int>> non_empty = {
      {1, {}},     {2, {1}},    {3, {2}},       {4, {1, 2}}, {5, {3}},
      {6, {1, 3}}, {7, {2, 3}}, {8, {1, 2, 3}}, {9, {4}},
  };
  for (const auto& [T, expected] : non_empty) {
    std::set<int> got;
    for (int ell = 1; ell < 8; ++ell) {
      if (level_occupied(T - 1, ell)) got.insert(ell);
    }
    EXPECT_EQ(got, expected) << "T=" << T;
  }
}

TEST(LevelOccupiedAndBucket, MatchBruteForceBelow1024) {
  for (int64_t t = 0; t < 1024; ++t) {
    for (int ell = 0; ell <= 12; ++ell) {
      const std::set<int64_t> sources = sources_at_level(t, ell);
      ASSERT_EQ(level_occupied(t, ell), !sources.empty()) << "t=" << t << " ell=" << ell;
      if (sources.empty()) continue;
      const Bucket b = bucket(t, ell);
      ASSERT_EQ(*sources.begin(), b.begin) << "t=" << t << " ell=" << ell;
      ASSERT_EQ(*sources.rbegin() + 1, b.end) << "t=" << t << " ell=" << ell;
      ASSERT_EQ(static_cast<int64_t>(sources.size()), b.end - b.begin);
      ASSERT_EQ(b.end - b.begin, ell == 0 ? 1 : int64_t{1} << (ell - 1));
    }
  }
}

TEST(ChunkLevel, RelatesTokenLevelsAcrossChunks) {
  for (int log2_chunk = 0; log2_chunk <= 6; ++log2_chunk) {
    for (int64_t t = 0; t < 512; ++t) {
      for (int64_t s = 0; s <= t; ++s) {
        const int64_t tc = t >> log2_chunk, sc = s >> log2_chunk;
        if (tc == sc) {
          ASSERT_LE(level(t, s), log2_chunk) << "C=" << (1 << log2_chunk) << " t=" << t;
        } else {
          ASSERT_EQ(level(t, s), log2_chunk + 1 + chunk_level(tc, sc))
              << "C=" << (1 << log2_chunk) << " t=" << t << " s=" << s;
        }
      }
    }
  }
}

// Spec 10 C: for NT = 8 chunks, the chunks each chunk level reads from.
TEST(ChunkLevel, SpecTableCSourcesForEightChunks) {
  const std::vector<std::map<int64_t, std::set<int64_t>>> sources_by_level = {
      {{1, {0}}, {3, {2}}, {5, {4}}, {7, {6}}},
      {{2, {0, 1}}, {3, {0, 1}}, {6, {4, 5}}, {7, {4, 5}}},
      {{4, {0, 1, 2, 3}}, {5, {0, 1, 2, 3}}, {6, {0, 1, 2, 3}}, {7, {0, 1, 2, 3}}},
  };
  for (int ell = 0; ell < 3; ++ell) {
    std::map<int64_t, std::set<int64_t>> got;
    for (int64_t c = 0; c < 8; ++c) {
      for (int64_t source = 0; source < c; ++source) {
        if (chunk_level(c, source) == ell) got[c].insert(source);
      }
    }
    EXPECT_EQ(got, sources_by_level[ell]) << "chunk level " << ell;
  }
}

// Spec 5: before token t the decode state holds, per level, the sources of t-1 at that level.
// Merging levels 0..p into p+1 (p = ctz t) must turn it into the state of t minus token t.
TEST(MergeTargetLevel, MatchesTheDecodeRule) {
  EXPECT_EQ(merge_target_level(1), 1);
  EXPECT_EQ(merge_target_level(2), 2);
  EXPECT_EQ(merge_target_level(6), 2);
  EXPECT_EQ(merge_target_level(8), 4);
  EXPECT_EQ(merge_target_level(12), 3);
  EXPECT_THROW(merge_target_level(0), std::invalid_argument);
  for (int64_t t = 1; t < 1024; ++t) {
    const int target = merge_target_level(t);
    for (int ell = 1; ell <= 11; ++ell) {
      std::set<int64_t> merged;
      if (ell == target) {
        for (int below = 0; below < target; ++below) {
          const std::set<int64_t> part = sources_at_level(t - 1, below);
          merged.insert(part.begin(), part.end());
        }
      } else if (ell > target) {
        merged = sources_at_level(t - 1, ell);
      }
      ASSERT_EQ(sources_at_level(t, ell), merged) << "t=" << t << " ell=" << ell;
    }
  }
}

}  // namespace
}  // namespace lla::levels
