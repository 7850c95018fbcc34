#pragma once
// The command line's side of the settings: every setting as a flag of
// `serve`, and `flashgate config example` / `config check`.
#include <map>
#include <string>

#include <CLI/App.hpp>

namespace flashgate::app {

// Adds --<key> for every setting to `serve`; a flag given lands in `flags`
// (key -> value), which must outlive the parse.
void add_setting_flags(CLI::App& serve, std::map<std::string, std::string>& flags);

// An annotated TOML file with every default, on stdout; 0.
int print_config_example();

// Loads a TOML file and prints the settings it gives; 0, or 2 with the error on stderr.
int check_config(const std::string& file);

}  // namespace flashgate::app
