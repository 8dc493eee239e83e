using System.Diagnostics;
using System.Globalization;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;
using Pipeline.ZooKeeper.Recipes;

namespace Pipeline.Testing.Liveness;

/// <summary>How one schedule went: its violations (none when it passed), counts, the pauses of the machine it met, and
/// its log for the failure message.</summary>
public sealed record ScheduleOutcome(ElectionSchedule Schedule, IReadOnlyList<string> Violations, int FaultsApplied, int LeasesGranted, TimeSpan? LeaderAfterLastFault, TimeSpan Elapsed, int MachinePauses, IReadOnlyList<string> Log)
{
    public bool Passed => Violations.Count == 0;

    /// <summary>The seed, how to replay it, the violations, the schedule and what happened.</summary>
    public string Describe() => string.Join('\n', [
        $"schedule seed {Schedule.Seed} failed; replay: {LivenessRun.ReplayCommand(Schedule.Seed)}",
        .. Violations.Select(v => "  violation: " + v),
        "  " + Schedule,
        "  log:",
        .. Log.Select(l => "    " + l)]);
}

/// <summary>
/// Runs one <see cref="ElectionSchedule"/> against a real server and checks it. Safety: no two unrevoked leases at any
/// instant and tokens never going backwards (<see cref="LeaseHistory"/>). Liveness: within two session timeouts after the
/// last fault every candidate's loop runs, one of them leads, every pending resignation has completed, and the election
/// holds exactly one node per candidate (an orphan node would block it for good once it is the lowest). A pause of the
/// machine that <paramref name="pauses"/> noticed counts as a fault.
/// </summary>
public sealed class ElectionScheduleRunner(string server, ZooKeeperClient admin, string root, PauseMonitor pauses)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private int runs;

    public async Task<ScheduleOutcome> RunAsync(ElectionSchedule schedule, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        var start = Stopwatch.GetTimestamp();
        var log = new ScheduleLog(start);
        var run = new Run(schedule, string.Create(CultureInfo.InvariantCulture, $"{root}/s{schedule.Seed}-{Interlocked.Increment(ref runs)}"), log, new LeaseHistory());
        TimeSpan? leaderAfter = null;
        try
        {
            for (var i = 0; i < schedule.Candidates; i++)
            {
                var slot = new Slot(i, ZooKeeperFaultProxy.Start(server));
                run.Slots.Add(slot);
                foreach (var fault in schedule.Faults.Where(f => f.Slot == i))
                {
                    slot.Proxy.Arm(fault.Request, fault.Action);
                }

                slot.Proxy.FaultApplied += f => log.Add($"c{slot.Index} {f.Request}: {f.Action}");
                StartCandidate(run, slot);
            }

            foreach (var action in schedule.Actions)
            {
                await DelayUntilAsync(start, action.At, cancellationToken).ConfigureAwait(false);
                log.Add($"action: {action.Kind.ToString().ToLowerInvariant()} {run.Slots[action.Slot].Candidate.NodeId}");
                await ApplyAsync(run, run.Slots[action.Slot], action.Kind, cancellationToken).ConfigureAwait(false);
            }

            await DelayUntilAsync(start, schedule.FaultPhase, cancellationToken).ConfigureAwait(false);
            foreach (var slot in run.Slots)
            {
                slot.Proxy.Disarm();
                slot.Candidate.Rejoin();
            }

            var rejoined = Stopwatch.GetTimestamp();
            log.Add("fault phase over: faults disarmed, every candidate rejoined");
            await Task.WhenAll(run.Slots.Select(s => s.Proxy.WhenReleasedAsync(cancellationToken))).WaitAsync(Bound, cancellationToken).ConfigureAwait(false);
            var lastInjected = run.Slots.SelectMany(s => s.Proxy.Applied).Select(f => f.EndedAt).Append(rejoined).Max();
            long LastFault() => Math.Max(lastInjected, pauses.LastEndAfter(start));
            long Deadline() => LastFault() + (long)(2 * schedule.SessionTimeout.TotalSeconds * Stopwatch.Frequency);
            leaderAfter = await SettleAsync(run, LastFault, Deadline, cancellationToken).ConfigureAwait(false);
            await CheckResignationsAsync(run, Deadline()).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            run.Violations.Add($"the run itself failed: {ex.GetType().Name}: {ex.Message}");
        }
        finally
        {
            await EndAsync(run).ConfigureAwait(false);
        }

        var records = run.History.Records;
        run.Violations.AddRange(LeaseHistory.Check(records));
        var machinePauses = pauses.Between(start, Stopwatch.GetTimestamp());
        if (run.Violations.Count > 0)
        {
            log.Add("pauses of the machine during the schedule: " + string.Join("; ", machinePauses.DefaultIfEmpty("none")));
        }

        return new ScheduleOutcome(schedule, run.Violations, run.Slots.Sum(s => s.Proxy.Applied.Count), records.Count, leaderAfter, Stopwatch.GetElapsedTime(start),
            machinePauses.Count, run.Violations.Count == 0 ? [] : log.Tail(200));
    }

    private static void StartCandidate(Run run, Slot slot)
    {
        var candidate = new ElectionCandidate(new ElectionCandidateOptions
        {
            ConnectString = slot.Proxy.Endpoint,
            ElectionPath = run.Path,
            NodeId = string.Create(CultureInfo.InvariantCulture, $"c{slot.Index}.{slot.Generation++}"),
            SessionTimeout = run.Schedule.SessionTimeout,
            RetryDelay = TimeSpan.FromMilliseconds(50),
            LoggerFactory = run.Log,
        });
        slot.Candidate = candidate;
        candidate.Start();
        slot.Followers.Add(Task.Run(async () =>
        {
            await foreach (var change in candidate.WatchChangesAsync().ConfigureAwait(false))
            {
                run.Log.Add($"{candidate.NodeId} {change.State}{(change.State == ElectionState.Leader ? " " + change.Lease?.Token : "")}: {change.Reason}");
                run.History.Record(change);
            }
        }));
    }

    private static async Task ApplyAsync(Run run, Slot slot, CandidateActionKind kind, CancellationToken cancellationToken)
    {
        switch (kind)
        {
            case CandidateActionKind.Resign:
                slot.Resignations.Add((slot.Candidate.NodeId, Stopwatch.GetTimestamp(), slot.Candidate.ResignAsync(cancellationToken)));
                break;
            case CandidateActionKind.Rejoin:
                slot.Candidate.Rejoin();
                break;
            default:
                await DisposeCandidateAsync(run, slot).ConfigureAwait(false);
                StartCandidate(run, slot);
                break;
        }
    }

    /// <summary>Waits until the election is whole again, or the deadline; returns how long after the last fault it was.</summary>
    private async Task<TimeSpan?> SettleAsync(Run run, Func<long> lastFault, Func<long> deadline, CancellationToken cancellationToken)
    {
        while (true)
        {
            var problem = await ProblemAsync(run, cancellationToken).ConfigureAwait(false);
            var now = Stopwatch.GetTimestamp();
            if (problem is null)
            {
                run.Log.Add("settled: a leader, every loop running, one node per candidate");
                return TimeSpan.FromSeconds(Math.Max(0, now - lastFault()) / (double)Stopwatch.Frequency);
            }

            if (now > deadline())
            {
                // A stall of the machine that just ended is recorded only once the pause monitor looks again: let it,
                // and judge again with what it saw (SettleAsync woke first after 1.75 s stalls and blamed the election).
                await pauses.CaughtUpAsync(now, cancellationToken).ConfigureAwait(false);
            }

            if (now > deadline())
            {
                run.Violations.Add($"not settled {2 * run.Schedule.SessionTimeout.TotalMilliseconds:0} ms after the last fault: {problem}; " +
                    await DescribeAsync(run, cancellationToken).ConfigureAwait(false));
                return null;
            }

            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>What keeps the election from being whole, or null when it is.</summary>
    private async Task<string?> ProblemAsync(Run run, CancellationToken cancellationToken)
    {
        var candidates = run.Slots.Select(s => s.Candidate).ToList();
        if (candidates.FirstOrDefault(c => !c.IsRunning) is { } stopped)
        {
            return $"the loop of {stopped.NodeId} is not running";
        }

        if (candidates.All(c => c.CurrentLease is null))
        {
            return "no leader";
        }

        if (candidates.FirstOrDefault(c => c.Znode is null) is { } outside)
        {
            return $"{outside.NodeId} has no election node";
        }

        IReadOnlyList<string> nodes;
        try
        {
            nodes = (await admin.GetChildrenAsync(run.Path, null, cancellationToken).ConfigureAwait(false)).Children;
        }
        catch (KeeperException ex)
        {
            return $"the election cannot be listed ({ex.Code})";
        }

        var expected = candidates.Select(c => c.Znode!).ToHashSet(StringComparer.Ordinal);
        return expected.SetEquals(nodes) ? null : "the election's nodes are not one per candidate";
    }

    /// <summary>Every candidate's state, node and session, and every node of the election with its owner.</summary>
    private async Task<string> DescribeAsync(Run run, CancellationToken cancellationToken)
    {
        var candidates = run.Slots.Select(s => s.Candidate).ToList();
        var parts = candidates.Select(c => string.Create(CultureInfo.InvariantCulture,
            $"{c.NodeId} {c.State}{(c.IsRunning ? "" : " (loop ended)")} node {c.Znode ?? "none"} session 0x{c.SessionId:x}")).ToList();
        try
        {
            foreach (var (name, _) in ElectionCandidate.Sorted((await admin.GetChildrenAsync(run.Path, null, cancellationToken).ConfigureAwait(false)).Children))
            {
                var owner = (await admin.ExistsAsync(run.Path + "/" + name, null, cancellationToken).ConfigureAwait(false))?.EphemeralOwner;
                var holder = candidates.FirstOrDefault(c => c.SessionId == owner && owner != 0);
                parts.Add(string.Create(CultureInfo.InvariantCulture,
                    $"node {name} owner 0x{owner ?? 0:x} ({(holder is null ? "no live candidate" : holder.NodeId + (holder.Znode == name ? "" : ", not its current node: an orphan"))})"));
            }
        }
        catch (KeeperException ex)
        {
            parts.Add($"election unreadable: {ex.Code}");
        }

        return string.Join("; ", parts);
    }

    private static async Task CheckResignationsAsync(Run run, long deadline)
    {
        foreach (var (nodeId, askedAt, task) in run.Slots.SelectMany(s => s.Resignations))
        {
            var left = TimeSpan.FromSeconds(Math.Max(0, deadline - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency);
            if (await Task.WhenAny(task, Task.Delay(left)).ConfigureAwait(false) != task)
            {
                run.Violations.Add(string.Create(CultureInfo.InvariantCulture,
                    $"ResignAsync of {nodeId} (asked {Stopwatch.GetElapsedTime(askedAt).TotalMilliseconds:0} ms ago) never completed"));
            }
        }
    }

    private static async Task DisposeCandidateAsync(Run run, Slot slot)
    {
        var candidate = slot.Candidate;
        var disposal = candidate.DisposeAsync().AsTask();
        if (await Task.WhenAny(disposal, Task.Delay(Bound)).ConfigureAwait(false) != disposal)
        {
            run.Violations.Add($"DisposeAsync of {candidate.NodeId} did not complete within {Bound.TotalSeconds:0} s");
        }
        else if (disposal.Exception?.GetBaseException() is { } ex)
        {
            run.Violations.Add($"DisposeAsync of {candidate.NodeId} threw {ex.GetType().Name}: {ex.Message} (its loop had died of it)");
        }
    }

    private async Task EndAsync(Run run)
    {
        foreach (var slot in run.Slots)
        {
            await DisposeCandidateAsync(run, slot).ConfigureAwait(false);
        }

        foreach (var slot in run.Slots)
        {
            if (await Task.WhenAny(Task.WhenAll(slot.Followers), Task.Delay(Bound)).ConfigureAwait(false) is var done && !done.IsCompleted)
            {
                run.Violations.Add($"the changes of c{slot.Index} did not end after disposal");
            }

            await slot.Proxy.DisposeAsync().ConfigureAwait(false);
        }

        try
        {
            await admin.DeleteRecursiveAsync(run.Path).ConfigureAwait(false);
        }
        catch (KeeperException ex)
        {
            run.Log.Add($"cleanup of {run.Path} failed: {ex.Code}");
        }
    }

    private static async Task DelayUntilAsync(long start, TimeSpan at, CancellationToken cancellationToken)
    {
        var left = at - Stopwatch.GetElapsedTime(start);
        if (left > TimeSpan.Zero)
        {
            await Task.Delay(left, cancellationToken).ConfigureAwait(false);
        }
    }

    private sealed record Run(ElectionSchedule Schedule, string Path, ScheduleLog Log, LeaseHistory History)
    {
        public List<Slot> Slots { get; } = [];

        public List<string> Violations { get; } = [];
    }

    private sealed class Slot(int index, ZooKeeperFaultProxy proxy)
    {
        public int Index { get; } = index;

        public ZooKeeperFaultProxy Proxy { get; } = proxy;

        public ElectionCandidate Candidate { get; set; } = null!;

        public int Generation { get; set; }

        public List<Task> Followers { get; } = [];

        public List<(string NodeId, long AskedAt, Task Task)> Resignations { get; } = [];
    }
}
