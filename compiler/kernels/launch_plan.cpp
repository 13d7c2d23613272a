#include "kernels/launch_plan.h"

#include <limits>
#include <stdexcept>
#include <string>

#include "levels/fenwick_levels.h"

namespace lla::compiler {

void check_sequence_span(const SequenceSpan& span, size_t index, int64_t rows, int levels) {
  const std::string name = "sequence " + std::to_string(index);
  const auto require = [&](bool ok, const std::string& why) {
    if (!ok) throw std::invalid_argument(name + ": " + why);
  };
  require(span.length >= 0 && span.start >= 0, "negative start or length");
  require(span.row0 >= 0 && span.row0 + span.length <= rows,
          "rows [" + std::to_string(span.row0) + ", " + std::to_string(span.row0 + span.length) +
              ") lie outside the " + std::to_string(rows) + " rows of the call");
  require(span.start + span.length <= std::numeric_limits<int32_t>::max(),
          "positions beyond 2^31 - 1 are not supported");
  const int64_t end = span.start + span.length;
  const int needed = end > 0 ? levels::num_levels(end) : 1;
  require(levels >= needed, "levels=" + std::to_string(levels) +
                                " is below num_levels(start + length)=" + std::to_string(needed));
}

}  // namespace lla::compiler
