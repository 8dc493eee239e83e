using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Client;

/// <summary>
/// A session across connections: picks servers (shuffled once, then round-robin, 1 s pause after a full failed pass, a random
/// pause before each reconnect, none of them past the session's deadline), reconnects with the same session id and
/// password, re-sends auth and watches, and keeps the state machine Connecting -> Connected &lt;-> Disconnected -> Expired |
/// AuthFailed | Closed.
/// <para>Connection-state policy: a disconnect fails what was queued or in flight with ConnectionLoss (the outcome of those
/// writes is unknown); requests made while disconnected wait for the next connection. Expiry is what the server says on
/// reconnect or, since 3.8 servers never tell a client that cannot reach them, declared here once nothing was heard from any
/// server for a whole negotiated session timeout: by then the server may have expired us, so we must not assume we still
/// hold ephemerals or leadership.</para>
/// </summary>
internal sealed partial class ClientSession : IAsyncDisposable
{
    internal static readonly Packet PingPacket = new Packet<EmptyResponse>(EmptyRequest.Ping, null, null);

    private readonly Lock gate = new();
    private readonly ConcurrentQueue<Packet> authWaiters = new();
    private readonly List<AuthPacket> credentials = [];
    private readonly List<Channel<ConnectionStateChange>> subscribers = [];
    private readonly CancellationTokenSource shutdown = new();
    private readonly ServerAddress[] servers;
    private readonly ILogger logger;
    private Connection? connection;
    private Task? loop;
    private Task? sweeper;
    private int xid;
    private long lastZxid;
    private long lastHeard = Stopwatch.GetTimestamp();
    private byte[] password = new byte[16];
    private bool closing;
    private int disposed;

    public ClientSession(ZooKeeperClientOptions options, ConnectString connectString)
    {
        Options = options;
        Chroot = connectString.Chroot;
        servers = [.. connectString.Servers];
        Random.Shared.Shuffle(servers);
        logger = (options.LoggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).CreateLogger("Pipeline.ZooKeeper.Client");
        Dispatcher = new EventDispatcher(logger);
        NegotiatedTimeout = options.SessionTimeout;
        foreach (var credential in options.Credentials)
        {
            credentials.Add(new AuthPacket("digest", Encoding.UTF8.GetBytes($"{credential.User}:{credential.Password}")));
        }
    }

    public ZooKeeperClientOptions Options { get; }

    public string? Chroot { get; }

    public EventDispatcher Dispatcher { get; }

    public WatchRegistry Watches { get; } = new();

    public SendQueue Outgoing { get; } = new();

    public ConnectionState State { get; private set; } = ConnectionState.Connecting;

    public long SessionId { get; private set; }

    public ReadOnlyMemory<byte> Password => password;

    public TimeSpan NegotiatedTimeout { get; private set; }

    public ServerAddress? CurrentServer => connection?.Server;

    public long LastZxid => Interlocked.Read(ref lastZxid);

    public event EventHandler<ConnectionStateChange>? StateChanged;

    public void Start()
    {
        loop = Task.Run(RunAsync);
        sweeper = Task.Run(SweepTimeoutsAsync);
    }

    public int NextXid()
    {
        // Positive and wrapping back to 1, as the Java client; 0 and negatives are never used.
        var next = Interlocked.Increment(ref xid);
        if (next <= 0)
        {
            Interlocked.CompareExchange(ref xid, 1, next);
            next = Interlocked.Increment(ref xid);
        }

        return next;
    }

    public void ObserveZxid(long zxid)
    {
        long seen;
        while (zxid > (seen = Interlocked.Read(ref lastZxid)) && Interlocked.CompareExchange(ref lastZxid, zxid, seen) != seen)
        {
        }
    }

    /// <summary>The server heard us at <paramref name="timestamp"/> (the send of something it answered): its session clock
    /// runs from there at the earliest.</summary>
    public void Heard(long timestamp)
    {
        long seen;
        while (timestamp > (seen = Interlocked.Read(ref lastHeard)) && Interlocked.CompareExchange(ref lastHeard, timestamp, seen) != seen)
        {
        }
    }

    /// <summary>Queues a request; fails at once when the session is over. Every submitted request completes.</summary>
    public void Submit(Packet packet, CancellationToken cancellationToken)
    {
        var state = State;
        if (state.IsTerminal() || closing)
        {
            packet.Fail(TerminalError(state));
            return;
        }

        packet.RegisterCancellation(cancellationToken);
        Outgoing.Enqueue(packet);

        // The session may have ended between the check and the enqueue, after EndSession drained the queue: nothing would
        // ever send, sweep or fail this request. EndSession sets the state before it drains, so whoever enqueues after the
        // drain sees the end here and drains again.
        if ((state = State).IsTerminal())
        {
            while (Outgoing.TryDequeue(out var queued))
            {
                queued.Fail(TerminalError(state));
            }
        }
    }

    public void AddCredential(AuthPacket auth)
    {
        lock (gate)
        {
            credentials.Add(auth);
        }
    }

    public void OnAuthSent(Packet packet) => authWaiters.Enqueue(packet);

    public void OnAuthReply(ErrorCode err)
    {
        authWaiters.TryDequeue(out var waiter);
        waiter?.Deliver(err);
        if (err == ErrorCode.AuthFailed)
        {
            logger.LogError("ZooKeeper rejected the session's credentials; the client is finished (AuthFailed)");
            EndSession(ConnectionState.AuthFailed);
        }
    }

    public void OnNotification(WatcherEventRecord record)
    {
        var clientPath = record.Path is null ? null : StripChroot(record.Path);
        var fired = record.Path is null ? [] : Watches.Trigger((EventType)record.Type, record.Path);
        if (fired.Count == 0)
        {
            return;
        }

        var watched = new WatchedEvent((EventType)record.Type, (KeeperState)record.State, clientPath);
        ZooKeeperMetrics.WatchEvents.Add(fired.Count);
        Dispatcher.Enqueue(() =>
        {
            foreach (var watcher in fired)
            {
                Invoke(watcher, watched);
            }
        });
    }

    public void OnReply(Packet packet, ErrorCode err, ref JuteReader body)
    {
        if (err == ErrorCode.Ok)
        {
            packet.Decode(ref body, Chroot);
        }

        if (packet.Watch is { } watch && (err == ErrorCode.Ok || (err == ErrorCode.NoNode && watch.Kind == WatchKind.Exist)))
        {
            Watches.Register(watch);
        }

        ZooKeeperMetrics.RecordRequest(packet, err);
        if (Dispatcher.IsBusy)
        {
            Dispatcher.Enqueue(() => packet.Deliver(err)); // behind the watch callbacks that came before it on the wire
        }
        else
        {
            packet.Deliver(err);
        }
    }

    public async IAsyncEnumerable<ConnectionStateChange> SubscribeAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateUnbounded<ConnectionStateChange>();
        lock (gate)
        {
            channel.Writer.TryWrite(new ConnectionStateChange(State, State, SessionId, DateTimeOffset.UtcNow));
            if (State.IsTerminal())
            {
                channel.Writer.TryComplete();
            }
            else
            {
                subscribers.Add(channel);
            }
        }

        try
        {
            await foreach (var change in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return change;
            }
        }
        finally
        {
            lock (gate)
            {
                subscribers.Remove(channel);
            }
        }
    }

    public async Task CloseAsync(TimeSpan timeout)
    {
        Packet<EmptyResponse>? close = null;
        lock (gate)
        {
            if (State.IsTerminal() || closing)
            {
                return;
            }

            if (State == ConnectionState.Connected)
            {
                close = new Packet<EmptyResponse>(EmptyRequest.CloseSession, null, null);
                Outgoing.Enqueue(close);
            }

            closing = true;
        }

        if (close is not null)
        {
            try
            {
                await close.Task.WaitAsync(timeout).ConfigureAwait(false);
                logger.LogInformation("ZooKeeper session 0x{SessionId:x} closed", SessionId);
            }
            catch (Exception ex) when (ex is TimeoutException or KeeperException)
            {
                logger.LogWarning("ZooKeeper session 0x{SessionId:x} closed locally; the server did not confirm ({Reason}) and will expire it", SessionId, ex.Message);
            }
        }

        EndSession(ConnectionState.Closed);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        await CloseAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        await shutdown.CancelAsync().ConfigureAwait(false);
        foreach (var task in new[] { loop, sweeper })
        {
            if (task is not null)
            {
                await task.ConfigureAwait(false);
            }
        }

        await Dispatcher.DisposeAsync().ConfigureAwait(false);
        Outgoing.Dispose();
        shutdown.Dispose();
    }

    internal string ServerPath(string clientPath) =>
        Chroot is null ? clientPath : clientPath == "/" ? Chroot : Chroot + clientPath;

    internal string StripChroot(string serverPath)
    {
        if (Chroot is null)
        {
            return serverPath;
        }

        if (serverPath == Chroot)
        {
            return "/";
        }

        return serverPath.StartsWith(Chroot + "/", StringComparison.Ordinal) ? serverPath[Chroot.Length..] : serverPath;
    }

    private Exception TerminalError(ConnectionState state) => state switch
    {
        ConnectionState.Expired => new KeeperException(ErrorCode.SessionExpired),
        ConnectionState.AuthFailed => new KeeperException(ErrorCode.AuthFailed),
        _ => new ObjectDisposedException(nameof(ZooKeeperClient), "The ZooKeeper client is closed."),
    };

    private void Invoke(Action<WatchedEvent> watcher, WatchedEvent watched)
    {
        try
        {
            watcher(watched);
        }
#pragma warning disable CA1031 // One bad watcher must not keep the others from their events.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            logger.LogError(ex, "A ZooKeeper watcher threw on {EventType} {Path}", watched.Type, watched.Path);
        }
    }
}
