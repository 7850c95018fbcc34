#pragma once
// The keys that sign buyers' tokens: a JWKS file and/or a JWKS URL of the
// shop's login, held in memory. The URL is fetched at start and again in the
// background; a token naming a kid we do not know asks for one more fetch,
// at most once a minute, so that a key rotation at the identity provider
// needs no restart and a flood of made-up kids costs the provider nothing.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "identity/jwks.hpp"

namespace flashgate::identity {

struct KeySourceSettings {
  std::string file;  // a JWKS file; read once, at start
  std::string url;   // a JWKS URL (http or https)
  std::string ca_file;
  std::chrono::milliseconds refresh{300'000};           // the URL fetched again this often
  std::chrono::milliseconds unknown_kid_pause{60'000};  // at most one fetch per unknown kid in this time
  std::chrono::milliseconds retry{5'000};               // after a failed fetch
};

class KeySource {
 public:
  // Throws std::runtime_error (fit for the operator) if the file cannot be
  // read or is not a JWKS. A URL that cannot be fetched at start is logged
  // and tried again every `retry`: until then only the file's keys count.
  explicit KeySource(KeySourceSettings settings);
  ~KeySource();
  KeySource(const KeySource&) = delete;
  KeySource& operator=(const KeySource&) = delete;

  // Answers every token still waiting for a fetch (done(false)) and stops
  // the refresher; later unknown kids are refused at once. Called while the
  // server those answers go to still runs; the destructor only calls it.
  void stop();

  std::shared_ptr<const KeySet> current() const;
  // Raised whenever the keys change: what was verified with older keys is verified again.
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // A token named a kid the keys lack: fetches the URL once more unless that
  // was done within unknown_kid_pause (or there is no URL). `done(true)` runs
  // on the fetching thread once new keys are in; `done(false)` at once when
  // no fetch is allowed.
  void refresh_for_unknown_kid(std::function<void(bool fetched)> done);

 private:
  void run();
  bool fetch_url();  // true if the URL's keys were read
  void install();    // the file's and the URL's keys, as one set

  const KeySourceSettings settings_;
  std::string file_json_;
  std::string url_json_;  // the last document the URL gave; the refresher thread's
  mutable std::mutex mutex_;  // guards keys_, waiting_, fetch_wanted_, stopping_, last_unknown_fetch_
  std::shared_ptr<const KeySet> keys_;
  std::vector<std::function<void(bool)>> waiting_;
  bool fetch_wanted_ = false;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point last_unknown_fetch_{};
  std::condition_variable wake_;
  std::atomic<std::uint64_t> generation_{0};
  std::thread refresher_;
};

}  // namespace flashgate::identity
