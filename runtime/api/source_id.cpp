// lla_source_id, apart from the rest of the runtime: its generated header changes with every
// commit (cmake/SourceId.cmake), and only liblla and the lla program link this object, so a
// commit does not relink every test.
#include "lla/lla.h"
#include "lla_source_id.h"

extern "C" const char* lla_source_id(void) { return LLA_SOURCE_ID; }
