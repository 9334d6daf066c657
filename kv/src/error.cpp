#include "ark/error.hpp"

namespace ark {

std::string_view to_string(errc code) {
  switch (code) {
    case errc::none:
      return "none";
    case errc::not_found:
      return "not_found";
    case errc::invalid_key:
      return "invalid_key";
    case errc::key_too_large:
      return "key_too_large";
    case errc::value_too_large:
      return "value_too_large";
    case errc::nesting_too_deep:
      return "nesting_too_deep";
    case errc::type_mismatch:
      return "type_mismatch";
    case errc::corrupt_value:
      return "corrupt_value";
    case errc::map_full:
      return "map_full";
    case errc::disk_full:
      return "disk_full";
    case errc::io_error:
      return "io_error";
    case errc::locked:
      return "locked";
    case errc::format_version:
      return "format_version";
    case errc::read_only:
      return "read_only";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::batch_too_large:
      return "batch_too_large";
    case errc::backend_failure:
      return "backend_failure";
    case errc::no_data_dir:
      return "no_data_dir";
    case errc::unknown_actor_type:
      return "unknown_actor_type";
    case errc::wrong_interface:
      return "wrong_interface";
    case errc::handler_failed:
      return "handler_failed";
    case errc::activation_failed:
      return "activation_failed";
    case errc::unreachable:
      return "unreachable";
    case errc::bad_init_args:
      return "bad_init_args";
    case errc::corrupt_snapshot:
      return "corrupt_snapshot";
    case errc::commit_failed:
      return "commit_failed";
    case errc::shutting_down:
      return "shutting_down";
    case errc::storage_failed:
      return "storage_failed";
    case errc::unauthorized:
      return "unauthorized";
    case errc::migration_failed:
      return "migration_failed";
    case errc::rolled_back:
      return "rolled_back";
    case errc::already_exists:
      return "already_exists";
    case errc::unregistered_type:
      return "unregistered_type";
    case errc::fenced:
      return "fenced";
    case errc::lease_lost:
      return "lease_lost";
    case errc::owner_unreachable:
      return "owner_unreachable";
  }
  return "unknown_error";
}

std::optional<errc> errc_from_string(std::string_view name) {
  // Every value of the underlying type: to_string names exactly the defined
  // ones and calls every other "unknown_error".
  if (name == "unknown_error") return std::nullopt;
  for (int c = 0; c <= 255; ++c) {
    auto code = static_cast<errc>(c);
    if (to_string(code) == name) return code;
  }
  return std::nullopt;
}

std::string_view remedy(errc code) {
  switch (code) {
    case errc::none:
      return "";
    case errc::not_found:
      return "check the key, or write it first";
    case errc::invalid_key:
      return "keys are tuples of null, bytes, UTF-8 strings, int64, double, bool and nested "
             "tuples; see doc/key_encoding.md";
    case errc::key_too_large:
      return "shorten the key (store long identifiers as values, or hash them into the key)";
    case errc::value_too_large:
      return "split the value over several keys (e.g. [\"blob\", id, chunk])";
    case errc::nesting_too_deep:
      return "flatten the key: tuples may nest at most 32 levels";
    case errc::type_mismatch:
      return "read the value with the type it was written with (raw values with get_raw)";
    case errc::corrupt_value:
      return "the stored bytes are damaged; restore the data directory from a backup, or delete "
             "the entry (ark-dash kv delete --space SPACE KEY); ark-dash verify --data DIR lists "
             "every damaged entry";
    case errc::map_full:
      return "raise the map size limit, or free space by deleting data";
    case errc::disk_full:
      return "free space on the file system holding the data directory, then retry";
    case errc::io_error:
      return "check the disk and the data directory's permissions";
    case errc::locked:
      return "another process (an ark-host or a writing ark-dash) uses this data directory; "
             "stop it, or use another --data directory";
    case errc::format_version:
      return "this data directory was written by a newer ark; upgrade ark to open it";
    case errc::read_only:
      return "open the data directory for writing (no host may run on it)";
    case errc::invalid_argument:
      return "correct the argument the message names";
    case errc::batch_too_large:
      return "split the batch into several smaller ones";
    case errc::backend_failure:
      return "see the context; report a bug if it persists";
    case errc::no_data_dir:
      return "pass the data directory of an ark host with --data (default ./ark-data)";
    case errc::unknown_actor_type:
      return "load the module that registers this actor type (ark-host --module FILE.so), or check the type name";
    case errc::wrong_interface:
      return "use the typed interface the actor type was registered with (see its header)";
    case errc::handler_failed:
      return "see the context for the handler's error; the actor's state and KV are unchanged";
    case errc::activation_failed:
      return "see the context; fix the actor's snapshot (ark-dash) or its on_initialize";
    case errc::unreachable:
      return "the actor or its host went away, or did not answer in time (a blocked handler, a "
             "stopped host): see the host's log, then retry; the message may have been applied";
    case errc::bad_init_args:
      return "pass get_or_create the arguments of the actor's on_initialize";
    case errc::corrupt_snapshot:
      return "restore the data directory from a backup; ark-dash verify --data DIR lists every "
             "damaged snapshot";
    case errc::commit_failed:
      return "see the context (disk full, I/O error); the message had no effect, retry it";
    case errc::shutting_down:
      return "the host is stopping; retry against a running host";
    case errc::storage_failed:
      return "check the disk (dmesg, free space), then restart the host: the data directory "
             "reopens at its last durable commit and nothing acknowledged is lost";
    case errc::unauthorized:
      return "pass the host's access token (ark-host --token / --token-file; clients: "
             "ark::connect_options::token or --token)";
    case errc::migration_failed:
      return "the stored snapshot and KV are unchanged; add or fix the migration step the message "
             "names (doc/migrations.md) and deploy again; `ark-dash migrate --dry-run` previews "
             "every actor's migration";
    case errc::rolled_back:
      return "the request never left and the actor's state() is back at its last durable "
             "snapshot: nothing that message did happened; decide again from that state";
    case errc::already_exists:
      return "reach the existing actor with get or get_or_create, or create another key";
    case errc::unregistered_type:
      return "register the type in this program: link the header that declares it with "
             "ARK_MESSAGE_TYPE(T, \"name\") (ark/registry.hpp) and build the actor system from "
             "ark::client_config, or call cfg.add_message_type<T>(\"name\")";
    case errc::fenced:
      return "another host activated the actor (it claimed it in the shared database), so this "
             "activation's write was refused and had no effect; call the actor again: the call "
             "reaches its current owner";
    case errc::lease_lost:
      return "this host could not renew its cluster membership in time (the database was "
             "unreachable or slow), so it stopped serving before another host could take its "
             "actors over; the message had no effect: call again after the lease time, the call "
             "reaches the actor's new owner";
    case errc::owner_unreachable:
      return "call again after the cluster's lease time (ark-host --lease-ttl): once the owner's "
             "lease expired another host takes the actor over (ark's client retries lookups by "
             "itself for client::lookup_retry); a call in flight may or may not have been "
             "applied";
  }
  return "";
}

std::string error::remedy() const {
  if (!remedy_.empty()) return remedy_;
  return std::string(ark::remedy(code_));
}

std::string error::summary() const {
  if (code_ == errc::none) return "no error";
  std::string out(to_string(code_));
  if (!context_.empty()) {
    out += ": ";
    out += context_;
  }
  return out;
}

std::string error::message() const {
  if (code_ == errc::none) return "no error";
  std::string out = summary();
  auto fix = remedy();
  if (!fix.empty()) {
    out += " (remedy: ";
    out += fix;
    out += ")";
  }
  return out;
}

std::ostream& operator<<(std::ostream& out, const error& e) {
  return out << e.message();
}

}  // namespace ark
