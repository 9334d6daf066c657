#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace ark {

/// Every failure ark reports. The numeric values are stable: they cross process
/// boundaries (CAF error codes, exit statuses of tools) -- never renumber.
enum class errc : std::uint8_t {
  none = 0,
  not_found = 1,          ///< The key (or actor, or data) does not exist.
  invalid_key = 2,        ///< Bytes that are not a valid encoded key, or a key ark cannot encode.
  key_too_large = 3,      ///< An encoded key exceeds the backend key limit.
  value_too_large = 4,    ///< A value exceeds the documented value limit.
  nesting_too_deep = 5,   ///< A key nests tuples deeper than max_key_depth.
  type_mismatch = 6,      ///< A typed read of a raw value, or of a value of another type.
  corrupt_value = 7,      ///< Stored bytes that cannot be decoded.
  map_full = 8,           ///< The LMDB map could not be grown further.
  disk_full = 9,          ///< The file system holding the data directory is full.
  io_error = 10,          ///< The operating system reported an I/O failure.
  locked = 11,            ///< Another process holds the data directory's write lock.
  format_version = 12,    ///< The data directory was written by a newer, unknown format.
  read_only = 13,         ///< A write through a store opened read-only.
  invalid_argument = 14,  ///< A caller passed an option or argument that makes no sense.
  batch_too_large = 15,   ///< One atomic write touched more pages than a transaction holds.
  backend_failure = 16,   ///< Any other storage engine failure (the context names it).
  no_data_dir = 17,       ///< The data directory does not exist or is not an ark data directory.
  // -- actors and runtime -------------------------------------------------------
  unknown_actor_type = 18,  ///< No actor class is registered under the requested type name.
  wrong_interface = 19,     ///< The requested typed interface is not the registered actor's.
  handler_failed = 20,      ///< An actor's handler threw or returned an error; nothing committed.
  activation_failed = 21,   ///< An actor could not be activated (snapshot or on_initialize).
  unreachable = 22,         ///< The host (or actor) cannot be reached, or went away.
  bad_init_args = 23,       ///< get_or_create's arguments do not match on_initialize.
  corrupt_snapshot = 24,    ///< A state snapshot that does not decode into the state type.
  commit_failed = 25,       ///< The commit of a message's effects failed; nothing committed.
  shutting_down = 26,       ///< The host is draining and accepts no new work.
  storage_failed = 27,      ///< The storage engine stopped after a failed write; restart the host.
  unauthorized = 28,        ///< A request without the host's access token (or with a wrong one).
  migration_failed = 29,    ///< A state snapshot cannot be brought to the code's schema version.
  rolled_back = 30,         ///< A request was never sent: the message that made it was rolled back.
  already_exists = 31,      ///< create() of an actor that exists (stored, or active now).
  unregistered_type = 32,   ///< A message type this program has not registered with CAF.
  fenced = 33,              ///< Another process claimed the actor since this one loaded it.
  lease_lost = 34,          ///< This host's cluster lease expired: it stopped serving.
  owner_unreachable = 35,   ///< The cluster host that owns the actor did not answer.
};

/// Returns the name of `code` (e.g. "key_too_large").
std::string_view to_string(errc code);

/// The code whose name is `name` (the inverse of to_string), or nullopt.
std::optional<errc> errc_from_string(std::string_view name);

/// Returns the advice printed with `code`: what the user can do about it.
std::string_view remedy(errc code);

/// An error value: a code plus context naming what failed (which key, which
/// file, which actor). Default-constructed means "no error". Cheap to move.
///
/// Remedies: message() adds one remedy, the code's (ark::remedy(code)), unless
/// the party that knows the situation set its own (the third constructor
/// argument): a remote client says which host and port to check, the test kit
/// says to call world::restart(). Forwarding an error keeps its code, context
/// and remedy; wrapping it in another error's context uses summary(), which
/// has no remedy, so a message never carries two.
class error {
 public:
  error() = default;
  error(errc code, std::string context) : code_(code), context_(std::move(context)) {}
  /// An error whose remedy replaces the code's default (empty: the default).
  error(errc code, std::string context, std::string remedy)
      : code_(code), context_(std::move(context)), remedy_(std::move(remedy)) {}
  explicit error(errc code) : code_(code) {}

  errc code() const { return code_; }
  const std::string& context() const { return context_; }
  /// The remedy set by whoever made the error; empty when it is the code's.
  const std::string& explicit_remedy() const { return remedy_; }
  /// The remedy message() shows: the explicit one, else ark::remedy(code()).
  std::string remedy() const;

  /// True when this holds an error (as caf::error).
  explicit operator bool() const { return code_ != errc::none; }

  /// "key_too_large: key [\"user\", ...] is 600 bytes, limit 503 (remedy: ...)"
  std::string message() const;

  /// "key_too_large: key [\"user\", ...] is 600 bytes, limit 503": the code and
  /// context without a remedy, for the context of an error that wraps this one.
  std::string summary() const;

  friend bool operator==(const error& e, errc c) { return e.code_ == c; }
  friend bool operator!=(const error& e, errc c) { return e.code_ != c; }

 private:
  errc code_ = errc::none;
  std::string context_;
  std::string remedy_;
};

std::ostream& operator<<(std::ostream& out, const error& e);

}  // namespace ark
