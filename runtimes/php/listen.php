<?php
// Opens loopback listeners the way PHP's documentation shows: `stream_socket_server()` with no
// `socket.backlog` context option (main/streams/transports.c passes 32), and ext/sockets'
// `socket_listen($socket)` with its default backlog (ext/sockets/sockets.c: 0) where that
// extension is loaded; prints the listener protocol of runtimes/README.md and never accepts.
$lifetime = (int)($argv[1] ?? 120);
$lines = ['version PHP ' . PHP_VERSION . ' ' . PHP_OS_FAMILY];
$server = @stream_socket_server('tcp://127.0.0.1:0', $errno, $errstr);
if ($server === false) {
    $lines[] = "unavailable default $errno $errstr";
} else {
    $name = stream_socket_get_name($server, false);
    $lines[] = 'listen default ' . substr($name, strrpos($name, ':') + 1);
}
if (function_exists('socket_create')) {
    $socket = socket_create(AF_INET, SOCK_STREAM, SOL_TCP);
    if ($socket !== false && socket_bind($socket, '127.0.0.1', 0) && socket_listen($socket)
        && socket_getsockname($socket, $address, $port)) {
        $lines[] = "listen socket-listen $port";
    } else {
        $lines[] = 'unavailable socket-listen ' . socket_strerror(socket_last_error());
    }
} else {
    $lines[] = 'unavailable socket-listen ext/sockets is not loaded';
}
$lines[] = 'ready';
fwrite(STDOUT, implode("\n", $lines) . "\n");
fflush(STDOUT);
// Wait for standard input to close, or the lifetime to pass; nothing is accepted.
$deadline = time() + $lifetime;
while (time() < $deadline) {
    $read = [STDIN];
    $write = null;
    $except = null;
    if (@stream_select($read, $write, $except, max(1, $deadline - time())) === false) {
        break;
    }
    if ($read && (fread(STDIN, 4096) === '' || feof(STDIN))) {
        break;
    }
}
