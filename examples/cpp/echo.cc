// weft-cpp-echo -- a TCP echo server and its clients with weft.hpp's socket
// awaits, in one process: the server listens on 127.0.0.1 (a free port),
// serves each connection in a task of a task_group, and stops after N
// clients; N clients run concurrently (gather) and check their echo.
//   weft-cpp-echo [clients]    (default 3)
#include <weft.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

static weft::task<> handle(weft::socket conn) {
  char buf[4096];
  while (std::size_t n = co_await weft::recv(conn, buf, sizeof buf))  // 0: the client is done
    co_await weft::send(conn, buf, n);
}

static weft::task<> serve(weft::socket &listener, int clients) {
  weft::task_group group;
  for (int i = 0; i < clients; ++i) group.spawn(handle(co_await weft::accept(listener)));
  co_await group.wait();
}

static weft::task<bool> client(int port, int id) {
  weft::socket s = co_await weft::connect("127.0.0.1", port);
  std::string msg = "hello from client " + std::to_string(id);
  co_await weft::send(s, msg.data(), msg.size());
  std::string echo;
  char buf[4096];
  while (echo.size() < msg.size()) {
    std::size_t n = co_await weft::recv(s, buf, sizeof buf);
    if (n == 0) break;  // the server closed early
    echo.append(buf, n);
  }
  co_return echo == msg;  // s closes here: the server's recv sees end of stream
}

static weft::task<int> clients(weft::loop &loop, int port, int n) {
  std::vector<weft::spawned<bool>> all;
  for (int i = 0; i < n; ++i) all.push_back(weft::spawn(loop, client(port, i)));
  int ok = 0;
  for (auto &c : all) ok += co_await c;
  co_return ok;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 3;
  if (n < 1 || n > 1000) return 2;
  weft::loop loop;
  auto listener = weft::socket::tcp_listen(loop, "127.0.0.1", 0);
  int port = listener.port();
  std::printf("echo: listening on 127.0.0.1:%d\n", port);
  auto server = weft::spawn(loop, serve(listener, n));
  int ok = weft::run(loop, clients(loop, port, n));
  loop.run();  // the server finishes once every connection ended
  server.get();
  std::printf("echo: %d of %d clients got their message back\n", ok, n);
  return ok == n ? 0 : 1;
}
