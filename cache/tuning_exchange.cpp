#include "tuning_exchange.h"

#include <nlohmann/json.hpp>

#include "binary_cache.h"

namespace lla::cache {

namespace {

using nlohmann::json;

json row_to_json(const TuningRow& row) {
  const Provenance& p = row.provenance;
  return json{{"problem", row.problem},
              {"device", row.device},
              {"lla_version", row.lla_version},
              {"config", row.config},
              {"status", tuning_status_name(row.status)},
              {"median_ms", row.median_ms},
              {"min_ms", row.min_ms},
              {"max_ms", row.max_ms},
              {"noise_ms", row.noise_ms},
              {"repetitions", row.repetitions},
              {"detail", row.detail},
              {"provenance",
               {{"device_name", p.device_name},
                {"sm_count", p.sm_count},
                {"clocks", p.clocks},
                {"driver_version", p.driver_version},
                {"nvrtc_version", p.nvrtc_version},
                {"measured_at", p.measured_at}}}};
}

// Reads object[name] as T, or throws naming where it is.
template <typename T>
T field(const json& object, const char* name, const std::string& where) {
  const auto found = object.find(name);
  if (found == object.end()) throw CacheError(where + ": missing field \"" + name + "\"");
  try {
    return found->get<T>();
  } catch (const json::exception&) {
    throw CacheError(where + ": field \"" + name + "\" has the wrong type (" + found->type_name() +
                     ")");
  }
}

TuningRow row_from_json(const json& object, const std::string& where) {
  if (!object.is_object()) throw CacheError(where + ": not an object");
  TuningRow row;
  row.problem = field<std::string>(object, "problem", where);
  row.device = field<std::string>(object, "device", where);
  row.lla_version = field<std::string>(object, "lla_version", where);
  row.config = field<std::string>(object, "config", where);
  try {
    row.status = parse_tuning_status(field<std::string>(object, "status", where));
  } catch (const CacheError& e) {
    throw CacheError(where + ": " + e.what());
  }
  row.median_ms = field<double>(object, "median_ms", where);
  row.min_ms = field<double>(object, "min_ms", where);
  row.max_ms = field<double>(object, "max_ms", where);
  row.noise_ms = field<double>(object, "noise_ms", where);
  row.repetitions = field<int>(object, "repetitions", where);
  row.detail = field<std::string>(object, "detail", where);
  const json provenance = field<json>(object, "provenance", where);
  const std::string in_provenance = where + ".provenance";
  if (!provenance.is_object()) throw CacheError(in_provenance + ": not an object");
  Provenance& p = row.provenance;
  p.device_name = field<std::string>(provenance, "device_name", in_provenance);
  p.sm_count = field<int>(provenance, "sm_count", in_provenance);
  p.clocks = field<std::string>(provenance, "clocks", in_provenance);
  p.driver_version = field<std::string>(provenance, "driver_version", in_provenance);
  p.nvrtc_version = field<std::string>(provenance, "nvrtc_version", in_provenance);
  p.measured_at = field<int64_t>(provenance, "measured_at", in_provenance);
  return row;
}

}  // namespace

std::string tuning_rows_to_json(const std::vector<TuningRow>& rows) {
  json list = json::array();
  for (const TuningRow& row : rows) list.push_back(row_to_json(row));
  return json{{"format", kTuningExchangeFormat}, {"rows", list}}.dump(1) + "\n";
}

std::vector<TuningRow> tuning_rows_from_json(const std::string& text, const std::string& source) {
  json document;
  try {
    document = json::parse(text);
  } catch (const json::parse_error& e) {
    throw CacheError(source + ": not JSON: " + e.what());
  }
  if (!document.is_object() || document.value("format", json()) != kTuningExchangeFormat) {
    throw CacheError(source + ": not an lla tuning export (expected \"format\": \"" +
                     kTuningExchangeFormat + "\")");
  }
  const json rows = field<json>(document, "rows", source);
  if (!rows.is_array()) throw CacheError(source + ": \"rows\" is not an array");
  std::vector<TuningRow> parsed;
  for (size_t i = 0; i < rows.size(); ++i) {
    parsed.push_back(row_from_json(rows[i], source + ": rows[" + std::to_string(i) + "]"));
  }
  return parsed;
}

bool merge_prefers(const TuningRow& incoming, const TuningRow& existing) {
  if (incoming.provenance.measured_at != existing.provenance.measured_at) {
    return incoming.provenance.measured_at > existing.provenance.measured_at;
  }
  return row_to_json(incoming).dump() < row_to_json(existing).dump();
}

}  // namespace lla::cache
