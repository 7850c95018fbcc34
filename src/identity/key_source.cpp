#include "identity/key_source.hpp"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "platform/http_get.hpp"
#include "platform/thread_name.hpp"

namespace flashgate::identity {
namespace {

// Two JWKS documents as one: the keys of both.
std::string combined(const std::string& a, const std::string& b) {
  boost::json::array keys;
  for (const std::string* document : {&a, &b}) {
    if (document->empty()) continue;
    boost::system::error_code ec;
    auto value = boost::json::parse(*document, ec);
    if (ec || !value.is_object()) continue;
    if (auto* list = value.as_object().if_contains("keys"); list && list->is_array())
      for (auto& key : list->as_array()) keys.push_back(key);
  }
  return boost::json::serialize(boost::json::object{{"keys", std::move(keys)}});
}

}  // namespace

KeySource::KeySource(KeySourceSettings settings) : settings_(std::move(settings)) {
  if (!settings_.file.empty()) {
    std::ifstream in(settings_.file);
    if (!in) throw std::runtime_error("jwt_keys: cannot read " + settings_.file);
    std::stringstream text;
    text << in.rdbuf();
    file_json_ = text.str();
    std::string error;
    std::vector<std::string> skipped;
    auto keys = KeySet::parse(file_json_, error, &skipped);
    if (!keys) throw std::runtime_error("jwt_keys: " + settings_.file + " is not a JWKS document: " + error);
    for (const auto& why : skipped) spdlog::warn("jwt_keys {}: a key is not used: {}", settings_.file, why);
    if (keys->size() == 0 && settings_.url.empty())
      throw std::runtime_error("jwt_keys: " + settings_.file + " holds no key flashgate can use");
  }
  if (!settings_.url.empty() && !fetch_url())
    spdlog::error("jwt_keys_url: no keys yet; trying again every {} ms", settings_.retry.count());
  install();
  if (!settings_.url.empty())
    refresher_ = std::thread([this] {
      platform::name_this_thread("fg-jwks");
      run();
    });
}

KeySource::~KeySource() { stop(); }

void KeySource::stop() {
  std::vector<std::function<void(bool)>> answered;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    answered.swap(waiting_);
  }
  wake_.notify_all();
  // Answered before the join: a fetch in flight may take its whole timeout.
  for (auto& done : answered) done(false);
  if (refresher_.joinable()) refresher_.join();
}

std::shared_ptr<const KeySet> KeySource::current() const {
  std::lock_guard lock(mutex_);
  return keys_;
}

void KeySource::refresh_for_unknown_kid(std::function<void(bool)> done) {
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    const bool allowed = !settings_.url.empty() &&
                         (last_unknown_fetch_ == std::chrono::steady_clock::time_point{} ||
                          now - last_unknown_fetch_ >= settings_.unknown_kid_pause);
    if (!stopping_ && (allowed || fetch_wanted_)) {
      // A fetch is on its way (this one's or another token's): wait for it.
      if (allowed) last_unknown_fetch_ = now;
      fetch_wanted_ = true;
      waiting_.push_back(std::move(done));
      wake_.notify_all();
      return;
    }
  }
  done(false);
}

bool KeySource::fetch_url() {
  platform::HttpGetOptions options;
  options.ca_file = settings_.ca_file;
  const auto answer = platform::http_get(settings_.url, options);
  if (answer.status != 200) {
    spdlog::error("jwt_keys_url: fetch failed: {}",
                  answer.status ? "HTTP " + std::to_string(answer.status) : answer.error);
    return false;
  }
  std::string error;
  std::vector<std::string> skipped;
  auto keys = KeySet::parse(answer.body, error, &skipped);
  if (!keys) {
    spdlog::error("jwt_keys_url: not a JWKS document: {}", error);
    return false;
  }
  for (const auto& why : skipped) spdlog::warn("jwt_keys_url: a key is not used: {}", why);
  if (answer.body != url_json_) spdlog::info("jwt_keys_url: {} keys", keys->size());
  url_json_ = answer.body;
  return true;
}

void KeySource::install() {
  std::string error;
  auto keys = KeySet::parse(combined(file_json_, url_json_), error);
  if (!keys) return;  // both were checked on their own: cannot happen
  auto shared = std::make_shared<const KeySet>(std::move(*keys));
  {
    std::lock_guard lock(mutex_);
    keys_ = std::move(shared);
  }
  generation_.fetch_add(1, std::memory_order_release);
}

void KeySource::run() {
  bool ok = !url_json_.empty();
  for (;;) {
    std::vector<std::function<void(bool)>> answered;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, ok ? settings_.refresh : settings_.retry, [this] { return stopping_ || fetch_wanted_; });
      if (stopping_) return;
      fetch_wanted_ = false;
    }
    const std::string before = url_json_;
    ok = fetch_url();
    if (ok && url_json_ != before) install();
    {
      std::lock_guard lock(mutex_);
      answered.swap(waiting_);
    }
    for (auto& done : answered) done(ok);
  }
}

}  // namespace flashgate::identity
