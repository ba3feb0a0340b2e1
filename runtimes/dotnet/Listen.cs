// Opens listeners the way .NET's documentation shows: `TcpListener.Start()` and
// `Socket.Listen()`, neither naming a backlog (both pass int.MaxValue, Winsock's SOMAXCONN;
// dotnet/runtime Socket.cs, TCPListener.cs), prints the listener protocol of runtimes/README.md
// and never accepts. A file-based app: `dotnet run Listen.cs -- SECONDS` (.NET 10 and later).
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

var lifetime = args.Length > 0 && int.TryParse(args[0], out var seconds) ? seconds : 120;
var lines = new List<string> { $"version {RuntimeInformation.FrameworkDescription} {RuntimeInformation.RuntimeIdentifier}" };
var open = new List<IDisposable>();
try
{
    var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    open.Add(listener.Server);
    lines.Add($"listen tcplistener-start {((IPEndPoint)listener.LocalEndpoint).Port}");
}
catch (SocketException e)
{
    lines.Add($"unavailable tcplistener-start {e.SocketErrorCode}");
}
try
{
    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
    socket.Listen();
    open.Add(socket);
    lines.Add($"listen socket-listen {((IPEndPoint)socket.LocalEndPoint!).Port}");
}
catch (SocketException e)
{
    lines.Add($"unavailable socket-listen {e.SocketErrorCode}");
}
lines.Add("ready");
Console.Out.Write(string.Join("\n", lines) + "\n");
Console.Out.Flush();
// Wait for standard input to close, or the lifetime to pass; nothing is accepted.
var reader = Task.Run(() => Console.In.ReadToEnd());
reader.Wait(TimeSpan.FromSeconds(lifetime));
foreach (var listener in open)
{
    listener.Dispose();
}
