#pragma once
// The one exception type the runtime throws on purpose: a status of the C API and the message
// lla_last_error() will return. The C boundary (c_api.cpp) turns it into the status.

#include <stdexcept>
#include <string>

#include "lla/lla.h"

namespace lla::runtime {

class StatusError : public std::runtime_error {
 public:
  StatusError(lla_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  lla_status status() const { return status_; }

 private:
  lla_status status_;
};

}  // namespace lla::runtime
