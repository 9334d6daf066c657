#include "ark/detail/journal.hpp"

#include <atomic>

#include "ark/detail/host.hpp"
#include "ark/kv/big_endian.hpp"
#include "ark/kv/key.hpp"

// The journal's stored formats (ark/stored_format.hpp).
namespace ark::stored {

namespace {

constexpr char record_format = 1;

void put_u32(std::string& out, std::size_t n) {
  auto v = static_cast<std::uint32_t>(n);
  char b[4] = {static_cast<char>(v & 0xff), static_cast<char>((v >> 8) & 0xff),
               static_cast<char>((v >> 16) & 0xff), static_cast<char>((v >> 24) & 0xff)};
  out.append(b, 4);
}

bool get_u32(std::string_view in, std::size_t& pos, std::size_t& n) {
  if (in.size() - pos < 4) return false;
  auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(in[pos + i])); };
  n = b(0) | (b(1) << 8) | (b(2) << 16) | (b(3) << 24);
  pos += 4;
  return true;
}

}  // namespace

const std::string& journal_space() {
  // On-disk constant: never change this value (doc/state_format.md).
  static const std::string space = *encode_key(ark::key{nullptr, "journal"});
  return space;
}

journal_record::journal_record() : bytes_(1, record_format) {}

void journal_record::add(journal_entry kind, std::string_view key, std::string_view value) {
  bytes_.reserve(bytes_.size() + 9 + key.size() + value.size());
  bytes_.push_back(static_cast<char>(kind));
  put_u32(bytes_, key.size());
  bytes_.append(key.data(), key.size());
  put_u32(bytes_, value.size());
  bytes_.append(value.data(), value.size());
  ++entries_;
}

expected<void> decode_journal_record(
    std::string_view record,
    const std::function<void(journal_entry, std::string_view, std::string_view)>& f) {
  if (record.empty() || record[0] != record_format)
    return error{errc::corrupt_snapshot,
                 "journal record of unknown format " +
                     (record.empty() ? std::string("(empty)")
                                     : std::to_string(static_cast<unsigned char>(record[0])))};
  std::size_t pos = 1;
  while (pos < record.size()) {
    auto at = pos;
    auto kind = static_cast<journal_entry>(record[pos++]);
    std::size_t klen = 0, vlen = 0;
    bool ok = (kind == journal_entry::snapshot || kind == journal_entry::in_table) &&
              get_u32(record, pos, klen) && record.size() - pos >= klen;
    std::string_view key, value;
    if (ok) {
      key = record.substr(pos, klen);
      pos += klen;
      ok = get_u32(record, pos, vlen) && record.size() - pos >= vlen;
    }
    if (!ok)
      return error{errc::corrupt_snapshot,
                   "journal record entry at byte " + std::to_string(at) + " is truncated or corrupt"};
    value = record.substr(pos, vlen);
    pos += vlen;
    f(kind, key, value);
  }
  return {};
}

expected<journal_contents> read_journal(kv::backend& b) {
  journal_contents j;
  auto cur = b.scan(journal_space(), kv::byte_range{}, false);
  if (!cur) return cur.error();
  for (auto& c = *cur; c->valid(); c->next()) {
    auto seq = kv::get_be(c->key());
    auto r = decode_journal_record(c->value(), [&](journal_entry kind, std::string_view key,
                                                   std::string_view value) {
      if (kind == journal_entry::snapshot)
        j.snapshots[std::string(key)] = std::string(value);
      else
        j.snapshots.erase(std::string(key));
    });
    if (!r)
      return error{errc::corrupt_snapshot,
                   "state journal record " + std::to_string(seq) + ": " + r.error().context()};
    j.record_bytes += c->value().size();
    j.next_seq = seq + 1;
  }
  if (const auto& e = (*cur)->status(); e) {
    if (e == errc::corrupt_value) return error{e.code(), "the state journal: " + e.context()};
    return e;
  }
  return j;
}

expected<std::string> journal_contents::latest_snapshot(kv::backend& b,
                                                        std::string_view state_key) const {
  if (auto it = snapshots.find(std::string(state_key)); it != snapshots.end()) return it->second;
  return b.get(state_space(), state_key);
}

void journal_contents::checkpoint_batch(kv::backend_batch& batch) const {
  auto& group = batch.for_space(state_space());
  group.ops.reserve(snapshots.size());
  for (const auto& [key, snapshot] : snapshots)
    group.ops.push_back(kv::write_op{kv::write_op::kind::put, key, snapshot});
  batch.clear(journal_space());
}

}  // namespace ark::stored

namespace ark::detail {

namespace {

// Checkpoint when this many bytes of records accumulated, or this many
// actors have a journaled snapshot: bounds the memory of the journal's index
// and the work of a restart.
constexpr std::size_t checkpoint_actors = 16384;

}  // namespace

std::uint64_t snapshot_journal::new_generation() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

expected<std::shared_ptr<snapshot_journal>> snapshot_journal::load(kv::backend& b) {
  auto contents = stored::read_journal(b);
  if (!contents) return contents.error();
  auto j = std::make_shared<snapshot_journal>();
  j->contents_ = std::move(*contents);
  return j;
}

expected<std::string> snapshot_journal::get(kv::backend& b, std::string_view state_key) const {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    const auto& latest = contents_.snapshots;
    if (auto it = latest.find(std::string(state_key)); it != latest.end()) return it->second;
  }
  return b.get(state_space(), state_key);
}

std::vector<std::pair<std::string, std::size_t>> snapshot_journal::journaled() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<std::pair<std::string, std::size_t>> out;
  out.reserve(contents_.snapshots.size());
  for (const auto& [key, snapshot] : contents_.snapshots) out.emplace_back(key, snapshot.size());
  return out;
}

std::string snapshot_journal::next_key() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return stored::journal_key(contents_.next_seq);
}

void snapshot_journal::publish(const std::vector<update>& updates, std::size_t record_bytes) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& latest = contents_.snapshots;
  for (const auto& u : updates) {
    if (!u.snapshot) {
      if (latest.erase(*u.key) != 0) generation_ = new_generation();
      continue;
    }
    // The index's nodes stay put when it grows (rehashing moves no value),
    // so a slot found once serves until entries are dropped.
    if (u.where && u.where->value && u.where->generation == generation_) {
      *u.where->value = std::move(*u.snapshot);
      continue;
    }
    auto& value = latest[*u.key];
    value = std::move(*u.snapshot);
    if (u.where) *u.where = slot{&value, generation_};
  }
  contents_.record_bytes += record_bytes;
  ++contents_.next_seq;
}

bool snapshot_journal::due(std::size_t bytes) const {
  std::lock_guard<std::mutex> guard{mtx_};
  return contents_.record_bytes >= bytes || contents_.snapshots.size() >= checkpoint_actors;
}

bool snapshot_journal::empty() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return contents_.empty();
}

void snapshot_journal::checkpoint_batch(kv::backend_batch& batch) const {
  std::lock_guard<std::mutex> guard{mtx_};
  contents_.checkpoint_batch(batch);
}

void snapshot_journal::checkpointed() {
  std::lock_guard<std::mutex> guard{mtx_};
  contents_.snapshots.clear();
  generation_ = new_generation();
  contents_.record_bytes = 0;
}

}  // namespace ark::detail
