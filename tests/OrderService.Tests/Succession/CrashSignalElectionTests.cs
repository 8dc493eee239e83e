using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Pipeline.OrderService.Commit;
using Pipeline.Testing;
using Pipeline.ZooKeeper.Recipes;
using Xunit.Abstractions;

namespace Pipeline.OrderService.Tests.Succession;

/// <summary>
/// The election with the product's crash signal (<see cref="AdvisoryLockCrashSignal"/>) on the real PostgreSQL and
/// ZooKeeper, candidates in this process with a 30 s session, so nothing here can be the session's expiry. A leader's
/// signal is "released" by terminating its backend (what the server does when the leader's process dies, or its
/// connection is cut): the standbys race for it, one deletes the leader's node, the lowest standby leads, the live
/// ex-leader loses its lease and rejoins behind.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes the class through IAsyncLifetime.DisposeAsync, which disposes what it owns.")]
public sealed class CrashSignalElectionTests(InventoryDatabaseFixture database, ZooKeeperChroot chroot, ITestOutputHelper output)
    : IClassFixture<InventoryDatabaseFixture>, IClassFixture<ZooKeeperChroot>, IAsyncLifetime
{
    private static readonly TimeSpan Session = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);
    private readonly List<IAsyncDisposable> owned = [];
    private readonly RecordedLog log = new();
    private ILoggerFactory? loggers;
    private readonly string electionPath = $"/election-{Guid.NewGuid():N}";

    [Fact]
    public async Task Two_standbys_racing_on_a_released_signal_produce_one_leader_and_the_live_ex_leader_rejoins_behind()
    {
        var history = new LeaseHistory();
        var leader = Candidate("leader", history);
        var first = await Eventually.GetAsync(() => Task.FromResult(leader.CurrentLease), WaitLimit, "the first candidate to lead");
        var standbys = new[] { Candidate("standby-a", history), Candidate("standby-b", history) };
        await Eventually.TrueAsync(() => Task.FromResult(standbys.All(s => s.State == ElectionState.Candidate && s.Znode is not null)), WaitLimit, "both standbys to join");
        await WaitUntilWaitingAsync(2); // both queued on the leader's signal: the race is real

        var clock = Stopwatch.StartNew();
        Assert.Equal(1, await database.TerminateCrashSignalHolderAsync());
        var (next, lease) = await Eventually.GetAsync(() => Task.FromResult(standbys.Select(s => (s, s.CurrentLease)).FirstOrDefault(x => x.CurrentLease is not null) is var (c, l) && l is not null ? Tuple.Create(c, l) : null),
            WaitLimit, "a standby to lead after the leader's signal was released") is var t ? (t.Item1, t.Item2) : default;
        var handover = clock.Elapsed;
        await Eventually.TrueAsync(() => Task.FromResult(first.IsRevoked), WaitLimit, "the deposed leader's lease to end");
        var overlap = Stopwatch.GetElapsedTime(lease.GrantedTimestamp, first.RevokedTimestamp); // negative: none
        output.WriteLine($"{next.NodeId} leads with {lease.Token} {handover.TotalMilliseconds:0} ms after the release; the ex-leader's lease ended: {first.RevokedBecause}");

        // One leader, the lowest standby (they joined at once: either may be lower); the other still stands by; the
        // ex-leader rejoined with a new node, behind both.
        var lower = standbys.MinBy(s => ElectionCandidate.ParseSequence(s.Znode!))!;
        var other = standbys.Single(s => s != lower);
        Assert.Equal(lower.NodeId, next.NodeId);
        Assert.True(lease.Token > first.Token, $"{lease.Token} is not above {first.Token}");
        await Eventually.TrueAsync(() => Task.FromResult(leader.State == ElectionState.Candidate && leader.Znode is not null && leader.Znode != first.Znode), WaitLimit, "the ex-leader to rejoin with a new node");
        Assert.Null(other.CurrentLease);
        Assert.Null(leader.CurrentLease);
        var candidates = await next.GetCandidatesAsync();
        Assert.Equal([lower.NodeId, other.NodeId, "leader"], candidates.Select(c => c.Info?.NodeId ?? c.Name).ToArray());

        // The loser of the race and the ex-leader both wait on the new leader's signal now, so its crash is noticed too.
        await WaitUntilWaitingAsync(2);

        // The standbys never overlapped; the deposed leader's lease ended once its node's deletion reached it.
        var records = history.Records;
        Assert.Empty(LeaseHistory.Check([.. records.Where(r => r.NodeId != "leader")]));
        Assert.Single(records, r => r.NodeId == "leader");
        Assert.Equal("our election node was deleted", first.RevokedBecause);

        // Exactly one standby deleted the node; the new leader knows why it leads; so does the ex-leader.
        var deletions = standbys.SelectMany(s => s.History).Where(h => h.Event == "deleted-on-crash-signal").ToList();
        Assert.Single(deletions);
        Assert.Equal(first.Token, deletions[0].Token);
        var led = await LedAsync(next, lease.Token);
        Assert.Equal("crash-signal", led.Detail);
        Assert.Equal("leader", led.Previous);
        Assert.Contains(leader.History, h => h.Event == "ended" && h.Token == first.Token);
        output.WriteLine($"handover {handover.TotalMilliseconds:0} ms; the deposed lease ended {overlap.TotalMilliseconds:0.0} ms after the new one began (the fence orders them)");
    }

    [Fact]
    public async Task A_leader_that_stops_holding_its_signal_gracefully_is_succeeded_as_graceful_not_as_a_crash()
    {
        var leader = Candidate("leader");
        var first = await Eventually.GetAsync(() => Task.FromResult(leader.CurrentLease), WaitLimit, "the first candidate to lead");
        var standby = Candidate("standby");
        await Eventually.TrueAsync(() => Task.FromResult(standby.State == ElectionState.Candidate), WaitLimit, "the standby to join");
        await WaitUntilWaitingAsync(1);

        await leader.ResignAsync();
        var next = await Eventually.GetAsync(() => Task.FromResult(standby.CurrentLease), WaitLimit, "the standby to lead after the resignation");
        Assert.True(next.Token > first.Token);
        var led = await LedAsync(standby, next.Token);
        Assert.Equal("graceful", led.Detail);
        Assert.DoesNotContain(standby.History, h => h.Event == "deleted-on-crash-signal");
    }

    [Fact]
    public async Task Without_a_held_signal_a_standby_waits_for_the_session_and_deletes_nobody()
    {
        // The leader runs without the signal (an older replica, or one whose database is away): its standby must not take
        // the lock's absence for a death.
        var leader = Candidate("leader", signal: false);
        var first = await Eventually.GetAsync(() => Task.FromResult(leader.CurrentLease), WaitLimit, "the first candidate to lead");
        var standby = Candidate("standby");
        await Eventually.TrueAsync(() => Task.FromResult(standby.State == ElectionState.Candidate), WaitLimit, "the standby to join");

        // Long enough for the standby to have polled the lock many times.
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(first.IsRevoked, $"the leader was deposed: {first.RevokedBecause}");
        Assert.Null(standby.CurrentLease);
        Assert.DoesNotContain(standby.History, h => h.Event == "deleted-on-crash-signal");
    }

    public Task InitializeAsync()
    {
        loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Information).AddProvider(log));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var item in Enumerable.Reverse(owned))
        {
            await item.DisposeAsync();
        }

        loggers?.Dispose();
        log.Dispose();
        foreach (var line in log.Lines)
        {
            output.WriteLine(line);
        }
    }

    private ElectionCandidate Candidate(string nodeId, LeaseHistory? history = null, bool signal = true)
    {
        AdvisoryLockCrashSignal? crashSignal = null;
        if (signal)
        {
            crashSignal = new AdvisoryLockCrashSignal(database.ServiceConnectionString, "inventory-commit", loggers!.CreateLogger<AdvisoryLockCrashSignal>());
        }

        var candidate = new ElectionCandidate(new ElectionCandidateOptions
        {
            ConnectString = chroot.ConnectString,
            ElectionPath = electionPath,
            NodeId = nodeId,
            SessionTimeout = Session,
            Credential = TestIdentities.ZooKeeper,
            CrashSignal = crashSignal,
            LoggerFactory = loggers,
            RetryDelay = TimeSpan.FromMilliseconds(100),
        });
        if (crashSignal is not null)
        {
            owned.Add(crashSignal);
        }

        owned.Add(candidate);
        if (history is not null)
        {
            _ = history.FollowAsync(candidate);
        }

        candidate.Start();
        return candidate;
    }

    /// <summary>The history entry of <paramref name="candidate"/>'s lease <paramref name="token"/>, written just after the grant.</summary>
    private static Task<ElectionHistoryEntry> LedAsync(ElectionCandidate candidate, FencingToken token) =>
        Eventually.GetAsync(() => Task.FromResult(candidate.History.LastOrDefault(h => h.Event == "led" && h.Token == token)), WaitLimit, $"{candidate.NodeId}'s history to say why it leads with {token}");

    /// <summary>Waits until <paramref name="waiters"/> sessions are queued on a crash signal lock held by another.</summary>
    private Task WaitUntilWaitingAsync(int waiters) =>
        Eventually.TrueAsync(async () => await database.CrashSignalWaitersAsync() == waiters,
            WaitLimit, $"{waiters} standby(s) queued on the leader's crash signal", TimeSpan.FromMilliseconds(20));
}
