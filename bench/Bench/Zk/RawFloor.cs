using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Pipeline.Bench.Zk;

/// <summary>
/// The floor under both clients: getData over a bare blocking socket from one thread, with the request bytes made once and
/// the replies only framed, never decoded. What is left between a client and this is the client's own cost.
/// </summary>
public sealed class RawFloor : IDisposable
{
    private const int GetDataOp = 4;
    private const int CloseSessionOp = -11;
    private readonly Socket socket;
    private readonly byte[] request;
    private byte[] buffer = new byte[64 * 1024];
    private int start;
    private int end;
    private int xid;

    private RawFloor(Socket socket, string path)
    {
        this.socket = socket;
        var pathBytes = Encoding.UTF8.GetBytes(path);
        request = new byte[4 + 4 + 4 + 4 + pathBytes.Length + 1];
        BinaryPrimitives.WriteInt32BigEndian(request, request.Length - 4);
        BinaryPrimitives.WriteInt32BigEndian(request.AsSpan(8), GetDataOp);
        BinaryPrimitives.WriteInt32BigEndian(request.AsSpan(12), pathBytes.Length);
        pathBytes.CopyTo(request.AsSpan(16));
    }

    /// <summary>Opens a session on the first server of <paramref name="connect"/> for getData of <paramref name="path"/> (under its chroot).</summary>
    public static async Task<RawFloor> OpenAsync(string connect, string path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connect);
        var slash = connect.IndexOf('/', StringComparison.Ordinal);
        var hostPort = (slash < 0 ? connect : connect[..slash]).Split(',')[0];
        path = slash < 0 ? path : connect[slash..] + path;
        var colon = hostPort.LastIndexOf(':');
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(hostPort[..colon], int.Parse(hostPort[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
        var floor = new RawFloor(socket, path);

        // ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd (16 zero bytes), readOnly.
        var hello = new byte[4 + 4 + 8 + 4 + 8 + 4 + 16 + 1];
        BinaryPrimitives.WriteInt32BigEndian(hello, hello.Length - 4);
        BinaryPrimitives.WriteInt32BigEndian(hello.AsSpan(16), 10_000);
        BinaryPrimitives.WriteInt32BigEndian(hello.AsSpan(28), 16);
        socket.Send(hello);
        floor.ReadFrame();
        return floor;
    }

    /// <summary><paramref name="count"/> getData calls with <paramref name="inFlight"/> outstanding; ops/s.</summary>
    public double Run(int count, int inFlight)
    {
        var began = Stopwatch.GetTimestamp();
        var sent = 0;
        for (; sent < Math.Min(inFlight, count); sent++)
        {
            Send();
        }

        for (var received = 0; received < count; received++)
        {
            var err = BinaryPrimitives.ReadInt32BigEndian(ReadFrame().AsSpan(16));
            if (err != 0)
            {
                throw new InvalidOperationException($"raw getData failed with error {err}");
            }

            if (sent < count)
            {
                Send();
                sent++;
            }
        }

        return count / Stopwatch.GetElapsedTime(began).TotalSeconds;
    }

    public void Dispose()
    {
        try
        {
            var close = new byte[12];
            BinaryPrimitives.WriteInt32BigEndian(close, 8);
            BinaryPrimitives.WriteInt32BigEndian(close.AsSpan(4), ++xid);
            BinaryPrimitives.WriteInt32BigEndian(close.AsSpan(8), CloseSessionOp);
            socket.Send(close);
            ReadFrame();
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            // The server drops the session on its own after the timeout.
        }

        socket.Dispose();
    }

    private void Send()
    {
        BinaryPrimitives.WriteInt32BigEndian(request.AsSpan(4), ++xid);
        socket.Send(request);
    }

    /// <summary>The next frame, with its 4-byte length prefix (a view valid until the next read).</summary>
    private ArraySegment<byte> ReadFrame()
    {
        Fill(4);
        var length = BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(start));
        Fill(4 + length);
        var frame = new ArraySegment<byte>(buffer, start, 4 + length);
        start += 4 + length;
        return frame;
    }

    private void Fill(int count)
    {
        if (start == end)
        {
            start = end = 0;
        }

        if (end - start >= count)
        {
            return;
        }

        if (buffer.Length - start < count)
        {
            var target = count > buffer.Length ? new byte[count * 2] : buffer;
            Buffer.BlockCopy(buffer, start, target, 0, end - start);
            (end, start, buffer) = (end - start, 0, target);
        }

        while (end - start < count)
        {
            var read = socket.Receive(buffer, end, buffer.Length - end, SocketFlags.None);
            if (read == 0)
            {
                throw new IOException("ZooKeeper closed the raw connection");
            }

            end += read;
        }
    }
}
