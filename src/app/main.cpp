// flashgate: serve, config check, --version.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "app/application.hpp"
#include "app/config.hpp"

namespace {

std::string flag_name(const std::string& key) {
  std::string name = key;
  for (auto& c : name)
    if (c == '_') c = '-';
  return "--" + name;
}

}  // namespace

int main(int argc, char** argv) {
  using flashgate::app::settings;
  CLI::App app{"flashgate: takes the order rush of a flash sale and tells every buyer the result in real time"};
  app.set_version_flag("--version", std::string("flashgate ") + FLASHGATE_VERSION);
  app.require_subcommand(1);

  auto* serve = app.add_subcommand("serve", "Run the service (gateway, windows or both)");
  std::string config_file;
  serve->add_option("--config", config_file, "TOML file of settings (flags > environment > file > defaults)");
  std::map<std::string, std::string> flags;
  for (const auto& setting : settings()) {
    serve->add_option_function<std::string>(
        flag_name(setting.key), [&flags, key = setting.key](const std::string& v) { flags[key] = v; },
        setting.help + " [" + setting.env + "]");
  }

  auto* config_cmd = app.add_subcommand("config", "Work with configuration files");
  config_cmd->require_subcommand(1);
  auto* check = config_cmd->add_subcommand("check", "Check a TOML config file and print the settings it gives");
  std::string check_file;
  check->add_option("FILE", check_file, "the file to check")->required();

  CLI11_PARSE(app, argc, argv);

  flashgate::app::Config config;
  flashgate::app::ConfigSources sources;
  if (*check) {
    sources.file = check_file;
    if (auto error = flashgate::app::load_config(config, sources)) {
      fmt::print(stderr, "flashgate: {}\n", *error);
      return 2;
    }
    for (const auto& setting : settings()) fmt::print("{} = {}\n", setting.key, setting.show(config));
    return 0;
  }
  if (!config_file.empty()) sources.file = config_file;
  sources.environment = flashgate::app::read_environment();
  sources.flags = flags;
  if (auto error = flashgate::app::load_config(config, sources)) {
    fmt::print(stderr, "flashgate: {}\n", *error);
    return 2;
  }
  try {
    return flashgate::app::serve(std::move(config));
  } catch (const std::exception& e) {
    fmt::print(stderr, "flashgate: {}\n", e.what());
    return 1;
  }
}
