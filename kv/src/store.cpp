#include "ark/kv/store.hpp"

#include <algorithm>

#include "ark/kv/json.hpp"

namespace ark::kv {
namespace {

// A key's printable form for error messages, cut to a readable length.
std::string describe(const key& k) {
  auto s = k.to_string();
  if (s.size() > 120) s = s.substr(0, 117) + "...";
  return s;
}

expected<void> check_value(const key& k, const value& v) {
  if (v.payload().size() > max_value_size)
    return error{errc::value_too_large, "value for key " + describe(k) + " is " +
                                            std::to_string(v.payload().size()) + " bytes, limit " +
                                            std::to_string(max_value_size)};
  return {};
}

}  // namespace

expected<std::string> encode_user_key(const key& k) {
  std::string out;
  if (auto r = encode_key(k, out); !r) {
    return error{r.error().code(), "key " + describe(k) + ": " + r.error().context()};
  }
  if (out.size() > max_key_size)
    return error{errc::key_too_large, "key " + describe(k) + " encodes to " +
                                          std::to_string(out.size()) + " bytes, limit " +
                                          std::to_string(max_key_size)};
  return out;
}

// --- cursor -----------------------------------------------------------------

cursor::cursor(std::unique_ptr<backend_cursor> c, std::size_t limit, std::string where)
    : impl_(std::move(c)), where_(std::move(where)), remaining_(limit), limited_(limit != 0) {
  load();
}

void cursor::load() {
  valid_ = false;
  if (!impl_) return;
  if (!impl_->valid()) {
    status_ = impl_->status();
    impl_.reset();
    return;
  }
  if (limited_ && remaining_ == 0) {
    impl_.reset();
    return;
  }
  auto k = decode_key(impl_->key());
  if (!k) {
    status_ = error{errc::corrupt_value, "stored key " + to_hex(impl_->key()) + where_ +
                                             " does not decode: " + k.error().context()};
    impl_.reset();
    return;
  }
  auto v = value::decode(impl_->value());
  if (!v) {
    status_ = error{errc::corrupt_value,
                    "value of key " + key_to_json_text(*k) + where_ + ": " + v.error().context()};
    impl_.reset();
    return;
  }
  key_ = std::move(*k);
  value_ = std::move(*v);
  if (limited_) --remaining_;
  valid_ = true;
}

void cursor::next() {
  if (!valid_) return;
  impl_->next();
  load();
}

// --- write_batch --------------------------------------------------------------

write_batch& write_batch::put_raw(const key& k, std::string_view bytes) {
  return put_value(k, value::raw(bytes));
}

write_batch& write_batch::put_value(const key& k, value&& v) {
  if (status_) return *this;
  auto ek = encode_user_key(k);
  if (!ek) {
    status_ = ek.error();
    return *this;
  }
  if (auto r = check_value(k, v); !r) {
    status_ = r.error();
    return *this;
  }
  ops_.push_back({write_op::kind::put, std::move(*ek), std::move(v).stored()});
  return *this;
}

write_batch& write_batch::del(const key& k) {
  if (status_) return *this;
  auto ek = encode_user_key(k);
  if (!ek) {
    status_ = ek.error();
    return *this;
  }
  ops_.push_back({write_op::kind::del, std::move(*ek), {}});
  return *this;
}

write_batch& write_batch::delete_all() {
  if (!status_) ops_.push_back({write_op::kind::clear, {}, {}});
  return *this;
}

// --- store --------------------------------------------------------------------

expected<store> store::open(std::shared_ptr<backend> b, const key& space) {
  if (!b) return error{errc::invalid_argument, "store::open needs a backend"};
  if (space.empty())
    return error{errc::invalid_key, "a space key needs at least one element, e.g. [\"users\"]"};
  std::string encoded;
  if (auto r = encode_key(space, encoded); !r)
    return error{r.error().code(), "space " + describe(space) + ": " + r.error().context()};
  if (encoded.size() > max_space_key_size)
    return error{errc::key_too_large, "space " + describe(space) + " encodes to " +
                                          std::to_string(encoded.size()) + " bytes, limit " +
                                          std::to_string(max_space_key_size)};
  return store(std::move(b), space, std::move(encoded));
}

std::string store::location() const {
  auto out = " in space " + key_to_json_text(space_);
  if (!owner_.empty()) out += " (" + owner_ + ")";
  return out;
}

error store::owned(const error& e) const {
  // A record that fails its checksum (the backend names key and space): say
  // whose it is.
  if (e != errc::corrupt_value || owner_.empty()) return e;
  return error{e.code(), owner_ + ": " + e.context()};
}

error store::entry_error(const key& k, const error& e) const {
  return error{e.code(), "value of key " + key_to_json_text(k) + location() + ": " + e.context()};
}

expected<value> store::get_value(const key& k) const {
  auto ek = encode_user_key(k);
  if (!ek) return ek.error();
  auto raw = backend_->get(encoded_space_, *ek);
  if (!raw) {
    if (raw.error() == errc::not_found)
      return error{errc::not_found, "key " + describe(k) + " in space " + describe(space_)};
    return owned(raw.error());
  }
  auto v = value::decode(*raw);
  if (!v) return entry_error(k, v.error());
  return v;
}

expected<std::optional<value>> store::get_for_update(const key& k) const {
  auto v = get_value(k);
  if (v) return std::optional<value>(std::move(*v));
  if (v.error() == errc::not_found) return std::optional<value>{};
  return v.error();
}

error store::update_failed(const key& k, std::string_view what) const {
  return error{errc::handler_failed, "update of key " + key_to_json_text(k) + location() +
                                         ": the update function threw: " + std::string(what) +
                                         "; nothing was written"};
}

expected<std::string> store::get_raw(const key& k) const {
  auto v = get_value(k);
  if (!v) return v.error();
  auto bytes = v->raw_bytes();
  if (!bytes) return entry_error(k, bytes.error());
  return bytes;
}

expected<std::vector<std::optional<value>>> store::get_batch(const std::vector<key>& keys) const {
  std::vector<std::string> encoded;
  encoded.reserve(keys.size());
  for (const auto& k : keys) {
    auto ek = encode_user_key(k);
    if (!ek) return ek.error();
    encoded.push_back(std::move(*ek));
  }
  auto raws = backend_->get_batch(encoded_space_, encoded);
  if (!raws) return owned(raws.error());
  std::vector<std::optional<value>> out;
  out.reserve(keys.size());
  for (std::size_t i = 0; i < raws->size(); ++i) {
    auto& raw = (*raws)[i];
    if (!raw) {
      out.emplace_back();
      continue;
    }
    auto v = value::decode(*raw);
    if (!v) return entry_error(keys[i], v.error());
    out.emplace_back(std::move(*v));
  }
  return out;
}

expected<std::optional<byte_range>> store::range_of(const list_options& opts) const {
  byte_range r;
  if (opts.prefix) {
    auto p = encode_key(*opts.prefix);
    if (!p)
      return error{p.error().code(),
                   "prefix " + describe(*opts.prefix) + ": " + p.error().context()};
    // The keys that start with the prefix's elements encode as the prefix's
    // bytes followed by whole elements, each opening with a type code below
    // 0xff: [p, p + 0xff). Not the byte-prefix range [p, successor(p)): p
    // followed by 0xff continues p's last element (an escaped 0x00 in a string
    // or bytes, a null in a nested tuple), so ["user\0"] is no ["user", ...].
    if (!p->empty()) r.end = *p + '\xff';
    r.begin = std::move(*p);
  }
  if (opts.start) {
    auto s = encode_key(*opts.start);
    if (!s)
      return error{s.error().code(), "start " + describe(*opts.start) + ": " + s.error().context()};
    r.begin = std::max(r.begin, *s);
  }
  if (opts.end) {
    auto e = encode_key(*opts.end);
    if (!e)
      return error{e.error().code(), "end " + describe(*opts.end) + ": " + e.error().context()};
    if (!r.end || *e < *r.end) r.end = std::move(*e);
  }
  if (r.end && *r.end <= r.begin) return std::optional<byte_range>{};
  return std::optional<byte_range>{std::move(r)};
}

cursor store::list(const list_options& opts) const {
  auto range = range_of(opts);
  if (!range) return cursor(range.error());
  if (!*range) return cursor(nullptr, 0, {});
  auto c = backend_->scan(encoded_space_, **range, opts.reverse);
  if (!c) return cursor(c.error());
  return cursor(std::move(*c), opts.limit, location());
}

expected<std::uint64_t> store::count(const list_options& opts) const {
  auto range = range_of(opts);
  if (!range) return range.error();
  if (!*range) return std::uint64_t{0};
  auto c = backend_->scan(encoded_space_, **range, opts.reverse);
  if (!c) return c.error();
  std::uint64_t n = 0;
  for (auto& it = *c; it->valid() && (opts.limit == 0 || n < opts.limit); it->next()) ++n;
  if ((*c)->status()) return (*c)->status();
  return n;
}

expected<void> store::put_raw(const key& k, std::string_view bytes) {
  return put_value(k, value::raw(bytes));
}

expected<void> store::put_value(const key& k, const value& v) {
  write_batch b;
  b.put_value(k, v);
  auto r = apply(std::move(b));
  if (!r) return r.error();
  return {};
}

expected<bool> store::del(const key& k) {
  write_batch b;
  b.del(k);
  auto r = apply(std::move(b));
  if (!r) return r.error();
  return *r > 0;
}

expected<std::uint64_t> store::delete_batch(const std::vector<key>& keys) {
  write_batch b;
  for (const auto& k : keys) b.del(k);
  return apply(std::move(b));
}

expected<std::uint64_t> store::delete_all() {
  write_batch b;
  b.delete_all();
  return apply(std::move(b));
}

expected<space_writes> store::to_space_writes(const write_batch& batch) const {
  if (batch.status()) return batch.status();
  return space_writes{encoded_space_, batch.ops_};
}

expected<std::uint64_t> store::apply(const write_batch& batch) {
  return apply(write_batch(batch));
}

expected<std::uint64_t> store::apply(write_batch&& batch) {
  if (batch.status()) return batch.status();
  if (batch.empty()) return std::uint64_t{0};
  backend_batch bb;
  bb.append(space_writes{encoded_space_, std::move(batch.ops_)});
  return backend_->apply(bb);
}

}  // namespace ark::kv
