#include "reference/golden_case.h"

#include <cerrno>
#include <climits>
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

// A tensor's axis order as the format's "layout" writes it, and its element count.
struct ArrayShape {
  std::string layout;  // e.g. "B,T,G,K"
  size_t size;

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
    std::ifstream stream(file_, std::ios::binary);
    if (!stream) fail(std::string("cannot be opened: ") + std::strerror(errno));
    std::ostringstream text;
    text << stream.rdbuf();
    try {
      return json::parse(text.str());
    } catch (const json::parse_error& e) {
      // e.what() starts with nlohmann's "[json.exception.parse_error.101] " tag.
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
    if (!in_range) fail(field, "is " + v.dump() + ", expected a positive integer");
    return v.get<int>();
  }

  std::vector<double> array(const Field& field, const ArrayShape& shape) const {
    require_type(field, field.value.is_array(), "an array of numbers");
    if (field.value.size() != shape.size) {
      fail(field, "has " + std::to_string(field.value.size()) + " values, expected " +
                      std::to_string(shape.size) + " = " + shape.product());
    }
    std::vector<double> values;
    values.reserve(shape.size);
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

Variant read_variant(const CaseReader& reader, const Field& field) {
  const std::string name = reader.text(field);
  for (Variant v : {Variant::mamba2, Variant::gated_deltanet}) {
    if (name == variant_name(v)) return v;
  }
  reader.fail(field, "is \"" + name + "\", expected \"mamba2\" or \"gdn\"");
}

Problem read_problem(const CaseReader& reader, const Field& root) {
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
  const int needed = levels::num_levels(p.seq_len);
  if (p.levels < needed) {
    reader.fail(reader.child(root, "L"), "is " + std::to_string(p.levels) +
                                             ", T = " + std::to_string(p.seq_len) +
                                             " needs at least " + std::to_string(needed));
  }
  return p;
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
    reader.fail(format, "is \"" + format_name + "\", expected \"" + kFormat + "\"");
  }

  GoldenCase c;
  c.path = path;
  c.name = reader.text(reader.child(root, "name"));
  c.problem = read_problem(reader, root);
  const Problem& p = c.problem;
  const bool gdn = p.variant == Variant::gated_deltanet;
  const ArrayShape qk{"B,T,G,K", qk_size(p)};
  const ArrayShape per_value{"B,T,H,V", v_size(p)};
  const ArrayShape gate{"B,T,H", gate_size(p)};
  const ArrayShape lambda{"B,T,H,L", lambda_size(p)};
  const ArrayShape state{"B,H,L,K,V", state_size(p)};

  // A tensor whose declared layout must be the one its data is read in.
  const Field layout = reader.child(root, "layout");
  const auto tensor = [&](const Field& parent, const std::string& key, const ArrayShape& shape) {
    const Field axes = reader.child(layout, key);
    const std::string declared = reader.text(axes);
    if (declared != shape.layout) {
      reader.fail(axes, "is \"" + declared + "\", expected \"" + shape.layout + "\"");
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

  const Field outputs = reader.child(root, "outputs");
  c.expected.o = tensor(outputs, "o", per_value);
  c.expected.final_state.levels = tensor(outputs, "final_state", state);
  c.expected.final_state.position = p.seq_len;

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
    c.grads = std::move(g);
  }
  return c;
}

}  // namespace lla::reference
