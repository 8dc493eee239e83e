using Npgsql;
using Pipeline.Contracts;
using Pipeline.Inventory.Commit;
using Pipeline.Testing;
using static Pipeline.Inventory.Tests.Commit.CommitTestKit;

namespace Pipeline.Inventory.Tests.Commit;

/// <summary>Once a newer token has bumped the fence, nothing of an older token commits; refusals are audited.</summary>
public sealed class FencingTests(InventoryDatabaseFixture db) : IClassFixture<InventoryDatabaseFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task After_1_6_acquires_every_1_5_commit_is_stale_including_one_that_began_before_the_bump_and_waited_on_the_fence_row()
    {
        await SeedAsync(db, 10, "F1-A");
        var orders = new[] { Order("f1-before", ("F1-A", 1)), Order("f1-waiting", ("F1-A", 2)), Order("f1-after", ("F1-A", 3)) };
        await ReceiveAsync(db, orders);
        var resource = await NewFenceAsync(db);
        var app = "stale-" + Guid.NewGuid().ToString("N")[..12];

        // A long lock_timeout: the stale commit must wait for the bump's COMMIT, however slow the machine.
        await using var staleSource = NamedDataSource(db, new FencedCommitterOptions { LockTimeout = TimeSpan.FromSeconds(60), StatementTimeout = TimeSpan.FromSeconds(60) }, app);
        var stale = new FencedCommitter(staleSource, new FencedCommitterOptions { Resource = resource });
        var old = new FenceToken(1, 5);
        Assert.True((await stale.AcquireFenceAsync(old, "n5")).Acquired);
        Assert.True((await stale.CommitAsync(old, "n5", [orders[0]])).Single().Confirmed);

        // The new leader's bump, held open: its transaction owns the fence row lock.
        await using var bump = await db.OpenConnectionAsync();
        var bumpPid = bump.ProcessID;
        await using var transaction = await bump.BeginTransactionAsync();
        await using (var update = new NpgsqlCommand("UPDATE leader_fence SET generation = 1, sequence = 6, holder = 'n6' WHERE resource = $1 AND (generation, sequence) <= (1, 6)", bump, transaction))
        {
            update.Parameters.Add(new NpgsqlParameter<string> { TypedValue = resource });
            Assert.Equal(1, await update.ExecuteNonQueryAsync());
        }

        // The stale commit begins its transaction and blocks on the fence row, behind the bump.
        var waiting = stale.CommitAsync(old, "n5", [orders[1]]);
        await Eventually.TrueAsync(
            async () => await ScalarAsync<long>(db, $"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}' AND wait_event_type = 'Lock' AND {bumpPid} = ANY(pg_blocking_pids(pid))") == 1,
            Wait, "the 1:5 commit to wait on the fence row lock held by the 1:6 bump");
        Assert.False(waiting.IsCompleted);

        await transaction.CommitAsync();

        var ex = await Assert.ThrowsAsync<StaleLeaderException>(() => waiting);
        Assert.Equal((old, new FenceToken(1, 6), "n5"), (ex.Token, ex.Current, ex.NodeId));
        var later = await Assert.ThrowsAsync<StaleLeaderException>(() => stale.CommitAsync(old, "n5", [orders[2]]));
        Assert.Equal(new FenceToken(1, 6), later.Current);

        Assert.Equal(9, await OnHandAsync(db, "F1-A"));
        Assert.Equal(1, await CountAsync(db, "inventory_commits", "order_id LIKE 'f1-%'"));
        Assert.Equal(1, await CountAsync(db, "inventory_commits", "order_id = 'f1-before' AND generation = 1 AND sequence = 5"));
        Assert.Equal(2, await CountAsync(db, "orders", "order_id IN ('f1-waiting', 'f1-after') AND status = 'Received' AND decided_at IS NULL"));
        Assert.Equal(2, await CountAsync(db, "fence_rejections", $"resource = '{resource}' AND node_id = 'n5' AND generation = 1 AND sequence = 5 AND current_generation = 1 AND current_sequence = 6"));
        Assert.Equal(2, await CountAsync(db, "fence_rejections", $"resource = '{resource}'"));

        // The new leader commits what the stale one could not.
        var newer = new FencedCommitter(db.DataSource, new FencedCommitterOptions { Resource = resource });
        Assert.All(await newer.CommitAsync(new FenceToken(1, 6), "n6", orders[1..]), d => Assert.True(d.Confirmed));
        Assert.Equal(4, await OnHandAsync(db, "F1-A"));
        Assert.Equal(2, await CountAsync(db, "inventory_commits", "order_id LIKE 'f1-%' AND generation = 1 AND sequence = 6 AND node_id = 'n6'"));
    }

    [Fact]
    public async Task A_higher_generation_beats_any_epoch_of_a_lower_one_2_1_beats_1_999()
    {
        await SeedAsync(db, 10, "F2-A");
        var orders = new[] { Order("f2-1", ("F2-A", 1)), Order("f2-2", ("F2-A", 1)) };
        await ReceiveAsync(db, orders);
        var committer = await CommitterAsync(db);
        var old = new FenceToken(1, 999);
        var newer = new FenceToken(2, 1);
        Assert.True((await committer.AcquireFenceAsync(old, "n1")).Acquired);
        Assert.Equal(new FenceAcquisition(true, newer), await committer.AcquireFenceAsync(newer, "n2"));

        var ex = await Assert.ThrowsAsync<StaleLeaderException>(() => committer.CommitAsync(old, "n1", [orders[0]]));
        Assert.Equal(newer, ex.Current);
        Assert.Equal(new FenceAcquisition(false, newer), await committer.AcquireFenceAsync(old, "n1"));
        Assert.Equal(new FenceAcquisition(false, newer), await committer.AcquireFenceAsync(new FenceToken(1, long.MaxValue), "n1"));

        Assert.All(await committer.CommitAsync(newer, "n2", orders), d => Assert.True(d.Confirmed));
        Assert.Equal(8, await OnHandAsync(db, "F2-A"));
        Assert.Equal(2, await CountAsync(db, "inventory_commits", "order_id LIKE 'f2-%' AND generation = 2 AND sequence = 1"));
    }

    [Fact]
    public async Task A_rejected_commit_leaves_stock_ledger_and_orders_untouched_and_writes_exactly_one_audit_row_with_the_current_token()
    {
        await SeedAsync(db, 5, "F3-A", "F3-B");
        var batch = new[]
        {
            Order("f3-fits", ("F3-A", 2), ("F3-B", 1)),
            Order("f3-short", ("F3-A", 50)),
            Order("f3-unknown", ("F3-NOPE", 1)),
            Order("f3-invalid", ("F3-A", 0)),
        };
        await ReceiveAsync(db, batch[..3]);
        var resource = await NewFenceAsync(db);
        var committer = new FencedCommitter(db.DataSource, new FencedCommitterOptions { Resource = resource });
        Assert.True((await committer.AcquireFenceAsync(new FenceToken(3, 2), "leader")).Acquired);

        var ex = await Assert.ThrowsAsync<StaleLeaderException>(() => committer.CommitAsync(new FenceToken(3, 1), "deposed", batch));

        Assert.Equal((new FenceToken(3, 1), new FenceToken(3, 2), "deposed"), (ex.Token, ex.Current, ex.NodeId));
        Assert.Equal(5, await OnHandAsync(db, "F3-A"));
        Assert.Equal(5, await OnHandAsync(db, "F3-B"));
        Assert.Equal(0, await CountAsync(db, "inventory_commits", "order_id LIKE 'f3-%'"));
        Assert.Equal(3, await CountAsync(db, "orders", "order_id LIKE 'f3-%' AND status = 'Received' AND reason IS NULL AND decided_at IS NULL"));
        Assert.Equal(1, await CountAsync(db, "fence_rejections", $"resource = '{resource}'"));
        Assert.Equal(1, await CountAsync(db, "fence_rejections", $"resource = '{resource}' AND node_id = 'deposed' AND generation = 3 AND sequence = 1 AND current_generation = 3 AND current_sequence = 2"));
        Assert.Equal((new FenceToken(3, 2), "leader"), await FenceAsync(db, resource));
    }

    [Fact]
    public async Task AcquireFence_with_an_older_token_is_refused_with_the_current_token_and_audited_and_changes_no_fence()
    {
        var resource = await NewFenceAsync(db);
        var committer = new FencedCommitter(db.DataSource, new FencedCommitterOptions { Resource = resource });
        Assert.True((await committer.AcquireFenceAsync(new FenceToken(5, 5), "n55")).Acquired);

        var refused = await committer.AcquireFenceAsync(new FenceToken(5, 4), "n54");
        var refusedLowerGeneration = await committer.AcquireFenceAsync(new FenceToken(4, 99), "n499");

        Assert.Equal(new FenceAcquisition(false, new FenceToken(5, 5)), refused);
        Assert.Equal(new FenceAcquisition(false, new FenceToken(5, 5)), refusedLowerGeneration);
        Assert.Equal((new FenceToken(5, 5), "n55"), await FenceAsync(db, resource));
        Assert.Equal(2, await CountAsync(db, "fence_rejections", $"resource = '{resource}'"));
        Assert.Equal(1, await CountAsync(db, "fence_rejections", $"resource = '{resource}' AND node_id = 'n54' AND generation = 5 AND sequence = 4 AND current_generation = 5 AND current_sequence = 5"));
        Assert.Equal(1, await CountAsync(db, "fence_rejections", $"resource = '{resource}' AND node_id = 'n499' AND generation = 4 AND sequence = 99 AND current_generation = 5 AND current_sequence = 5"));
    }

    [Fact]
    public async Task The_same_token_may_acquire_and_commit_again_and_a_higher_token_commits_without_acquiring_first()
    {
        await SeedAsync(db, 3, "F5-A");
        var orders = new[] { Order("f5-1", ("F5-A", 1)), Order("f5-2", ("F5-A", 1)) };
        await ReceiveAsync(db, orders);
        var resource = await NewFenceAsync(db);
        var committer = new FencedCommitter(db.DataSource, new FencedCommitterOptions { Resource = resource });

        Assert.True((await committer.AcquireFenceAsync(new FenceToken(7, 1), "a")).Acquired);
        Assert.True((await committer.AcquireFenceAsync(new FenceToken(7, 1), "a")).Acquired); // a reconnect within the session keeps its token
        Assert.True((await committer.CommitAsync(new FenceToken(7, 1), "a", [orders[0]])).Single().Confirmed);
        Assert.True((await committer.CommitAsync(new FenceToken(7, 2), "b", [orders[1]])).Single().Confirmed); // the commit's own bump

        Assert.Equal((new FenceToken(7, 2), "b"), await FenceAsync(db, resource));
        Assert.Equal(0, await CountAsync(db, "fence_rejections", $"resource = '{resource}'"));
        Assert.Equal(1, await OnHandAsync(db, "F5-A"));
    }

    [Fact]
    public async Task Rejected_orders_of_a_stale_batch_are_decided_by_the_new_leader_exactly_once()
    {
        await SeedAsync(db, 1, "F6-A");
        var orders = new[] { Order("f6-1", ("F6-A", 1)), Order("f6-2", ("F6-A", 1)) };
        await ReceiveAsync(db, orders);
        var resource = await NewFenceAsync(db);
        var committer = new FencedCommitter(db.DataSource, new FencedCommitterOptions { Resource = resource });
        Assert.True((await committer.AcquireFenceAsync(new FenceToken(1, 2), "new")).Acquired);

        await Assert.ThrowsAsync<StaleLeaderException>(() => committer.CommitAsync(new FenceToken(1, 1), "old", orders));
        var decisions = await committer.CommitAsync(new FenceToken(1, 2), "new", orders);
        var redelivered = await committer.CommitAsync(new FenceToken(1, 2), "new", orders);

        Assert.Equal([(true, (RejectionReason?)null), (false, RejectionReason.OutOfStock)], decisions.Select(d => (d.Confirmed, d.Reason)));
        Assert.All(redelivered, d => Assert.True(d.AlreadyDecided));
        Assert.Equal(0, await OnHandAsync(db, "F6-A"));
        Assert.Equal(2, await CountAsync(db, "inventory_commits", "order_id LIKE 'f6-%' AND generation = 1 AND sequence = 2 AND node_id = 'new'"));
    }
}
