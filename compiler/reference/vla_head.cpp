#include "reference/vla_head.h"

#include <algorithm>

namespace lla::reference::vla {
namespace {

// Offset of row (b, t, h) in a [B,T,H,d] tensor.
size_t token_offset(const Problem& p, int b, int t, int h) {
  return ((static_cast<size_t>(b) * p.seq_len + t) * p.heads + h) * p.head_dim;
}

size_t head_index(const Problem& p, int b, int h) { return static_cast<size_t>(b) * p.heads + h; }

}  // namespace

std::vector<double> gather_rows(const Problem& p, const std::vector<double>& tensor, int b, int h) {
  const int d = p.head_dim;
  std::vector<double> rows(static_cast<size_t>(p.seq_len) * d);
  for (int t = 0; t < p.seq_len; ++t) {
    const auto from = tensor.begin() + token_offset(p, b, t, h);
    std::copy(from, from + d, rows.begin() + static_cast<size_t>(t) * d);
  }
  return rows;
}

void scatter_rows(const Problem& p, const std::vector<double>& rows, int b, int h,
                  std::vector<double>& tensor) {
  const int d = p.head_dim;
  for (int t = 0; t < p.seq_len; ++t) {
    const auto from = rows.begin() + static_cast<size_t>(t) * d;
    std::copy(from, from + d, tensor.begin() + token_offset(p, b, t, h));
  }
}

HeadInputs gather_head(const Problem& p, const Inputs& in, int b, int h) {
  HeadInputs head;
  head.seq_len = p.seq_len;
  head.head_dim = p.head_dim;
  head.q = gather_rows(p, in.q, b, h);
  head.k = gather_rows(p, in.k, b, h);
  head.u = gather_rows(p, in.u, b, h);
  head.v = gather_rows(p, in.v, b, h);
  return head;
}

HeadState gather_state(const Problem& p, const std::vector<double>& A, const std::vector<double>& S,
                       const std::vector<double>& z, int b, int h) {
  const size_t d = p.head_dim, matrix = d * d, bh = head_index(p, b, h);
  HeadState head;
  head.A.assign(A.begin() + bh * matrix, A.begin() + (bh + 1) * matrix);
  head.S.assign(S.begin() + bh * matrix, S.begin() + (bh + 1) * matrix);
  head.z.assign(z.begin() + bh * d, z.begin() + (bh + 1) * d);
  return head;
}

void scatter_state(const Problem& p, const HeadState& head, int b, int h, std::vector<double>& A,
                   std::vector<double>& S, std::vector<double>& z) {
  const size_t d = p.head_dim, matrix = d * d, bh = head_index(p, b, h);
  std::copy(head.A.begin(), head.A.end(), A.begin() + bh * matrix);
  std::copy(head.S.begin(), head.S.end(), S.begin() + bh * matrix);
  std::copy(head.z.begin(), head.z.end(), z.begin() + bh * d);
}

HeadState fresh_head_state(const Problem& p) {
  const int d = p.head_dim;
  HeadState head;
  head.A.assign(static_cast<size_t>(d) * d, 0.0);
  for (int i = 0; i < d; ++i) head.A[static_cast<size_t>(i) * d + i] = 1.0 / p.hyper.lambda0;
  head.S.assign(static_cast<size_t>(d) * d, 0.0);
  head.z.assign(d, 0.0);
  return head;
}

void for_each_head(const Problem& p, const std::function<void(int b, int h)>& visit) {
  for (int b = 0; b < p.batch; ++b) {
    for (int h = 0; h < p.heads; ++h) visit(b, h);
  }
}

}  // namespace lla::reference::vla
