// flashgate: serve, token, config check/example, --version.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "app/application.hpp"
#include "app/config.hpp"
#include "app/config_commands.hpp"
#include "app/token_command.hpp"

int main(int argc, char** argv) {
  namespace app = flashgate::app;
  CLI::App cli{"flashgate: takes the order rush of a flash sale and tells every buyer the result in real time"};
  cli.set_version_flag("--version", std::string("flashgate ") + FLASHGATE_VERSION);
  cli.require_subcommand(1);

  auto* serve = cli.add_subcommand("serve", "Run the service (gateway, windows or both)");
  std::string config_file;
  serve->add_option("--config", config_file, "TOML file of settings (flags > environment > file > defaults)");
  std::map<std::string, std::string> flags;
  app::add_setting_flags(*serve, flags);

  auto* token_cmd = cli.add_subcommand(
      "token", "Sign a buyer's token for tours and tests (the shop's login signs real ones): prints a JWT");
  app::TokenRequest token_request;
  token_cmd->add_option("--user", token_request.user, "the buyer (claim sub)")->required();
  token_cmd->add_option("--key", token_request.key_file,
                        "a private JWK (Ed25519 or oct); created with FILE.jwks, its public JWKS, if absent")
      ->required();
  token_cmd->add_option("--ttl", token_request.ttl, "lifetime, e.g. 1h, 15m")->default_val("1h");
  token_cmd->add_option("--issuer", token_request.issuer, "claim iss");
  token_cmd->add_option("--audience", token_request.audience, "claim aud");

  auto* config_cmd = cli.add_subcommand("config", "Work with configuration files");
  config_cmd->require_subcommand(1);
  auto* check = config_cmd->add_subcommand("check", "Check a TOML config file and print the settings it gives");
  std::string check_file;
  check->add_option("FILE", check_file, "the file to check")->required();
  auto* example = config_cmd->add_subcommand("example", "Print an annotated config file with every default");

  CLI11_PARSE(cli, argc, argv);

  if (*token_cmd) return app::print_token(token_request);
  if (*example) return app::print_config_example();
  if (*check) return app::check_config(check_file);

  app::Config config;
  app::ConfigSources sources;
  if (!config_file.empty()) sources.file = config_file;
  sources.environment = app::read_environment();
  sources.flags = flags;
  if (auto error = app::load_config(config, sources)) {
    fmt::print(stderr, "flashgate: {}\n", *error);
    return 2;
  }
  try {
    return app::serve(std::move(config));
  } catch (const std::exception& e) {
    fmt::print(stderr, "flashgate: {}\n", e.what());
    return 1;
  }
}
