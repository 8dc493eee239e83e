using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Client;

/// <summary>
/// One TCP connection of a session, the one I/O loop: the handshake, then a sender (batches queued requests into one write,
/// FIFO of sent requests), a receiver (matches each reply with the oldest sent request, routes notifications, pings and auth
/// replies apart) and a heartbeat (pings when idle, declares the link dead after the read timeout). It ends at the first
/// failure; the session then fails what was in flight with ConnectionLoss and reconnects.
/// <para>The link's liveness is measured from when the newest answered request was <em>sent</em>, not from when its reply
/// arrived: the server heard us at that send (or later), so its session clock runs from there at the earliest. A reply that
/// was held up in the network proves nothing about the time it spent there; counting its arrival would let the client go
/// on believing in a session, and a lease, that the server may already have expired (guarded by
/// <c>ElectionScheduleTests</c>, seed 556983192).</para>
/// </summary>
internal sealed class Connection : IAsyncDisposable
{
    private readonly ClientSession session;
    private readonly TcpClient tcp;
    private readonly NetworkStream stream;
    private readonly ConcurrentQueue<Packet> sent = new();
    private readonly ConcurrentQueue<long> pingsSent = new();
    private readonly CancellationTokenSource stop = new();
    private readonly TimeSpan readTimeout;
    private long lastAcknowledged;
    private long lastSend = Stopwatch.GetTimestamp();

    private Connection(ClientSession session, TcpClient tcp, ServerAddress server, ConnectResponse response, long handshakeSentAt)
    {
        this.session = session;
        this.tcp = tcp;
        stream = tcp.GetStream();
        Server = server;
        Handshake = response;
        HandshakeSentAt = handshakeSentAt;
        lastAcknowledged = handshakeSentAt;
        readTimeout = TimeSpan.FromMilliseconds(response.TimeOut * 2.0 / 3.0);
    }

    public ServerAddress Server { get; }

    public ConnectResponse Handshake { get; }

    /// <summary>When the handshake's request was sent (Stopwatch): what its answer acknowledges.</summary>
    public long HandshakeSentAt { get; }

    /// <summary>Requests sent and not yet answered, oldest first.</summary>
    public IEnumerable<Packet> InFlight => sent;

    /// <summary>Connects and performs the handshake. Nothing else is written until the ConnectResponse is read, so an
    /// expiry answer is never lost to a reset. Returns the response even when it says the session expired.</summary>
    public static async Task<Connection> OpenAsync(ClientSession session, ServerAddress server, ConnectRequest request, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            await tcp.ConnectAsync(server.Host, server.Port, deadline.Token).ConfigureAwait(false);
            var stream = tcp.GetStream();
            var frame = new FrameBuffer(64);
            var start = frame.BeginFrame();
            var writer = new JuteWriter(frame);
            request.Write(ref writer);
            frame.EndFrame(start);
            var sentAt = Stopwatch.GetTimestamp();
            await stream.WriteAsync(frame.WrittenMemory, deadline.Token).ConfigureAwait(false);

            var reader = new FrameReader(stream, session.Options.MaxFrameSize);
            var payload = await reader.ReadFrameAsync(deadline.Token).ConfigureAwait(false)
                ?? throw new IOException($"{server} closed the connection during the handshake (read-only, behind our zxid, or shutting down).");
            var jute = new JuteReader(payload.Span);
            var response = ConnectResponse.Read(ref jute);
            return new Connection(session, tcp, server, response, sentAt);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>Runs the connection until it fails or <paramref name="cancellationToken"/> ends it; returns why it ended.</summary>
    public async Task<Exception?> RunAsync(IReadOnlyList<IRequestRecord> preamble, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stop.Token);
        var token = linked.Token;
        var tasks = new[]
        {
            Task.Run(() => SendLoopAsync(preamble, token), CancellationToken.None),
            Task.Run(() => ReceiveLoopAsync(token), CancellationToken.None),
            Task.Run(() => HeartbeatAsync(token), CancellationToken.None),
        };

        var first = await Task.WhenAny(tasks).ConfigureAwait(false);
        var reason = first.Exception?.GetBaseException() ?? (cancellationToken.IsCancellationRequested ? null : new IOException($"{Server} closed the connection."));
        await linked.CancelAsync().ConfigureAwait(false);
        tcp.Dispose(); // unblocks a read or write stuck in the socket
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The first failure is the reason; the others are its echoes.
        catch
#pragma warning restore CA1031
        {
        }

        return reason;
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        tcp.Dispose();
        stop.Dispose();
    }

    private async Task SendLoopAsync(IReadOnlyList<IRequestRecord> preamble, CancellationToken token)
    {
        var frame = new FrameBuffer();

        // Auth first, then SetWatches, then the caller's requests: the order the Java client uses after a handshake.
        foreach (var record in preamble)
        {
            Write(frame, new Packet<EmptyResponse>(record, null, null));
        }

        while (true)
        {
            if (frame.WrittenCount > 0)
            {
                await stream.WriteAsync(frame.WrittenMemory, token).ConfigureAwait(false);
                Volatile.Write(ref lastSend, Stopwatch.GetTimestamp());
                frame.Clear();
            }

            await session.Outgoing.WaitAsync(token).ConfigureAwait(false);
            while (frame.WrittenCount < 60 * 1024 && session.Outgoing.TryDequeue(out var packet))
            {
                if (packet.IsCompleted && packet.Request is not EmptyRequest { OpCode: OpCode.Ping })
                {
                    continue; // cancelled or timed out before it was sent: nothing to send, nothing to match
                }

                Write(frame, packet);
            }
        }
    }

    private void Write(FrameBuffer frame, Packet packet)
    {
        var opCode = packet.Request.OpCode;
        var xid = opCode switch
        {
            OpCode.Ping => Xids.Ping,
            OpCode.Auth => Xids.Auth,
            _ => session.NextXid(),
        };
        packet.Xid = xid;

        var start = frame.BeginFrame();
        var writer = new JuteWriter(frame);
        new RequestHeader(xid, opCode).Write(ref writer);
        packet.Request.Write(ref writer);
        var length = frame.EndFrame(start);
        if (length > session.Options.MaxFrameSize)
        {
            // The server would drop the connection for it: refuse this request alone.
            frame.Truncate(start);
            packet.Fail(new KeeperException(ErrorCode.MarshallingError, packet.ClientPath, new ArgumentException($"The request is {length} bytes, over jute.maxbuffer ({session.Options.MaxFrameSize}).")));
            return;
        }

        // Queued before the bytes leave (the write happens after the batch), so a reply always finds its request. The send
        // time is taken here too: a moment early, never late, which errs on the side of an earlier deadline.
        var sentAt = Stopwatch.GetTimestamp();
        if (xid > 0)
        {
            packet.SentAt = sentAt;
            sent.Enqueue(packet);
        }
        else if (xid == Xids.Ping)
        {
            pingsSent.Enqueue(sentAt);
        }
        else if (xid == Xids.Auth)
        {
            session.OnAuthSent(packet);
        }
    }

    private async Task ReceiveLoopAsync(CancellationToken token)
    {
        var reader = new FrameReader(stream, session.Options.MaxFrameSize);
        while (true)
        {
            var frame = await reader.ReadFrameAsync(token).ConfigureAwait(false);
            if (frame is null)
            {
                return; // the server closed the connection
            }

            Dispatch(frame.Value.Span);
        }
    }

    private void Dispatch(ReadOnlySpan<byte> frame)
    {
        var reader = new JuteReader(frame);
        var header = ReplyHeader.Read(ref reader);
        switch (header.Xid)
        {
            case Xids.Notification:
                var record = WatcherEventRecord.Read(ref reader);
                reader.EnsureEnd("notification");
                session.OnNotification(record);
                return;
            case Xids.Ping:
                if (pingsSent.TryDequeue(out var pingSentAt))
                {
                    Acknowledged(pingSentAt);
                }

                return;
            case Xids.Auth:
                session.OnAuthReply(header.Err);
                return;
            default:
                break;
        }

        if (!sent.TryDequeue(out var packet))
        {
            throw new ZooKeeperProtocolException($"A reply with xid {header.Xid} arrived with no request outstanding.");
        }

        if (packet.Xid != header.Xid)
        {
            packet.Fail(ErrorCode.ConnectionLoss);
            throw new ZooKeeperProtocolException($"Xid out of order: expected {packet.Xid}, got {header.Xid}.");
        }

        if (header.Zxid > 0)
        {
            session.ObserveZxid(header.Zxid);
        }

        Acknowledged(packet.SentAt);

        try
        {
            session.OnReply(packet, header.Err, ref reader);
        }
        catch (ZooKeeperProtocolException)
        {
            packet.Fail(ErrorCode.ConnectionLoss); // it left the FIFO: fail it here, the connection fails the rest
            throw;
        }
    }

    /// <summary>A reply to what was sent at <paramref name="sentAt"/>: the server heard us then, or later.</summary>
    private void Acknowledged(long sentAt)
    {
        long seen;
        while (sentAt > (seen = Interlocked.Read(ref lastAcknowledged)) && Interlocked.CompareExchange(ref lastAcknowledged, sentAt, seen) != seen)
        {
        }

        session.Heard(sentAt);
    }

    private async Task HeartbeatAsync(CancellationToken token)
    {
        // The Java client's rule: ping when half the read timeout passed without sending (less 1 s once idle for over 1 s),
        // or after 10 s of not sending; declare the link dead after a whole read timeout in which nothing sent was answered.
        var tick = TimeSpan.FromMilliseconds(Math.Clamp(readTimeout.TotalMilliseconds / 10, 10, 500));
        using var timer = new PeriodicTimer(tick);
        while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
        {
            var sinceAcknowledged = Stopwatch.GetElapsedTime(Interlocked.Read(ref lastAcknowledged));
            if (sinceAcknowledged > readTimeout)
            {
                throw new TimeoutException($"Nothing sent to {Server} in the last {sinceAcknowledged.TotalMilliseconds:0} ms was answered (read timeout {readTimeout.TotalMilliseconds:0} ms).");
            }

            var idleSend = Stopwatch.GetElapsedTime(Volatile.Read(ref lastSend)).TotalMilliseconds;
            var due = (readTimeout.TotalMilliseconds / 2) - idleSend - (idleSend > 1000 ? 1000 : 0);
            if (due <= 0 || idleSend > 10_000)
            {
                session.Outgoing.Enqueue(ClientSession.PingPacket);
                Volatile.Write(ref lastSend, Stopwatch.GetTimestamp());
            }
        }
    }
}
