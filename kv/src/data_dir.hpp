#pragma once

// What every durable backend does to a data directory before opening its
// engine: create or check the directory, refuse a directory that another
// backend owns, and take the writer lock. Private to ark_kv.

#include <string>
#include <string_view>

#include "ark/expected.hpp"

namespace ark::kv::detail {

// On-disk names (doc/storage_format.md): never change these values.
inline constexpr std::string_view lock_file_name = "ark.lock";
inline constexpr std::string_view lmdb_file_name = "data.mdb";
inline constexpr std::string_view sqlite_file_name = "ark.sqlite";

/// Creates `dir` (mode 0700) when missing and allowed (!read_only and
/// create_if_missing), or checks that it is a directory. Errors: no_data_dir,
/// io_error, invalid_argument (empty path).
expected<void> prepare_data_dir(const std::string& dir, bool read_only, bool create_if_missing);

/// Fails with invalid_argument when `dir` holds the data file of another
/// backend than `self` ("lmdb" or "sqlite"), naming that backend and the
/// option that opens it.
expected<void> refuse_other_backend(const std::string& dir, std::string_view self);

/// Takes the exclusive writer lock of `dir`: flock on `dir/ark.lock`, with this
/// process's pid written into it. Returns the file descriptor (the lock lives
/// until it is closed). Errors: locked (naming the holder's pid, or "this
/// process"), io_error.
expected<int> lock_data_dir(const std::string& dir);

}  // namespace ark::kv::detail
