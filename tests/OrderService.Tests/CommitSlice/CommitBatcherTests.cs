using System.Diagnostics;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Commit;
using Pipeline.OrderService.Messaging;
using Pipeline.Testing;

namespace Pipeline.OrderService.Tests.CommitSlice;

/// <summary>
/// The commit slice in process, against a real database: how the <see cref="CommitBatcher"/> fills batches, what the first
/// batch of a leadership does, and what happens to the deliveries of a batch whose grant is revoked or whose token the fence
/// refuses (they fail with <see cref="LeadershipLostException"/>, which the endpoint's error pipe requeues, and nothing is
/// committed). The replica-process tests (FailoverTests, the fault suite) remain the safety net for the whole path.
/// </summary>
public sealed class CommitBatcherTests(InventoryDatabaseFixture db) : IClassFixture<InventoryDatabaseFixture>
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Deliveries_that_arrive_together_fill_one_batch_up_to_the_batch_size()
    {
        await using var slice = await Slice.CreateAsync(db, batchSize: 8, timeLimit: TimeSpan.FromSeconds(2));
        var (grant, _) = await slice.GrantAsync(new FenceToken(1, 1));
        var warm = await slice.OrdersAsync("fill-first", 1);
        await slice.Batcher.CommitAsync(warm[0], CancellationToken.None).WaitAsync(Guard); // the leadership's first batch

        var orders = await slice.OrdersAsync("fill", 20);
        var decisions = await Task.WhenAll(orders.Select(o => slice.Batcher.CommitAsync(o, CancellationToken.None))).WaitAsync(Guard);

        Assert.All(decisions, d => Assert.True(d.Confirmed, d.Detail));
        Assert.Equal([1, 8, 8, 4], slice.Hooks.Batches);
        Assert.All(await slice.LedgerAsync("fill"), row => Assert.Equal(grant.Token, row.Token));
    }

    [Fact]
    public async Task A_batch_that_does_not_fill_goes_once_its_time_limit_has_passed()
    {
        var limit = TimeSpan.FromMilliseconds(300);
        await using var slice = await Slice.CreateAsync(db, batchSize: 50, timeLimit: limit);
        await slice.GrantAsync(new FenceToken(1, 1));
        var first = await slice.OrdersAsync("limit-first", 1);
        await slice.Batcher.CommitAsync(first[0], CancellationToken.None).WaitAsync(Guard);

        var orders = await slice.OrdersAsync("limit", 3);
        var clock = Stopwatch.StartNew();
        var decisions = await Task.WhenAll(orders.Select(o => slice.Batcher.CommitAsync(o, CancellationToken.None))).WaitAsync(Guard);

        Assert.All(decisions, d => Assert.True(d.Confirmed, d.Detail));
        Assert.Equal([1, 3], slice.Hooks.Batches);
        Assert.True(clock.Elapsed >= limit * 0.9, $"the batch of 3 went after {clock.Elapsed.TotalMilliseconds:0} ms, before its {limit.TotalMilliseconds:0} ms time limit");
    }

    [Fact]
    public async Task The_first_batch_of_a_leadership_goes_at_once_with_what_has_arrived()
    {
        // A time limit far beyond the guard: a first batch that waited for it would fail the test.
        await using var slice = await Slice.CreateAsync(db, batchSize: 50, timeLimit: TimeSpan.FromMinutes(5));
        await slice.GrantAsync(new FenceToken(1, 1));
        var first = await slice.OrdersAsync("first-a", 1);
        var decided = await slice.Batcher.CommitAsync(first[0], CancellationToken.None).WaitAsync(Guard);
        Assert.True(decided.Confirmed, decided.Detail);

        // A handover: the next leadership's first batch goes at once as well, under the new token.
        var (next, _) = await slice.GrantAsync(new FenceToken(1, 2));
        var second = await slice.OrdersAsync("first-b", 1);
        var decision = await slice.Batcher.CommitAsync(second[0], CancellationToken.None).WaitAsync(Guard);

        Assert.True(decision.Confirmed, decision.Detail);
        Assert.Equal(next.Token, decision.Token);
        Assert.Equal([1, 1], slice.Hooks.Batches);
    }

    [Fact]
    public async Task A_grant_revoked_mid_batch_fails_its_deliveries_for_requeue_and_commits_nothing()
    {
        await using var slice = await Slice.CreateAsync(db, batchSize: 10, timeLimit: TimeSpan.FromMilliseconds(50));
        var (_, revoke) = await slice.GrantAsync(new FenceToken(1, 1));
        var orders = await slice.OrdersAsync("revoked", 5);
        slice.Hooks.Hold();
        var commits = orders.Select(o => slice.Batcher.CommitAsync(o, CancellationToken.None)).ToList();
        await slice.Hooks.Held.Task.WaitAsync(Guard);

        await revoke.CancelAsync();

        foreach (var commit in commits)
        {
            var failure = await Assert.ThrowsAsync<LeadershipLostException>(() => commit.WaitAsync(Guard));
            Assert.True(RequeueWhenNotTheMessagesFaultFilter.IsNotTheMessagesFault(failure), "the endpoint's error pipe would park the delivery instead of requeueing it");
        }

        Assert.Empty(await slice.LedgerAsync("revoked"));

        // Nothing new starts under the revoked grant either.
        slice.Hooks.Release();
        var late = await slice.OrdersAsync("revoked-late", 1);
        await Assert.ThrowsAsync<LeadershipLostException>(() => slice.Batcher.CommitAsync(late[0], CancellationToken.None).WaitAsync(Guard));
        Assert.Empty(await slice.LedgerAsync("revoked-late"));
    }

    [Fact]
    public async Task A_batch_the_fence_refuses_tells_the_authority_and_fails_its_deliveries_for_requeue()
    {
        await using var slice = await Slice.CreateAsync(db, batchSize: 10, timeLimit: TimeSpan.FromMilliseconds(50));
        var (stale, _) = await slice.GrantAsync(new FenceToken(1, 1));
        Assert.True((await slice.Committer.AcquireFenceAsync(new FenceToken(1, 2), "successor")).Acquired);
        var orders = await slice.OrdersAsync("fenced", 3);

        var commits = orders.Select(o => slice.Batcher.CommitAsync(o, CancellationToken.None)).ToList();

        foreach (var commit in commits)
        {
            var failure = await Assert.ThrowsAsync<LeadershipLostException>(() => commit.WaitAsync(Guard));
            Assert.True(RequeueWhenNotTheMessagesFaultFilter.IsNotTheMessagesFault(failure), "the endpoint's error pipe would park the delivery instead of requeueing it");
        }

        // The first batch met the fence; what was left found no grant any more (the authority stepped down).
        var refusal = Assert.Single(slice.Authority.Refusals);
        Assert.Equal(stale.Token, refusal.Token);
        Assert.Equal(new FenceToken(1, 2), refusal.Current);
        Assert.Empty(await slice.LedgerAsync("fenced"));
    }

    [Fact]
    public async Task Without_a_grant_nothing_is_committed_and_the_delivery_goes_back()
    {
        await using var slice = await Slice.CreateAsync(db, batchSize: 10, timeLimit: TimeSpan.FromMilliseconds(50));
        var orders = await slice.OrdersAsync("no-grant", 1);

        await Assert.ThrowsAsync<LeadershipLostException>(() => slice.Batcher.CommitAsync(orders[0], CancellationToken.None).WaitAsync(Guard));

        Assert.Empty(slice.Hooks.Batches);
        Assert.Empty(await slice.LedgerAsync("no-grant"));
    }

    [Fact]
    public async Task The_warm_up_runs_the_commit_path_without_touching_the_fence_or_any_row()
    {
        await using var slice = await Slice.CreateAsync(db, batchSize: 10, timeLimit: TimeSpan.FromMilliseconds(50));
        await slice.GrantAsync(new FenceToken(3, 7));

        await slice.Committer.WarmUpAsync().WaitAsync(Guard);

        Assert.Equal(new FenceAcquisition(false, new FenceToken(3, 7)), await slice.Committer.AcquireFenceAsync(new FenceToken(3, 6), "older"));
        var orders = await slice.OrdersAsync("after-warm-up", 1);
        var decision = await slice.Batcher.CommitAsync(orders[0], CancellationToken.None).WaitAsync(Guard);
        Assert.True(decision.Confirmed, decision.Detail);
        Assert.Equal(new FenceToken(3, 7), decision.Token);
    }
}

/// <summary>The grant's close: a graceful handover waits for the batch in its transaction, and nothing starts after it.</summary>
public sealed class CommitGrantTests
{
    [Fact]
    public async Task Closing_a_grant_waits_for_the_commit_in_flight_and_refuses_new_ones()
    {
        var grant = new CommitGrant(new FenceToken(1, 1), "n", () => null, Stopwatch.GetTimestamp(), CancellationToken.None);
        Assert.True(grant.TryBeginCommit());

        var closing = grant.CloseAsync();

        Assert.False(closing.IsCompleted, "the close completed while a commit was still in its transaction");
        Assert.False(grant.TryBeginCommit());
        grant.EndCommit();
        await closing.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("handed over", grant.RevokedBecause);
    }

    [Fact]
    public void A_revoked_grant_refuses_new_commits()
    {
        using var revoke = new CancellationTokenSource();
        var grant = new CommitGrant(new FenceToken(1, 1), "n", () => revoke.IsCancellationRequested ? "lease ended" : null, Stopwatch.GetTimestamp(), revoke.Token);
        revoke.Cancel();
        Assert.False(grant.TryBeginCommit());
        Assert.Equal("lease ended", grant.RevokedBecause);
    }
}
