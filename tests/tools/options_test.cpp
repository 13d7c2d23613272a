// The option parser every `lla` command declares its options to (tools/lla/options.h): both
// forms of a value, the errors (unknown option, bad value, missing value, stray argument), the
// end of options, and the --help text made from the declarations.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "options.h"

namespace lla::tools {
namespace {

using ::testing::HasSubstr;

// A command with one option of each kind, and where they went.
struct Declared {
  int heads = 8;
  int64_t position = 0;
  double budget = 30;
  std::string cache_dir;
  compiler::Dtype element_type = compiler::Dtype::bf16;
  std::vector<int> batches;
  bool json = false;
  std::vector<std::string> shapes;  // repeatable
  std::vector<std::string> files;
  CommandLine command{"demo", {"demo [options] FILE..."}, "Demonstrates the parser."};

  explicit Declared(bool with_operands = true) {
    command.option("--heads", "H", "heads (8)", integer(&heads, 1))
        .option("--max-position", "P", "largest position (0)", integer64(&position, 0))
        .option("--budget", "S", "seconds (30)", positive_seconds(&budget))
        .option("--cache-dir", "DIR", "the cache folder", text(&cache_dir))
        .option("--dtype", "bf16|f16|f32", "element type (bf16)", dtype(&element_type))
        .option("--batches", "B1,B2,...", "batch sizes", integer_list(&batches, 1))
        .option("--shape", "T:B", "a shape, repeatable",
                [this](const std::string& s) { shapes.push_back(s); })
        .flag("--json", "print JSON", &json)
        .notes("Exit status: 0 always.");
    if (with_operands) command.operands("FILE...", "files to read", &files);
  }

  // The message of the UsageError parse throws; "" when it throws none.
  std::string error_of(const Args& args) {
    try {
      command.parse(args);
    } catch (const UsageError& e) {
      return e.what();
    }
    return "";
  }
};

TEST(Options, BothFormsOfAValueSetTheSameThing) {
  Declared spaced, joined;
  ASSERT_TRUE(spaced.command.parse({"--heads", "4", "--dtype", "f16", "--cache-dir", "/tmp/c",
                                    "--batches", "1,16", "--budget", "2.5", "--json"}));
  ASSERT_TRUE(joined.command.parse({"--heads=4", "--dtype=f16", "--cache-dir=/tmp/c",
                                    "--batches=1,16", "--budget=2.5", "--json"}));
  for (const Declared* d : {&spaced, &joined}) {
    EXPECT_EQ(d->heads, 4);
    EXPECT_EQ(d->element_type, compiler::Dtype::f16);
    EXPECT_EQ(d->cache_dir, "/tmp/c");
    EXPECT_EQ(d->batches, (std::vector<int>{1, 16}));
    EXPECT_EQ(d->budget, 2.5);
    EXPECT_TRUE(d->json);
  }
}

TEST(Options, UndeclaredOptionsKeepTheirDefaults) {
  Declared d;
  ASSERT_TRUE(d.command.parse({}));
  EXPECT_EQ(d.heads, 8);
  EXPECT_EQ(d.budget, 30);
  EXPECT_FALSE(d.json);
  EXPECT_TRUE(d.files.empty());
}

TEST(Options, AValueMayContainEqualsSignsAndBeEmptyInTheJoinedForm) {
  Declared d;
  ASSERT_TRUE(d.command.parse({"--cache-dir=/tmp/a=b"}));
  EXPECT_EQ(d.cache_dir, "/tmp/a=b");
  ASSERT_TRUE(d.command.parse({"--cache-dir="}));
  EXPECT_EQ(d.cache_dir, "");
}

TEST(Options, RepeatedOptionsAreSetEachTime) {
  Declared d;
  ASSERT_TRUE(d.command.parse({"--shape", "1:2", "--shape=3:4", "--heads", "2", "--heads", "5"}));
  EXPECT_EQ(d.shapes, (std::vector<std::string>{"1:2", "3:4"}));
  EXPECT_EQ(d.heads, 5);
}

TEST(Options, OperandsMayComeAnywhereAndAfterTheEndOfOptions) {
  Declared d;
  ASSERT_TRUE(d.command.parse({"a.json", "--heads", "2", "b.json", "-", "--", "--json", "-x"}));
  EXPECT_EQ(d.files, (std::vector<std::string>{"a.json", "b.json", "-", "--json", "-x"}));
  EXPECT_FALSE(d.json);
}

TEST(Options, UnknownOptionsAreNamedWithTheNearestDeclaredOne) {
  Declared d;
  EXPECT_EQ(d.error_of({"--frobnicate"}), "unknown option --frobnicate");
  EXPECT_EQ(d.error_of({"--hedas", "3"}), "unknown option --hedas (did you mean --heads?)");
  EXPECT_EQ(d.error_of({"--max-pos=3"}), "unknown option --max-pos (did you mean --max-position?)");
  EXPECT_EQ(d.error_of({"-x"}), "unknown option -x");
}

TEST(Options, BadValuesNameTheOptionAndTheText) {
  Declared d;
  EXPECT_EQ(d.error_of({"--heads", "many"}), "--heads: 'many' is not an integer");
  EXPECT_EQ(d.error_of({"--heads=0"}), "--heads: '0' is below 1");
  EXPECT_EQ(d.error_of({"--heads", "4x"}), "--heads: '4x' is not an integer");
  EXPECT_EQ(d.error_of({"--heads", "99999999999"}), "--heads: '99999999999' is out of range");
  EXPECT_EQ(d.error_of({"--budget", "-3"}), "--budget: '-3' is not a positive number of seconds");
  EXPECT_EQ(d.error_of({"--budget=inf"}), "--budget: 'inf' is not a positive number of seconds");
  EXPECT_EQ(d.error_of({"--dtype", "f64"}), "--dtype: 'f64' is not one of bf16, f16, f32");
  EXPECT_EQ(d.error_of({"--batches", "1,,4"}), "--batches: '' is not an integer");
  EXPECT_EQ(d.error_of({"--max-position", "-1"}), "--max-position: '-1' is below 0");
}

TEST(Options, MissingValuesAreNamed) {
  Declared d;
  EXPECT_EQ(d.error_of({"--heads"}), "--heads needs a value (H)");
  // An option where its value should be is not taken for the value.
  EXPECT_EQ(d.error_of({"--cache-dir", "--json"}), "--cache-dir needs a value (DIR)");
  // A negative number is a value (which the option may refuse), not an option.
  EXPECT_EQ(d.error_of({"--heads", "-2"}), "--heads: '-2' is below 1");
}

TEST(Options, FlagsTakeNoValue) {
  Declared d;
  EXPECT_EQ(d.error_of({"--json=yes"}), "--json takes no value");
}

TEST(Options, ACommandWithoutOperandsRefusesStrayArguments) {
  Declared d(false);
  EXPECT_EQ(d.error_of({"--heads", "2", "extra"}), "unexpected argument 'extra'");
}

TEST(Options, HelpWinsOverEverythingElseBeforeTheEndOfOptions) {
  Declared d;
  EXPECT_FALSE(d.command.parse({"--frobnicate", "--help"}));
  EXPECT_FALSE(d.command.parse({"-h"}));
  EXPECT_TRUE(d.command.parse({"--", "--help"}));
  EXPECT_EQ(d.files.back(), "--help");
}

TEST(Options, HelpListsEveryDeclaredOptionWithItsValueAndText) {
  const Declared d;
  const std::string help = d.command.help();
  EXPECT_EQ(help.rfind("usage: lla demo [options] FILE...\n\nDemonstrates the parser.\n", 0), 0u)
      << help;
  for (const char* line : {"  --heads H ", "  --max-position P ", "  --budget S ",
                           "  --cache-dir DIR ", "  --dtype bf16|f16|f32 ", "  --batches B1,B2,... ",
                           "  --shape T:B ", "  --json ", "  -h, --help ", "  FILE... "})
    EXPECT_THAT(help, HasSubstr(line));
  EXPECT_THAT(help, HasSubstr("heads (8)\n"));
  EXPECT_THAT(help, HasSubstr("\nExit status: 0 always.\n"));
  EXPECT_EQ(d.command.usage(), "usage: lla demo [options] FILE...\n"
                               "`lla demo --help` describes the options.\n");
}

TEST(Options, LongHelpWrapsUnderItsColumn) {
  bool flag = false;
  CommandLine c("wrap", {"wrap"}, "");
  c.flag("--long", std::string(30, 'a') + " " + std::string(30, 'b') + " " +
                       std::string(30, 'c') + " " + std::string(30, 'd'),
         &flag);
  const std::string help = c.help();
  for (size_t start = 0, end; (end = help.find('\n', start)) != std::string::npos; start = end + 1)
    EXPECT_LE(end - start, 100u) << help.substr(start, end - start);
  EXPECT_THAT(help, HasSubstr("\n" + std::string(14, ' ') + std::string(30, 'c')));
}

}  // namespace
}  // namespace lla::tools
