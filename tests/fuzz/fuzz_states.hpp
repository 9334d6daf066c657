#pragma once

// State types of the example actors, as the fuzz targets and the seed corpus
// generator decode them. The examples define them inside their actor modules
// (examples/*/X.cpp), which the fuzz targets cannot link; these copies must
// keep the same fields in the same order (MSGPACK_DEFINE_MAP names them, so a
// snapshot written by the example decodes into the copy and back).

#include <cstdint>
#include <string>
#include <vector>

#include <msgpack.hpp>

namespace ark::fuzz {

/// examples/counter/counter.cpp: counter::counter_state.
struct counter_state {
  std::int64_t value = 0;
  MSGPACK_DEFINE_MAP(value)
};

/// examples/bank/bank.cpp: bank::account_state.
struct account_state {
  std::int64_t balance = 0;
  std::uint64_t next_transfer = 0;
  MSGPACK_DEFINE_MAP(balance, next_transfer)
};

/// examples/chat_room/chat_room.cpp: chat_room::chat_room_state.
struct chat_room_state {
  std::int64_t next_seq = 1;
  std::int64_t count = 0;
  MSGPACK_DEFINE_MAP(next_seq, count)
};

/// A state with a string, a container and a double, like user states have.
struct profile_state {
  std::string name;
  std::vector<std::int64_t> scores;
  double ratio = 0.0;
  MSGPACK_DEFINE_MAP(name, scores, ratio)
};

}  // namespace ark::fuzz
