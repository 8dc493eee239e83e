using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Recipes;

/// <summary>
/// A candidate in a ZooKeeper leader election (ephemeral sequential nodes, each watching only its predecessor), handing out
/// a <see cref="LeadershipLease"/> with a fencing token while it leads.
/// <para>States: Candidate -> Leader -> Suspended -> Leader (same token) | Lost -> Candidate (new session, new node). From
/// any state -> Failed when an error has no answer here (ZooKeeper unreachable, our identity refused, a bug): retried with
/// backoff until it succeeds, back to Candidate or Leader. Only disposal ends the candidate.</para>
/// <para>Connection-state policy, the part that keeps two leaders from overlapping:
/// <list type="bullet">
/// <item>Disconnected: the lease is cancelled at once, in the state callback, before anything else. The client declares a
/// link dead after 2/3 of the session timeout of silence, and the server expires the session only after the whole timeout,
/// so our lease ends before any successor can be granted one.</item>
/// <item>Reconnected within the session: re-check from scratch; lead again (a new lease, the same token) only if our node is
/// still the lowest and still owned by our session.</item>
/// <item>Expired: Lost. Close the old client, open a new session, create a new node, rejoin.</item>
/// <item>Our node deleted by someone else: the lease is cancelled and we rejoin with a new node.</item>
/// <item>A create whose reply was lost: our node is found again by the guid in its name, never created twice; a node of our
/// session that is not our node is deleted, as it would block the election for as long as the session lives.</item>
/// <item>Only ephemeral nodes are candidates: anything else in the election path is foreign, ignored and reported
/// (<see cref="ForeignNodes"/>).</item>
/// </list>
/// Every decision is level-triggered: any watch or state event only wakes the loop, which re-reads the election.</para>
/// </summary>
public sealed partial class ElectionCandidate : IAsyncDisposable
{
    private const string NamePrefix = "_c_";
    private const string SequenceMarker = "-n_";

    private readonly ElectionCandidateOptions options;
    private readonly ILogger logger;
    private readonly CandidateInfo info;
    private readonly CancellationTokenSource stop = new();
    private readonly Channel<LeadershipChange> changes = Channel.CreateUnbounded<LeadershipChange>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Action<WatchedEvent> wakeWatcher;
    private readonly ElectionMetrics metrics;
    private readonly Lock gate = new();
    private TaskCompletionSource wake = NewSignal();
    private TaskCompletionSource? resigned;
    private bool resignRequested;
    private bool disposed;
    private ZooKeeperClient? client;
    private LeadershipLease? lease;
    private Task? loop;
    private long watchEvents;
    private IReadOnlyCollection<string> foreignNodes = [];

    public ElectionCandidate(ElectionCandidateOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        this.options = options;
        logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ElectionCandidate>();
        info = CandidateInfo.ForThisProcess(options.NodeId, options.Version);
        wakeWatcher = e =>
        {
            if (e.Type != EventType.None)
            {
                Interlocked.Increment(ref watchEvents);
            }

            Signal();
        };
        metrics = new ElectionMetrics(this);
    }

    public string NodeId => options.NodeId;

    public ElectionState State { get; private set; } = ElectionState.Idle;

    /// <summary>Why the candidate cannot take part, in words for an operator, while <see cref="State"/> is
    /// <see cref="ElectionState.Failed"/>; null otherwise. Never contains a password.</summary>
    public string? FailureReason { get; private set; }

    /// <summary>The lease while we lead; null or revoked otherwise.</summary>
    public LeadershipLease? CurrentLease
    {
        get
        {
            var current = lease;
            return current is { IsRevoked: false } ? current : null;
        }
    }

    /// <summary>Nodes in the election path that are not candidates (not ephemeral, or not named as election nodes), as
    /// last seen; the election ignores them. Empty when there are none.</summary>
    public IReadOnlyCollection<string> ForeignNodes => Volatile.Read(ref foreignNodes);

    /// <summary>Watch notifications this candidate received (not counting session-end events): the herd-effect gauge.</summary>
    public long WatchEventsReceived => Interlocked.Read(ref watchEvents);

    /// <summary>The session id of the candidate's current ZooKeeper client (0 when none).</summary>
    public long SessionId => client?.SessionId ?? 0;

    /// <summary>The candidate's current ZooKeeper client, for tests that act within its session.</summary>
    internal ZooKeeperClient? Client => client;

    /// <summary>Our current election node's name, if we have one.</summary>
    public string? Znode { get; private set; }

    /// <summary>True from <see cref="Start"/> until disposal: the candidate's loop is alive and taking part (or retrying).</summary>
    public bool IsRunning => Volatile.Read(ref loop) is { IsCompleted: false };

    /// <summary>Joins the election in the background.</summary>
    public void Start()
    {
        lock (gate)
        {
            loop ??= Task.Run(() => RunAsync(stop.Token));
        }
    }

    /// <summary>Every state change in order (leases granted and ended), until the candidate is disposed.</summary>
    public IAsyncEnumerable<LeadershipChange> WatchChangesAsync(CancellationToken cancellationToken = default) => changes.Reader.ReadAllAsync(cancellationToken);

    /// <summary>Ends our leadership or candidacy now: the lease is cancelled and our node deleted, so the successor is
    /// told at once. We stay out of the election until <see cref="Rejoin"/>. Completes once our node is deleted, or
    /// when a <see cref="Rejoin"/> or the disposal overtakes the resignation; at once before <see cref="Start"/>.</summary>
    public async Task ResignAsync(CancellationToken cancellationToken = default)
    {
        Task done;
        lock (gate)
        {
            resignRequested = true;
            if (loop is null || disposed)
            {
                return; // no node to delete: staying out is all there is to do
            }

            resigned ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            done = resigned.Task;
        }

        RevokeLease("resigning");
        Signal();
        await done.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Enters the election again after <see cref="ResignAsync"/>. A resignation not carried out yet is called
    /// off, and its caller released.</summary>
    public void Rejoin()
    {
        lock (gate)
        {
            resignRequested = false;
            resigned?.TrySetResult();
            resigned = null;
        }

        Signal();
    }

    /// <summary>The election path's nodes named as election nodes, lowest sequence first. The first ephemeral one is the
    /// leader; those not ephemeral (<see cref="ElectionNode.IsEphemeral"/> false) are foreign, ignored by the election.</summary>
    public async Task<IReadOnlyList<ElectionNode>> GetCandidatesAsync(CancellationToken cancellationToken = default)
    {
        var zk = client ?? throw new InvalidOperationException("The candidate has no ZooKeeper session yet.");
        var children = await zk.GetChildrenAsync(options.ElectionPath, null, cancellationToken).ConfigureAwait(false);
        var nodes = new List<ElectionNode>();
        foreach (var (name, sequence) in Sorted(children.Children))
        {
            try
            {
                var data = await zk.GetDataAsync(PathRules.Combine(options.ElectionPath, name), null, cancellationToken).ConfigureAwait(false);
                nodes.Add(new ElectionNode(name, sequence, data.Stat.EphemeralOwner, CandidateInfo.TryParse(data.Data)));
            }
            catch (KeeperException ex) when (ex.Code == ErrorCode.NoNode)
            {
                // left between the listing and the read
            }
        }

        return nodes;
    }

    public async Task<ElectionNode?> GetLeaderAsync(CancellationToken cancellationToken = default)
    {
        var candidates = await GetCandidatesAsync(cancellationToken).ConfigureAwait(false);
        return candidates.FirstOrDefault(c => c.IsEphemeral);
    }

    public async ValueTask DisposeAsync()
    {
        lock (gate)
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
        }

        RevokeLease("stopping");
        await stop.CancelAsync().ConfigureAwait(false);
        Signal();
        try
        {
            if (loop is not null)
            {
                await loop.ConfigureAwait(false);
            }

            // The loop let both go when its session ended; wait for them, so the signal's connection is closed when we return.
            StopSignalTasks();
            await signalTasksEnded.ConfigureAwait(false);
        }
        finally
        {
            // The session is closed: our node is gone, so a resignation still waiting is done.
            lock (gate)
            {
                resigned?.TrySetResult();
            }

            SetState(ElectionState.Stopped, null, "stopped");
            changes.Writer.TryComplete();
            metrics.Dispose();
            stop.Dispose();
        }
    }

    /// <summary>The election nodes among <paramref name="children"/> (names of another form are left out), ordered by
    /// their sequence, never by name (the guid would decide otherwise).</summary>
    public static IEnumerable<(string Name, long Sequence)> Sorted(IEnumerable<string> children) =>
        children.Select(name => (Name: name, Sequence: ParseSequence(name)))
            .Where(c => c.Sequence is not null)
            .Select(c => (c.Name, c.Sequence!.Value))
            .OrderBy(c => c.Value);

    /// <summary>
    /// The sequence of an election node's name, "_c_{guid}-n_{sequence}", or null when the name is not of that form.
    /// The server writes its parent's child counter, a signed 32-bit int, as %010d: after 2147483647 come "-2147483648",
    /// "-2147483647" ... "-000000001". Read as the unsigned value the counter holds (2147483648 up to 4294967295), those
    /// names keep sorting after the ones before them and tokens keep growing across this first wrap. A second wrap, after
    /// 4294967296 creates under one election path, would start again at 0: re-create the path long before (its new czxid
    /// keeps tokens growing).
    /// </summary>
    public static long? ParseSequence(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var marker = name.LastIndexOf(SequenceMarker, StringComparison.Ordinal);
        if (!name.StartsWith(NamePrefix, StringComparison.Ordinal) || marker < 0)
        {
            return null;
        }

        var digits = name.AsSpan(marker + SequenceMarker.Length);
        return digits.Length >= 10 && int.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var counter)
            ? unchecked((uint)counter)
            : null;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void Signal() => Volatile.Read(ref wake).TrySetResult();

    private void OnClientStateChanged(object? sender, ConnectionStateChange change)
    {
        if (change.State != ConnectionState.Connected)
        {
            // In doubt: end the lease first, think later.
            if (RevokeLease($"ZooKeeper {change.State}"))
            {
                SetState(change.State == ConnectionState.Disconnected ? ElectionState.Suspended : ElectionState.Lost, lease, $"ZooKeeper {change.State}");
            }
        }

        Signal();
    }

    private bool RevokeLease(string reason)
    {
        var current = lease;
        if (current is null || !current.Revoke(reason))
        {
            return false;
        }

        logger.LogWarning("Leadership {Token} of {NodeId} ended: {Reason}", current.Token, options.NodeId, reason);
        metrics.LeaseEnded(current);
        ElectionTracing.LeaseEnded(current, reason);
        AddHistory("ended", current.Token, null, reason);
        return true;
    }

    private void SetState(ElectionState state, LeadershipLease? related, string reason)
    {
        string? recovered = null;
        lock (gate)
        {
            // The same state again is news only for a new lease, or a failure with another cause.
            if (State == state && state != ElectionState.Leader && (state != ElectionState.Failed || reason == FailureReason))
            {
                return;
            }

            if (state == ElectionState.Failed)
            {
                FailureReason = reason;
            }
            else if (FailureReason is not null)
            {
                recovered = FailureReason;
                FailureReason = null;
                Volatile.Write(ref failuresInARow, 0);
            }

            State = state;
            changes.Writer.TryWrite(new LeadershipChange(state, related, reason, DateTimeOffset.UtcNow));
        }

        if (recovered is not null && state != ElectionState.Stopped)
        {
            logger.LogInformation("Election candidate {NodeId} takes part again ({State}: {Reason}) after: {Failure}", options.NodeId, state, reason, recovered);
        }
    }
}
