using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Pipeline.Testing;
using Pipeline.Testing.Liveness;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;
using Pipeline.ZooKeeper.Recipes;
using static Pipeline.ZooKeeper.Tests.Recipes.ElectionTestKit;

namespace Pipeline.ZooKeeper.Tests.Liveness;

/// <summary>
/// Only disposal ends a candidate's loop: an error it has no answer for (a refused identity, a timeout, a bug) makes it
/// Failed with a reason an operator can act on, logged once per cause; it retries with backoff and takes part again as
/// soon as it can, without a restart.
/// </summary>
public sealed class FailureTests(ZooKeeperChroot chroot) : IClassFixture<ZooKeeperChroot>
{
    private const string Password = "s3cret-never-shown";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task A_refused_identity_is_reported_as_Failed_retried_and_leads_once_the_acl_is_opened()
    {
        var path = "/election/" + TestResourceNames.New();
        await using var admin = await chroot.ConnectAsync();
        await admin.AddDigestAuthAsync("election-admin", "admin-pw");
        await admin.EnsurePathAsync("/election");
        await admin.CreateAsync(path, null, [new Acl(Permissions.Read, Id.Anyone), new Acl(Permissions.All, Id.Digest("election-admin", "admin-pw"))]);

        await using var proxy = ZooKeeperFaultProxy.Start(chroot.Servers.Split(',')[0]); // no faults: it counts the attempts
        var log = new ScheduleLog(Stopwatch.GetTimestamp());
        await using var candidate = new ElectionCandidate(new ElectionCandidateOptions
        {
            ConnectString = proxy.Endpoint + chroot.Path,
            ElectionPath = path,
            NodeId = "refused",
            SessionTimeout = TimeSpan.FromSeconds(4),
            Credential = new DigestCredential("pipeline-service", Password),
            RetryDelay = TimeSpan.FromMilliseconds(50),
            MaxRetryDelay = TimeSpan.FromMilliseconds(200),
            LoggerFactory = log,
        });
        var changes = Collect(candidate);
        candidate.Start();

        await Eventually.TrueAsync(() => Task.FromResult(candidate.State == ElectionState.Failed), Bound, "the candidate to report Failed");
        var reason = candidate.FailureReason!;
        Assert.StartsWith($"NoAuth creating {path}: the election path's ACL does not grant this identity create (digest user 'pipeline-service')", reason, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, reason, StringComparison.Ordinal);
        await Eventually.TrueAsync(() => Task.FromResult(proxy.CountOf(OpCode.Create2) >= 4), Bound, "the candidate to keep trying");
        Assert.True(candidate.IsRunning);
        Assert.Equal(ElectionState.Failed, candidate.State);
        Assert.Single(log.Tail(1000), l => l.Contains("NoAuth", StringComparison.Ordinal)); // once per cause, not per attempt
        Assert.DoesNotContain(log.Tail(1000), l => l.Contains(Password, StringComparison.Ordinal));

        await admin.SetAclAsync(path, [new Acl(Permissions.Read, Id.Anyone), new Acl(Permissions.All, Id.Digest("election-admin", "admin-pw")), new Acl(Permissions.All, Id.Digest("pipeline-service", Password))]);
        await LeaseOfAsync(candidate, Bound);
        Assert.Null(candidate.FailureReason);
        Assert.Contains(changes, c => c.State == ElectionState.Failed && c.Reason == reason);
    }

    [Fact]
    public async Task An_unexpected_exception_in_the_loop_is_reported_and_the_candidate_leads_after_it()
    {
        var path = "/election/" + TestResourceNames.New();
        await using var candidate = new ElectionCandidate(new ElectionCandidateOptions
        {
            ConnectString = chroot.ConnectString,
            ElectionPath = path,
            NodeId = "bug",
            SessionTimeout = TimeSpan.FromSeconds(4),
            RetryDelay = TimeSpan.FromMilliseconds(50),
            LoggerFactory = new ThrowingOnceLoggerFactory("leads with token"), // a bug on the way to leading
        });
        var changes = Collect(candidate);
        candidate.Start();

        var lease = await LeaseOfAsync(candidate, Bound);
        Assert.True(candidate.IsRunning);
        var failure = Assert.Single(changes, c => c.State == ElectionState.Failed);
        Assert.Contains("InvalidOperationException", failure.Reason, StringComparison.Ordinal);
        Assert.Contains("a logger broke", failure.Reason, StringComparison.Ordinal);
        Assert.Null(candidate.FailureReason);
        Assert.Equal(0, lease.Token.Sequence);
    }

    [Fact]
    public async Task A_lost_create_reply_followed_by_a_stall_past_the_session_timeout_does_not_end_the_loop()
    {
        // Three candidates, each behind its own proxy, each in its own election: the old loop died of this only when the
        // lost reply reached it before the Disconnected event did.
        var proxies = new List<ZooKeeperFaultProxy>();
        var candidates = new List<ElectionCandidate>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var path = "/election/" + TestResourceNames.New();
                await using (var admin = await chroot.ConnectAsync())
                {
                    await admin.EnsurePathAsync(path);
                }

                var proxy = ZooKeeperFaultProxy.Start(chroot.Servers.Split(',')[0]);
                proxies.Add(proxy);
                proxy.ArmNext(OpCode.Create2, FaultAction.DropReply);
                proxy.FaultApplied += _ => proxy.Stall(TimeSpan.FromSeconds(3)); // the reconnect waits past the 1 s session
                candidates.Add(Candidate(proxy.Endpoint + chroot.Path, path, $"stalled-{i}", TimeSpan.FromSeconds(1)));
            }

            foreach (var candidate in candidates)
            {
                await LeaseOfAsync(candidate, Bound);
                Assert.True(candidate.IsRunning);
            }
        }
        finally
        {
            foreach (var candidate in candidates)
            {
                await candidate.DisposeAsync();
            }

            foreach (var proxy in proxies)
            {
                await proxy.DisposeAsync();
            }
        }
    }

    private static ConcurrentQueue<LeadershipChange> Collect(ElectionCandidate candidate)
    {
        var changes = new ConcurrentQueue<LeadershipChange>();
        _ = Task.Run(async () =>
        {
            await foreach (var change in candidate.WatchChangesAsync())
            {
                changes.Enqueue(change);
            }
        });
        return changes;
    }

    /// <summary>Loggers whose first message containing a text throws, as a broken logging provider would.</summary>
    private sealed class ThrowingOnceLoggerFactory(string text) : ILoggerFactory, ILogger
    {
        private int thrown;

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (formatter(state, exception).Contains(text, StringComparison.Ordinal) && Interlocked.Exchange(ref thrown, 1) == 0)
            {
                throw new InvalidOperationException("a logger broke");
            }
        }
    }
}
