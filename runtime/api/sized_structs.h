#pragma once
// The struct_size rule of lla.h ("Growing structs"), in one place: the init functions write
// exactly the caller's size, and the entry points read a caller's struct into this library's
// layout before anything else looks at it, so validation and dispatch always see every field.
//
// Adding a field to one of these structs: append it to the struct in lla.h (never insert,
// reorder, retype or remove one) and make its zero value its default, the behaviour lla had
// before the field existed: a caller built against an older lla.h has no bytes there, which
// read as zero, and an older liblla's init leaves it zero. Nothing here changes: first_size
// below stays at the end of the struct's first layout with struct_size (lla 0.2.0), which
// callers built against it keep passing. A test of the new field passes a struct of the old
// size (tests/runtime/sized_structs_test.cpp shows how).

#include <cstddef>

#include "lla/lla.h"

namespace lla::runtime {

// One struct of the C API as the size rule sees it.
struct SizedLayout {
  const char* name;       // "lla_options"
  const char* init;       // "lla_options_init"
  size_t first_size;      // the struct's end in lla 0.2.0, the first layout with struct_size
  size_t current_size;    // sizeof in this library
};

template <class T>
struct SizedStruct;

#define LLA_SIZED_STRUCT(type, last_field_of_first_layout)                                \
  template <>                                                                             \
  struct SizedStruct<type> {                                                              \
    static constexpr SizedLayout layout{                                                  \
        #type, #type "_init",                                                             \
        offsetof(type, last_field_of_first_layout) +                                      \
            sizeof(type::last_field_of_first_layout),                                     \
        sizeof(type)};                                                                    \
  };

LLA_SIZED_STRUCT(lla_options, tune_budget_seconds)
LLA_SIZED_STRUCT(lla_problem, qk_l2norm)
LLA_SIZED_STRUCT(lla_forward_args, final_positions)
LLA_SIZED_STRUCT(lla_decode_problem, qk_l2norm)
LLA_SIZED_STRUCT(lla_decode_args, advance_positions)
#undef LLA_SIZED_STRUCT

// Writes `fields` (this library's layout; its struct_size is ignored) over the caller's
// `size` bytes at `out`: the bytes this library knows, up to `size`, then zeros to `size`,
// and struct_size = size. Nothing when out is null.
void write_sized_bytes(void* out, size_t size, const void* fields, const SizedLayout& layout);

// Copies the caller's struct at `in` into `copy` (this library's layout, struct_size set to
// it): the bytes in->struct_size covers, zero (the defaults) past them. Throws StatusError:
// LLA_ERR_INVALID_ARGUMENT when struct_size cannot be the size of the struct (below its first
// layout, not a multiple of sizeof(size_t), or absurdly large), naming struct_size and the init;
// LLA_ERR_NOT_SUPPORTED when the caller's struct is larger than this library's and sets a byte
// past it (a field of a newer lla.h), naming both sizes and the byte.
void read_sized_bytes(const void* in, void* copy, const SizedLayout& layout);

template <class T>
void write_sized(T* out, size_t size, const T& fields) {
  write_sized_bytes(out, size, &fields, SizedStruct<T>::layout);
}

// What an entry point hands on: null for a null `in` (the validators name it), else `copy`
// filled from `in` as read_sized_bytes says.
template <class T>
const T* read_sized(const T* in, T* copy) {
  if (!in) return nullptr;
  read_sized_bytes(in, copy, SizedStruct<T>::layout);
  return copy;
}

}  // namespace lla::runtime
