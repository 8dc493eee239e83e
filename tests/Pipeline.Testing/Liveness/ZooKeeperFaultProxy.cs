using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.Testing.Liveness;

/// <summary>
/// A loopback proxy in front of one ZooKeeper server that reads the protocol's frames, so faults hit exact requests: it
/// numbers the client's regular requests (xid &gt; 0) across all its connections and applies a <see cref="FaultAction"/> at
/// the Nth one (<see cref="Arm"/>) or at the next of a type (<see cref="ArmNext"/>). Pings, auth packets and notifications
/// are never counted. A client that reconnects comes back through the same proxy and its count goes on.
/// </summary>
public sealed class ZooKeeperFaultProxy : IAsyncDisposable
{
    private const int MaxFrame = 16 * 1024 * 1024;

    private readonly string targetHost;
    private readonly int targetPort;
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly ConcurrentDictionary<int, Link> links = new();
    private readonly CancellationTokenSource stop = new();
    private readonly Lock gate = new();
    private readonly Dictionary<int, FaultAction> byNumber = [];
    private readonly List<(OpCode Type, FaultAction Action)> byType = [];
    private readonly List<AppliedFault> applied = [];
    private readonly ConcurrentDictionary<OpCode, int> counts = new();
    private TaskCompletionSource releaseHeld = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? acceptLoop;
    private int connections;
    private int requests;
    private long holdUntil;
    private int delaysRunning;

    private ZooKeeperFaultProxy(string target)
    {
        var colon = target.LastIndexOf(':');
        targetHost = target[..colon];
        targetPort = int.Parse(target[(colon + 1)..], CultureInfo.InvariantCulture);
    }

    /// <summary>Where the client connects: "127.0.0.1:port".</summary>
    public string Endpoint => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}");

    public int ConnectionsAccepted => Volatile.Read(ref connections);

    /// <summary>The client's regular requests seen so far, on all connections.</summary>
    public int Requests => Volatile.Read(ref requests);

    /// <summary>Raised on the proxy's I/O path when a fault is applied (keep handlers short).</summary>
    public event Action<AppliedFault>? FaultApplied;

    /// <summary>The faults applied so far, in order.</summary>
    public IReadOnlyList<AppliedFault> Applied
    {
        get
        {
            lock (gate)
            {
                return [.. applied];
            }
        }
    }

    /// <summary>True while a delayed reply or a stall still holds traffic.</summary>
    public bool IsHolding => Volatile.Read(ref delaysRunning) > 0 || Stopwatch.GetTimestamp() < Interlocked.Read(ref holdUntil);

    public static ZooKeeperFaultProxy Start(string target)
    {
        var proxy = new ZooKeeperFaultProxy(target);
        proxy.listener.Start();
        proxy.acceptLoop = Task.Run(proxy.AcceptAsync);
        return proxy;
    }

    /// <summary>How many requests of <paramref name="type"/> the client sent so far.</summary>
    public int CountOf(OpCode type) => counts.GetValueOrDefault(type);

    /// <summary>Applies <paramref name="action"/> to the client's <paramref name="requestNumber"/>th regular request (from 1).</summary>
    public void Arm(int requestNumber, FaultAction action)
    {
        lock (gate)
        {
            byNumber[requestNumber] = action;
        }
    }

    /// <summary>Applies <paramref name="action"/> to the next request of <paramref name="type"/>; several arms of one type apply in turn.</summary>
    public void ArmNext(OpCode type, FaultAction action)
    {
        lock (gate)
        {
            byType.Add((type, action));
        }
    }

    /// <summary>Forgets the faults not applied yet; holds under way run to their end.</summary>
    public void Disarm()
    {
        lock (gate)
        {
            byNumber.Clear();
            byType.Clear();
        }
    }

    /// <summary>Holds all traffic, both ways, on every connection, for <paramref name="duration"/> from now.</summary>
    public void Stall(TimeSpan duration)
    {
        var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long seen;
        while (until > (seen = Interlocked.Read(ref holdUntil)) && Interlocked.CompareExchange(ref holdUntil, until, seen) != seen)
        {
        }
    }

    /// <summary>Lets every delayed reply go now instead of at the end of its delay.</summary>
    public void ReleaseHeldReplies() =>
        Interlocked.Exchange(ref releaseHeld, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>Waits until no delayed reply or stall holds traffic any more.</summary>
    public async Task WhenReleasedAsync(CancellationToken cancellationToken)
    {
        while (IsHolding)
        {
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        listener.Stop();
        foreach (var link in links.Values)
        {
            link.Close(reset: false);
        }

        ReleaseHeldReplies();
        if (acceptLoop is not null)
        {
            await acceptLoop.ConfigureAwait(false); // it waits for every connection's pumps
        }

        stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        var pumps = new List<Task>();
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                break;
            }

            pumps.RemoveAll(t => t.IsCompleted);
            pumps.Add(Task.Run(() => LinkAsync(Interlocked.Increment(ref connections), client)));
        }

        await Task.WhenAll(pumps).ConfigureAwait(false);
    }

    private async Task LinkAsync(int id, TcpClient client)
    {
        var upstream = new TcpClient { NoDelay = true };
        client.NoDelay = true;
        try
        {
            await upstream.ConnectAsync(targetHost, targetPort, stop.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            client.Dispose();
            upstream.Dispose();
            return;
        }

        var link = new Link(id, client, upstream);
        links[id] = link;
        var toServer = PumpRequestsAsync(link);
        var toClient = PumpRepliesAsync(link);
        await Task.WhenAny(toServer, toClient).ConfigureAwait(false);
        link.Close(reset: false);
        await Task.WhenAll(toServer, toClient).ConfigureAwait(false);
        links.TryRemove(id, out _);
    }

    private async Task PumpRequestsAsync(Link link)
    {
        var from = link.Client.GetStream();
        var to = link.Upstream.GetStream();
        try
        {
            var handshake = true;
            while (await ReadFrameAsync(from, stop.Token).ConfigureAwait(false) is { } frame)
            {
                if (!handshake && frame.Length >= 12 && BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(4)) is var xid and > 0)
                {
                    var request = new ProxiedRequest(Interlocked.Increment(ref requests), link.Id, xid, (OpCode)BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(8)));
                    counts.AddOrUpdate(request.Type, 1, (_, n) => n + 1);
                    if (TakeFault(request) is { } action)
                    {
                        var fault = Record(request, action);
                        switch (action.Kind)
                        {
                            case FaultKind.CutBeforeSend:
                                fault.EndedAt = fault.StartedAt;
                                link.Close(reset: true);
                                return;
                            case FaultKind.Stall:
                                Stall(action.Duration);
                                fault.EndedAt = Interlocked.Read(ref holdUntil);
                                break;
                            default:
                                link.ReplyFaults[xid] = fault; // before the request leaves, so its reply always finds it
                                break;
                        }
                    }
                }

                handshake = false;
                await WhileStalledAsync().ConfigureAwait(false);
                await to.WriteAsync(frame, stop.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    private async Task PumpRepliesAsync(Link link)
    {
        var from = link.Upstream.GetStream();
        var to = link.Client.GetStream();
        try
        {
            var handshake = true;
            while (await ReadFrameAsync(from, stop.Token).ConfigureAwait(false) is { } frame)
            {
                if (!handshake && frame.Length >= 8 && link.ReplyFaults.TryRemove(BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(4)), out var fault))
                {
                    if (fault.Action.Kind == FaultKind.DropReply)
                    {
                        fault.EndedAt = Stopwatch.GetTimestamp();
                        link.Close(reset: true);
                        return;
                    }

                    Interlocked.Increment(ref delaysRunning);
                    try
                    {
                        await Task.WhenAny(Task.Delay(fault.Action.Duration, stop.Token), Volatile.Read(ref releaseHeld).Task).ConfigureAwait(false);
                    }
                    finally
                    {
                        fault.EndedAt = Stopwatch.GetTimestamp();
                        Interlocked.Decrement(ref delaysRunning);
                    }
                }

                handshake = false;
                await WhileStalledAsync().ConfigureAwait(false);
                await to.WriteAsync(frame, stop.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    private FaultAction? TakeFault(ProxiedRequest request)
    {
        lock (gate)
        {
            if (byNumber.Remove(request.Number, out var action))
            {
                return action;
            }

            var index = byType.FindIndex(t => t.Type == request.Type);
            if (index >= 0)
            {
                action = byType[index].Action;
                byType.RemoveAt(index);
                return action;
            }

            return null;
        }
    }

    private AppliedFault Record(ProxiedRequest request, FaultAction action)
    {
        var fault = new AppliedFault(request, action, Stopwatch.GetTimestamp());
        lock (gate)
        {
            applied.Add(fault);
        }

        FaultApplied?.Invoke(fault);
        return fault;
    }

    private async Task WhileStalledAsync()
    {
        long wait;
        while ((wait = Interlocked.Read(ref holdUntil) - Stopwatch.GetTimestamp()) > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency), stop.Token).ConfigureAwait(false);
        }
    }

    /// <summary>One whole frame, length prefix included, or null at the end of the stream.</summary>
    private static async Task<byte[]?> ReadFrameAsync(NetworkStream stream, CancellationToken token)
    {
        var prefix = new byte[4];
        if (await stream.ReadAtLeastAsync(prefix, 4, throwOnEndOfStream: false, token).ConfigureAwait(false) < 4)
        {
            return null;
        }

        var length = BinaryPrimitives.ReadInt32BigEndian(prefix);
        if (length is < 0 or > MaxFrame)
        {
            throw new IOException($"frame length {length} is not ZooKeeper's");
        }

        var frame = new byte[4 + length];
        prefix.CopyTo(frame, 0);
        await stream.ReadExactlyAsync(frame.AsMemory(4), token).ConfigureAwait(false);
        return frame;
    }

    /// <summary>One client connection and its upstream, with the faults waiting for their replies.</summary>
    private sealed class Link(int id, TcpClient client, TcpClient upstream)
    {
        private int closed;

        public int Id { get; } = id;

        public TcpClient Client { get; } = client;

        public TcpClient Upstream { get; } = upstream;

        public ConcurrentDictionary<int, AppliedFault> ReplyFaults { get; } = new();

        public void Close(bool reset)
        {
            if (Interlocked.Exchange(ref closed, 1) != 0)
            {
                return;
            }

            foreach (var socket in new[] { Client, Upstream })
            {
                try
                {
                    if (reset)
                    {
                        socket.Client.LingerState = new LingerOption(true, 0);
                    }

                    socket.Dispose();
                }
                catch (Exception ex) when (ex is ObjectDisposedException or SocketException)
                {
                }
            }
        }
    }
}
