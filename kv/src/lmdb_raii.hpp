#pragma once

// RAII wrappers over the LMDB C API, private to ark_kv. Every return code is
// checked by the caller and mapped to an ark::error with lmdb_error().

#include <lmdb.h>

#include <string>
#include <string_view>
#include <utility>

#include "ark/expected.hpp"

namespace ark::kv::lmdb {

/// Maps an LMDB (or errno) return code to an ark error whose context names
/// `what` (the operation and its subject) and LMDB's own text.
error lmdb_error(int rc, std::string_view what);

inline MDB_val to_val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

inline std::string_view to_view(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

/// Owns an MDB_env; closes it on destruction.
class env {
 public:
  env() = default;
  explicit env(MDB_env* e) : e_(e) {}
  env(env&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  env& operator=(env&& o) noexcept {
    std::swap(e_, o.e_);
    return *this;
  }
  ~env() {
    if (e_ != nullptr) mdb_env_close(e_);
  }
  MDB_env* get() const { return e_; }

 private:
  MDB_env* e_ = nullptr;
};

/// Owns a transaction: aborted on destruction unless committed.
class txn {
 public:
  txn() = default;
  txn(txn&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
  txn& operator=(txn&& o) noexcept {
    std::swap(t_, o.t_);
    return *this;
  }
  ~txn() { abort(); }

  /// Begins a transaction; returns the LMDB return code.
  int begin(MDB_env* e, unsigned flags) {
    abort();
    return mdb_txn_begin(e, nullptr, flags, &t_);
  }
  /// Commits (the handle is released whatever the outcome).
  int commit() { return mdb_txn_commit(std::exchange(t_, nullptr)); }
  void abort() {
    if (t_ != nullptr) mdb_txn_abort(std::exchange(t_, nullptr));
  }
  MDB_txn* get() const { return t_; }

 private:
  MDB_txn* t_ = nullptr;
};

/// Owns a cursor; closed on destruction (before its transaction ends).
class cursor {
 public:
  cursor() = default;
  cursor(cursor&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  cursor& operator=(cursor&& o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~cursor() { close(); }

  int open(MDB_txn* t, MDB_dbi dbi) {
    close();
    return mdb_cursor_open(t, dbi, &c_);
  }
  void close() {
    if (c_ != nullptr) mdb_cursor_close(std::exchange(c_, nullptr));
  }
  MDB_cursor* get() const { return c_; }

 private:
  MDB_cursor* c_ = nullptr;
};

}  // namespace ark::kv::lmdb
