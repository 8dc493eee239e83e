using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;
using Pipeline.Inventory;
using Pipeline.Testing;

namespace Pipeline.Bench.Failover;

/// <summary>One fault: which kind, whose, when, and how long until another replica committed a batch (null: none did).</summary>
public sealed record FaultSample(string Kind, int Round, string Victim, DateTimeOffset At, double? FailoverMs, string? Successor)
{
    /// <summary>Ours: from the fault to the successor's lease (its "leads with token" log line), the election's part of the
    /// failover without the commit path; null for the peer or when none was found.</summary>
    public double? LeaseMs { get; init; }
}

/// <summary>What one mode's run measured: the faults, the checker's findings over its SIGSTOP rounds, every commit time.</summary>
public sealed record ModeResult(string Mode, IReadOnlyList<FaultSample> Faults, IReadOnlyList<string> Violations, int CheckedOrders,
    DateTimeOffset Started, IReadOnlyList<DateTimeOffset> Commits, string LogDirectory, int EndpointsTornDown);

/// <summary>
/// One mode (ours, fenced; or the peer, RabbitMQ single active consumer) under the failover scenario: three replicas on a
/// database, virtual host and ZooKeeper chroot of their own, a steady stream of orders, and the faults in three phases:
/// SIGSTOP rounds first (with the test-only 1 s delay before each commit transaction, so the pause lands with a batch in
/// hand, as in the fault suite), checked by <see cref="HistoryChecker"/> once their orders are decided; then every replica
/// restarted without the delay, and the graceful-stop and kill -9 rounds; then the Postgres-cut rounds. A stopped or killed
/// replica is restarted in the background; a round waits only until a second replica is ready to take over. Each replica
/// reaches PostgreSQL through a <see cref="TcpProxy"/> of its own (its ConnectionStrings__Inventory; the owner's connection
/// and the benchmark's own reads stay direct), so a Postgres-cut round cuts the committer's database link alone, with the
/// process left running. Everything started is stopped at the end.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "RunAsync creates the cluster and disposes it before it returns, also on failure.")]
public sealed partial class FailoverRun(string mode, bool peer, int rounds, TimeSpan sessionTimeout, double ordersPerSecond)
{
    public const string Graceful = "graceful (SIGTERM)";
    public const string Kill = "kill -9";
    public const string Pause = "SIGSTOP";
    public const string PostgresCut = "Postgres cut";
    private const int Replicas = 3;
    private static readonly TimeSpan HandoverLimit = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ResumeLimit = TimeSpan.FromSeconds(60);
    private readonly List<TcpProxy> postgresProxies = [];
    private readonly List<FaultSample> faults = [];
    private readonly Task?[] restarts = new Task?[Replicas];
    private ReplicaCluster cluster = null!;
    private NpgsqlDataSource dataSource = null!;

    /// <summary>How long a paused replica stays frozen: 1.5 session timeouts, so its ZooKeeper session surely expires.</summary>
    private TimeSpan PauseLength => sessionTimeout * 1.5;

    /// <summary>How long a Postgres-cut round keeps the committer's database link cut, from the cut (longer when the
    /// measurement of the handover took longer).</summary>
    public static TimeSpan CutLength { get; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a Postgres-cut round waits for another replica's commit before it counts no handover.</summary>
    public static TimeSpan CutHandoverLimit { get; } = TimeSpan.FromSeconds(10);

    public async Task<ModeResult> RunAsync(CancellationToken cancellationToken)
    {
        var database = new InventoryDatabaseFixture();
        var virtualHost = new RabbitMqVirtualHost();
        var chroot = new ZooKeeperChroot();
        OrderBus? bus = null;
        using var stopLoad = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task load = Task.CompletedTask;
        try
        {
            await Task.WhenAll(database.InitializeAsync(), virtualHost.InitializeAsync(), chroot.InitializeAsync());
            dataSource = database.DataSource;

            // One proxy per replica (index) in front of PostgreSQL, for the replica's service connections only.
            var postgres = new NpgsqlConnectionStringBuilder(database.ServiceConnectionString);
            for (var i = 0; i < Replicas; i++)
            {
                postgresProxies.Add(await TcpProxy.StartAsync(string.Create(CultureInfo.InvariantCulture, $"{postgres.Host}:{postgres.Port}")));
            }

            var options = ReplicaClusterOptions.For(database, virtualHost, chroot);
            options = new ReplicaClusterOptions
            {
                InventoryConnectionString = options.InventoryConnectionString,
                InventoryOwnerConnectionString = options.InventoryOwnerConnectionString,
                RabbitMqUri = options.RabbitMqUri,
                ZooKeeperConnectString = options.ZooKeeperConnectString,
                SessionTimeout = sessionTimeout,
                NodeIdPrefix = mode,
                ReplicaEnvironment = index => new Dictionary<string, string?>
                {
                    ["ConnectionStrings__Inventory"] = new NpgsqlConnectionStringBuilder(database.ServiceConnectionString)
                    {
                        Host = "127.0.0.1",
                        Port = PostgresProxyPort(index),
                    }.ConnectionString,
                },
            };
            if (peer)
            {
                // The comparison peer (Pipeline.ReplicaHost): RabbitMQ picks the consumer, and nothing checks its tokens.
                options.ExtraEnvironment["Comparison__SingleActiveConsumer"] = "true";
                options.ExtraEnvironment["FaultInjection__ForgeFenceToken"] = "true";

                // The broker drops a silent connection after about two heartbeats: 1 s heartbeats give the peer about the
                // 2 s our session timeout gives us to notice a frozen process.
                options.ExtraEnvironment["RabbitMq__Heartbeat"] = "00:00:01";

                // On a classic queue, RabbitMQ 3.10/3.11 crash the queue when a single active consumer dies with
                // deliveries in hand (rabbitmq-server#5460, seen here on 3.10.8): the peer runs on quorum queues, as a
                // single-active-consumer deployment would.
                options.ExtraEnvironment["Pipeline__QuorumQueues"] = "true";
            }

            options.ExtraEnvironment["FaultInjection__PauseBeforeTransaction"] = "00:00:01";
            cluster = new ReplicaCluster(options);
            Console.WriteLine($"  [{mode}] starting {Replicas} replicas (logs in {cluster.LogDirectory})");
            await cluster.StartAsync(Replicas);
            bus = await OrderBus.StartAsync(virtualHost.AmqpUri);

            string[] skus = [.. Enumerable.Range(1, 20).Select(i => $"{mode}-{i:00}")];
            await InventoryDatabase.SeedStockAsync(dataSource, skus, 10_000_000, cancellationToken);
            var workload = Workload.Mixed(mode, 200_000, skus, seed: 7);
            var published = new List<string>();
            IEnumerable<Contracts.OrderSubmitted> Stream()
            {
                foreach (var order in workload.Orders.TakeWhile(_ => !stopLoad.IsCancellationRequested))
                {
                    lock (published)
                    {
                        published.Add(order.OrderId);
                    }

                    yield return order;
                }
            }

            var started = DateTimeOffset.UtcNow;
            load = bus.PublishAllAsync(Stream(), perSecond: ordersPerSecond, cancellationToken: stopLoad.Token);
            await NextCommitAsync(started, null, TimeSpan.FromSeconds(60), cancellationToken);
            Console.WriteLine($"  [{mode}] connections through the replicas' Postgres proxies: {string.Join('/', postgresProxies.Select(p => p.ConnectionsAccepted))}");

            // Phase 1: SIGSTOP with a batch in hand, then the checker over the orders published so far.
            for (var round = 1; round <= rounds; round++)
            {
                await PauseRoundAsync(round, cancellationToken);
            }

            string[] checkedIds;
            lock (published)
            {
                checkedIds = [.. published];
            }

            var violations = await CheckAsync(bus, checkedIds, cancellationToken);
            Console.WriteLine($"  [{mode}] {Pause} rounds checked: {violations.Count} violation(s) over {checkedIds.Length} orders");
            foreach (var kind in violations.GroupBy(v => v.Split(':')[0], StringComparer.Ordinal))
            {
                Console.WriteLine($"    {kind.Key}: {kind.Count()}x, e.g. {kind.First()[..Math.Min(kind.First().Length, 300)]}");
            }

            // Phase 2: without the delay, graceful stops and kills.
            options.ExtraEnvironment.Remove("FaultInjection__PauseBeforeTransaction");
            await Task.WhenAll(cluster.Replicas.Where(r => r.IsRunning).Select(r => cluster.StopGracefullyAsync(r.Index)));
            await cluster.StartAsync(Replicas);
            await NextCommitAsync(DateTimeOffset.UtcNow, null, TimeSpan.FromSeconds(60), cancellationToken);
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken); // the backlog of the restart drains
            for (var round = 1; round <= rounds; round++)
            {
                await StopRoundAsync(Graceful, round, index => cluster.StopGracefullyAsync(index), cancellationToken);
            }

            for (var round = 1; round <= rounds; round++)
            {
                await StopRoundAsync(Kill, round, index =>
                {
                    cluster.Kill(index);
                    return Task.CompletedTask;
                }, cancellationToken);
            }

            // Phase 3: the committer's database link cut, the process left running.
            for (var round = 1; round <= rounds; round++)
            {
                await CutRoundAsync(round, cancellationToken);
            }

            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            var commits = await CommitTimesAsync(started, cancellationToken);
            // A deposed leader's commit endpoint that had to be torn down held deliveries from its successor meanwhile.
            var tornDown = cluster.LogLinesContaining("did not stop within").Count;
            return new ModeResult(mode, faults, violations, checkedIds.Length, started, commits, cluster.LogDirectory, tornDown);
        }
        finally
        {
            await stopLoad.CancelAsync();
            await load.ContinueWith(_ => { }, TaskScheduler.Default);
            if (bus is not null)
            {
                await bus.DisposeAsync();
            }

            if (cluster is not null)
            {
                await cluster.DisposeAsync(); // kills every replica it started
            }

            foreach (var proxy in postgresProxies)
            {
                await proxy.DisposeAsync();
            }

            await chroot.DisposeAsync();
            await virtualHost.DisposeAsync();
            await database.DisposeAsync();
        }
    }

    /// <summary>SIGSTOP the replica committing now for <see cref="PauseLength"/>, SIGCONT; the time to another's commit.</summary>
    private async Task PauseRoundAsync(int round, CancellationToken cancellationToken)
    {
        var (victim, node) = await CommitterAsync(cancellationToken);
        var at = DateTimeOffset.UtcNow;
        cluster.Pause(victim);
        try
        {
            await Task.Delay(PauseLength, cancellationToken);
        }
        finally
        {
            cluster.Resume(victim);
        }

        var next = await NextCommitAsync(at, node, HandoverLimit - PauseLength, cancellationToken);
        Record(new FaultSample(Pause, round, node, at, next is { } n ? (n.At - at).TotalMilliseconds : null, next?.NodeId));

        // The woken ex-committer's batch in hand goes wherever its mode lets it; give it time before the next round.
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
    }

    /// <summary>Stops (gracefully or not) the replica committing now; the time to another's commit; restarts it in the background.</summary>
    private async Task StopRoundAsync(string kind, int round, Func<int, Task> stop, CancellationToken cancellationToken)
    {
        var (victim, node) = await CommitterAsync(cancellationToken);
        var at = DateTimeOffset.UtcNow;
        var stopping = Task.Run(() => stop(victim), cancellationToken);
        var next = await NextCommitAsync(at, node, HandoverLimit, cancellationToken);
        await stopping;
        Record(new FaultSample(kind, round, node, at, next is { } n ? (n.At - at).TotalMilliseconds : null, next?.NodeId));
        restarts[victim] = cluster.StartReplicaAsync(victim);
    }

    /// <summary>Cuts the committer's link to PostgreSQL (its proxy resets every connection and refuses new ones) for
    /// <see cref="CutLength"/> or until the measurement ended, whichever is later; the time to another's commit; then heals
    /// the link and waits until some replica commits again, so the next round starts from a committing cluster.</summary>
    private async Task CutRoundAsync(int round, CancellationToken cancellationToken)
    {
        var (victim, node) = await CommitterAsync(cancellationToken);
        var proxy = postgresProxies[victim];
        var at = DateTimeOffset.UtcNow;
        var cut = Stopwatch.StartNew();
        proxy.Cut();
        (DateTimeOffset At, string NodeId)? next;
        try
        {
            next = await NextCommitAsync(at, node, CutHandoverLimit, cancellationToken);
            if (CutLength - cut.Elapsed is { Ticks: > 0 } rest)
            {
                await Task.Delay(rest, cancellationToken); // the fault's own length
            }
        }
        finally
        {
            proxy.Heal();
        }

        var healedAfter = cut.Elapsed;
        var healed = DateTimeOffset.UtcNow;
        Record(new FaultSample(PostgresCut, round, node, at, next is { } n ? (n.At - at).TotalMilliseconds : null, next?.NodeId));
        if (!cluster.Replicas[victim].IsRunning)
        {
            // Not part of the fault: a replica that exits when it loses its database is restarted like a stopped one.
            Console.WriteLine($"  [{mode}] {node} exited during its {PostgresCut}; restarting it");
            restarts[victim] = cluster.StartReplicaAsync(victim);
        }

        var resumed = await NextCommitAsync(healed, null, ResumeLimit, cancellationToken)
            ?? throw new TimeoutException(string.Create(CultureInfo.InvariantCulture,
                $"[{mode}] no replica committed within {ResumeLimit.TotalSeconds:0} s of healing {node}'s Postgres link\n{cluster.Describe(20)}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"    healed after {healedAfter.TotalSeconds:0.0} s; commits resumed {(resumed.At - healed).TotalMilliseconds:0} ms after the heal ({resumed.NodeId})"));
    }

    private int PostgresProxyPort(int index) =>
        int.Parse(postgresProxies[index].Endpoint.Split(':')[1], CultureInfo.InvariantCulture);

    private void Record(FaultSample sample)
    {
        sample = sample with { LeaseMs = LeaseAfter(sample.At, sample.Successor) };
        faults.Add(sample);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  [{mode}] {sample.Kind} #{sample.Round} of {sample.Victim}: {(sample.FailoverMs is { } ms ? $"{ms:0} ms to a commit by {sample.Successor}" : "no other replica committed")}"));
    }

    /// <summary>The replica that committed last (within the last 3 s), once another replica is running and ready to take over.</summary>
    private async Task<(int Index, string NodeId)> CommitterAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await using var command = dataSource.CreateCommand("SELECT node_id FROM inventory_commits WHERE committed_at > now() - interval '3 seconds' ORDER BY commit_seq DESC LIMIT 1");
            var node = (string?)await command.ExecuteScalarAsync(cancellationToken);
            var victim = cluster.Replicas.FirstOrDefault(r => r.NodeId == node && r.IsRunning && !r.IsPaused);
            var others = cluster.Replicas.Where(r => r != victim && r.IsRunning && !r.IsPaused && restarts[r.Index] is null or { IsCompleted: true }).ToList();
            // Ours is ready to take over only once a standby is armed on the leader's crash signal: one started a moment
            // ago may not be yet, and a crash then waits for the session, which is not the fault measured. The peer's
            // consumer is registered with RabbitMQ before its replica reports ready.
            if (victim is not null && others.Count > 0 && (peer || await cluster.IsStandbyArmedAsync(victim.Index)))
            {
                foreach (var failed in restarts.Where(t => t is { IsFaulted: true }))
                {
                    await failed!; // a replica that could not start again ends the run with its log
                }

                return (victim.Index, victim.NodeId);
            }

            if (clock.Elapsed > TimeSpan.FromSeconds(120))
            {
                throw new TimeoutException($"[{mode}] no replica committed with another ready to take over for 120 s\n{cluster.Describe(20)}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
        }
    }

    /// <summary>Ours: milliseconds from <paramref name="at"/> to the first leadership <paramref name="successor"/> logged
    /// after it (the election's part of the failover).</summary>
    private double? LeaseAfter(DateTimeOffset at, string? successor)
    {
        if (peer || successor is null)
        {
            return null;
        }

        var leads = cluster.LoggedLeaderships().Where(l => l.NodeId == successor && l.At >= at).Select(l => l.At).ToList();
        return leads.Count == 0 ? null : (leads.Min() - at).TotalMilliseconds;
    }

    /// <summary>The first ledger row committed after <paramref name="after"/> by another node than <paramref name="not"/>
    /// (committed_at is the commit transaction's start), or null after <paramref name="limit"/>.</summary>
    private async Task<(DateTimeOffset At, string NodeId)?> NextCommitAsync(DateTimeOffset after, string? not, TimeSpan limit, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            await using var command = dataSource.CreateCommand("SELECT committed_at, node_id FROM inventory_commits WHERE committed_at > $1 AND node_id <> $2 ORDER BY committed_at LIMIT 1");
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = after });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = not ?? "" });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                return (reader.GetFieldValue<DateTimeOffset>(0), reader.GetString(1));
            }

            await Task.Delay(TimeSpan.FromMilliseconds(25), cancellationToken);
        }

        return null;
    }

    private async Task<List<DateTimeOffset>> CommitTimesAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT committed_at FROM inventory_commits WHERE committed_at >= $1 ORDER BY committed_at");
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = since });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var times = new List<DateTimeOffset>();
        while (await reader.ReadAsync(cancellationToken))
        {
            times.Add(reader.GetFieldValue<DateTimeOffset>(0));
        }

        return times;
    }

    /// <summary>The fault suite's checker over <paramref name="ids"/> once they are all decided and their events arrived:
    /// leaders from the replicas' logs and /status (ours: the election's "leads with token" lines; the peer: its
    /// "activated with token" lines), fence bumps (ours) and activations (the peer) in time from the logs.</summary>
    private async Task<IReadOnlyList<string>> CheckAsync(OrderBus bus, string[] ids, CancellationToken cancellationToken)
    {
        await PipelineDb.WaitDecidedAsync(dataSource, ids, TimeSpan.FromMinutes(2), () => cluster.Describe(20));
        await bus.Events.WaitForAllAsync(ids, TimeSpan.FromSeconds(60));
        cancellationToken.ThrowIfCancellationRequested();
        var orders = await PipelineDb.OrdersAsync(dataSource, ids);
        var ours = ids.ToHashSet(StringComparer.Ordinal);
        var ledger = (await PipelineDb.LedgerAsync(dataSource)).Where(r => ours.Contains(r.OrderId)).ToList();
        var events = ids.ToDictionary(id => id, bus.Events.For, StringComparer.Ordinal);
        var leaders = cluster.ObservedLeaders.Select(l => new Leadership(l.NodeId, l.Token.Generation, l.Token.Sequence))
            .Concat(cluster.LoggedLeaders().Select(l => new Leadership(l.NodeId, l.Token.Generation, l.Token.Sequence)))
            .Concat(LoggedActivations()).ToHashSet();
        var fenced = cluster.LoggedFenceAcquisitions().ToDictionary(f => (f.Key.Generation, f.Key.Sequence), f => f.Value);
        return HistoryChecker.Check(new History(ids, orders, ledger, events, leaders, fenced));
    }

    /// <summary>The peer's activations, from its replicas' logs (SingleActiveConsumerAuthority's warning line).</summary>
    private IEnumerable<Leadership> LoggedActivations()
    {
        foreach (var replica in cluster.Replicas.Where(r => File.Exists(r.LogPath)))
        {
            using var stream = new FileStream(replica.LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            foreach (Match match in ActivatedLine().Matches(reader.ReadToEnd()))
            {
                yield return new Leadership(match.Groups[1].Value, long.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture), long.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture));
            }
        }
    }

    [GeneratedRegex(@"SingleActiveConsumer (\S+) activated with token (\d+):(\d+)")]
    private static partial Regex ActivatedLine();
}
