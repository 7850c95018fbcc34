// One embedded process as app::serve runs it (memory store, SQLite journal
// and order database, windows, HTTP on loopback), started, used and stopped:
// the order its parts stop in, and what that order promises.
#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "app/process.hpp"
#include "database/sqlite/sqlite_database.hpp"
#include "store_calls.hpp"

namespace {

namespace asio = boost::asio;
using flashgate::app::Config;
using flashgate::app::Lifecycle;
using flashgate::app::Process;
using flashgate::testing::numbered;
using flashgate::testing::TempDir;

// The status code of one request on a connection of its own.
int request(std::uint16_t port, const std::string& method, const std::string& path, const std::string& body,
            const std::string& token = {}) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  std::string text = method + " " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n";
  if (!token.empty()) text += "Authorization: Bearer " + token + "\r\n";
  text += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  asio::write(socket, asio::buffer(text));
  std::string answer;
  boost::system::error_code ec;
  char chunk[4096];
  while (!ec) answer.append(chunk, socket.read_some(asio::buffer(chunk), ec));
  if (answer.rfind("HTTP/1.1 ", 0) != 0) return 0;
  return std::stoi(answer.substr(9, 3));
}

std::size_t at(const std::vector<std::string>& names, const std::string& name) {
  return static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin());
}

TEST(Process, TheEmbeddedProcessStopsInTheReverseOrderOfItsStart) {
  TempDir dir;
  Config config;
  config.data_dir = dir.path().string();
  config.listen = "127.0.0.1:0";
  config.admin_token = "the test's admin token";
  config.payment_secret = "the test's payment secret";
  config.threads = 1;
  config.windows = 2;
  config.intake_rate = 0;
  config.stock_flush_ms = 3'600'000;  // only the last flush, the one of the stop, can write
  std::vector<std::string> started, stopped;
  {
    Process process(config);
    process.lifecycle().observe([&](Lifecycle::Step step, std::string_view name) {
      (step == Lifecycle::Step::starting ? started : stopped).emplace_back(name);
    });
    process.start();
    const auto port = process.port();
    ASSERT_NE(port, 0);
    ASSERT_EQ(request(port, "POST", "/api/admin/sales", R"({"sale_id":"s1","item":"widget","stock":10})",
                      config.admin_token),
              201);
    for (int i = 0; i < 4; ++i)
      ASSERT_EQ(request(port, "POST", "/api/sales/s1/orders", R"({"user_id":")" + numbered("u", i) + R"("})"), 202);
    process.stop();
    EXPECT_THROW(request(port, "GET", "/healthz", ""), boost::system::system_error) << "still listening";
  }
  EXPECT_EQ(started, std::vector<std::string>(stopped.rbegin(), stopped.rend()));

  // The order of shutdown, as written once in Process::add_components.
  EXPECT_EQ(stopped.front(), "intake");
  EXPECT_LT(at(stopped, "intake"), at(stopped, "windows")) << "intakes still coming while the windows stop";
  EXPECT_LT(at(stopped, "windows"), at(stopped, "stock flush")) << "the last flush counts the windows' last orders";
  EXPECT_LT(at(stopped, "windows"), at(stopped, "payment timeouts"));
  EXPECT_LT(at(stopped, "stock flush"), at(stopped, "http server")) << "polls answered while the windows finish";
  EXPECT_LT(at(stopped, "sale archive"), at(stopped, "http server")) << "an admin call answered before it closes";
  EXPECT_LT(at(stopped, "buyer keys"), at(stopped, "http server"));
  EXPECT_EQ(stopped.back(), "backends");

  // The stop's flush ran after the last intake.
  flashgate::database::SqliteDatabase database(dir.path() / "flashgate.db");
  const auto sale = database.find_sale("s1");
  ASSERT_TRUE(sale.has_value());
  EXPECT_EQ(sale->remaining_db, 6);
  database.close();
}

}  // namespace
