#pragma once
// Tuning rows as JSON, so a fleet can share what one GPU measured (lla cache export/import).
//
// Format "lla-tuning-v1": {"format": "lla-tuning-v1", "rows": [ROW, ...]}, each ROW an object of
// every TuningRow field (provenance nested), rows ordered by key, so exporting the same rows
// gives the same bytes.
//
// Merge rule (import): rows are matched by key (problem, device, lla version, config). An
// incoming row replaces the stored one when it was measured later (larger measured_at); at
// equal measured_at, the row whose canonical JSON text is smaller wins. The rule depends on
// the two rows only, so importing files in any order, or the same file twice, gives the same
// database.

#include <string>
#include <vector>

#include "tuning_row.h"

namespace lla::cache {

inline constexpr const char* kTuningExchangeFormat = "lla-tuning-v1";

std::string tuning_rows_to_json(const std::vector<TuningRow>& rows);

// Parses an export. Throws CacheError naming `source` and the offending row and field when the
// text is not JSON, not this format, or a row lacks a field or has one of the wrong type.
std::vector<TuningRow> tuning_rows_from_json(const std::string& text, const std::string& source);

// Whether `incoming` wins over `existing` (same key) under the merge rule above.
bool merge_prefers(const TuningRow& incoming, const TuningRow& existing);

}  // namespace lla::cache
