# Opens a loopback listener the way Ruby's documentation shows (`TCPServer.new`, no backlog:
# ext/socket/ipsocket.c passes SOMAXCONN), prints the listener protocol of runtimes/README.md
# and never accepts.
require 'socket'

lifetime = Integer(ARGV[0] || 120)
lines = ["version #{RUBY_DESCRIPTION}"]
begin
  server = TCPServer.new('127.0.0.1', 0)
  lines << "listen default #{server.addr[1]}"
rescue SystemCallError => e
  lines << "unavailable default #{e.class}: #{e.message}"
end
lines << 'ready'
$stdout.write(lines.join("\n") + "\n")
$stdout.flush
# Wait for standard input to close, or the lifetime to pass; nothing is accepted.
reader = Thread.new { $stdin.read }
reader.join(lifetime)
server&.close
