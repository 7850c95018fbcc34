#include "store/redis/redis_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "redis_server_fixture.hpp"
#include "store/redis/blocking_redis.hpp"

namespace {

using namespace flashgate::testing;
using flashgate::store::redis::BlockingRedis;
using flashgate::store::redis::describe;
using flashgate::store::redis::Script;
using flashgate::store::redis::sha1_hex;
using Type = Reply::Type;

// The async API, awaited: the reply and the thread the callback ran on.
struct Answer {
  Reply reply;
  std::thread::id thread;
};

Answer ask(RedisClient& client, std::vector<std::string> args) {
  std::promise<Answer> promise;
  auto future = promise.get_future();
  client.command(std::move(args), [&](Reply r) { promise.set_value({std::move(r), std::this_thread::get_id()}); });
  if (future.wait_for(patience) != std::future_status::ready) throw std::runtime_error("no answer");
  return future.get();
}

class RedisClientTest : public RedisServerTest {};
class BlockingRedisTest : public RedisServerTest {};

// --- SHA-1 --------------------------------------------------------------

TEST(Sha1Test, MatchesTheStandardVectors) {
  EXPECT_EQ(sha1_hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(sha1_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(sha1_hex("The quick brown fox jumps over the lazy dog"), "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
  EXPECT_EQ(sha1_hex(std::string(1'000'000, 'a')), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(Sha1Test, IsRightAroundBlockBoundaries) {
  // From sha1sum: padding spills into a second block from 56 bytes on.
  const std::pair<std::size_t, const char*> cases[] = {
      {55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},  {56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
      {63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},  {64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
      {65, "11655326c708d70319be2610e8a57d9a5b959d3b"},  {119, "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56"},
      {120, "f34c1488385346a55709ba056ddd08280dd4c6d6"},
  };
  for (const auto& [length, digest] : cases) EXPECT_EQ(sha1_hex(std::string(length, 'a')), digest) << length;
}

TEST(Sha1Test, HashesBytesNotCharacters) {
  EXPECT_EQ(sha1_hex(std::string("\0\xff\x80", 3)), "e4bc8a01806054986edd720593bc12f760eca5b9");
}

TEST(Sha1Test, NamesAScriptByItsSource) {
  EXPECT_EQ(Script("abc").sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
}

// --- RedisClient: commands and replies ------------------------------------

TEST_F(RedisClientTest, SetThenGetRoundTripsAsynchronouslyOnTheClientThread) {
  RedisClient client("127.0.0.1", port_);
  const Answer set = ask(client, {"SET", key("k"), "v1"});
  EXPECT_EQ(set.reply.type, Type::status);
  EXPECT_EQ(set.reply.str, "OK");
  const Answer get = ask(client, {"GET", key("k")});
  EXPECT_EQ(get.reply.type, Type::string);
  EXPECT_EQ(get.reply.str, "v1");
  EXPECT_NE(get.thread, std::this_thread::get_id());
}

TEST_F(RedisClientTest, SetThenGetRoundTripsSynchronously) {
  RedisClient client("127.0.0.1", port_);
  ASSERT_TRUE(client.wait_connected(patience));
  EXPECT_TRUE(client.connected());
  EXPECT_EQ(client.command_sync({"SET", key("k"), "v2"}).str, "OK");
  const Reply get = client.command_sync({"GET", key("k")});
  EXPECT_EQ(get.type, Type::string);
  EXPECT_EQ(get.str, "v2");
}

TEST_F(RedisClientTest, RepliesCarryTheirTypes) {
  RedisClient client("127.0.0.1", port_);
  EXPECT_EQ(client.command_sync({"PING"}).str, "PONG");
  EXPECT_EQ(client.command_sync({"PING"}).type, Type::status);
  EXPECT_EQ(client.command_sync({"GET", key("missing")}).type, Type::nil);
  const Reply pushed = client.command_sync({"RPUSH", key("list"), "a", "b"});
  EXPECT_EQ(pushed.type, Type::integer);
  EXPECT_EQ(pushed.integer, 2);
  const Reply range = client.command_sync({"LRANGE", key("list"), "0", "-1"});
  ASSERT_EQ(range.type, Type::array) << describe(range);
  ASSERT_EQ(range.elements.size(), 2u);
  EXPECT_EQ(range.elements[1].str, "b");
  ASSERT_TRUE(client.command_sync({"XADD", key("stream"), "1-1", "field", "value"}).ok());
  const Reply entries = client.command_sync({"XRANGE", key("stream"), "-", "+"});
  EXPECT_EQ(describe(entries), R"([["1-1", ["field", "value"]]])");
}

TEST_F(RedisClientTest, ArgumentsAndRepliesAreBinarySafe) {
  RedisClient client("127.0.0.1", port_);
  const std::string k = key(std::string("bin\0key\r\n", 9));
  const std::string value("\0\x01\xff\r\n$3\r\nzz\0", 13);
  ASSERT_EQ(client.command_sync({"SET", k, value}).str, "OK");
  const Reply get = client.command_sync({"GET", k});
  EXPECT_EQ(get.str, value);
  EXPECT_EQ(client.command_sync({"STRLEN", k}).integer, 13);
  EXPECT_EQ(client.command_sync({"GET", key("bin")}).type, Type::nil);  // the NUL did not cut the key short
}

TEST_F(RedisClientTest, ErrorsFromRedisComeBackAsErrorReplies) {
  RedisClient client("127.0.0.1", port_);
  const Reply unknown = client.command_sync({"NO-SUCH-COMMAND", "x"});
  EXPECT_EQ(unknown.type, Type::error);
  EXPECT_FALSE(unknown.ok());
  EXPECT_FALSE(unknown.connection_failed());
  EXPECT_TRUE(unknown.str.starts_with("ERR")) << unknown.str;

  ASSERT_TRUE(client.command_sync({"SET", key("s"), "text"}).ok());
  const Reply wrong = client.command_sync({"LPUSH", key("s"), "x"});
  EXPECT_TRUE(wrong.str.starts_with("WRONGTYPE")) << wrong.str;

  // The connection carries on after errors.
  EXPECT_EQ(client.command_sync({"PING"}).str, "PONG");
}

TEST_F(RedisClientTest, EmptyAndSubscribingCommandsAreRefusedWithoutBeingSent) {
  RedisClient client("127.0.0.1", port_);
  const Reply empty = client.command_sync({});
  EXPECT_EQ(empty.type, Type::error);
  EXPECT_FALSE(empty.connection_failed());
  const Reply subscribe = client.command_sync({"subscribe", "channel"});
  EXPECT_EQ(subscribe.type, Type::error);
  EXPECT_EQ(client.command_sync({"PING"}).str, "PONG");
}

TEST_F(RedisClientTest, PipelinedCommandsFromFourThreadsAreAllAnswered) {
  RedisClient client("127.0.0.1", port_, 2);
  constexpr int threads = 4;
  constexpr int per_thread = 10'000;
  std::vector<std::vector<long long>> seen(threads);  // written on the client's thread only
  std::atomic<int> answered{0};
  std::atomic<int> failed{0};
  std::promise<void> all_done;
  std::vector<std::thread> senders;
  for (int t = 0; t < threads; ++t) {
    senders.emplace_back([&, t] {
      const std::string counter = key("counter" + std::to_string(t));
      for (int i = 0; i < per_thread; ++i)
        client.command({"INCR", counter}, [&, t](Reply r) {
          if (r.type == Type::integer) seen[t].push_back(r.integer);
          else ++failed;
          if (++answered == threads * per_thread) all_done.set_value();
        });
    });
  }
  for (auto& s : senders) s.join();
  ASSERT_EQ(all_done.get_future().wait_for(patience), std::future_status::ready) << answered.load();
  EXPECT_EQ(failed.load(), 0);
  std::vector<long long> expected(per_thread);
  std::iota(expected.begin(), expected.end(), 1);
  for (int t = 0; t < threads; ++t) {
    std::sort(seen[t].begin(), seen[t].end());
    EXPECT_EQ(seen[t], expected) << "thread " << t;  // each INCR ran exactly once
  }
}

TEST_F(RedisClientTest, OneConnectionAnswersEachThreadInTheOrderItSent) {
  RedisClient client("127.0.0.1", port_, 1);
  constexpr int threads = 4;
  constexpr int per_thread = 2'500;
  std::vector<std::vector<long long>> seen(threads);
  std::atomic<int> answered{0};
  std::promise<void> all_done;
  std::vector<std::thread> senders;
  for (int t = 0; t < threads; ++t) {
    senders.emplace_back([&, t] {
      const std::string counter = key("counter" + std::to_string(t));
      for (int i = 0; i < per_thread; ++i)
        client.command({"INCR", counter}, [&, t](Reply r) {
          seen[t].push_back(r.integer);
          if (++answered == threads * per_thread) all_done.set_value();
        });
    });
  }
  for (auto& s : senders) s.join();
  ASSERT_EQ(all_done.get_future().wait_for(patience), std::future_status::ready);
  std::vector<long long> expected(per_thread);
  std::iota(expected.begin(), expected.end(), 1);
  for (int t = 0; t < threads; ++t) EXPECT_EQ(seen[t], expected) << "thread " << t;
}

// --- RedisClient: scripts --------------------------------------------------

TEST_F(RedisClientTest, ScriptShaAgreesWithRedis) {
  RedisClient client("127.0.0.1", port_);
  const Script script("return redis.call('PING')");
  EXPECT_EQ(client.command_sync({"SCRIPT", "LOAD", script.source}).str, script.sha1);
}

TEST_F(RedisClientTest, EvalRunsAScriptTheServerDoesNotHaveExactlyOnce) {
  RedisClient client("127.0.0.1", port_);
  const Script script("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}");
  ASSERT_TRUE(client.command_sync({"SCRIPT", "FLUSH"}).ok());
  const Reply first = client.eval_sync(script, {key("n")}, {"arg"});
  ASSERT_EQ(first.type, Type::array) << describe(first);
  EXPECT_EQ(describe(first), "[\"" + key("n") + "\", \"arg\", (integer) 1]");  // NOSCRIPT did not run it
  EXPECT_EQ(client.command_sync({"SCRIPT", "EXISTS", script.sha1}).elements.at(0).integer, 1);  // EVAL loaded it
  const Reply second = client.eval_sync(script, {key("n")}, {"arg"});
  EXPECT_EQ(second.elements.at(2).integer, 2);
}

TEST_F(RedisClientTest, EvalOfALoadedScriptSendsOnlyEvalsha) {
  RedisClient client("127.0.0.1", port_);
  const Script script("return tonumber(ARGV[1]) * 2");
  ASSERT_EQ(client.command_sync({"SCRIPT", "LOAD", script.source}).str, script.sha1);
  ASSERT_TRUE(client.command_sync({"CONFIG", "RESETSTAT"}).ok());
  std::promise<Reply> promise;
  client.eval(script, {}, {"21"}, [&](Reply r) { promise.set_value(std::move(r)); });
  auto future = promise.get_future();
  ASSERT_EQ(future.wait_for(patience), std::future_status::ready);
  EXPECT_EQ(future.get().integer, 42);
  const std::string stats = client.command_sync({"INFO", "commandstats"}).str;
  EXPECT_NE(stats.find("cmdstat_evalsha:calls=1,"), std::string::npos) << stats;
  EXPECT_EQ(stats.find("cmdstat_eval:"), std::string::npos) << stats;
}

TEST_F(RedisClientTest, ScriptErrorsAreErrorRepliesAndArgumentsStayBinary) {
  RedisClient client("127.0.0.1", port_);
  const Reply failed = client.eval_sync(Script("return redis.call('NO-SUCH-COMMAND')"), {}, {});
  EXPECT_EQ(failed.type, Type::error);
  EXPECT_FALSE(failed.connection_failed());
  const std::string binary("a\0b\r\n", 5);
  EXPECT_EQ(client.eval_sync(Script("return ARGV[1]"), {}, {binary}).str, binary);
}

// --- RedisClient: failures -----------------------------------------------

TEST_F(RedisClientTest, WithoutAServerCommandsFailFastWithConnectionErrors) {
  RedisOptions o = options();
  o.port = free_port();
  RedisClient client(o);
  const auto start = Clock::now();
  for (int i = 0; i < 10; ++i) {
    const Reply r = client.command_sync({"PING"});
    EXPECT_TRUE(r.connection_failed()) << describe(r);
  }
  EXPECT_LT(since(start), 2s);
  EXPECT_FALSE(client.connected());
}

TEST_F(RedisClientTest, ACommandInFlightWhenTheServerCutsTheLinkGetsAConnectionErrorThenTheClientRecovers) {
  RedisClient client("127.0.0.1", port_, 1);
  ASSERT_TRUE(client.wait_connected(patience));
  std::promise<Reply> blocked;
  client.command({"BLPOP", key("never"), "0"}, [&](Reply r) { blocked.set_value(std::move(r)); });
  std::this_thread::sleep_for(100ms);  // let the BLPOP reach the server

  RedisClient killer("127.0.0.1", port_, 1);
  const Reply killed = killer.command_sync({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"});
  EXPECT_GE(killed.integer, 1) << describe(killed);

  auto future = blocked.get_future();
  ASSERT_EQ(future.wait_for(patience), std::future_status::ready);
  const Reply r = future.get();
  EXPECT_TRUE(r.connection_failed()) << describe(r);
  EXPECT_EQ(until_ok(client, {"PING"}).str, "PONG");
}

TEST_F(RedisClientTest, AConnectionSilentPastTheCommandTimeoutIsDroppedAndReplaced) {
  RedisOptions o = options();
  o.connections = 1;
  o.command_timeout = 300ms;
  RedisClient client(o);
  ASSERT_TRUE(client.wait_connected(patience));
  const auto start = Clock::now();
  const Reply r = client.command_sync({"BLPOP", key("never"), "0"}, patience);
  EXPECT_TRUE(r.connection_failed()) << describe(r);
  EXPECT_NE(r.str.find("no reply within 300 ms"), std::string::npos) << r.str;
  EXPECT_GE(since(start), 300ms);
  EXPECT_LT(since(start), 3s);
  EXPECT_EQ(until_ok(client, {"PING"}).str, "PONG");
}

TEST_F(RedisClientTest, PastItsBoundAConnectionAnswersOverloaded) {
  RedisOptions o = options();
  o.connections = 1;
  o.max_pending = 10;
  RedisClient client(o);
  ASSERT_TRUE(client.wait_connected(patience));
  std::mutex mutex;
  std::vector<Reply> replies;
  std::promise<void> all_done;
  constexpr int sent = 21;
  auto collect = [&](Reply r) {
    std::lock_guard lock(mutex);
    replies.push_back(std::move(r));
    if (replies.size() == sent) all_done.set_value();
  };
  client.command({"BLPOP", key("gate"), "0"}, collect);  // holds everything behind it in flight
  for (int i = 1; i < sent; ++i) client.command({"PING"}, collect);

  RedisClient other("127.0.0.1", port_, 1);
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(other.command_sync({"LPUSH", key("gate"), "open"}).ok());
  ASSERT_EQ(all_done.get_future().wait_for(patience), std::future_status::ready);
  int ok = 0, overloaded = 0;
  for (const auto& r : replies) {
    if (r.ok()) ++ok;
    if (r.str == "CONNECTION overloaded") ++overloaded;
  }
  EXPECT_EQ(ok, 10);  // the BLPOP and nine PINGs
  EXPECT_EQ(overloaded, 11);
}

TEST_F(RedisClientTest, ASyncCallPastItsTimeoutAnswersTimeoutAndTheLateReplyIsHarmless) {
  RedisClient client("127.0.0.1", port_, 1);
  const auto start = Clock::now();
  const Reply r = client.command_sync({"BLPOP", key("late"), "0"}, 200ms);
  EXPECT_EQ(r.str, "CONNECTION timeout");
  EXPECT_LT(since(start), 2s);
  RedisClient other("127.0.0.1", port_, 1);
  ASSERT_TRUE(other.command_sync({"LPUSH", key("late"), "x"}).ok());
  EXPECT_EQ(client.command_sync({"PING"}).str, "PONG");  // queued behind the BLPOP, answered after it
}

TEST_F(RedisClientTest, ASyncCallFromTheClientsOwnThreadIsRefusedNotDeadlocked) {
  RedisClient client("127.0.0.1", port_);
  std::promise<Reply> inner;
  client.command({"PING"}, [&](Reply) { inner.set_value(client.command_sync({"PING"})); });
  auto future = inner.get_future();
  ASSERT_EQ(future.wait_for(patience), std::future_status::ready);
  const Reply r = future.get();
  EXPECT_TRUE(r.connection_failed());
  EXPECT_NE(r.str.find("own thread"), std::string::npos) << r.str;
}

TEST_F(RedisClientTest, DestroyingTheClientAnswersWhatIsStillInFlight) {
  std::optional<Reply> answer;  // set on the client's thread, read after its join
  {
    RedisClient client("127.0.0.1", port_, 1);
    ASSERT_TRUE(client.wait_connected(patience));
    client.command({"BLPOP", key("never"), "0"}, [&](Reply r) { answer = std::move(r); });
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->str, "CONNECTION closing");
}

TEST_F(RedisClientTest, ARedisRestartFailsCommandsMeanwhileAndTheClientReconnects) {
  RedisClient client("127.0.0.1", port_);
  ASSERT_TRUE(client.wait_connected(patience));
  ASSERT_EQ(client.command_sync({"SET", key("k"), "before"}).str, "OK");

  stop_server();
  // The client may take a moment to notice; then every command fails fast.
  const auto stopped = Clock::now();
  Reply r = client.command_sync({"GET", key("k")});
  while (r.ok() && since(stopped) < patience) r = client.command_sync({"GET", key("k")});
  EXPECT_TRUE(r.connection_failed()) << describe(r);
  const auto probe = Clock::now();
  for (int i = 0; i < 20; ++i) {
    r = client.command_sync({"GET", key("k")});
    EXPECT_TRUE(r.connection_failed()) << describe(r);
  }
  EXPECT_LT(since(probe), 2s);
  EXPECT_FALSE(client.connected());

  start_server();
  r = until_ok(client, {"GET", key("k")});
  EXPECT_EQ(r.str, "before");  // acknowledged before the stop, so in the fsynced AOF
  EXPECT_TRUE(client.connected());
}

TEST_F(RedisClientTest, UnderLoadThroughARestartEveryCommandIsAnsweredExactlyOnce) {
  RedisClient client("127.0.0.1", port_);
  ASSERT_TRUE(client.wait_connected(patience));
  const std::string counter = key("counter");
  std::atomic<bool> sending{true};
  std::atomic<long long> sent{0}, answered{0}, ok{0}, cut{0}, loading{0}, other{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < 2; ++t) {
    senders.emplace_back([&] {
      while (sending) {
        if (sent - answered > 2'000) {  // keep a bounded pipeline in flight
          std::this_thread::sleep_for(1ms);
          continue;
        }
        ++sent;
        client.command({"INCR", counter}, [&](Reply r) {
          // LOADING: the restarted server is still replaying its AOF; the command did not run.
          (r.ok() ? ok : r.connection_failed() ? cut : r.str.starts_with("LOADING") ? loading : other)++;
          ++answered;
        });
      }
    });
  }
  std::this_thread::sleep_for(150ms);
  stop_server();
  std::this_thread::sleep_for(150ms);
  start_server();
  std::this_thread::sleep_for(300ms);
  sending = false;
  for (auto& s : senders) s.join();
  const auto start = Clock::now();
  while (answered < sent && since(start) < patience) std::this_thread::sleep_for(5ms);

  EXPECT_EQ(answered.load(), sent.load());
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(cut.load(), 0);
  EXPECT_GT(ok.load(), 0);
  // An INCR that failed in flight may or may not have run; one that succeeded ran once.
  const Reply total = until_ok(client, {"GET", counter});
  EXPECT_GE(std::stoll(total.str), ok.load());
  EXPECT_LE(std::stoll(total.str), ok.load() + cut.load());
}

// --- BlockingRedis -----------------------------------------------------------

TEST_F(BlockingRedisTest, XreadgroupBlockReturnsWhenAnotherClientAdds) {
  RedisClient client("127.0.0.1", port_);
  const std::string stream = key("queue");
  ASSERT_TRUE(client.command_sync({"XGROUP", "CREATE", stream, "windows", "$", "MKSTREAM"}).ok());

  BlockingRedis worker("127.0.0.1", port_);
  auto read = std::async(std::launch::async, [&] {
    const auto start = Clock::now();
    Reply r = worker.command(
        {"XREADGROUP", "GROUP", "windows", "w1", "COUNT", "10", "BLOCK", "10000", "STREAMS", stream, ">"}, 15s);
    return std::make_pair(std::move(r), since(start));
  });
  std::this_thread::sleep_for(200ms);
  const Reply id = client.command_sync({"XADD", stream, "*", "order", "o1"});
  ASSERT_EQ(id.type, Type::string) << describe(id);

  ASSERT_EQ(read.wait_for(patience), std::future_status::ready);
  const auto [r, took] = read.get();
  EXPECT_EQ(describe(r), "[[\"" + stream + "\", [[\"" + id.str + "\", [\"order\", \"o1\"]]]]]");
  EXPECT_LT(took, 5s);
}

TEST_F(BlockingRedisTest, ACommandPastItsTimeoutAnswersTimeoutAndTheNextOneReconnects) {
  BlockingRedis worker("127.0.0.1", port_);
  const Reply r = worker.command({"BLPOP", key("never"), "0"}, 200ms);
  EXPECT_EQ(r.str, "CONNECTION timeout");
  EXPECT_FALSE(worker.connected());
  EXPECT_EQ(worker.command({"PING"}).str, "PONG");
}

TEST_F(BlockingRedisTest, ShutdownWakesABlockedCommandAndFailsLaterOnes) {
  BlockingRedis worker("127.0.0.1", port_);
  auto read = std::async(std::launch::async, [&] { return worker.command({"BLPOP", key("never"), "0"}, 60s); });
  std::this_thread::sleep_for(200ms);
  const auto start = Clock::now();
  worker.shutdown();
  ASSERT_EQ(read.wait_for(patience), std::future_status::ready);
  EXPECT_EQ(read.get().str, "CONNECTION shut down");
  EXPECT_LT(since(start), 2s);
  EXPECT_EQ(worker.command({"PING"}).str, "CONNECTION shut down");
}

TEST_F(BlockingRedisTest, ALinkCutByTheServerIsReestablished) {
  BlockingRedis worker("127.0.0.1", port_);
  ASSERT_EQ(worker.command({"PING"}).str, "PONG");
  RedisClient killer("127.0.0.1", port_, 1);
  EXPECT_GE(killer.command_sync({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"}).integer, 1);
  Reply r = worker.command({"PING"});
  if (!r.ok()) {
    EXPECT_TRUE(r.connection_failed()) << describe(r);
    r = worker.command({"PING"});
  }
  EXPECT_EQ(r.str, "PONG");
}

TEST_F(BlockingRedisTest, WritingIntoALinkTheServerCutFailsWithoutSigpipe) {
  BlockingRedis worker("127.0.0.1", port_);
  ASSERT_EQ(worker.command({"PING"}).str, "PONG");
  RedisClient killer("127.0.0.1", port_, 1);
  EXPECT_GE(killer.command_sync({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"}).integer, 1);
  // Big enough that the write outlasts the first RST: the next write(2) gets EPIPE.
  const Reply r = worker.command({"SET", key("big"), std::string(32 << 20, 'x')});
  EXPECT_TRUE(r.connection_failed()) << describe(r);
  EXPECT_EQ(worker.command({"PING"}).str, "PONG");
}

TEST_F(BlockingRedisTest, WithoutAServerItFailsWithConnectionErrorsAndPacesItsAttempts) {
  BlockingRedis worker("127.0.0.1", free_port());
  const auto start = Clock::now();
  for (int i = 0; i < 4; ++i) {
    const Reply r = worker.command({"PING"}, 2s);
    EXPECT_TRUE(r.connection_failed()) << describe(r);
  }
  // Attempts 2..4 waited out a backoff of 50, 100 and 200 ms.
  EXPECT_GE(since(start), 350ms);
  EXPECT_LT(since(start), 3s);
}

TEST_F(BlockingRedisTest, EvalLoadsAScriptTheServerDoesNotHave) {
  BlockingRedis worker("127.0.0.1", port_);
  const Script script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  ASSERT_TRUE(worker.command({"SCRIPT", "FLUSH"}).ok());
  EXPECT_EQ(worker.eval(script, {key("n")}, {"5"}).integer, 5);
  EXPECT_EQ(worker.eval(script, {key("n")}, {"5"}).integer, 10);
}

}  // namespace
