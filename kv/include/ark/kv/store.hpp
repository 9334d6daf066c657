#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "ark/expected.hpp"
#include "ark/kv/backend.hpp"
#include "ark/kv/key.hpp"
#include "ark/kv/value.hpp"

namespace ark::kv {

/// Largest encoded user key, in bytes: LMDB's 511-byte key limit minus the
/// 8-byte space id every stored key carries (doc/storage_format.md). The same
/// limit holds on every backend.
inline constexpr std::size_t max_key_size = 503;

/// Largest encoded space key, in bytes (LMDB's key limit).
inline constexpr std::size_t max_space_key_size = 511;

/// Which keys list() and count() visit. All bounds are complete keys in the
/// same space; they combine by intersection.
struct list_options {
  /// Only keys that start with these tuple elements: ["user"] matches
  /// ["user"] and ["user", 7] but not ["users"].
  std::optional<key> prefix;
  /// Only keys >= start.
  std::optional<key> start;
  /// Only keys < end.
  std::optional<key> end;
  /// Descending key order.
  bool reverse = false;
  /// At most this many entries; 0 means no limit.
  std::size_t limit = 0;
};

/// Iterates the entries selected by list(), streaming from the backend (one
/// entry decoded at a time, so listing millions of keys holds none of them).
/// LevelDB-style:
///   auto c = kv.list(opts);
///   for (; c.valid(); c.next()) use(c.key(), c.value());
///   if (c.status()) handle(c.status());  // iteration ended by an error
class cursor {
 public:
  cursor() = default;
  cursor(cursor&&) noexcept = default;
  cursor& operator=(cursor&&) noexcept = default;

  bool valid() const { return valid_; }
  /// REQUIRES: valid().
  void next();
  /// REQUIRES: valid().
  const ark::key& key() const { return key_; }
  /// REQUIRES: valid().
  const kv::value& value() const { return value_; }
  /// The error that ended iteration early (a corrupt entry or a backend
  /// failure), or an empty error when the range was simply exhausted.
  const error& status() const { return status_; }

 private:
  friend class store;
  cursor(std::unique_ptr<backend_cursor> c, std::size_t limit, std::string where);
  explicit cursor(error e) : status_(std::move(e)) {}
  void load();

  std::unique_ptr<backend_cursor> impl_;
  std::string where_;          // " in space ... (owner)", for errors
  std::size_t remaining_ = 0;  // 0 = unlimited
  bool limited_ = false;
  bool valid_ = false;
  ark::key key_;
  kv::value value_ = kv::value::raw({});
  error status_;
};

/// Writes to one store applied together: all of them or none. Building never
/// fails; the first invalid key or value is remembered and store::apply
/// reports it without writing anything.
class write_batch {
 public:
  template <class T>
  write_batch& put(const key& k, const T& v) {
    return put_value(k, value::pack(v));
  }
  write_batch& put_raw(const key& k, std::string_view bytes);
  write_batch& put_value(const key& k, const value& v) { return put_value(k, value(v)); }
  write_batch& put_value(const key& k, value&& v);
  write_batch& del(const key& k);
  /// Removes every key of the store (ops before it in the batch included).
  write_batch& delete_all();

  std::size_t size() const { return ops_.size(); }
  bool empty() const { return ops_.empty(); }
  /// The first error met while building, or an empty error.
  const error& status() const { return status_; }

 private:
  friend class store;
  std::vector<write_op> ops_;
  error status_;
};

/// Options of store::update.
template <class T>
struct update_options {
  /// Called with the key's current value (nullopt: absent) and the one the
  /// update function returned (nullopt: delete). false skips the write: the
  /// key keeps its current value and update() reports written == false (as
  /// Bitwarden's `shouldUpdate`). Empty: always write.
  std::function<bool(const std::optional<T>& old, const std::optional<T>& next)> should_update;
};

/// What store::update did.
template <class T>
struct update_result {
  /// True when update() wrote: a put, or the deletion of a key that existed.
  /// False when should_update said no, or the function deleted an absent key.
  bool written = false;
  /// The key's value after the call (nullopt: absent): the new value when
  /// written, else the current one.
  std::optional<T> value;
};

namespace detail {
template <class T>
struct is_expected_type : std::false_type {};
template <class T>
struct is_expected_type<expected<T>> : std::true_type {};
}  // namespace detail

/// One keyspace's ordered key-value store: the typed API over a backend.
/// Keys are structured (ark::key); values are msgpack-serializable C++ types
/// or raw bytes. Every operation stays inside this store's space: whatever
/// bytes a key holds, no call reads or changes another space's keys.
///
/// A store is a cheap handle (a backend pointer plus the encoded space);
/// copies refer to the same data. Thread-safe when its backend is.
class store {
 public:
  /// A store over `space` in `b`. Fails with invalid_key when `space` is the
  /// empty tuple or not encodable, key_too_large beyond max_space_key_size,
  /// nesting_too_deep beyond max_key_depth.
  static expected<store> open(std::shared_ptr<backend> b, const key& space);

  const key& space() const { return space_; }
  const std::string& encoded_space() const { return encoded_space_; }
  backend& engine() const { return *backend_; }

  /// Names who owns this store in error messages about its entries, e.g.
  /// "actor counter [\"visits\"]" (the runtime sets it for an actor's kv()).
  void set_owner(std::string owner) { owner_ = std::move(owner); }
  const std::string& owner() const { return owner_; }

  /// The value of `k` unpacked as T; not_found when absent, type_mismatch
  /// when it holds raw bytes or another type, corrupt_value when its bytes do
  /// not decode. Errors name the key, the space and the owner.
  template <class T>
  expected<T> get(const key& k) const {
    auto v = get_value(k);
    if (!v) return v.error();
    auto out = v->template as<T>();
    if (!out) return entry_error(k, out.error());
    return out;
  }

  /// The value of `k`, or `fallback` when absent.
  template <class T>
  expected<T> get_or(const key& k, T fallback) const {
    auto v = get_value(k);
    if (!v) {
      if (v.error() == errc::not_found) return fallback;
      return v.error();
    }
    auto out = v->template as<T>();
    if (!out) return entry_error(k, out.error());
    return out;
  }

  /// The raw bytes stored under `k`; type_mismatch when it holds msgpack.
  expected<std::string> get_raw(const key& k) const;

  /// The stored value of `k` (either kind), or not_found.
  expected<value> get_value(const key& k) const;

  /// The values of `keys` from one consistent snapshot, in the same order;
  /// absent keys give empty optionals.
  expected<std::vector<std::optional<value>>> get_batch(const std::vector<key>& keys) const;

  /// A cursor over the entries `opts` selects.
  cursor list(const list_options& opts = {}) const;

  /// How many entries list(opts) would visit.
  expected<std::uint64_t> count(const list_options& opts = {}) const;

  template <class T>
  expected<void> put(const key& k, const T& v) {
    return put_value(k, value::pack(v));
  }
  /// Stores `bytes` unencoded, tagged raw.
  expected<void> put_raw(const key& k, std::string_view bytes);
  expected<void> put_value(const key& k, const value& v);

  /// Stores every pair atomically.
  template <class T>
  expected<void> put_batch(const std::vector<std::pair<key, T>>& entries) {
    write_batch b;
    for (const auto& [k, v] : entries) b.put(k, v);
    auto r = apply(std::move(b));
    if (!r) return r.error();
    return {};
  }

  /// Read-modify-write of one key. `fn` gets the current value of `k` as
  /// `const std::optional<T>&` (nullopt: absent) and returns the new value:
  /// a T or std::optional<T> (nullopt: delete the key), or an
  /// ark::expected of either to fail without writing. With T = kv::value the
  /// function sees and returns stored values as they are (raw or msgpack).
  ///
  ///   auto r = kv.update<std::int64_t>(key{"visits"}, [](const auto& n) {
  ///     return n.value_or(0) + 1;
  ///   });
  ///
  /// Errors (nothing is written): type_mismatch or corrupt_value when the
  /// stored value does not decode as T (naming the key; `fn` is not called);
  /// the function's own error; handler_failed when `fn` or should_update
  /// throws; the errors of put and del (key_too_large, value_too_large, ...).
  ///
  /// Isolation: the read and the write are two backend calls. Through an
  /// actor's kv() that is atomic and isolated (the actor is the only writer
  /// of its keyspace and handles one message at a time; the write commits
  /// with the message's other effects). On a store over a backend that other
  /// threads write to, a write by them between the read and the write is
  /// overwritten: serialize such updates yourself.
  template <class T, class F>
  expected<update_result<T>> update(const key& k, F&& fn, const update_options<T>& opts = {}) {
    auto current = get_for_update(k);
    if (!current) return current.error();
    std::optional<T> old;
    if (*current) {
      if constexpr (std::is_same_v<T, value>) {
        old = std::move(**current);
      } else {
        auto v = (*current)->template as<T>();
        if (!v) return entry_error(k, v.error());
        old = std::move(*v);
      }
    }
    std::optional<T> next;
    try {
      using result = std::decay_t<decltype(fn(std::as_const(old)))>;
      if constexpr (detail::is_expected_type<result>::value) {
        auto r = fn(std::as_const(old));
        if (!r) return r.error();
        next = std::move(*r);
      } else {
        next = fn(std::as_const(old));
      }
      if (opts.should_update && !opts.should_update(std::as_const(old), std::as_const(next)))
        return update_result<T>{false, std::move(old)};
    } catch (const std::exception& e) {
      return update_failed(k, e.what());
    } catch (...) {
      return update_failed(k, "unknown exception");
    }
    if (!old && !next) return update_result<T>{false, std::nullopt};  // nothing to delete
    write_batch b;
    if (!next) {
      b.del(k);
    } else if constexpr (std::is_same_v<T, value>) {
      b.put_value(k, *next);
    } else {
      b.put(k, *next);
    }
    if (auto r = apply(std::move(b)); !r) return r.error();
    return update_result<T>{true, std::move(next)};
  }

  /// Removes `k`; returns whether it existed.
  expected<bool> del(const key& k);

  /// Removes `keys` atomically; returns how many existed.
  expected<std::uint64_t> delete_batch(const std::vector<key>& keys);

  /// Removes every key of this store; returns how many there were.
  expected<std::uint64_t> delete_all();

  /// Applies `batch` atomically; returns how many existing keys it removed.
  expected<std::uint64_t> apply(const write_batch& batch);
  /// As above, moving the batch's bytes instead of copying them.
  expected<std::uint64_t> apply(write_batch&& batch);

  /// Converts `batch` to backend writes for this space (for callers that
  /// combine several stores' writes in one backend_batch).
  expected<space_writes> to_space_writes(const write_batch& batch) const;

  /// The byte range list(opts) visits, or an empty optional when it is empty.
  expected<std::optional<byte_range>> range_of(const list_options& opts) const;

 private:
  store(std::shared_ptr<backend> b, key space, std::string encoded)
      : backend_(std::move(b)), space_(std::move(space)), encoded_space_(std::move(encoded)) {}

  // The stored value of `k`, or nullopt when absent.
  expected<std::optional<value>> get_for_update(const key& k) const;
  // handler_failed: the update function of `k` threw `what`.
  error update_failed(const key& k, std::string_view what) const;
  // " in space S" (JSON) and, when set, " (OWNER)": where an entry lives.
  std::string location() const;
  // `e` with the entry it is about: "value of key K in space S (OWNER): ...".
  error entry_error(const key& k, const error& e) const;
  // `e` naming the owner too when it is a record that fails its checksum.
  error owned(const error& e) const;

  std::shared_ptr<backend> backend_;
  key space_;
  std::string encoded_space_;
  std::string owner_;
};

/// Encodes `k` as a user key, checking max_key_size; errors name the key.
expected<std::string> encode_user_key(const key& k);

}  // namespace ark::kv
