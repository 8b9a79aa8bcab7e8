#pragma once
// The client commands of the `lakehouse` binary, talking HTTP to a running server:
//   lakehouse sql [--url URL] [--format table|csv|json|arrow] ["SELECT ..."]   (REPL without SQL)
//   lakehouse datasets | describe NAME | upload FILE NAME [--append|--replace] | download NAME FILE
//   lakehouse keys create --role ROLE [--datasets 'a,b_*'] [--expires 30d] | keys list | keys revoke ID
// The server is --url, else LAKEHOUSE_URL, else http://127.0.0.1:8080; LAKEHOUSE_API_KEY is sent
// as a Bearer token. Exit codes: 0 ok, 1 the server refused (its message on stderr), 2 bad usage,
// 3 the server could not be reached.
#include <CLI/CLI.hpp>

#include <memory>
#include <optional>

namespace lakehouse::app::cli {

class ClientCommands {
 public:
  //! Adds the client subcommands to `app`.
  explicit ClientCommands(CLI::App& app);
  ~ClientCommands();
  ClientCommands(const ClientCommands&) = delete;
  ClientCommands& operator=(const ClientCommands&) = delete;

  //! After parsing: runs the client subcommand that was given and returns its exit code, or
  //! nullopt when none of them was.
  std::optional<int> Run();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace lakehouse::app::cli
