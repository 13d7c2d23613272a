#pragma once
// lla bench --decode: time the decode step (lla_decode_step) at several batch sizes with
// sequences at random positions, against the device's measured copy bandwidth.

#include "commands.h"

namespace lla::tools {

// Options: see `lla bench --decode --help`. Exit status: 0 measured; 1 an output was not
// written; 2 bad usage, no GPU, or a failure to run.
int bench_decode(const Args& args);

}  // namespace lla::tools
