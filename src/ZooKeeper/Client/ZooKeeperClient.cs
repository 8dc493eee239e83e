using System.Text;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Client;

/// <summary>A created znode: its actual path (with any sequence suffix) and its Stat.</summary>
public sealed record CreateResult(string Path, Stat Stat);

/// <summary>A znode's data and Stat.</summary>
public sealed record DataResult(byte[] Data, Stat Stat);

/// <summary>A znode's children (names, unsorted) and the parent's Stat.</summary>
public sealed record ChildrenResult(IReadOnlyList<string> Children, Stat Stat);

/// <summary>A znode's ACL and Stat.</summary>
public sealed record AclResult(IReadOnlyList<Acl> Acl, Stat Stat);

/// <summary>
/// An async ZooKeeper client on the native TCP protocol. One session; requests pipelined on one connection with replies
/// matched in order; reconnects within the session to any server of the ensemble; one-time watches delivered in wire
/// order, off the I/O loop. After <see cref="ConnectionState.Expired"/> (or AuthFailed, or Closed) the client is finished,
/// as the Java client: make a new one. Paths are relative to the connect string's chroot.
/// </summary>
public sealed class ZooKeeperClient : IAsyncDisposable
{
    private readonly ClientSession session;

    private ZooKeeperClient(ClientSession session) => this.session = session;

    /// <summary>The session id (0 before the first connection).</summary>
    public long SessionId => session.SessionId;

    /// <summary>The session password, to resume the session elsewhere (tests, diagnostics).</summary>
    public ReadOnlyMemory<byte> SessionPassword => session.Password;

    /// <summary>The session timeout the server granted; every timer of the client follows it.</summary>
    public TimeSpan SessionTimeout => session.NegotiatedTimeout;

    public ConnectionState State => session.State;

    /// <summary>The server the client is connected to now, if any.</summary>
    public ServerAddress? CurrentServer => session.CurrentServer;

    /// <summary>The session's one-time watches (what a reconnect re-sends with SetWatches), for tests.</summary>
    internal WatchRegistry Watches => session.Watches;

    /// <summary>Raised, off the I/O loop and in order, on every state change.</summary>
    public event EventHandler<ConnectionStateChange>? StateChanged
    {
        add => session.StateChanged += value;
        remove => session.StateChanged -= value;
    }

    /// <summary>Creates a client and waits until its session is established.</summary>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    /// <exception cref="KeeperException">No server could be reached in time (ConnectionLoss) or the credentials were refused (AuthFailed).</exception>
    public static async Task<ZooKeeperClient> ConnectAsync(ZooKeeperClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var connectString = options.Validate();
        var session = new ClientSession(options, connectString);
        var client = new ZooKeeperClient(session);
        var wait = TimeSpan.FromTicks(Math.Max(options.SessionTimeout.Ticks, TimeSpan.FromSeconds(5).Ticks));
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(wait);
            var states = session.SubscribeAsync(deadline.Token);
            session.Start();
            await foreach (var change in states.ConfigureAwait(false))
            {
                if (change.State == ConnectionState.Connected)
                {
                    return client;
                }

                if (change.State.IsTerminal())
                {
                    throw new KeeperException(change.State == ConnectionState.AuthFailed ? ErrorCode.AuthFailed : ErrorCode.ConnectionLoss);
                }
            }

            throw new KeeperException(ErrorCode.ConnectionLoss);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw new KeeperException(
                $"No ZooKeeper server of '{options.ConnectString}' could be reached within {wait.TotalSeconds:0.#} s (setting ZooKeeper:ConnectString).",
                new KeeperException(ErrorCode.ConnectionLoss));
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Every state change from now on, starting with the current state; ends after a terminal state.</summary>
    public IAsyncEnumerable<ConnectionStateChange> WatchStatesAsync(CancellationToken cancellationToken = default) => session.SubscribeAsync(cancellationToken);

    public async Task<CreateResult> CreateAsync(string path, byte[]? data, IReadOnlyList<Acl> acl, CreateMode mode = CreateMode.Persistent, CancellationToken cancellationToken = default)
    {
        PathRules.Validate(path, mode.IsSequential());
        ArgumentNullException.ThrowIfNull(acl);
        var request = new CreateRequest(session.ServerPath(path), data, acl, mode, mode == CreateMode.Container ? OpCode.CreateContainer : OpCode.Create2);
        var reply = await SendAsync(new Packet<Create2Response>(request, path, null, (r, chroot) => r with { Path = Strip(r.Path) }), cancellationToken).ConfigureAwait(false);
        return new CreateResult(reply.Path, reply.Stat);
    }

    public Task DeleteAsync(string path, int version = -1, CancellationToken cancellationToken = default)
    {
        PathRules.Validate(path);
        return SendAsync(new Packet<EmptyResponse>(new DeleteRequest(session.ServerPath(path), version), path, null), cancellationToken);
    }

    /// <summary>The node's Stat, or null when it does not exist. A watcher is set in both cases (fires on create, change or delete).</summary>
    public async Task<Stat?> ExistsAsync(string path, Action<WatchedEvent>? watcher = null, CancellationToken cancellationToken = default)
    {
        PathRules.Validate(path);
        var serverPath = session.ServerPath(path);
        var watch = watcher is null ? null : new WatchRegistration(WatchKind.Exist, serverPath, watcher);
        var reply = await SendAsync(new Packet<StatResponse>(new ExistsRequest(serverPath, watcher is not null), path, watch) { NoNodeIsAnswer = true }, cancellationToken).ConfigureAwait(false);
        return reply?.Stat;
    }

    public async Task<DataResult> GetDataAsync(string path, Action<WatchedEvent>? watcher = null, CancellationToken cancellationToken = default)
    {
        PathRules.Validate(path);
        var serverPath = session.ServerPath(path);
        var watch = watcher is null ? null : new WatchRegistration(WatchKind.Data, serverPath, watcher);
        var reply = await SendAsync(new Packet<GetDataResponse>(new GetDataRequest(serverPath, watcher is not null), path, watch), cancellationToken).ConfigureAwait(false);
        return new DataResult(reply.Data, reply.Stat);
    }

    /// <summary>The children's names and the parent's Stat in one read (getChildren2), so both come from the same moment.</summary>
    public async Task<ChildrenResult> GetChildrenAsync(string path, Action<WatchedEvent>? watcher = null, CancellationToken cancellationToken = default)
    {
        PathRules.Validate(path);
        var serverPath = session.ServerPath(path);
        var watch = watcher is null ? null : new WatchRegistration(WatchKind.Child, serverPath, watcher);
        var reply = await SendAsync(new Packet<GetChildren2Response>(new GetChildren2Request(serverPath, watcher is not null), path, watch), cancellationToken).ConfigureAwait(false);
        return new ChildrenResult(reply.Children, reply.Stat);
    }

    public async Task<Stat> SetDataAsync(string path, byte[]? data, int version = -1, CancellationToken cancellationToken = default)
    {
        PathRules.Validate(path);
        var reply = await SendAsync(new Packet<StatResponse>(new SetDataRequest(session.ServerPath(path), data, version), path, null), cancellationToken).ConfigureAwait(false);
        return reply.Stat;
    }

    public async Task<AclResult> GetAclAsync(string path, CancellationToken cancellationToken = default)
    {
        PathRules.Validate(path);
        var reply = await SendAsync(new Packet<GetAclResponse>(new GetAclRequest(session.ServerPath(path)), path, null), cancellationToken).ConfigureAwait(false);
        return new AclResult(reply.Acl, reply.Stat);
    }

    public async Task<Stat> SetAclAsync(string path, IReadOnlyList<Acl> acl, int version = -1, CancellationToken cancellationToken = default)
    {
        PathRules.Validate(path);
        ArgumentNullException.ThrowIfNull(acl);
        var reply = await SendAsync(new Packet<StatResponse>(new SetAclRequest(session.ServerPath(path), acl, version), path, null), cancellationToken).ConfigureAwait(false);
        return reply.Stat;
    }

    /// <summary>Makes the connected server catch up with the leader, so the next read is current.</summary>
    public Task SyncAsync(string path, CancellationToken cancellationToken = default)
    {
        PathRules.Validate(path);
        return SendAsync(new Packet<SyncResponse>(new SyncRequest(session.ServerPath(path)), path, null), cancellationToken);
    }

    /// <summary>Applies every op or none. On failure throws <see cref="MultiOperationException"/> with each op's result.</summary>
    public async Task<IReadOnlyList<OpResult>> MultiAsync(IReadOnlyList<Op> ops, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ops);
        if (ops.Count == 0)
        {
            return [];
        }

        foreach (var op in ops)
        {
            PathRules.Validate(op.Path, op.IsSequential);
        }

        var request = new MultiRequest([.. ops.Select(op => op.ToRecord(session.ServerPath(op.Path)))]);
        var reply = await SendAsync(new Packet<MultiResponse>(request, null, null, (r, _) => new MultiResponse([.. r.Results.Select(StripResult)])), cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < reply.Results.Count; i++)
        {
            if (reply.Results[i] is OpResult.Failure { Code: not ErrorCode.Ok } failure)
            {
                throw new MultiOperationException(failure.Code, i < ops.Count ? ops[i].Path : null, reply.Results);
            }
        }

        return reply.Results;
    }

    /// <summary>Adds credentials to the session (and to every later connection of it). Completes when the server accepted them;
    /// a refusal makes the client terminal (AuthFailed), as the server closes the connection.</summary>
    public Task AddAuthAsync(string scheme, byte[] auth, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(scheme);
        ArgumentNullException.ThrowIfNull(auth);
        var record = new AuthPacket(scheme, auth);
        session.AddCredential(record);
        return SendAsync(new Packet<EmptyResponse>(record, null, null), cancellationToken);
    }

    public Task AddDigestAuthAsync(string user, string password, CancellationToken cancellationToken = default) =>
        AddAuthAsync("digest", Encoding.UTF8.GetBytes($"{user}:{password}"), cancellationToken);

    /// <summary>Ends the session on the server (its ephemerals go at once) and closes the client.</summary>
    public Task CloseAsync() => session.CloseAsync(TimeSpan.FromSeconds(5));

    public ValueTask DisposeAsync() => session.DisposeAsync();

    private async Task<T> SendAsync<T>(Packet<T> packet, CancellationToken cancellationToken)
        where T : IResponseRecord<T>
    {
        cancellationToken.ThrowIfCancellationRequested();
        session.Submit(packet, cancellationToken);
        return await packet.Task.ConfigureAwait(false);
    }

    private string Strip(string serverPath) => session.StripChroot(serverPath);

    private OpResult StripResult(OpResult result) => result is OpResult.Create create ? create with { Path = Strip(create.Path) } : result;
}
