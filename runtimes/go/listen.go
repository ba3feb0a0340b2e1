// Opens a loopback listener the way Go's documentation shows (`net.Listen`, no backlog: Go
// passes the system's somaxconn setting, src/net/sock_linux.go maxListenerBacklog), prints
// the listener protocol of runtimes/README.md and never accepts.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"time"
)

func main() {
	lifetime := 120
	if len(os.Args) > 1 {
		if seconds, err := strconv.Atoi(os.Args[1]); err == nil {
			lifetime = seconds
		}
	}
	fmt.Printf("version %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Printf("unavailable default %v\n", err)
	} else {
		fmt.Printf("listen default %d\n", listener.Addr().(*net.TCPAddr).Port)
	}
	fmt.Println("ready")
	// Wait for standard input to close, or the lifetime to pass; nothing is accepted.
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(time.Duration(lifetime) * time.Second):
	}
	if listener != nil {
		listener.Close()
	}
}
