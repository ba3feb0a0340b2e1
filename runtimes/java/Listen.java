// Opens listeners the way Java's documentation shows (`new ServerSocket(port)`, no backlog:
// ServerSocket.java passes 50), `new ServerSocket(0, 0, addr)` (a backlog <= 0 means "an
// implementation specific default") and NIO's `ServerSocketChannel.bind(addr)`, prints the
// listener protocol of runtimes/README.md and never accepts. Run as a single source file
// (`java Listen.java`, Java 11 and later).
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.channels.ServerSocketChannel;
import java.util.ArrayList;
import java.util.List;

public class Listen {
    interface Opener {
        Closeable open() throws IOException;
    }

    static int portOf(Closeable listener) throws IOException {
        if (listener instanceof ServerSocket) {
            return ((ServerSocket) listener).getLocalPort();
        }
        return ((InetSocketAddress) ((ServerSocketChannel) listener).getLocalAddress()).getPort();
    }

    public static void main(String[] args) throws Exception {
        long lifetime = args.length > 0 ? Long.parseLong(args[0]) : 120;
        InetAddress loopback = InetAddress.getLoopbackAddress();
        StringBuilder out = new StringBuilder();
        out.append("version java ").append(System.getProperty("java.runtime.version"))
            .append(' ').append(System.getProperty("java.vm.name")).append('\n');
        List<Closeable> open = new ArrayList<>();
        String[] names = {"server-socket", "backlog-0", "channel"};
        Opener[] openers = {
            () -> new ServerSocket(0),
            () -> new ServerSocket(0, 0, loopback),
            () -> ServerSocketChannel.open().bind(new InetSocketAddress(loopback, 0)),
        };
        for (int i = 0; i < names.length; i++) {
            try {
                Closeable listener = openers[i].open();
                open.add(listener);
                out.append("listen ").append(names[i]).append(' ').append(portOf(listener)).append('\n');
            } catch (IOException e) {
                out.append("unavailable ").append(names[i]).append(' ').append(e).append('\n');
            }
        }
        out.append("ready\n");
        System.out.print(out);
        System.out.flush();
        // Wait for standard input to close, or the lifetime to pass; nothing is accepted.
        Thread reader = new Thread(() -> {
            try {
                InputStream in = System.in;
                byte[] buffer = new byte[4096];
                while (in.read(buffer) >= 0) {
                }
            } catch (IOException e) {
                // standard input went away: stop waiting
            }
        });
        reader.setDaemon(true);
        reader.start();
        reader.join(lifetime * 1000);
        for (Closeable listener : open) {
            listener.close();
        }
        System.exit(0);
    }
}
