#include "reference/golden_case.h"

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "levels/fenwick_levels.h"

namespace lla::reference {
namespace {

using nlohmann::json;

constexpr const char* kFormat = "lla-case-v1";

// A tensor's axis order as the format's "layout" writes it, and its dimensions in that order.
struct ArrayShape {
  std::string layout;     // e.g. "B,T,G,K"
  std::vector<int> dims;  // e.g. {B, T, G, K}

  std::string product() const {  // "B*T*G*K"
    std::string axes = layout;
    for (char& c : axes) c = c == ',' ? '*' : c;
    return axes;
  }
};

// One value of the document and its dotted path ("inputs.q") for messages.
struct Field {
  const json& value;
  std::string path;
};

// Reads the fields of one case file; every error names the file and the field.
class CaseReader {
 public:
  explicit CaseReader(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }

  [[noreturn]] void fail(const std::string& what) const {
    throw CaseFormatError(file_ + ": " + what);
  }
  [[noreturn]] void fail(const Field& field, const std::string& what) const {
    fail("field '" + field.path + "' " + what);
  }

  json parse_file() const {
    std::error_code error;
    if (!std::filesystem::is_regular_file(file_, error)) {
      fail(std::filesystem::exists(file_, error) ? "is not a regular file" : "no such file");
    }
    const auto bytes = std::filesystem::file_size(file_, error);
    if (!error && bytes > static_cast<uintmax_t>(kMaxCaseFileBytes)) {
      fail("has " + std::to_string(bytes) + " bytes, more than a case may have (" +
           std::to_string(kMaxCaseFileBytes) + ")");
    }
    std::ifstream stream(file_, std::ios::binary);
    if (!stream) fail(std::string("cannot be opened: ") + std::strerror(errno));
    std::ostringstream text;
    text << stream.rdbuf();
    // The callback bounds the nesting while the (iterative) parser builds the document, before
    // anything recursive (a copy, a dump, the destructor of a deep value) can see it.
    struct TooDeep {};
    const json::parser_callback_t bounded_depth = [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxCaseDepth) throw TooDeep{};
      return true;
    };
    try {
      return json::parse(text.str(), bounded_depth);
    } catch (const TooDeep&) {
      fail("is not a case: JSON nested deeper than " + std::to_string(kMaxCaseDepth) + " levels");
    } catch (const json::exception& e) {
      // A parse error, or a number out of range (1e400); e.what() starts with nlohmann's
      // "[json.exception.parse_error.101] " tag.
      const std::string message = e.what();
      const size_t tag_end = message.find("] ");
      fail("is not valid JSON: " +
           (tag_end == std::string::npos ? message : message.substr(tag_end + 2)));
    }
  }

  bool has(const Field& object, const std::string& key) const {
    return object.value.is_object() && object.value.contains(key);
  }

  Field child(const Field& object, const std::string& key) const {
    const std::string path = object.path.empty() ? key : object.path + "." + key;
    require_type(object, object.value.is_object(), "an object");
    const auto it = object.value.find(key);
    if (it == object.value.end()) fail("field '" + path + "' is missing");
    return {*it, path};
  }

  std::string text(const Field& field) const {
    require_type(field, field.value.is_string(), "a string");
    return field.value.get<std::string>();
  }

  double number(const Field& field) const {
    require_type(field, field.value.is_number(), "a number");
    return field.value.get<double>();
  }

  bool boolean(const Field& field) const {
    require_type(field, field.value.is_boolean(), "true or false");
    return field.value.get<bool>();
  }

  int positive_int(const Field& field) const {
    const json& v = field.value;
    const bool in_range =
        v.is_number_unsigned() && v.get<uint64_t>() >= 1 && v.get<uint64_t>() <= INT_MAX;
    if (!in_range) fail(field, "is " + value_phrase(v) + ", expected a positive integer");
    return v.get<int>();
  }

  int64_t position(const Field& field, int64_t largest) const {
    const json& v = field.value;
    const bool in_range = v.is_number_unsigned() && v.get<uint64_t>() <= static_cast<uint64_t>(largest);
    if (!in_range) {
      fail(field, "is " + value_phrase(v) + ", expected an integer from 0 to " +
                      std::to_string(largest));
    }
    return static_cast<int64_t>(v.get<uint64_t>());
  }

  // A short description of a value for messages: a number or a (shortened) string as JSON, any
  // other value by its type, never its whole text.
  static std::string value_phrase(const json& v) {
    if (v.is_number() || v.is_boolean()) return v.dump();
    if (v.is_string()) return quoted(v.get<std::string>());
    return type_phrase(v);
  }

  // s as a JSON string (control characters escaped), shortened to 64 characters.
  static std::string quoted(const std::string& s) {
    constexpr size_t kShown = 64;
    if (s.size() <= kShown) return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
    return json(s.substr(0, kShown)).dump(-1, ' ', false, json::error_handler_t::replace) +
           "... (" + std::to_string(s.size()) + " bytes)";
  }

  std::vector<double> array(const Field& field, const ArrayShape& shape) const {
    size_t expected = 1;
    for (const int d : shape.dims) {
      if (__builtin_mul_overflow(expected, static_cast<size_t>(d), &expected)) {
        std::string values;
        for (const int x : shape.dims) values += (values.empty() ? "" : "*") + std::to_string(x);
        fail(field, "would need " + shape.product() + " = " + values +
                        " values, which overflows the size type");
      }
    }
    require_type(field, field.value.is_array(), "an array of numbers");
    if (field.value.size() != expected) {
      fail(field, "has " + std::to_string(field.value.size()) + " values, expected " +
                      std::to_string(expected) + " = " + shape.product());
    }
    std::vector<double> values;
    values.reserve(expected);
    for (const json& entry : field.value) {
      if (!entry.is_number()) {
        fail(field, "entry " + std::to_string(values.size()) + " is " + type_phrase(entry) +
                        ", expected a number");
      }
      values.push_back(entry.get<double>());
    }
    return values;
  }

 private:
  // Fails unless ok: "field 'x' is a string, expected <expected>".
  void require_type(const Field& field, bool ok, const std::string& expected) const {
    if (!ok) fail(field, "is " + type_phrase(field.value) + ", expected " + expected);
  }

  // "a string", "an array", "null", ...: the JSON type of v for messages.
  static std::string type_phrase(const json& v) {
    const std::string type = v.type_name();
    if (v.is_null()) return type;
    return (type[0] == 'a' || type[0] == 'o' ? "an " : "a ") + type;
  }

  std::string file_;
};

constexpr const char* kVla = "vla";

Variant read_variant(const CaseReader& reader, const Field& field) {
  const std::string name = reader.text(field);
  for (Variant v : {Variant::mamba2, Variant::gated_deltanet}) {
    if (name == variant_name(v)) return v;
  }
  reader.fail(field,
              "is " + CaseReader::quoted(name) + ", expected \"mamba2\", \"gdn\" or \"vla\"");
}

// The problem of the case, and its start position (0 when the case gives none).
Problem read_problem(const CaseReader& reader, const Field& root, int64_t& start_position) {
  Problem p;
  p.variant = read_variant(reader, reader.child(root, "variant"));
  p.batch = reader.positive_int(reader.child(root, "B"));
  p.seq_len = reader.positive_int(reader.child(root, "T"));
  p.heads = reader.positive_int(reader.child(root, "H"));
  p.groups = reader.positive_int(reader.child(root, "G"));
  p.key_dim = reader.positive_int(reader.child(root, "K"));
  p.value_dim = reader.positive_int(reader.child(root, "V"));
  p.levels = reader.positive_int(reader.child(root, "L"));
  p.scale = reader.number(reader.child(root, "scale"));
  p.qk_l2norm = reader.boolean(reader.child(root, "qk_l2norm"));
  if (p.heads % p.groups != 0) {
    reader.fail(reader.child(root, "G"),
                "is " + std::to_string(p.groups) +
                    ", which does not divide H = " + std::to_string(p.heads));
  }
  // Positions up to 2^62 keep every level and position computation far from overflow.
  constexpr int64_t kLargestStart = int64_t{1} << 62;
  start_position = reader.has(root, "start_position")
                       ? reader.position(reader.child(root, "start_position"), kLargestStart)
                       : 0;
  const int needed = levels::num_levels(start_position + p.seq_len);
  if (p.levels < needed) {
    reader.fail(reader.child(root, "L"),
                "is " + std::to_string(p.levels) + ", positions " + std::to_string(start_position) +
                    ".." + std::to_string(start_position + p.seq_len - 1) + " need at least " +
                    std::to_string(needed));
  }
  return p;
}

// Fails when `key` of `object` is given: a log-linear field a "vla" case has no use for.
void refuse_log_linear_field(const CaseReader& reader, const Field& object,
                             const std::string& key) {
  if (reader.has(object, key)) {
    reader.fail(reader.child(object, key), "is given, but variant \"vla\" has no such field");
  }
}

// A "vla" case's layout entry, when given, must declare the axes `axes`.
void check_vla_layout(const CaseReader& reader, const Field& layout, const std::string& key,
                      const std::string& axes) {
  if (!reader.has(layout, key)) return;
  const Field entry = reader.child(layout, key);
  const std::string declared = reader.text(entry);
  if (declared != axes) {
    reader.fail(entry, "is " + CaseReader::quoted(declared) + ", expected \"" + axes + "\"");
  }
}

// The hyperparameters of a "vla" case (other keys of "hyper" are ignored).
vla::Hyper read_hyper(const CaseReader& reader, const Field& hyper) {
  vla::Hyper h;
  h.lambda0 = reader.number(reader.child(hyper, "lambda0"));
  const Field period = reader.child(hyper, "period");
  const double p = reader.number(period);
  if (!(p >= 1 && p <= INT_MAX && p == std::floor(p))) {
    reader.fail(period,
                "is " + CaseReader::value_phrase(period.value) + ", expected a positive integer");
  }
  h.period = static_cast<int>(p);
  h.eps_per = reader.number(reader.child(hyper, "eps_per"));
  h.eps_stab = reader.number(reader.child(hyper, "eps_stab"));
  h.eps_den = reader.number(reader.child(hyper, "eps_den"));
  return h;
}

// q and k are ELU + 1 features: no entry below zero.
void require_features(const CaseReader& reader, const Field& field, const std::vector<double>& x) {
  for (size_t i = 0; i < x.size(); ++i) {
    if (!(x[i] >= 0.0)) {
      reader.fail(field, "entry " + std::to_string(i) + " is " + CaseReader::value_phrase(x[i]) +
                             ", below 0: it holds features after ELU + 1");
    }
  }
}

// Every row of u (one head of one token) is a unit direction, or zero where W_u's output was.
void require_unit_rows(const CaseReader& reader, const Field& field, const vla::Problem& p,
                       const std::vector<double>& u) {
  const int d = p.head_dim;
  for (size_t row = 0; row * d < u.size(); ++row) {
    double sum_squares = 0.0;
    for (int i = 0; i < d; ++i) sum_squares += u[row * d + i] * u[row * d + i];
    const double norm = std::sqrt(sum_squares);
    if (norm == 0.0 || std::abs(norm - 1.0) <= 1e-9) continue;
    const size_t h = row % p.heads, t = row / p.heads % p.seq_len, b = row / p.heads / p.seq_len;
    reader.fail(field, "row (b=" + std::to_string(b) + ", t=" + std::to_string(t) + ", h=" +
                           std::to_string(h) + ") has norm " + CaseReader::value_phrase(norm) +
                           ", expected 1: u is a unit direction (or 0)");
  }
}

VlaGoldenCase read_vla_case(const CaseReader& reader, const Field& root) {
  for (const char* key : {"G", "L", "scale", "qk_l2norm", "start_position"}) {
    refuse_log_linear_field(reader, root, key);
  }
  VlaGoldenCase c;
  vla::Problem& p = c.problem;
  p.batch = reader.positive_int(reader.child(root, "B"));
  p.seq_len = reader.positive_int(reader.child(root, "T"));
  p.heads = reader.positive_int(reader.child(root, "H"));
  p.head_dim = reader.positive_int(reader.child(root, "d"));
  for (const char* key : {"K", "V"}) {
    if (!reader.has(root, key)) continue;
    const Field dim = reader.child(root, key);
    if (reader.positive_int(dim) != p.head_dim) {
      reader.fail(dim, "is " + CaseReader::value_phrase(dim.value) + ", expected d = " +
                           std::to_string(p.head_dim) + " (variant \"vla\" has K = V = d)");
    }
  }
  const Field hyper = reader.child(root, "hyper");
  p.hyper = read_hyper(reader, hyper);
  try {
    vla::validate(p);
  } catch (const std::invalid_argument& e) {
    // e.what() is "hyper.lambda0: must be positive", or names a tensor whose size overflows.
    const std::string message = e.what();
    const size_t colon = message.find(": ");
    const std::string field = message.substr(0, colon);
    if (field.rfind("hyper.", 0) == 0) {
      reader.fail(reader.child(hyper, field.substr(6)), message.substr(colon + 2));
    }
    reader.fail(message);
  }

  const std::string token_axes = "B,T,H,d", matrix_axes = "B,H,d,d", vector_axes = "B,H,d";
  const ArrayShape token{token_axes, {p.batch, p.seq_len, p.heads, p.head_dim}};
  const ArrayShape matrix{matrix_axes, {p.batch, p.heads, p.head_dim, p.head_dim}};
  const ArrayShape vector{vector_axes, {p.batch, p.heads, p.head_dim}};
  if (reader.has(root, "layout")) {
    const Field layout = reader.child(root, "layout");
    for (const char* key : {"q", "k", "u", "v", "o"})
      check_vla_layout(reader, layout, key, token_axes);
    if (reader.has(layout, "final_state")) {
      const Field state = reader.child(layout, "final_state");
      check_vla_layout(reader, state, "A", matrix_axes);
      check_vla_layout(reader, state, "S", matrix_axes);
      check_vla_layout(reader, state, "z", vector_axes);
    }
  }

  const Field inputs = reader.child(root, "inputs");
  for (const char* key : {"g", "lambda", "beta", "initial_state"}) {
    refuse_log_linear_field(reader, inputs, key);
  }
  const auto input = [&](const char* key) {
    return reader.array(reader.child(inputs, key), token);
  };
  c.inputs.q = input("q");
  c.inputs.k = input("k");
  c.inputs.u = input("u");
  c.inputs.v = input("v");
  require_features(reader, reader.child(inputs, "q"), c.inputs.q);
  require_features(reader, reader.child(inputs, "k"), c.inputs.k);
  require_unit_rows(reader, reader.child(inputs, "u"), p, c.inputs.u);

  const Field outputs = reader.child(root, "outputs");
  c.expected.o = reader.array(reader.child(outputs, "o"), token);
  const Field final_state = reader.child(outputs, "final_state");
  c.expected.final_state.position = p.seq_len;
  c.expected.final_state.A = reader.array(reader.child(final_state, "A"), matrix);
  c.expected.final_state.S = reader.array(reader.child(final_state, "S"), matrix);
  c.expected.final_state.z = reader.array(reader.child(final_state, "z"), vector);

  if (reader.has(root, "grads")) {
    const Field grads = reader.child(root, "grads");
    for (const char* key : {"dfinal_state", "dinitial_state"}) {
      refuse_log_linear_field(reader, grads, key);
    }
    const auto gradient = [&](const char* key) {
      return reader.array(reader.child(grads, key), token);
    };
    c.grads = VlaGoldenGradients{gradient("do"), gradient("dq"), gradient("dk"), gradient("du"),
                                 gradient("dv")};
  }
  return c;
}

}  // namespace

GoldenCase load_golden_case(const std::string& path) {
  const CaseReader reader(path);
  const json document = reader.parse_file();
  const Field root{document, ""};
  if (!document.is_object()) reader.fail("is not a JSON object");
  const Field format = reader.child(root, "format");
  const std::string format_name = reader.text(format);
  if (format_name != kFormat) {
    reader.fail(format, "is " + CaseReader::quoted(format_name) + ", expected \"" + kFormat + "\"");
  }

  GoldenCase c;
  c.path = path;
  c.name = reader.text(reader.child(root, "name"));
  const Field variant = reader.child(root, "variant");
  if (reader.text(variant) == kVla) {
    c.vla = read_vla_case(reader, root);
    return c;
  }
  int64_t start = 0;
  c.problem = read_problem(reader, root, start);
  const Problem& p = c.problem;
  const bool gdn = p.variant == Variant::gated_deltanet;
  const ArrayShape qk{"B,T,G,K", {p.batch, p.seq_len, p.groups, p.key_dim}};
  const ArrayShape per_value{"B,T,H,V", {p.batch, p.seq_len, p.heads, p.value_dim}};
  const ArrayShape gate{"B,T,H", {p.batch, p.seq_len, p.heads}};
  const ArrayShape lambda{"B,T,H,L", {p.batch, p.seq_len, p.heads, p.levels}};
  const ArrayShape state{"B,H,L,K,V", {p.batch, p.heads, p.levels, p.key_dim, p.value_dim}};

  // A tensor read in the layout of its shape, which its "layout" entry must declare (an entry
  // the format's extensions add may be left out; when given it is checked as well).
  const Field layout = reader.child(root, "layout");
  const auto tensor = [&](const Field& parent, const std::string& key, const ArrayShape& shape,
                          bool layout_required = true) {
    if (layout_required || reader.has(layout, key)) {
      const Field axes = reader.child(layout, key);
      const std::string declared = reader.text(axes);
      if (declared != shape.layout) {
        reader.fail(axes, "is " + CaseReader::quoted(declared) + ", expected \"" + shape.layout +
                              "\"");
      }
    }
    return reader.array(reader.child(parent, key), shape);
  };

  const Field inputs = reader.child(root, "inputs");
  c.inputs.q = tensor(inputs, "q", qk);
  c.inputs.k = tensor(inputs, "k", qk);
  c.inputs.v = tensor(inputs, "v", per_value);
  c.inputs.g = tensor(inputs, "g", gate);
  c.inputs.lambda = tensor(inputs, "lambda", lambda);
  if (gdn) {
    c.inputs.beta = tensor(inputs, "beta", gate);
  } else if (reader.has(inputs, "beta")) {
    reader.fail(reader.child(inputs, "beta"), "is given, but variant mamba2 has no beta");
  }
  if (reader.has(inputs, "initial_state")) {
    const Field field = reader.child(inputs, "initial_state");
    FenwickState initial{start, tensor(inputs, "initial_state", state)};
    try {
      validate(p, initial);
    } catch (const std::invalid_argument& e) {
      // e.what() is "state: level 3 is empty at position 16 but holds nonzero values".
      const std::string message = e.what();
      const size_t colon = message.find(": ");
      reader.fail(field, colon == std::string::npos ? message : message.substr(colon + 2));
    }
    c.initial_state = std::move(initial);
  } else if (start > 0) {
    reader.fail("field 'inputs.initial_state' is missing: start_position " +
                std::to_string(start) + " needs the state after those tokens");
  }

  const Field outputs = reader.child(root, "outputs");
  c.expected.o = tensor(outputs, "o", per_value);
  c.expected.final_state.levels = tensor(outputs, "final_state", state);
  c.expected.final_state.position = start + p.seq_len;

  if (reader.has(root, "grads")) {
    const Field grads = reader.child(root, "grads");
    GoldenGradients g;
    g.d_o = reader.array(reader.child(grads, "do"), per_value);
    g.dq = reader.array(reader.child(grads, "dq"), qk);
    g.dk = reader.array(reader.child(grads, "dk"), qk);
    g.dv = reader.array(reader.child(grads, "dv"), per_value);
    g.dg = reader.array(reader.child(grads, "dg"), gate);
    g.dlambda = reader.array(reader.child(grads, "dlambda"), lambda);
    if (gdn) g.dbeta = reader.array(reader.child(grads, "dbeta"), gate);
    if (reader.has(grads, "dfinal_state")) {
      g.d_final_state = tensor(grads, "dfinal_state", state, false);
    }
    if (reader.has(grads, "dinitial_state")) {
      g.d_initial_state = tensor(grads, "dinitial_state", state, false);
    }
    c.grads = std::move(g);
  }
  return c;
}

}  // namespace lla::reference
