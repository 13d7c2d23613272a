// Tuning rows of the cache database: one row per (problem, device, lla version, config).
#include <map>
#include <mutex>
#include <tuple>

#include "cache_connection.h"
#include "tuning_exchange.h"

namespace lla::cache {

using sqlite::Binding;
using sqlite::WriteTransaction;

namespace {

constexpr const char* kRowColumns =
    "problem, device, lla_version, config, status, median_ms, min_ms, max_ms, noise_ms, "
    "repetitions, detail, device_name, sm_count, clocks, driver_version, nvrtc_version, "
    "measured_at";

void bind_row(Binding& binding, const TuningRow& row, const std::string& status) {
  binding.text(1, row.problem)
      .text(2, row.device)
      .text(3, row.lla_version)
      .text(4, row.config)
      .text(5, status)
      .real(6, row.median_ms)
      .real(7, row.min_ms)
      .real(8, row.max_ms)
      .real(9, row.noise_ms)
      .integer(10, row.repetitions)
      .text(11, row.detail)
      .text(12, row.provenance.device_name)
      .integer(13, row.provenance.sm_count)
      .text(14, row.provenance.clocks)
      .text(15, row.provenance.driver_version)
      .text(16, row.provenance.nvrtc_version)
      .integer(17, row.provenance.measured_at);
}

TuningRow read_row(sqlite3_stmt* statement) {
  using sqlite::column_text;
  TuningRow row;
  row.problem = column_text(statement, 0);
  row.device = column_text(statement, 1);
  row.lla_version = column_text(statement, 2);
  row.config = column_text(statement, 3);
  row.status = parse_tuning_status(column_text(statement, 4));
  row.median_ms = sqlite3_column_double(statement, 5);
  row.min_ms = sqlite3_column_double(statement, 6);
  row.max_ms = sqlite3_column_double(statement, 7);
  row.noise_ms = sqlite3_column_double(statement, 8);
  row.repetitions = sqlite3_column_int(statement, 9);
  row.detail = column_text(statement, 10);
  row.provenance.device_name = column_text(statement, 11);
  row.provenance.sm_count = sqlite3_column_int(statement, 12);
  row.provenance.clocks = column_text(statement, 13);
  row.provenance.driver_version = column_text(statement, 14);
  row.provenance.nvrtc_version = column_text(statement, 15);
  row.provenance.measured_at = sqlite3_column_int64(statement, 16);
  return row;
}

std::string insert_sql() {
  return std::string("INSERT OR REPLACE INTO tuning_rows (") + kRowColumns +
         ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";
}

// Within the caller's transaction.
void insert_rows(sqlite::Database& db, const std::vector<const TuningRow*>& rows) {
  const sqlite::Statement insert = db.prepare(insert_sql().c_str());
  for (const TuningRow* row : rows) {
    Binding binding(db, insert);
    bind_row(binding, *row, tuning_status_name(row->status));
    if (binding.step() != SQLITE_DONE) db.fail("cannot store a tuning row for " + row->config);
  }
}

std::vector<TuningRow> select_rows(sqlite::Database& db, const std::string& where,
                                   const std::vector<std::string>& parameters) {
  const std::string sql = std::string("SELECT ") + kRowColumns + " FROM tuning_rows " + where +
                          " ORDER BY problem, device, lla_version, config";
  const sqlite::Statement statement = db.prepare(sql.c_str());
  Binding binding(db, statement);
  for (size_t i = 0; i < parameters.size(); ++i)
    binding.text(static_cast<int>(i) + 1, parameters[i]);
  std::vector<TuningRow> rows;
  int rc = SQLITE_ROW;
  while ((rc = binding.step()) == SQLITE_ROW) rows.push_back(read_row(binding.row()));
  if (rc != SQLITE_DONE) db.fail("cannot read tuning rows");
  return rows;
}

}  // namespace

const char* tuning_status_name(TuningStatus s) {
  switch (s) {
    case TuningStatus::timed:
      return "timed";
    case TuningStatus::failed:
      return "failed";
    case TuningStatus::pruned:
      return "pruned";
  }
  return "?";
}

TuningStatus parse_tuning_status(const std::string& text) {
  for (TuningStatus s : {TuningStatus::timed, TuningStatus::failed, TuningStatus::pruned})
    if (text == tuning_status_name(s)) return s;
  throw CacheError("unknown tuning row status \"" + text + "\" (expected timed, failed or pruned)");
}

void BinaryCache::put_tuning_rows(const std::vector<TuningRow>& rows) {
  Connection& c = *connection_;
  std::lock_guard<std::mutex> lock(c.mutex);
  std::vector<const TuningRow*> pointers;
  for (const TuningRow& row : rows) pointers.push_back(&row);
  WriteTransaction transaction(c.db);
  insert_rows(c.db, pointers);
  transaction.commit();
}

std::vector<TuningRow> BinaryCache::tuning_rows(const std::string& problem,
                                                const std::string& device,
                                                const std::string& lla_version) {
  Connection& c = *connection_;
  std::lock_guard<std::mutex> lock(c.mutex);
  return select_rows(c.db, "WHERE problem = ?1 AND device = ?2 AND lla_version = ?3",
                     {problem, device, lla_version});
}

std::vector<TuningRow> BinaryCache::all_tuning_rows() {
  Connection& c = *connection_;
  std::lock_guard<std::mutex> lock(c.mutex);
  return select_rows(c.db, "", {});
}

BinaryCache::MergeCounts BinaryCache::merge_tuning_rows(const std::vector<TuningRow>& rows) {
  Connection& c = *connection_;
  std::lock_guard<std::mutex> lock(c.mutex);
  // Duplicates within `rows` are settled by the same rule first, so input order never matters.
  std::map<std::tuple<std::string, std::string, std::string, std::string>, const TuningRow*> best;
  for (const TuningRow& row : rows) {
    const TuningRow*& slot = best[{row.problem, row.device, row.lla_version, row.config}];
    if (!slot || merge_prefers(row, *slot)) slot = &row;
  }
  WriteTransaction transaction(c.db);
  MergeCounts counts;
  std::vector<const TuningRow*> winners;
  for (const auto& entry : best) {
    const TuningRow& incoming = *entry.second;
    const std::vector<TuningRow> existing =
        select_rows(c.db, "WHERE problem = ?1 AND device = ?2 AND lla_version = ?3 AND config = ?4",
                    {incoming.problem, incoming.device, incoming.lla_version, incoming.config});
    if (existing.empty()) {
      ++counts.added;
      winners.push_back(&incoming);
    } else if (merge_prefers(incoming, existing.front())) {
      ++counts.replaced;
      winners.push_back(&incoming);
    } else {
      ++counts.kept;
    }
  }
  insert_rows(c.db, winners);
  transaction.commit();
  return counts;
}

}  // namespace lla::cache
