// The tensor table of each pass: the fields of its C API arguments (runtime/include/lla/lla.h),
// declared once for every family of the pass.
#include <map>
#include <stdexcept>
#include <utility>

#include "families/kernel_family.h"

namespace lla::compiler {
namespace {

using D = Dim;

// Inputs of the real distribution for the candidate bench: q, k, v uniform in [-1, 1], g a
// log decay in [-0.1, 0], lambda in [0.5, 1.5], beta in [0, 1].
constexpr InputDistribution kValues{-1, 1}, kLogDecay{-0.1, 0}, kLambda{0.5, 1.5}, kBeta{0, 1};

const std::vector<TensorDecl>& pass_table(Pass pass) {
  static const std::vector<TensorDecl> forward = {
      {Buffer::q, "q", {D::batch, D::seq_len, D::groups, D::key_dim}, ElementType::problem, 16, Access::read, false,
       Buffer::workspace, kValues},
      {Buffer::k, "k", {D::batch, D::seq_len, D::groups, D::key_dim}, ElementType::problem, 16, Access::read, false,
       Buffer::workspace, kValues},
      {Buffer::v, "v", {D::batch, D::seq_len, D::heads, D::value_dim}, ElementType::problem, 16, Access::read, false,
       Buffer::workspace, kValues},
      {Buffer::g, "g", {D::batch, D::seq_len, D::heads}, ElementType::f32, 4, Access::read, false, Buffer::workspace,
       kLogDecay},
      // Aligned to its element: a [B, T, H] row has no 16-byte multiple.
      {Buffer::beta, "beta", {D::batch, D::seq_len, D::heads}, ElementType::problem, 0, Access::read, false,
       Buffer::workspace, kBeta, true},
      {Buffer::lambda, "lambda", {D::batch, D::seq_len, D::heads, D::levels}, ElementType::problem, 16, Access::read,
       false, Buffer::workspace, kLambda},
      {Buffer::o, "o", {D::batch, D::seq_len, D::heads, D::value_dim}, ElementType::problem, 16, Access::write, false},
      {Buffer::initial_state, "initial_state", {D::sequences, D::heads, D::levels, D::key_dim, D::value_dim},
       ElementType::f32, 16, Access::read, true},
      // May be the initial state's memory, updated in place.
      {Buffer::final_state, "final_state", {D::sequences, D::heads, D::levels, D::key_dim, D::value_dim},
       ElementType::f32, 16, Access::write, true, Buffer::initial_state},
  };
  static const std::vector<TensorDecl> decode = {
      {Buffer::q, "q", {D::batch, D::groups, D::key_dim}, ElementType::problem, 16, Access::read, false,
       Buffer::workspace, kValues},
      {Buffer::k, "k", {D::batch, D::groups, D::key_dim}, ElementType::problem, 16, Access::read, false,
       Buffer::workspace, kValues},
      {Buffer::v, "v", {D::batch, D::heads, D::value_dim}, ElementType::problem, 16, Access::read, false,
       Buffer::workspace, kValues},
      {Buffer::g, "g", {D::batch, D::heads}, ElementType::f32, 4, Access::read, false, Buffer::workspace, kLogDecay},
      {Buffer::beta, "beta", {D::batch, D::heads}, ElementType::problem, 0, Access::read, false, Buffer::workspace,
       kBeta, true},
      {Buffer::lambda, "lambda", {D::batch, D::heads, D::levels}, ElementType::problem, 16, Access::read, false,
       Buffer::workspace, kLambda},
      {Buffer::o, "o", {D::batch, D::heads, D::value_dim}, ElementType::problem, 16, Access::write, false},
      {Buffer::state, "state", {D::batch, D::heads, D::levels, D::key_dim, D::value_dim}, ElementType::f32, 16,
       Access::read_write, false},
      // Written only by a call that advances them (the pass says which calls do).
      {Buffer::positions, "positions", {D::batch}, ElementType::i64, 8, Access::read_write, false},
  };
  switch (pass) {
    case Pass::forward: return forward;
    case Pass::decode: return decode;
  }
  throw std::invalid_argument("pass: unknown value " + std::to_string(static_cast<int>(pass)));
}

std::vector<TensorDecl> variant_table(FamilyKey key) {
  std::vector<TensorDecl> table;
  for (const TensorDecl& t : pass_table(key.pass))
    if (!t.gated_deltanet_only || key.variant == Variant::gated_deltanet) table.push_back(t);
  return table;
}

}  // namespace

const std::vector<TensorDecl>& tensors_of(FamilyKey key) {
  static const auto tables = [] {
    std::map<std::pair<int, int>, std::vector<TensorDecl>> all;
    for (Variant v : {Variant::mamba2, Variant::gated_deltanet})
      for (Pass p : {Pass::forward, Pass::decode})
        all[{static_cast<int>(v), static_cast<int>(p)}] = variant_table({v, p});
    return all;
  }();
  const auto found = tables.find({static_cast<int>(key.variant), static_cast<int>(key.pass)});
  if (found == tables.end())
    throw std::invalid_argument(std::string("no tensor table for ") + variant_name(key.variant) + " " +
                                pass_name(key.pass));
  return found->second;
}

}  // namespace lla::compiler
